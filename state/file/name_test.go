package file

import (
	"strings"
	"testing"

	"github.com/athanor-dev/athanor/state"
)

func TestEncodeKey(t *testing.T) {
	tests := []struct{ key, want string }{
		{"basicJobTemplate", "basic^job^template"},
		{"fleet/basicJobTemplate", "fleet+basic^job^template"},
		{"a.b", "a%2Eb"},
		{"..", "%2E%2E"},
		{"a+b", "a%2Bb"},
		{"é", "%C3%A9"},
		{"x_y-z09", "x_y-z09"},
	}
	for _, tc := range tests {
		if got := encodeKey(tc.key); got != tc.want {
			t.Errorf("encodeKey(%q) = %q, want %q", tc.key, got, tc.want)
		}
		if got, err := decodeKey(tc.want); err != nil || got != tc.key {
			t.Errorf("decodeKey(%q) = %q, %v", tc.want, got, err)
		}
	}
	for _, bad := range []string{"^", "^A", "%", "%2", "%2e", "%41", "%zz", "A", ".", "~"} {
		if got, err := decodeKey(bad); err == nil {
			t.Errorf("decodeKey(%q) = %q, want an error", bad, got)
		}
	}
}

func TestFileNameLongKeys(t *testing.T) {
	a, b := strings.Repeat("Ab/", 200), strings.Repeat("Ab/", 200)+"x"
	na, nb := fileName(a), fileName(b)
	if na == nb || len(na) > 255 || len(nb) > 255 {
		t.Fatalf("long names %q / %q", na, nb)
	}
	if _, err := keyOfFileName(na); err != errHashedName {
		t.Errorf("keyOfFileName(hashed) error = %v", err)
	}
}

func FuzzKeyEncoding(f *testing.F) {
	for _, s := range []string{"a", "fleet/basicJobTemplate", "..", "é/日本", "%41", "^a", strings.Repeat("Long/", 60)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if state.ValidateKey(key) != nil {
			return // never stored
		}
		name := fileName(key)
		if len(name) > 255 || strings.HasPrefix(name, ".") {
			t.Fatalf("fileName(%q) = %q", key, name)
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || 'A' <= c && c <= 'F' || strings.IndexByte("-_^+%~.", c) >= 0) {
				t.Fatalf("fileName(%q) = %q has %q", key, name, c)
			}
		}
		got, err := keyOfFileName(name)
		if err == errHashedName {
			return
		}
		if err != nil || got != key {
			t.Fatalf("keyOfFileName(fileName(%q)) = %q, %v", key, got, err)
		}
	})
}

func FuzzDecodeKey(f *testing.F) {
	f.Add("fleet+basic^job^template")
	f.Add("%C3%A9")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := decodeKey(s)
		if err != nil {
			return
		}
		// Only canonical encodings decode, so decoding is injective.
		if enc := encodeKey(key); enc != s {
			t.Fatalf("decodeKey(%q) = %q, which encodes as %q", s, key, enc)
		}
	})
}

package state_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/athanor-dev/athanor/state"
)

func TestLockedErrorMessage(t *testing.T) {
	tests := []struct {
		name   string
		holder state.LockInfo
		now    time.Time
		want   string
	}{
		{"full", state.LockInfo{ID: "3f2a9c1e77d04b1f", Host: "ci-runner-7", PID: 4242, Operation: "deploy", Since: time.Date(2026, 11, 26, 15, 3, 12, 0, time.FixedZone("CET", 3600))},
			time.Time{}, "stage iot-fleet/dev is locked by run 3f2a9c1e… (pid 4242 on host ci-runner-7, deploy) since 2026-11-26T14:03:12Z"},
		{"short id, no operation", state.LockInfo{ID: "abc", Host: "h", PID: 1, Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
			time.Time{}, "stage iot-fleet/dev is locked by run abc (pid 1 on host h) since 2026-01-02T03:04:05Z"},
		{"unknown", state.LockInfo{}, time.Time{}, "stage iot-fleet/dev is locked by another run (holder unknown)"},
		{"lease ahead", state.LockInfo{ID: "abc", Host: "h", PID: 1, Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Expires: time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)},
			time.Date(2026, 1, 2, 3, 4, 31, 600_000_000, time.UTC),
			"stage iot-fleet/dev is locked by run abc (pid 1 on host h) since 2026-01-02T03:04:05Z; its lease ends at 2026-01-02T03:05:00Z (in 28s) unless the holder renews it"},
		{"lease past", state.LockInfo{ID: "abc", Host: "h", PID: 1, Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Expires: time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)},
			time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC),
			"stage iot-fleet/dev is locked by run abc (pid 1 on host h) since 2026-01-02T03:04:05Z; its lease ended at 2026-01-02T03:05:00Z"},
		{"lease, no clock", state.LockInfo{ID: "abc", Host: "h", PID: 1, Expires: time.Date(2026, 1, 2, 3, 5, 0, 0, time.FixedZone("CET", 3600))},
			time.Time{},
			"stage iot-fleet/dev is locked by run abc (pid 1 on host h); its lease ends at 2026-01-02T02:05:00Z unless the holder renews it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error = &state.LockedError{App: "iot-fleet", Stage: "dev", Holder: tc.holder, Now: tc.now}
			if got := err.Error(); got != tc.want {
				t.Errorf("Error() = %q\nwant      %q", got, tc.want)
			}
			if !errors.Is(err, state.ErrLocked) {
				t.Error("errors.Is(err, ErrLocked) = false")
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in, scheme, path, host string
	}{
		{"", "file", ".athanor", ""},
		{".athanor", "file", ".athanor", ""},
		{"/var/lib/athanor/", "file", "/var/lib/athanor", ""},
		{"file:///var/lib/athanor", "file", "/var/lib/athanor", ""},
		{"file://relative/dir", "file", "relative/dir", ""},
		{"postgres://u:p@db:5432/x?sslmode=disable", "postgres", "/x", "db:5432"},
		{"postgresql://db/x", "postgres", "/x", "db"},
		{"POSTGRES://db/x", "postgres", "/x", "db"},
	}
	for _, tc := range tests {
		u, err := state.ParseURL(tc.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.in, err)
			continue
		}
		if u.Scheme != tc.scheme || filepath.ToSlash(u.Path) != tc.path || u.Host != tc.host {
			t.Errorf("ParseURL(%q) = %s %q %q, want %s %q %q", tc.in, u.Scheme, u.Path, u.Host, tc.scheme, tc.path, tc.host)
		}
	}
	if _, err := state.ParseURL("file://"); err == nil {
		t.Error("file:// with no directory accepted")
	}
}

// TestOpenUnlinkedBackend: a location whose backend the program does not
// link (this test binary links file and postgres, not s3) fails naming the
// import that links it, or for a scheme no Athanor backend has, the ones
// there are; the password never shows.
func TestOpenUnlinkedBackend(t *testing.T) {
	tests := []struct{ location, want string }{
		{"s3://bucket/x", `state: no backend for "s3://bucket/x": this program does not link the S3 backend; ` +
			"add `import _ \"github.com/athanor-dev/athanor/state/s3\"` to its main package (backends linked: file, postgres"},
		{"S3://bucket/x", "add `import _ \"github.com/athanor-dev/athanor/state/s3\"`"},
		{"gs://user:secret@bucket/x", `state: no backend for "gs://user:xxxxx@bucket/x": no backend handles the scheme "gs" (backends linked: file, postgres`},
		{"gs://bucket/x", "; Athanor provides file, postgres, s3)"},
	}
	for _, tc := range tests {
		_, err := state.Open(context.Background(), tc.location, "app", "dev")
		if !errors.Is(err, state.ErrNoBackend) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) error = %v\nwant ErrNoBackend containing %s", tc.location, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
	_, err := state.Open(context.Background(), "postgres://user:secret@db/x", "app", "dev")
	if err != nil && strings.Contains(err.Error(), "secret") {
		t.Errorf("error shows the password: %v", err)
	}
}

// fakeOpened is what the opener registered by TestRegisterAndOptions saw
// last; the scheme is registered once per test binary, since Register
// refuses a second registration (go test -count=2 runs the test twice).
var (
	fakeOnce   sync.Once
	fakeGot    state.Options
	fakeGotURL *url.URL
)

func TestRegisterAndOptions(t *testing.T) {
	fakeOnce.Do(func() {
		state.Register("statetest-fake", func(ctx context.Context, u *url.URL, app, stage string, o state.Options) (state.Backend, error) {
			fakeGot, fakeGotURL = o, u
			return nil, errors.New("fake")
		})
	})
	_, err := state.Open(context.Background(), "statetest-fake://h/p", "app", "dev", state.WithLockTimeout(time.Minute))
	if err == nil || err.Error() != "fake" {
		t.Fatalf("Open = %v", err)
	}
	if fakeGot.LockTimeout != time.Minute || fakeGot.Lease != state.DefaultLease || fakeGotURL.Host != "h" {
		t.Errorf("options = %+v, url %v", fakeGot, fakeGotURL)
	}
	defer func() {
		if recover() == nil {
			t.Error("second Register of a scheme did not panic")
		}
	}()
	state.Register("statetest-fake", func(context.Context, *url.URL, string, string, state.Options) (state.Backend, error) { return nil, nil })
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"iot-fleet", "dev", "a", "A.b_c-1", strings.Repeat("x", 128)} {
		if err := state.ValidateName("stage", ok); err != nil {
			t.Errorf("ValidateName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "-x", "a/b", `a\b`, "a b", "é", strings.Repeat("x", 129)} {
		if err := state.ValidateName("stage", bad); err == nil {
			t.Errorf("ValidateName(%q) accepted", bad)
		}
	}
}

func TestKeys(t *testing.T) {
	for _, tc := range []struct{ scope, id, key string }{
		{"", "a", "a"}, {"fleet", "a", "fleet/a"}, {"fleet/sub", "a", "fleet/sub/a"},
	} {
		if k := state.Key(tc.scope, tc.id); k != tc.key {
			t.Errorf("Key(%q, %q) = %q", tc.scope, tc.id, k)
		}
		if s, id := state.SplitKey(tc.key); s != tc.scope || id != tc.id {
			t.Errorf("SplitKey(%q) = %q, %q", tc.key, s, id)
		}
	}
}

// TestUpgradeVersion0 reads the version-0 fixture through the upgrade path.
func TestUpgradeVersion0(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "record-v0.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := state.DecodeRecord(data)
	if err != nil {
		t.Fatalf("DecodeRecord(v0): %v", err)
	}
	want := &state.Record{
		FormatVersion: state.FormatVersion,
		Key:           "fleet/basicJobTemplate",
		Scope:         "fleet",
		LogicalID:     "basicJobTemplate",
		Type:          "AWS::IoT::JobTemplate",
		Seq:           3,
		Status:        state.StatusCreating,
		Identifier:    "device-update-template",
		Desired:       json.RawMessage(`{"JobTemplateId":"device-update-template","Description":"Basic job template for device updates","Document":"{\"operation\":\"update\"}"}`),
		Pending: &state.Pending{
			Operation:    "CREATE",
			ClientToken:  "7c1e2f9a-0b1d-4e55-9a55-1f4b2f0c9d11",
			RequestToken: "e3b0c442-98fc-1c14-9afb-f4c8996fb924",
			Identifier:   "device-update-template",
			Desired:      json.RawMessage(`{"Description":"Basic job template for device updates","Document":"{\"operation\":\"update\"}","JobTemplateId":"device-update-template"}`),
			StartedAt:    time.Date(2026, 1, 5, 10, 0, 1, 0, time.UTC),
		},
		CreatedAt: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC),
		UpdatedAt: time.Date(2026, 1, 5, 10, 0, 1, 0, time.UTC),
	}
	if !state.Equal(r, want) {
		g, _ := json.MarshalIndent(r, "", " ")
		t.Errorf("upgraded record:\n%s", g)
	}
	// Re-encoding writes the current version, which reads back unchanged.
	b, err := state.EncodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := state.DecodeRecord(b)
	if err != nil || !state.Equal(r, r2) || r2.FormatVersion != state.FormatVersion {
		t.Errorf("re-read = %+v, %v", r2, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"newer", `{"formatVersion": 99, "key": "a"}`, "written by a newer Athanor"},
		{"negative", `{"formatVersion": -1, "key": "a"}`, "negative format version"},
		{"not json", `{"key":`, "unreadable"},
		{"no key", `{"formatVersion": 1}`, "empty record key"},
		{"wrong type", `{"formatVersion": 1, "key": "a", "seq": "x"}`, "unreadable"},
	} {
		_, err := state.DecodeRecord([]byte(tc.in))
		if !errors.Is(err, state.ErrFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want ErrFormat with %q", tc.name, err, tc.want)
		}
	}
	if _, err := state.DecodeMeta([]byte(`{"formatVersion": 99}`)); !errors.Is(err, state.ErrFormat) {
		t.Errorf("DecodeMeta(newer) = %v", err)
	}
}

func TestEqualNormalisesJSON(t *testing.T) {
	a := &state.Record{Key: "k", Desired: json.RawMessage(`{"b": 1, "a": [1, 2]}`), CreatedAt: time.Date(2026, 1, 1, 1, 0, 0, 0, time.FixedZone("X", 3600))}
	b := &state.Record{Key: "k", Desired: json.RawMessage(`{"a":[1,2],"b":1}`), CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if !state.Equal(a, b) {
		t.Error("equal records differ")
	}
	b.Desired = json.RawMessage(`{"a":[2,1],"b":1}`)
	if state.Equal(a, b) {
		t.Error("different arrays compare equal")
	}
}

func TestWaitLock(t *testing.T) {
	locked := &state.LockedError{App: "a", Stage: "s"}
	calls := 0
	var waitedFor []*state.LockedError
	wait := state.NewOptions(state.WithLockTimeout(time.Minute),
		state.WithLockWait(func(le *state.LockedError) { waitedFor = append(waitedFor, le) }))
	holder := state.LockInfo{ID: "run-1"}
	l, err := state.WaitLock(context.Background(), wait, holder, func(info state.LockInfo) (state.Lock, error) {
		if info.ID != "run-1" || info.Since.IsZero() {
			t.Errorf("try was given %+v, want the holder with Since set", info)
		}
		if calls++; calls < 3 {
			return nil, locked
		}
		return nopLock{}, nil
	})
	if err != nil || l == nil || calls != 3 {
		t.Fatalf("WaitLock = %v, %v after %d calls", l, err, calls)
	}
	if len(waitedFor) != 1 || waitedFor[0] != locked {
		t.Errorf("OnLockWait called with %v, want once with the holder", waitedFor)
	}
	calls = 0
	_, err = state.WaitLock(context.Background(), state.NewOptions(), holder, func(state.LockInfo) (state.Lock, error) { calls++; return nil, locked })
	if calls != 1 || !errors.Is(err, state.ErrLocked) {
		t.Errorf("no timeout: %d calls, %v", calls, err)
	}
	other := errors.New("boom")
	_, err = state.WaitLock(context.Background(), wait, holder, func(state.LockInfo) (state.Lock, error) { return nil, other })
	if err != other {
		t.Errorf("other error = %v", err)
	}
	_, err = state.WaitLock(context.Background(), wait, state.LockInfo{}, func(state.LockInfo) (state.Lock, error) {
		t.Error("try called for a holder without an ID")
		return nopLock{}, nil
	})
	if err == nil || !strings.Contains(err.Error(), "NewLockInfo") {
		t.Errorf("a holder without an ID: %v", err)
	}
}

type nopLock struct{}

func (nopLock) Unlock(context.Context) error { return nil }
func (nopLock) Lost() <-chan struct{}        { return nil }
func (nopLock) Err() error                   { return nil }

func FuzzDecodeRecord(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "record-v0.json")); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"formatVersion":1,"key":"fleet/a","seq":1,"pending":{"operation":"CREATE","clientToken":"x","startedAt":"2026-01-01T00:00:00Z"},"retired":[{"identifier":"o"}]}`))
	f.Add([]byte(`{"key":"a","clientToken":"t","properties":{"x":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := state.DecodeRecord(data)
		if err != nil {
			if !errors.Is(err, state.ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		// What decodes re-encodes and decodes to the same record.
		b, err := state.EncodeRecord(r)
		if err != nil {
			t.Fatalf("EncodeRecord of a decoded record: %v", err)
		}
		r2, err := state.DecodeRecord(b)
		if err != nil {
			t.Fatalf("DecodeRecord of an encoded record: %v\n%s", err, b)
		}
		if !state.Equal(r, r2) {
			t.Fatalf("round trip changed the record\n%s", b)
		}
	})
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"", ".athanor", "file:///x", "postgres://u:p@h/db", "C:\\x", "file://", "::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := state.ParseURL(s)
		if err != nil {
			return
		}
		if u.Scheme == "" || u.Scheme == "file" && u.Path == "" {
			t.Fatalf("ParseURL(%q) = %#v", s, u)
		}
	})
}

package schema

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor/internal/repo"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(keywordSchema))
	f.Add([]byte(orderedSchema))
	f.Add([]byte(compoundSchema))
	f.Add([]byte(`{"typeName": "T::T::T", "properties": {"A": {"$ref": "#"}}, "allOf": [{"$ref": "#"}], "anyOf": [{"$ref": "#"}, {"$ref": "#/definitions/X"}], "definitions": {"X": {"$ref": "#/definitions/X"}}}`))
	f.Add([]byte(`{"typeName": "T::T::T", "properties": {"A": {"items": [true, false]}}}`))
	// The real JobTemplate schema seeds the corpus where the registry is at hand.
	if dir, err := repo.SchemaDir(""); err == nil {
		if data, err := os.ReadFile(filepath.Join(dir, "AWS_IoT_JobTemplate.json")); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		// A parsed schema must be usable on any model without panicking,
		// however it refers to itself.
		model := map[string]any{"A": map[string]any{"A": []any{1.0, "x"}}}
		_ = s.DesiredViolations(model)
		if _, err := s.Diff(model, map[string]any{}); err != nil {
			t.Fatalf("Diff: %v", err)
		}
		_ = s.Drift(model, model)
	})
}

func FuzzParseIdentifier(f *testing.F) {
	for _, id := range []string{"tpl", "a|b", `{"JobTemplateId":"x"}`, `{"Api":"a","Stage":"b"}`, `{"Arn":"arn:x"}`, "", "|", `{`, `{"a":1} x`} {
		f.Add(id)
	}
	jt := lookup(f, jobTemplate)
	c := mustParse(f, compoundSchema)
	f.Fuzz(func(t *testing.T, id string) {
		for _, s := range []*Schema{jt, c} {
			props, err := s.ParseIdentifier(id)
			if err != nil {
				continue
			}
			if strings.HasPrefix(strings.TrimSpace(id), "{") {
				continue
			}
			// A plain identifier round-trips.
			back, err := s.Identifier(props)
			if err != nil || back != id {
				t.Fatalf("%s: ParseIdentifier(%q) = %v, Identifier = %q, %v", s.TypeName, id, props, back, err)
			}
		}
	})
}

func FuzzValidate(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "seed*", "*.json"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"Tags": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "1"}], "Arn": 1}`))
	jt := lookup(f, jobTemplate)
	kw := mustParse(f, keywordSchema)
	f.Fuzz(func(t *testing.T, data []byte) {
		var model map[string]any
		if json.Unmarshal(data, &model) != nil {
			return
		}
		for _, s := range []*Schema{jt, kw} {
			vs := s.DesiredViolations(model)
			if !slices.IsSortedFunc(vs, func(a, b Violation) int { return comparePaths(a.Path, b.Path) }) {
				t.Fatalf("violations not sorted: %v", vs)
			}
			again := s.DesiredViolations(model)
			if !slices.Equal(vs, again) {
				t.Fatalf("validation is not deterministic:\n%v\n%v", vs, again)
			}
			for _, v := range vs {
				if !strings.HasPrefix(v.Path, "/") || v.Message == "" {
					t.Fatalf("malformed violation %q", v)
				}
			}
			if ch, err := s.Diff(model, model); err != nil || ch.Action != NoChange {
				t.Fatalf("Diff(model, model) = %+v, %v", ch, err)
			}
			if d := s.Drift(model, model); len(d) != 0 {
				t.Fatalf("Drift(model, model) = %v", d)
			}
			// Masking leaves no write-only value and changes nothing else.
			masked, _ := s.MaskWriteOnly("", model).(map[string]any)
			for _, ptr := range s.WriteOnly {
				for _, p := range presentPaths(masked, pointerTokens(ptr)) {
					if v := valueAtPath(masked, p); v != Sensitive {
						t.Fatalf("MaskWriteOnly left %v at %s", v, p)
					}
				}
			}
			if !Equal(s.WithoutWriteOnly(masked), s.WithoutWriteOnly(model)) {
				t.Fatalf("MaskWriteOnly changed more than write-only values: %v", masked)
			}
		}
	})
}

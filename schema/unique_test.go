package schema

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// uniqueSchema has a uniqueItems array of any values, without maxItems.
const uniqueSchema = `{
  "typeName": "Test::Unique::Thing",
  "properties": {
    "Id": {"type": "string"},
    "Set": {"type": "array", "uniqueItems": true}
  },
  "additionalProperties": false,
  "primaryIdentifier": ["/properties/Id"]
}`

// distinctTags returns n distinct JobTemplate tags.
func distinctTags(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"Key": fmt.Sprintf("k%d", i), "Value": "v"}
	}
	return out
}

// TestMillionTagsRefusedByMaxItems: an array over maxItems is refused by
// that bound alone; its uniqueness (pairwise, this took longer than ten
// minutes) and its items are not checked.
func TestMillionTagsRefusedByMaxItems(t *testing.T) {
	s := lookup(t, jobTemplate)
	model := map[string]any{"JobTemplateId": "tpl", "Description": "d", "Document": "{}", "Tags": distinctTags(1_000_000)}
	got := violationLines(s.DesiredViolations(model))
	want := []string{"/Tags: 1000000 items, at most 50 allowed"}
	if !slices.Equal(got, want) {
		t.Fatalf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestUniqueItemsLinear: uniqueness of a large array without maxItems is
// checked by hashing, so 200,000 distinct items (2·10¹⁰ pairs) validate,
// and a duplicate at the end is still found.
func TestUniqueItemsLinear(t *testing.T) {
	s := mustParse(t, uniqueSchema)
	items := distinctTags(200_000)
	if err := s.Validate(map[string]any{"Set": items}); err != nil {
		t.Fatalf("distinct items: %v", err)
	}
	items = append(items, map[string]any{"Value": "v", "Key": "k123456"})
	got := violationLines(s.Violations(map[string]any{"Set": items}))
	want := []string{"/Set: items 123456 and 200000 are equal; items must be unique"}
	if !slices.Equal(got, want) {
		t.Fatalf("violations %q, want %q", got, want)
	}
}

// TestUniqueItemsJSONEquality: items are equal as JSON values are: numbers
// by value whatever their form, objects whatever their key order; values
// that only print alike are not equal.
func TestUniqueItemsJSONEquality(t *testing.T) {
	s := mustParse(t, uniqueSchema)
	tests := []struct {
		name string
		set  []any
		want string // "" for no violation
	}{
		{"1 and 1.0", []any{1.0, 2.0, json.Number("1.0")}, "items 0 and 2 are equal"},
		{"int and float", []any{"x", 3, 3.0}, "items 1 and 2 are equal"},
		{"exponent form", []any{json.Number("100"), json.Number("1e2")}, "items 0 and 1 are equal"},
		{"zero and minus zero", []any{0.0, json.Number("-0")}, "items 0 and 1 are equal"},
		{"reordered keys", []any{
			map[string]any{"a": 1.0, "b": []any{1.0, map[string]any{"x": "y", "z": nil}}},
			map[string]any{"b": []any{json.Number("1"), map[string]any{"z": nil, "x": "y"}}, "a": 1},
		}, "items 0 and 1 are equal"},
		{"smallest first index", []any{"a", "b", "b", "a"}, "items 0 and 3 are equal"},
		{"first later match", []any{"b", "a", "a", "a"}, "items 1 and 2 are equal"},
		{"string and number", []any{"1", 1.0}, ""},
		{"array order matters", []any{[]any{1.0, 2.0}, []any{2.0, 1.0}}, ""},
		{"split strings", []any{[]any{"ab", "c"}, []any{"a", "bc"}}, ""},
		{"key and value boundaries", []any{map[string]any{"ab": "c"}, map[string]any{"a": "bc"}}, ""},
		{"null, false, empty", []any{nil, false, "", 0.0, []any{}, map[string]any{}}, ""},
		{"nested null and absent", []any{map[string]any{"a": nil}, map[string]any{}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := violationLines(s.Violations(map[string]any{"Set": tt.set}))
			var want []string
			if tt.want != "" {
				want = []string{"/Set: " + tt.want + "; items must be unique"}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("violations %q, want %q", got, want)
			}
		})
	}
}

func BenchmarkUniqueItems(b *testing.B) {
	s := mustParse(b, uniqueSchema)
	model := map[string]any{"Set": distinctTags(10_000)}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Validate(model); err != nil {
			b.Fatal(err)
		}
	}
}

package gen

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor/schema"
)

// boundSchema builds a hostile schema of size linear in n.
type boundSchema func(n int) map[string]any

// objectChain is n object properties, each holding the next through a
// reference that is not a named definition: nested type names grow.
func objectChain(n int) map[string]any {
	props := map[string]any{}
	for i := 0; i < n; i++ {
		var next any = map[string]any{"type": "string"}
		if i+1 < n {
			next = map[string]any{"$ref": fmt.Sprintf("#/properties/P%d", i+1)}
		}
		props[fmt.Sprintf("P%d", i)] = map[string]any{
			"type":       "object",
			"properties": map[string]any{"Abcdefghijklmnopqrstuvwxyz": next},
		}
	}
	return map[string]any{"typeName": "A::B::C", "properties": props}
}

// arrayChain is n array definitions, each the items of the previous, used
// by n properties: every use spells out the chain.
func arrayChain(n int) map[string]any {
	defs, props := map[string]any{}, map[string]any{}
	for i := 0; i < n; i++ {
		var items any = map[string]any{"type": "string", "minLength": 1}
		if i+1 < n {
			items = map[string]any{"$ref": fmt.Sprintf("#/definitions/A%d", i+1)}
		}
		defs[fmt.Sprintf("A%d", i)] = map[string]any{"type": "array", "items": items}
		props[fmt.Sprintf("F%d", i)] = map[string]any{"$ref": "#/definitions/A0"}
	}
	return map[string]any{"typeName": "A::B::C", "definitions": defs, "properties": props}
}

func generateFrom(t *testing.T, doc map[string]any) (in, out int) {
	t.Helper()
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseDocument(data)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate([]*schema.Schema{s})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		out += len(f.Data)
	}
	return len(data), out
}

// TestOutputLinearInInput checks that the generated code grows linearly
// with schemas that used to make it grow quadratically (hundreds of
// megabytes and gigabytes of memory from a schema of 200 KB).
func TestOutputLinearInInput(t *testing.T) {
	for name, build := range map[string]boundSchema{"object chain": objectChain, "array chain": arrayChain} {
		t.Run(name, func(t *testing.T) {
			in1, out1 := generateFrom(t, build(200))
			in2, out2 := generateFrom(t, build(800))
			// Four times the input; linear output grows about four times,
			// quadratic output sixteen times.
			if got, limit := float64(out2)/float64(out1), 6*float64(in2)/float64(in1)/4; got > limit {
				t.Errorf("input %d → %d bytes: output %d → %d bytes (×%.1f, want at most ×%.1f)", in1, in2, out1, out2, got, limit)
			}
			if out2 > 64*in2 {
				t.Errorf("input of %d bytes gave %d bytes of code", in2, out2)
			}
		})
	}
}

// TestRecursiveContainers checks that an array or map that contains itself
// generates (as a list or map of any) instead of recursing without end.
func TestRecursiveContainers(t *testing.T) {
	tests := []struct {
		name, def, want string
	}{
		{"array of itself", `{"type": "array", "items": {"$ref": "#/definitions/A"}}`, "X []any `json:"},
		{"map of itself", `{"type": "object", "patternProperties": {"^x$": {"$ref": "#/definitions/A"}}}`, "X map[string]any `json:"},
		{"array of map of array", `{"type": "array", "items": {"type": "object", "patternProperties": {".": {"$ref": "#/definitions/A"}}}}`, "X []map[string]any `json:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"typeName": "A::B::C", "definitions": {"A": ` + tt.def + `}, "properties": {"X": {"$ref": "#/definitions/A"}}}`
			s, err := ParseDocument([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			files, err := Generate([]*schema.Schema{s})
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, f := range files {
				found = found || strings.Contains(string(f.Data), tt.want)
			}
			if !found {
				t.Errorf("no file declares %q", tt.want)
			}
		})
	}
}

// TestContainerDepthBound checks that lists nest at most maxContainerDepth
// levels in one field's type.
func TestContainerDepthBound(t *testing.T) {
	_, _ = generateFrom(t, arrayChain(3)) // a shallow chain generates as is
	s, err := ParseDocument(mustMarshal(t, arrayChain(maxContainerDepth+4)))
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate([]*schema.Schema{s})
	if err != nil {
		t.Fatal(err)
	}
	want := "F0 " + strings.Repeat("[]", maxContainerDepth) + "any `json:"
	for _, f := range files {
		if strings.Contains(string(f.Data), want) {
			return
		}
	}
	t.Errorf("no file declares %q", want)
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

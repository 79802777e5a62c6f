package schema

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestNormalize(t *testing.T) {
	in := map[string]any{
		"i":   7,
		"i64": int64(-2),
		"u8":  uint8(3),
		"f32": float32(0.5),
		"num": json.Number("1.25"),
		"s":   "x",
		"b":   true,
		"nil": nil,
		"arr": []any{1, map[string]any{"n": json.Number("2")}},
		"ss":  []string{"a", "b"},
	}
	want := map[string]any{
		"i": 7.0, "i64": -2.0, "u8": 3.0, "f32": 0.5, "num": 1.25, "s": "x", "b": true, "nil": nil,
		"arr": []any{1.0, map[string]any{"n": 2.0}},
		"ss":  []any{"a", "b"},
	}
	got := Normalize(in)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Normalize = %#v\nwant %#v", got, want)
	}
	got.(map[string]any)["arr"].([]any)[1].(map[string]any)["n"] = 9.0
	if in["arr"].([]any)[1].(map[string]any)["n"] != json.Number("2") {
		t.Error("Normalize did not copy")
	}
	if NormalizeModel(nil) != nil {
		t.Error("NormalizeModel(nil) is not nil")
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b any
		want bool
	}{
		{1, 1.0, true},
		{json.Number("1"), int64(1), true},
		{json.Number("1.5"), 1.5, true},
		{1, 2, false},
		{1, "1", false},
		{nil, nil, true},
		{nil, false, false},
		{"a", "a", true},
		{map[string]any{"a": 1}, map[string]any{"a": 1.0}, true},
		{map[string]any{"a": 1}, map[string]any{"a": 1, "b": nil}, false},
		{[]any{1, 2}, []any{2, 1}, false},
		{[]any{"a"}, []string{"a"}, true},
		{[]any{}, map[string]any{}, false},
		{map[string]any{}, nil, false},
	}
	for _, tt := range tests {
		if got := Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%#v, %#v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := Equal(tt.b, tt.a); got != tt.want {
			t.Errorf("Equal(%#v, %#v) = %v, want %v (reversed)", tt.b, tt.a, got, tt.want)
		}
	}
}

package engine

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

func TestPointers(t *testing.T) {
	model := map[string]any{
		"A":   map[string]any{"B": []any{"x", map[string]any{"C": 1.0}}},
		"a/b": "slash",
		"m~n": "tilde",
	}
	tests := []struct {
		ptr  string
		want any
		ok   bool
	}{
		{"/A/B/0", "x", true},
		{"/A/B/1/C", 1.0, true},
		{"/a~1b", "slash", true},
		{"/m~0n", "tilde", true},
		{"/A/B/2", nil, false},
		{"/A/B/-1", nil, false},
		{"/Z", nil, false},
		{"/A/B/0/x", nil, false},
	}
	for _, tt := range tests {
		got, ok := lookup(model, tt.ptr)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("lookup(%q) = %v, %v; want %v, %v", tt.ptr, got, ok, tt.want, tt.ok)
		}
	}

	m := map[string]any{}
	if !setPath(m, "/X/Y", "v", false) {
		t.Fatal("setPath created no intermediate object")
	}
	if v, _ := lookup(m, "/X/Y"); v != "v" {
		t.Fatalf("after setPath: %v", m)
	}
	setPath(m, "/X/Y", nil, true)
	if _, ok := lookup(m, "/X/Y"); ok {
		t.Fatalf("after remove: %v", m)
	}
}

func TestToModel(t *testing.T) {
	type args struct {
		Name  string `json:"Name"`
		Count int    `json:"Count,omitzero"`
	}
	tests := []struct {
		in   any
		want map[string]any
		err  bool
	}{
		{in: args{Name: "n", Count: 3}, want: map[string]any{"Name": "n", "Count": 3.0}},
		{in: map[string]any{"N": []string{"a"}}, want: map[string]any{"N": []any{"a"}}},
		{in: json.RawMessage(`{"A":1}`), want: map[string]any{"A": 1.0}},
		{in: nil, want: map[string]any{}},
		{in: []int{1}, err: true},
		{in: "text", err: true},
	}
	for _, tt := range tests {
		got, err := toModel(tt.in)
		if (err != nil) != tt.err || (!tt.err && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("toModel(%#v) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func FuzzToModel(f *testing.F) {
	f.Add([]byte(`{"A":{"B":[1,"x",null,true]}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"A":1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := toModel(json.RawMessage(data))
		if err != nil {
			return
		}
		// A model encodes and decodes to itself.
		back, err := decodeModel(encodeModel(m))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if len(m) > 0 && !reflect.DeepEqual(m, back) {
			t.Fatalf("round trip changed %v to %v", m, back)
		}
	})
}

func FuzzPointer(f *testing.F) {
	f.Add("/A/0/B")
	f.Add("/a~1b/~0")
	f.Add("")
	f.Fuzz(func(t *testing.T, p string) {
		m := map[string]any{}
		if setPath(m, p, "v", false) {
			if v, ok := lookup(m, p); !ok || v != "v" {
				t.Fatalf("set %q then lookup = %v, %v", p, v, ok)
			}
		}
	})
}

func TestBreakCycles(t *testing.T) {
	mk := func(keys ...string) []*slot {
		var out []*slot
		for _, k := range keys {
			out = append(out, &slot{key: k})
		}
		return out
	}
	// a ← b ← c (c depends on b, b on a) and a cycle x ⇄ y.
	dependents := map[string][]string{"a": {"b"}, "b": {"c"}, "x": {"y"}, "y": {"x"}}
	breakCycles(mk("a", "b", "c", "x", "y"), dependents)
	if !slices.Equal(dependents["a"], []string{"b"}) || !slices.Equal(dependents["b"], []string{"c"}) {
		t.Errorf("acyclic edges changed: %v", dependents)
	}
	if len(dependents["x"]) != 0 || len(dependents["y"]) != 0 {
		t.Errorf("cycle not broken: %v", dependents)
	}
}

// TestBreakCyclesKeepsEdgesOutOfACycle: only the edges inside a cycle are
// dropped. A resource that a cycle's member depends on (c, used by x of the
// cycle x ⇄ y) is still deleted after that member, and a resource that
// depends on a member (d, using y) still goes before it.
func TestBreakCyclesKeepsEdgesOutOfACycle(t *testing.T) {
	slots := []*slot{{key: "c"}, {key: "d"}, {key: "x"}, {key: "y"}}
	// dependents[k] lists the keys that depend on k.
	dependents := map[string][]string{"c": {"x"}, "x": {"y"}, "y": {"x", "d"}}
	breakCycles(slots, dependents)
	if !slices.Equal(dependents["c"], []string{"x"}) {
		t.Errorf("c is used by x outside the cycle, so it must wait for x: dependents[c] = %v", dependents["c"])
	}
	if !slices.Equal(dependents["y"], []string{"d"}) {
		t.Errorf("d depends on y: dependents[y] = %v, want [d]", dependents["y"])
	}
	if len(dependents["x"]) != 0 {
		t.Errorf("cycle x ⇄ y not broken: dependents[x] = %v", dependents["x"])
	}
}

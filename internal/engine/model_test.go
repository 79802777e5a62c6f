package engine

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/athanor-dev/athanor/internal/repo"
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
	f.Add([]byte(`{"A":1} {"B":2}`))
	f.Add([]byte("{\"A\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := toModel(json.RawMessage(data))
		if err != nil {
			return
		}
		// Only a whole, valid UTF-8 JSON document is accepted (or nothing
		// at all), and its numbers all fit a float64.
		if len(strings.TrimSpace(string(data))) > 0 && (!json.Valid(data) || !utf8.Valid(data)) {
			t.Fatalf("accepted %q", data)
		}
		if err := checkNumbers(m, ""); err != nil {
			t.Fatalf("accepted %q: %v", data, err)
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

// TestToModelRefusesWhatJSONWouldLose: input that encoding/json would
// truncate, reject without a path or change silently is refused, naming
// the property path.
func TestToModelRefusesWhatJSONWouldLose(t *testing.T) {
	type timeout struct {
		InProgressTimeoutInMinutes float64 `json:"InProgressTimeoutInMinutes,omitzero"`
	}
	type inner struct {
		Ratio float32
	}
	type embedded struct {
		Rate float64 `json:"Rate"`
	}
	type args struct {
		embedded
		TimeoutConfig timeout        `json:"TimeoutConfig"`
		Items         []*inner       `json:"Items,omitempty"`
		Labels        map[string]any `json:"Labels,omitempty"`
		Name          string         `json:"Name,omitempty"`
		Skipped       float64        `json:"-"`
		hidden        float64
	}
	tests := []struct {
		name string
		in   any
		want string // the error's text; "" for success
	}{
		{"trailing object", json.RawMessage(`{"DisplayName":"x"} {"evil":1}`), "trailing data after the JSON object, at byte 20 of 30"},
		{"trailing garbage", []byte(`{"A":1}x`), "trailing data after the JSON object, at byte 7 of 8"},
		{"trailing whitespace", json.RawMessage("{\"A\":1}\n\t "), ""},
		{"NaN in a struct", args{TimeoutConfig: timeout{InProgressTimeoutInMinutes: math.NaN()}},
			"/TimeoutConfig/InProgressTimeoutInMinutes: NaN is not a JSON number"},
		{"+Inf in a slice of pointers", args{Items: []*inner{{Ratio: 1}, {Ratio: float32(math.Inf(1))}}},
			"/Items/1/Ratio: +Inf is not a JSON number"},
		{"-Inf in an embedded struct", args{embedded: embedded{Rate: math.Inf(-1)}}, "/Rate: -Inf is not a JSON number"},
		{"NaN in a map", map[string]any{"A": map[string]any{"a/b": []any{1, math.NaN()}}}, "/A/a~1b/1: NaN is not a JSON number"},
		{"ignored fields", args{Skipped: math.NaN(), hidden: math.NaN()}, ""},
		{"malformed json.Number", map[string]any{"N": json.Number("NaN")}, `/N: a json.Number that is not a JSON number`},
		{"number out of range", json.RawMessage(`{"A":[1e400]}`), "/A/0: a number beyond the range of a float64 (±1.8e308)"},
		{"invalid UTF-8 value in raw JSON", json.RawMessage("{\"A\":{\"B\":[\"ok\",\"x\xffy\"]}}"), "/A/B/1: string is not valid UTF-8"},
		{"invalid UTF-8 key in raw JSON", json.RawMessage("{\"A\":{\"k\xc3\":1}}"), "/A: a property name is not valid UTF-8"},
		{"invalid UTF-8 after escapes", json.RawMessage("{\"a\\/b\":1,\"c~\":{\"d\":\"\xe2\x82\"}}"), "/c~0/d: string is not valid UTF-8"},
		{"invalid UTF-8 in a struct", args{Name: "bad\xff"}, "/Name: string is not valid UTF-8"},
		{"invalid UTF-8 map key", map[string]any{"L": map[string]string{"\xff": "v"}}, "/L: a property name is not valid UTF-8"},
		{"U+FFFD itself is fine", json.RawMessage(`{"A":"\ufffd` + "\uFFFD" + `"}`), ""},
		{"desired state at the limit", map[string]any{"A": strings.Repeat("é", MaxDesiredState-len(`{"A":""}`))}, ""},
		{"desired state over the limit", map[string]any{"A": strings.Repeat("é", MaxDesiredState-len(`{"A":""}`)+1)},
			"the desired state is 262145 characters of JSON, more than the 262144 Cloud Control accepts"},
		{"300 KiB", json.RawMessage(`{"A":"` + strings.Repeat("x", 300*1024) + `"}`),
			"the desired state is 307208 characters of JSON, more than the 262144 Cloud Control accepts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := toModel(tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("toModel: %v", err)
			case tt.want == "":
				if m == nil {
					t.Fatal("no model")
				}
			case err == nil:
				t.Fatalf("toModel accepted it: %v", m)
			case !strings.HasSuffix(err.Error(), tt.want):
				t.Fatalf("error %q, want it to end with %q", err, tt.want)
			}
		})
	}
}

// TestMaxDesiredStateIsTheModels: the limit is the Cloud Control API
// model's bound on DesiredState.
func TestMaxDesiredStateIsTheModels(t *testing.T) {
	dir, err := repo.SchemaDir("")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "..", "api", "cloudcontrol-2021-09-30.service-2.json"))
	if err != nil {
		t.Skipf("the Cloud Control API model is absent (set %s beside an api directory to run this test): %v", repo.EnvSchemas, err)
	}
	var model struct {
		Shapes map[string]struct {
			Max     *int `json:"max"`
			Members map[string]struct {
				Shape string `json:"shape"`
			} `json:"members"`
		} `json:"shapes"`
	}
	if err := json.Unmarshal(data, &model); err != nil {
		t.Fatal(err)
	}
	shape := model.Shapes["CreateResourceInput"].Members["DesiredState"].Shape
	max := model.Shapes[shape].Max
	if shape == "" || max == nil || *max != MaxDesiredState {
		t.Fatalf("DesiredState is shape %q with max %v; MaxDesiredState is %d", shape, max, MaxDesiredState)
	}
}

// BenchmarkToModel converts a typed Args struct of the seed's advanced
// template, as every declaration does.
func BenchmarkToModel(b *testing.B) {
	type rollout struct {
		MaximumPerMinute int `json:"MaximumPerMinute,omitzero"`
	}
	type tag struct{ Key, Value string }
	type args struct {
		JobTemplateId              string   `json:"JobTemplateId"`
		Description                string   `json:"Description"`
		Document                   string   `json:"Document,omitempty"`
		JobExecutionsRolloutConfig *rollout `json:"JobExecutionsRolloutConfig,omitempty"`
		Tags                       []tag    `json:"Tags,omitempty"`
	}
	props := args{JobTemplateId: "tpl", Description: "a template", Document: `{"operation":"update"}`,
		JobExecutionsRolloutConfig: &rollout{MaximumPerMinute: 10}, Tags: []tag{{"a", "1"}, {"b", "2"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := toModel(props); err != nil {
			b.Fatal(err)
		}
	}
}

// decodeModelSeeds are JSON documents for FuzzDecodeModel: every kind of
// value, numbers at the edges of a float64, escapes, invalid UTF-8, and
// documents decodeModel refuses.
var decodeModelSeeds = []string{
	`{}`, `null`, ` {"A":1} `, `{"A":{"B":[1,"x",true,null,{"C":-0}]}}`,
	`{"Big":9007199254740993,"Tiny":1e-400,"Huge":1.5e300,"Neg":-12.5e-3}`,
	`{"Out":1e400}`, `{"S":"\u003c\u2028\ud83d\ude00\n\"\\"}`, "{\"Bad\":\"\xff\xfe\"}",
	`{"Dup":1,"Dup":2}`, `{"A":1} {"B":2}`, `{"A":1}x`, `[1]`, `"text"`, `{"A":`,
}

// FuzzDecodeModel: decodeModel, which decodes most documents without
// keeping numbers as json.Number, gives what decoding them as
// json.Number and normalizing gives, error for error.
func FuzzDecodeModel(f *testing.F) {
	for _, s := range decodeModelSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gerr := decodeModel(data)
		want, werr := decodeModelNumbers(data)
		if len(bytes.TrimSpace(data)) == 0 {
			want, werr = nil, nil
		}
		if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
			t.Fatalf("decodeModel(%q) error %v, want %v", data, gerr, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeModel(%q) = %#v, want %#v", data, got, want)
		}
	})
}

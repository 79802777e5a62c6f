package gen

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor/internal/gen/gentest"
	"github.com/athanor-dev/athanor/schema"
)

// widgetSchema returns the test schema AWS::Test::Widget.
func widgetSchema(t *testing.T) *schema.Schema {
	t.Helper()
	all, err := LoadDir("testdata/schemas")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.TypeName == "AWS::Test::Widget" {
			return s
		}
	}
	t.Fatal("no AWS::Test::Widget in testdata/schemas")
	return nil
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestWriteProgramEncodesAsDeclared writes the Args literals of models of
// every shape, compiles them against the generated package and checks that
// each encodes to the model WriteProgram reports as declared; the whole
// program compiles too.
func TestWriteProgramEncodesAsDeclared(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a temporary module")
	}
	s := widgetSchema(t)
	models := []string{
		// Every shape: pointers to zero values, an enum value the registry
		// does not list, the empty enum value, an int enum, any values,
		// maps, recursion through pointers, lists and maps, an empty list,
		// a required field whose zero is legal, strings needing quotes.
		`{"Name":"w","Ratio":0,"Comment":"","Code":"ABC","Anything":"a\"b\nc","Retries":0,"Level":3,"Offset":2.5,
		  "Enabled":false,"Mode":"NEW","Shade":"","Size":2,"Payload":{"a":[1,"x",true,null,1.5,1e300]},
		  "Labels":{"a":"b","z":"y"},"Settings":{"k":{"n":1}},
		  "Root":{"Label":"root","Parent":{"Label":"p","Parent":{"Label":"pp"}},"Children":[{"Label":"leaf"}],"Weights":{"x":{"Label":"w"}}},
		  "Pair":{"Name":"l","Right":{"Size":0,"Left":{"Name":"inner"}}},"Type":"A","Source":{"Url":"u"},
		  "Limits":{"Max":5,"Window":{"Seconds":0}},"Options":{},"Zones":["ab","cd"],"Tags":[],"aws:legacy-name":"old"}`,
		// A required field absent is sent as its zero value; a payload as
		// a string; a known enum value.
		`{"Name":"v","Mode":"t2.micro","Payload":"text","Tags":[{"Key":"k","Value":"v"}]}`,
	}
	var decls []Declaration
	for i, m := range models {
		decls = append(decls, Declaration{LogicalID: fmt.Sprintf("w%d", i), Schema: s, Props: decodeJSON(t, m)})
	}
	root := gentest.ModulePath
	builders := map[string]*programType{}
	var main strings.Builder
	main.WriteString("package main\n\nimport (\n\t\"encoding/json\"\n\t\"fmt\"\n\n\t\"" + root + "/test\"\n)\n\nfunc main() {\n")
	var declared []map[string]any
	for _, d := range decls {
		c, err := declare(builders, d, root)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.notes) > 0 {
			t.Errorf("%s: notes %q", d.LogicalID, c.notes)
		}
		fmt.Fprintf(&main, "\tif b, err := json.Marshal(%s); err != nil {\n\t\tpanic(err)\n\t} else {\n\t\tfmt.Println(string(b))\n\t}\n", c.args)
		declared = append(declared, c.declared)
	}
	main.WriteString("}\n")
	prog, err := WriteProgram(ProgramOptions{App: "widgets", Packages: root, Header: []string{"A test program."}}, decls)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"marshal/main.go": []byte(main.String()), "prog/main.go": prog.Source}
	for _, f := range generateDir(t, "testdata/schemas", "AWS::Test::*") {
		files[f.Path] = f.Data
	}
	dir := gentest.NewModule(t, files)
	out, err := gentest.Go(t, dir, "run", "./marshal")
	if err != nil {
		t.Fatalf("go run: %v\n%s\n%s", err, out, main.String())
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(decls) {
		t.Fatalf("output %q", out)
	}
	for i, l := range lines {
		got, want := mustJSON(t, decodeJSON(t, l)), mustJSON(t, declared[i])
		if got != want {
			t.Errorf("%s encodes to\n%s\nbut is declared as\n%s", decls[i].LogicalID, got, want)
		}
		if want != mustJSON(t, prog.Declared[i]) {
			t.Errorf("%s: WriteProgram declares %s, declare %s", decls[i].LogicalID, mustJSON(t, prog.Declared[i]), want)
		}
	}
	// What the models hold that the fields can carry is declared as is.
	first := decodeJSON(t, models[0])
	if got, want := mustJSON(t, declared[0]), mustJSON(t, first); got != want {
		t.Errorf("the first model is declared as\n%s\nnot as given\n%s", got, want)
	}
	if declared[1]["Ratio"] != 0.0 {
		t.Errorf("the required Ratio is declared as %v, want the zero its field sends", declared[1]["Ratio"])
	}
	if out, err := gentest.Go(t, dir, "vet", "./prog"); err != nil {
		t.Fatalf("go vet of the program: %v\n%s\n%s", err, out, prog.Source)
	}
	src := string(prog.Source)
	for _, want := range []string{
		"// A test program.\n\npackage main",
		`athanor.Main("widgets", func(app *athanor.App) error {`,
		`test.NewWidget(app, "w0", test.WidgetArgs{`,
		`Mode: test.WidgetModeOf("NEW")`,
		`Shade: test.WidgetShadeEmpty`,
		`Size: test.WidgetSize2`,
		`Retries: new(0)`,
		`Enabled: new(false)`,
		"Anything: new(`a\"b",
		`Options: &test.WidgetOptions{}`,
		`Tags: []test.WidgetTag{}`,
	} {
		if !strings.Contains(spaced(src), spaced(want)) {
			t.Errorf("the program lacks %q:\n%s", want, src)
		}
	}
}

// spaced collapses runs of white space (gofmt aligns columns).
func spaced(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestWriteProgramNotes checks what a program says instead of declaring a
// value: write-only values not recovered, properties outside the schema,
// values of the wrong type, zero values a field cannot send, and both
// members of an exclusive group.
func TestWriteProgramNotes(t *testing.T) {
	s := widgetSchema(t)
	d := Declaration{LogicalID: "w", Schema: s, Comment: "Imported AWS::Test::Widget w.",
		Props:   decodeJSON(t, `{"Name":"w","Ratio":1,"Bogus":1,"Level":"high","Offset":0,"Limits":{"Max":2,"Extra":true}}`),
		Missing: map[string]string{"/Payload": "write-only: not recovered"}}
	prog, err := WriteProgram(ProgramOptions{App: "a"}, []Declaration{d})
	if err != nil {
		t.Fatal(err)
	}
	src := spaced(string(prog.Source))
	for _, want := range []string{
		"// Imported AWS::Test::Widget w.",
		"// /Bogus is in the read but not in the type's schema: not declared",
		"// /Level: expected an integer, got string \"high\": not declared",
		"// /Offset holds the zero value of its field, which the field cannot send:",
		"// /Limits/Extra is in the read but not in the type's schema: not declared",
		"// /Payload: write-only: not recovered",
		`"github.com/athanor-dev/athanor/aws/test"`,
	} {
		if !strings.Contains(src, spaced(want)) {
			t.Errorf("the program lacks %q:\n%s", want, prog.Source)
		}
	}
	if got, want := mustJSON(t, prog.Declared[0]), `{"Limits":{"Max":2},"Name":"w","Ratio":1}`; got != want {
		t.Errorf("declared %s, want %s", got, want)
	}

	jt, err := schema.Lookup("AWS::IoT::JobTemplate")
	if err != nil {
		t.Fatal(err)
	}
	prog, err = WriteProgram(ProgramOptions{App: "a"}, []Declaration{{LogicalID: "tpl", Schema: jt,
		Props: decodeJSON(t, `{"JobTemplateId":"t","Description":"d","Document":"{}","DocumentSource":"https://x/y"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if src := spaced(string(prog.Source)); !strings.Contains(src, "Document: iot.InlineDocument(\"{}\")") ||
		!strings.Contains(src, "// /Document and /DocumentSource are both set, but a program gives at most") {
		t.Errorf("a template with both documents:\n%s", prog.Source)
	}
	if got, want := mustJSON(t, prog.Declared[0]), `{"Description":"d","Document":"{}","JobTemplateId":"t"}`; got != want {
		t.Errorf("declared %s, want %s", got, want)
	}
	if _, err := WriteProgram(ProgramOptions{App: "a"}, []Declaration{{LogicalID: "x", Schema: nil}}); err == nil {
		t.Error("a declaration without a schema was written")
	}
}

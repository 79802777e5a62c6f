package graph

import (
	"bytes"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor/internal/engine"
)

// TestLabelsAreEscaped renders keys and identifiers holding the characters
// each format reads as markup; they must come out as text.
func TestLabelsAreEscaped(t *testing.T) {
	g := FromPlan(`app "x"`, []engine.Change{
		{Key: "a", Type: "T::A::B", Identifier: `say "hi" <b>#1</b> \ end`, Action: engine.ActionUpdate},
		{Key: "b", Type: "T::A::B", Action: engine.ActionReplace, Order: engine.CreateFirst},
	}, map[string][]string{"b": {"a", "gone"}})
	var dot, mmd bytes.Buffer
	if err := g.Write(&dot, FormatDOT); err != nil {
		t.Fatal(err)
	}
	if err := g.Write(&mmd, FormatMermaid); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`digraph "app \"x\"" {`,
		`"a" [label="a\nT::A::B\nsay \"hi\" <b>#1</b> \\ end\nupdate", fillcolor=lightgoldenrod1];`,
		`"b" [label="b\nT::A::B\nreplace (create-first)", fillcolor=orange];`,
		`"gone" [label="gone\nnot in state", style="rounded,dashed,filled"];`,
		`"b" -> "a";`, `"b" -> "gone";`,
	} {
		if !strings.Contains(dot.String(), want) {
			t.Errorf("DOT lacks %s:\n%s", want, dot.String())
		}
	}
	for _, want := range []string{
		`n1["a<br/>T::A::B<br/>say #quot;hi#quot; #lt;b#gt;#35;1#lt;/b#gt; \ end<br/>update"]`,
		"n2 --> n1", "n2 --> n3", "class n2 replace", "class n3 missing",
	} {
		if !strings.Contains(mmd.String(), want) {
			t.Errorf("Mermaid lacks %s:\n%s", want, mmd.String())
		}
	}
	if err := g.Write(&dot, "svg"); err == nil || !strings.Contains(err.Error(), `"svg"`) {
		t.Errorf("Write(svg) = %v", err)
	}
}

package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/athanor-dev/athanor/schema"
)

// TestPreviewKeepsDeclarationOrder: the preview validates declarations
// on other goroutines while the program goes on, yet its changes, its
// errors and the failures it reports come in declaration order, and an
// invalid declaration is an error, not a change.
func TestPreviewKeepsDeclarationOrder(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	rep := NewReporter(&out, true)
	e, err := Load(ctx, Options{App: "app", Stage: "dev", State: openState(t, t.TempDir()), Reporter: rep})
	if err != nil {
		t.Fatal(err)
	}
	p := e.Preview("")
	var wantValid, wantInvalid []string
	for i := range 2000 {
		d := tplDecl(fmt.Sprintf("t%04d", i))
		if i%7 == 3 {
			// A job template id allows letters, digits, '-' and '_'.
			d.Props.(map[string]any)["JobTemplateId"] = fmt.Sprintf("bad id %d", i)
			wantInvalid = append(wantInvalid, d.LogicalID)
		} else {
			wantValid = append(wantValid, d.LogicalID)
		}
		if _, err := p.Declare(ctx, d); err != nil {
			t.Fatalf("preview Declare failed: %v", err)
		}
	}
	var gotValid, gotInvalid []string
	for _, c := range p.Plan().Changes {
		gotValid = append(gotValid, c.Key)
		if c.Action != ActionCreate || c.Properties == nil {
			t.Fatalf("%s: planned %s with properties %v, want a create showing its properties", c.Key, c.Action, c.Properties)
		}
	}
	for _, err := range p.Errors() {
		var re *ResourceError
		var ve *schema.ValidationError
		if !errors.As(err, &re) || !errors.As(err, &ve) {
			t.Fatalf("error %v: want a *ResourceError with a *schema.ValidationError", err)
		}
		gotInvalid = append(gotInvalid, re.Key)
	}
	if !slices.Equal(gotValid, wantValid) {
		t.Errorf("plan lists %d changes, want the %d valid declarations in declaration order; first: %v", len(gotValid), len(wantValid), gotValid[:min(5, len(gotValid))])
	}
	if !slices.Equal(gotInvalid, wantInvalid) {
		t.Errorf("errors are of %v..., want the %d invalid declarations in declaration order", gotInvalid[:min(5, len(gotInvalid))], len(wantInvalid))
	}
	rep.Close()
	var reported []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var ev struct {
			Event, Key string
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("event %q: %v", sc.Text(), err)
		}
		if ev.Event == "failed" {
			reported = append(reported, ev.Key)
		}
	}
	if !slices.Equal(reported, wantInvalid) {
		t.Errorf("reported failures of %v..., want the %d invalid declarations in declaration order", reported[:min(5, len(reported))], len(wantInvalid))
	}
}

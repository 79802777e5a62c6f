package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/emulator"
	"github.com/athanor-dev/athanor/state"
)

// keptAndDropped declares two job templates, "kept" retained and "dropped"
// not.
func keptAndDropped(app *athanor.App) error {
	_, err := app.Declare(jobTemplate, "kept", map[string]any{"JobTemplateId": "kept-template", "Description": "kept", "Document": "{}"}, athanor.Retain())
	if err != nil {
		return err
	}
	_, err = app.Declare(jobTemplate, "dropped", map[string]any{"JobTemplateId": "dropped-template", "Description": "dropped", "Document": "{}"})
	return err
}

func declareNothing(*athanor.App) error { return nil }

// output sends a run's output to buf as well as to the test log.
func output(t *testing.T, buf *bytes.Buffer, jsonLines bool) func(*athanor.Config) {
	return func(c *athanor.Config) {
		c.Output = io.MultiWriter(buf, tlog{t})
		c.JSON = jsonLines
	}
}

// jsonSummary returns the summary event of a run's JSON lines.
func jsonSummary(t *testing.T, out []byte) map[string]any {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var ev struct {
			Event   string         `json:"event"`
			Summary map[string]any `json:"summary"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("JSON line %q: %v", sc.Text(), err)
		}
		if ev.Event == "summary" {
			return ev.Summary
		}
	}
	t.Fatalf("no summary event in %s", out)
	return nil
}

func TestRetainForgetsInsteadOfDeleting(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(*athanor.Config)
	}{
		{"undeclared", func(*athanor.Config) {}},
		{"destroy", destroy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, emulator.Instant())
			e.run(keptAndDropped)
			recs := e.records("test")
			if kept, dropped := recordOf(recs, "kept"), recordOf(recs, "dropped"); !kept.Retain || dropped.Retain {
				t.Fatalf("recorded retain: kept %v, dropped %v; want true, false", kept.Retain, dropped.Retain)
			}

			// The plan says forget for the retained one and calls nothing.
			var buf bytes.Buffer
			mark := e.rec.mark()
			res := e.run(declareNothing, tc.tweak, plan, output(t, &buf, false))
			if len(res.Changes) != 2 || res.Deleted != 1 || res.Stats.Requests != 0 || len(e.rec.since(mark, mutating...)) != 0 {
				t.Fatalf("plan: %+v", res)
			}
			for _, c := range res.Changes {
				want := athanor.ActionDelete
				if c.Key == "kept" {
					want = "forget"
				}
				if c.Action != want {
					t.Errorf("planned %s for %s, want %s", c.Action, c.Key, want)
				}
			}
			text := buf.String()
			if !strings.Contains(text, ". forget   kept (AWS::IoT::JobTemplate) kept-template") ||
				!strings.Contains(text, "- delete   dropped (AWS::IoT::JobTemplate) dropped-template") ||
				!strings.Contains(text, "1 to delete, 1 to forget (retained), 0 unchanged.") {
				t.Fatalf("plan output does not say forget for kept and delete for dropped:\n%s", text)
			}

			// The run deletes one and forgets the other without a call.
			buf.Reset()
			mark = e.rec.mark()
			before := e.requests()
			res = e.run(declareNothing, tc.tweak, output(t, &buf, false))
			if res.Deleted != 1 || res.Forgotten != 1 || res.Failed != 0 {
				t.Fatalf("removal: %+v", res)
			}
			if calls := e.rec.since(mark); len(calls) == 0 {
				t.Fatal("the emulator saw no call: the recorder is not recording")
			}
			for _, c := range e.rec.since(mark) {
				if c.Identifier == "kept-template" {
					t.Errorf("call for the retained template: %+v", c)
				}
			}
			if dels := e.rec.since(mark, mutating...); len(dels) != 1 || dels[0].Op != "DeleteResource" || dels[0].Identifier != "dropped-template" {
				t.Fatalf("mutating calls %+v, want one DeleteResource of dropped-template", dels)
			}
			if n := e.requests() - before; n != 1 {
				t.Fatalf("%d resource requests, want 1 (the delete of dropped-template)", n)
			}
			text = buf.String()
			if !strings.Contains(text, "forgotten (retained) kept (AWS::IoT::JobTemplate) kept-template") ||
				!strings.Contains(text, "1 deleted, 0 unchanged, 1 forgotten (retained).") {
				t.Fatalf("output does not report the forgotten template:\n%s", text)
			}
			if e.get(jobTemplate, "kept-template") == nil {
				t.Fatal("the retained template was deleted")
			}
			if e.get(jobTemplate, "dropped-template") != nil {
				t.Fatal("the template that was not retained still exists")
			}
			if recs := e.records("test"); len(recs) != 0 {
				t.Fatalf("records left: %v", keysOf(recs))
			}

			// Declared again, the template still there is adopted, not
			// created twice; retained once more, --json reports the forget.
			e.run(func(app *athanor.App) error {
				_, err := app.Declare(jobTemplate, "kept", map[string]any{"JobTemplateId": "kept-template", "Description": "kept", "Document": "{}"},
					athanor.Retain(), athanor.Adopt())
				return err
			})
			buf.Reset()
			e.run(declareNothing, tc.tweak, output(t, &buf, true))
			if s := jsonSummary(t, buf.Bytes()); s["forgotten"] != 1.0 || s["deleted"] != 0.0 {
				t.Fatalf("JSON summary %v, want forgotten 1, deleted 0", s)
			}
			if !strings.Contains(buf.String(), `"action":"forget"`) {
				t.Fatalf("no forget event in the JSON output:\n%s", buf.String())
			}
			if e.get(jobTemplate, "kept-template") == nil {
				t.Fatal("the retained template was deleted")
			}
		})
	}
}

func TestRetainClearedByLaterDeclaration(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	props := map[string]any{"JobTemplateId": "t", "Description": "d", "Document": "{}"}
	declare := func(opts ...athanor.ResourceOption) func(*athanor.App) error {
		return func(app *athanor.App) error {
			_, err := app.Declare(jobTemplate, "t", props, opts...)
			return err
		}
	}
	e.run(declare())
	if recordOf(e.records("test"), "t").Retain {
		t.Fatal("retain recorded without Retain")
	}
	// Retain on an otherwise unchanged resource is recorded without a call.
	mark := e.rec.mark()
	if res := e.run(declare(athanor.Retain())); res.Unchanged != 1 || len(e.rec.since(mark, mutating...)) != 0 {
		t.Fatalf("adding Retain: %+v", res)
	}
	if !recordOf(e.records("test"), "t").Retain {
		t.Fatal("Retain not recorded on an unchanged resource")
	}
	// Dropped again, it is cleared: removal deletes.
	e.run(declare())
	if recordOf(e.records("test"), "t").Retain {
		t.Fatal("retain not cleared by a declaration without Retain")
	}
	if res := e.run(declareNothing); res.Deleted != 1 {
		t.Fatalf("removal: %+v", res)
	}
	if e.get(jobTemplate, "t") != nil {
		t.Fatal("the template whose Retain was cleared still exists")
	}
}

func TestRetainedReplacementDeletesOld(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	declare := func(id string) func(*athanor.App) error {
		return func(app *athanor.App) error {
			_, err := app.Declare(jobTemplate, "t", map[string]any{"JobTemplateId": id, "Description": "d", "Document": "{}"}, athanor.Retain())
			return err
		}
	}
	e.run(declare("v1"))
	if res := e.run(declare("v2")); res.Replaced != 1 {
		t.Fatalf("replacement: %+v", res)
	}
	if e.get(jobTemplate, "v1") != nil || e.get(jobTemplate, "v2") == nil {
		t.Fatalf("after replacing a retained template: %v", e.list(jobTemplate))
	}
	if r := recordOf(e.records("test"), "t"); !r.Retain || r.Identifier != "v2" {
		t.Fatalf("record after replacement: retain %v, identifier %s", r.Retain, r.Identifier)
	}
}

func keysOf(recs []*state.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Key
	}
	return out
}

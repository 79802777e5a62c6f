package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/emulator"
	"github.com/athanor-dev/athanor/state"
)

const jobTemplate = "AWS::IoT::JobTemplate"

// templates declares the given seed templates, by logical id, exporting
// their ARNs.
func templates(set map[string]map[string]any) func(*athanor.App) error {
	return func(app *athanor.App) error {
		for id, props := range set {
			app.Go(func() error {
				r, err := app.Declare(jobTemplate, id, props)
				if err != nil {
					return err
				}
				arn, err := r.Output("Arn")
				if err != nil {
					return err
				}
				app.Export(id, arn)
				return nil
			})
		}
		return nil
	}
}

func TestJobTemplateLifecycle(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	set := seed(t)

	// Create the four seed templates.
	res := e.run(templates(set))
	if res.Created != 4 {
		t.Fatalf("first run created %d, want 4", res.Created)
	}
	ids := e.list(jobTemplate)
	slices.Sort(ids)
	want := []string{"device-update-template", "maintenance-job-template", "presigned-url-job-template", "rollout-job-template"}
	if !slices.Equal(ids, want) {
		t.Fatalf("emulator holds %v, want %v", ids, want)
	}
	for name, arn := range res.Exports {
		if !strings.HasPrefix(arn.(string), "arn:aws:iot:us-east-1:") || !strings.Contains(arn.(string), ":jobtemplate/") {
			t.Errorf("export %s = %q, want a job template ARN", name, arn)
		}
	}
	recs := e.records("test")
	if len(recs) != 4 {
		t.Fatalf("state holds %d records, want 4", len(recs))
	}
	for _, r := range recs {
		if r.Status != state.StatusCreated || r.Pending != nil || r.Identifier == "" {
			t.Errorf("record %s: status %s, pending %v, identifier %q", r.Key, r.Status, r.Pending, r.Identifier)
		}
		var desired map[string]any
		if err := json.Unmarshal(r.Desired, &desired); err != nil || desired["JobTemplateId"] != r.Identifier {
			t.Errorf("record %s: desired %s", r.Key, r.Desired)
		}
		if !strings.Contains(string(r.Outputs), `"Arn"`) {
			t.Errorf("record %s: outputs %s lack the Arn", r.Key, r.Outputs)
		}
	}
	// The write-only Document is kept in state although reads never return it.
	if r := recordOf(recs, "advanced"); !strings.Contains(string(r.Desired), `"Document"`) {
		t.Errorf("advanced: desired %s lost the write-only Document", r.Desired)
	}

	// A second run makes no call at all.
	before := e.requests()
	res = e.run(templates(set))
	if res.Unchanged != 4 || res.Created+res.Updated+res.Replaced+res.Deleted != 0 {
		t.Fatalf("second run: %+v", res)
	}
	if got := e.requests(); got != before {
		t.Fatalf("second run: ListResourceRequests went from %d to %d, want no mutation", before, got)
	}
	if res.Stats.Requests != 0 {
		t.Fatalf("second run made %d API calls, want 0: %v", res.Stats.Requests, res.Stats.Calls)
	}

	// A new Description keeps the user's identifier: delete first, then create.
	set["minimal"]["Description"] = "Basic job template for device updates, v2"
	res = e.run(templates(set), plan)
	c := change(t, res, "minimal")
	if c.Action != athanor.ActionReplace || c.Order != athanor.DeleteFirst || !slices.Contains(c.ReplacePaths, "/Description") {
		t.Fatalf("plan for minimal: %+v", c)
	}
	mark := e.rec.mark()
	res = e.run(templates(set))
	if res.Replaced != 1 || res.Unchanged != 3 {
		t.Fatalf("description change: %+v", res)
	}
	calls := e.rec.since(mark, mutating...)
	if len(calls) != 2 || calls[0].Op != "DeleteResource" || calls[0].Identifier != "device-update-template" ||
		calls[1].Op != "CreateResource" || calls[1].Desired["JobTemplateId"] != "device-update-template" {
		t.Fatalf("description change made %+v, want delete then create of device-update-template", calls)
	}
	if got := e.get(jobTemplate, "device-update-template")["Description"]; got != "Basic job template for device updates, v2" {
		t.Fatalf("replaced template has Description %v", got)
	}

	// A new JobTemplateId: create the new one first, delete the old at the end.
	set["rollout"]["JobTemplateId"] = "rollout-job-template-v2"
	res = e.run(templates(set), plan)
	if c := change(t, res, "rollout"); c.Action != athanor.ActionReplace || c.Order != athanor.CreateFirst {
		t.Fatalf("plan for rollout: %+v", c)
	}
	mark = e.rec.mark()
	res = e.run(templates(set))
	if res.Replaced != 1 {
		t.Fatalf("id change: %+v", res)
	}
	calls = e.rec.since(mark, mutating...)
	if len(calls) != 2 || calls[0].Op != "CreateResource" || calls[0].Desired["JobTemplateId"] != "rollout-job-template-v2" ||
		calls[1].Op != "DeleteResource" || calls[1].Identifier != "rollout-job-template" {
		t.Fatalf("id change made %+v, want create of v2 then delete of the old", calls)
	}
	if e.get(jobTemplate, "rollout-job-template") != nil || e.get(jobTemplate, "rollout-job-template-v2") == nil {
		t.Fatal("after the id change the emulator should hold only rollout-job-template-v2")
	}
	if r := recordOf(e.records("test"), "rollout"); r.Identifier != "rollout-job-template-v2" || len(r.Retired) != 0 {
		t.Fatalf("rollout record: identifier %q, retired %v", r.Identifier, r.Retired)
	}

	// Removing a template from the program deletes it.
	delete(set, "presigned")
	res = e.run(templates(set))
	if res.Deleted != 1 || res.Unchanged != 3 {
		t.Fatalf("removal: %+v", res)
	}
	if e.get(jobTemplate, "presigned-url-job-template") != nil {
		t.Fatal("removed template still exists")
	}
	if n := len(e.records("test")); n != 3 {
		t.Fatalf("state holds %d records after removal, want 3", n)
	}

	// A plan of the destroy lists the deletions and changes nothing.
	mark = e.rec.mark()
	res = e.run(templates(set), plan, destroy)
	if res.Deleted != 3 || len(res.Changes) != 3 || len(e.rec.since(mark)) != 0 || len(e.list(jobTemplate)) != 3 {
		t.Fatalf("plan of the destroy: %+v", res)
	}

	// Destroy leaves the emulator and the state empty.
	res = e.run(templates(set), destroy)
	if res.Deleted != 3 {
		t.Fatalf("destroy: %+v", res)
	}
	if ids := e.list(jobTemplate); len(ids) != 0 {
		t.Fatalf("emulator holds %v after destroy", ids)
	}
	if recs := e.records("test"); len(recs) != 0 {
		t.Fatalf("state holds %d records after destroy", len(recs))
	}
}

func recordOf(recs []*state.Record, key string) *state.Record {
	for _, r := range recs {
		if r.Key == key {
			return r
		}
	}
	return &state.Record{}
}

func change(t *testing.T, res *athanor.Result, key string) athanor.Change {
	t.Helper()
	for _, c := range res.Changes {
		if c.Key == key {
			return c
		}
	}
	t.Fatalf("plan has no change for %s: %+v", key, res.Changes)
	return athanor.Change{}
}

func TestLogGroupUpdatesInPlace(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	const logGroup = "AWS::Logs::LogGroup"
	props := func(days int, tags ...string) map[string]any {
		var ts []any
		for i := 0; i < len(tags); i += 2 {
			ts = append(ts, map[string]any{"Key": tags[i], "Value": tags[i+1]})
		}
		return map[string]any{"LogGroupName": "/athanor/e2e", "RetentionInDays": days, "Tags": ts}
	}
	program := func(p map[string]any) func(*athanor.App) error {
		return func(app *athanor.App) error {
			_, err := app.Declare(logGroup, "logs", p)
			return err
		}
	}
	if res := e.run(program(props(7, "team", "iot", "env", "dev"))); res.Created != 1 {
		t.Fatalf("create: %+v", res)
	}

	res := e.run(program(props(14, "team", "iot", "env", "dev")), plan)
	c := change(t, res, "logs")
	wantPatch := `[{"op":"replace","path":"/RetentionInDays","value":14}]`
	if c.Action != athanor.ActionUpdate || string(c.Patch) != wantPatch {
		t.Fatalf("plan: %s with patch %s, want update with %s", c.Action, c.Patch, wantPatch)
	}
	mark := e.rec.mark()
	if res := e.run(program(props(14, "team", "iot", "env", "dev"))); res.Updated != 1 {
		t.Fatalf("update: %+v", res)
	}
	calls := e.rec.since(mark, mutating...)
	if len(calls) != 1 || calls[0].Op != "UpdateResource" || calls[0].Patch != wantPatch {
		t.Fatalf("update made %+v, want one UpdateResource with %s", calls, wantPatch)
	}
	if got := e.get(logGroup, "/athanor/e2e")["RetentionInDays"]; got != float64(14) {
		t.Fatalf("RetentionInDays is %v after the update", got)
	}

	// Tags are an insertionOrder:false array: reordering them is no change.
	mark = e.rec.mark()
	res = e.run(program(props(14, "env", "dev", "team", "iot")))
	if res.Unchanged != 1 || res.Stats.Requests != 0 || len(e.rec.since(mark)) != 0 {
		t.Fatalf("reordered tags: %+v, calls %v", res, e.rec.since(mark))
	}
}

// TestSeedMistakesFailBeforeAnyCall declares each of the seed's wrong shapes
// through the untyped constructor: the run fails with the path-naming
// violations before any API call and leaves state and cloud untouched.
func TestSeedMistakesFailBeforeAnyCall(t *testing.T) {
	files, err := filepath.Glob("../schema/testdata/seed-wrong/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("seed mistakes: %v", err)
	}
	e := newEnv(t, emulator.Instant())
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".want")
			if err != nil {
				t.Fatal(err)
			}
			var props map[string]any
			if err := json.Unmarshal(data, &props); err != nil {
				t.Fatal(err)
			}
			mark := e.rec.mark()
			res, err := e.try(func(app *athanor.App) error {
				_, err := app.Declare(jobTemplate, name, props)
				return err
			})
			if err == nil {
				t.Fatalf("run succeeded: %+v", res)
			}
			var re *athanor.ResourceError
			if !errors.As(err, &re) || re.Key != name {
				t.Errorf("error %v does not name resource %s", err, name)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				if !strings.Contains(err.Error(), line) {
					t.Errorf("error lacks %q:\n%v", line, err)
				}
			}
			if calls := e.rec.since(mark); len(calls) != 0 {
				t.Errorf("made API calls: %+v", calls)
			}
		})
	}
	if n := e.requests(); n != 0 {
		t.Errorf("emulator received %d mutations", n)
	}
	if recs := e.records("test"); len(recs) != 0 {
		t.Errorf("state holds %d records", len(recs))
	}
}

func TestScopesAndDuplicates(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	tpl := func(id string) map[string]any {
		return map[string]any{"JobTemplateId": id, "Description": "d", "Document": "{}"}
	}
	_, err := e.try(func(app *athanor.App) error {
		scope := func(parent *athanor.App, name string) *athanor.App {
			t.Helper()
			s, err := parent.Scope(name)
			if err != nil {
				t.Fatalf("Scope(%q): %v", name, err)
			}
			return s
		}
		for _, bad := range []string{"", "x/y", "nul\x00", "\xff"} {
			if s, err := app.Scope(bad); err == nil || s != nil {
				t.Errorf("Scope(%q) = %v, %v; want an error", bad, s, err)
			} else if !strings.Contains(err.Error(), "scope name") {
				t.Errorf("Scope(%q) error %q does not name the scope", bad, err)
			}
		}
		if _, err := scope(app, "a").Declare(jobTemplate, "t", tpl("scoped-a")); err != nil {
			return err
		}
		r, err := scope(scope(app, "b"), "c").Declare(jobTemplate, "t", tpl("scoped-b"))
		if err != nil {
			return err
		}
		if r.Key != "b/c/t" {
			t.Errorf("nested key %q, want b/c/t", r.Key)
		}
		_, err = scope(app, "a").Declare(jobTemplate, "t", tpl("scoped-c"))
		return err
	})
	// The duplicate is found in the preview, so the run fails and changes
	// nothing.
	if !errors.Is(err, athanor.ErrDuplicate) || !strings.Contains(err.Error(), `"t"`) {
		t.Fatalf("run with a duplicate logical id: %v", err)
	}
	keys := []string{}
	for _, r := range e.records("test") {
		keys = append(keys, r.Key)
	}
	slices.Sort(keys)
	if len(keys) != 0 {
		t.Fatalf("state keys %v after a preview that failed, want none", keys)
	}
}

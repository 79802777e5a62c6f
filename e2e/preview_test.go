package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/aws/iot"
	"github.com/athanor-dev/athanor/emulator"
)

const (
	logGroup     = "AWS::Logs::LogGroup"
	ssmParameter = "AWS::SSM::Parameter"
)

// five declares five resources; with broken, the third and the fifth are
// invalid.
func five(broken bool) func(*athanor.App) error {
	return func(app *athanor.App) error {
		action, id := "CANCEL", "five-b"
		if broken {
			action, id = "ABORT", "five b!"
		}
		decls := []struct {
			typ, id string
			props   map[string]any
		}{
			{topic, "t", map[string]any{"TopicName": "five-topic"}},
			{queue, "q", map[string]any{"QueueName": "five-queue"}},
			{jobTemplate, "a", map[string]any{"JobTemplateId": "five-a", "Description": "d", "Document": "{}",
				"AbortConfig": map[string]any{"CriteriaList": []any{map[string]any{"Action": action, "FailureType": "FAILED", "MinNumberOfExecutedThings": 1, "ThresholdPercentage": 10}}}}},
			{logGroup, "l", map[string]any{"LogGroupName": "five-logs"}},
			{jobTemplate, "b", map[string]any{"JobTemplateId": id, "Description": "d", "Document": "{}"}},
		}
		for _, d := range decls {
			if _, err := app.Declare(d.typ, d.id, d.props); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestPreviewFindsEveryErrorFirst: a program whose third and fifth
// declarations are invalid changes nothing (no mutating request reaches
// the emulator) and fails listing both errors with their paths; fixed, it
// deploys all five.
func TestPreviewFindsEveryErrorFirst(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	var out bytes.Buffer
	res, err := e.try(five(true), func(c *athanor.Config) { c.Output = &out })
	if err == nil {
		t.Fatal("a program with two invalid declarations deployed")
	}
	for _, want := range []string{"2 declarations are invalid", "nothing was changed",
		`a (AWS::IoT::JobTemplate): invalid properties:`, `/AbortConfig/CriteriaList/0/Action: (sensitive) is not one of [CANCEL]`,
		`b (AWS::IoT::JobTemplate): invalid properties:`, `/JobTemplateId: "five b!" does not match pattern`} {
		if !strings.Contains(err.Error(), want) || !strings.Contains(out.String(), want) && !strings.HasPrefix(want, "2 ") {
			t.Errorf("error and output lack %q:\nerror: %v\noutput:\n%s", want, err, out.String())
		}
	}
	if n := e.requests(); n != 0 || res.Stats.Requests != 0 {
		t.Fatalf("%d mutating requests in ListResourceRequests, %d Cloud Control calls; want none", n, res.Stats.Requests)
	}
	if ids := e.list(topic); len(ids) != 0 || len(e.records("test")) != 0 {
		t.Fatalf("after a failed preview: topics %v, %d records", ids, len(e.records("test")))
	}
	if res := e.run(five(false)); res.Created != 5 || res.Failed != 0 {
		t.Fatalf("fixed program: %+v", res)
	}
}

// planText is the text of the plan of fn on e, with cfg adjusted by tweak.
func planText(t *testing.T, e *env, fn func(*athanor.App) error, tweak ...func(*athanor.Config)) string {
	t.Helper()
	res := e.run(fn, append(tweak, plan)...)
	var b strings.Builder
	if err := res.Plan.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// stack is the program of the plan golden tests: v selects its version.
func stack(v int) func(*athanor.App) error {
	return func(app *athanor.App) error {
		display, retention, desc, tplID, name := "Fleet alerts", 7, "v1", "golden-tpl", "golden-topic"
		if v >= 2 { // updates
			display, retention = "Fleet alerts (ops)", 14
		}
		if v >= 3 { // replacements: a kept identifier (delete-first), a new one (create-first)
			desc, name = "v2", "golden-topic-2"
		}
		tp, err := app.Declare(topic, "topic", map[string]any{"TopicName": name, "DisplayName": display})
		if err != nil {
			return err
		}
		arn, err := tp.Output("TopicArn")
		if err != nil {
			return err
		}
		if _, err := app.Declare(jobTemplate, "tpl", map[string]any{"JobTemplateId": tplID, "Description": desc,
			"Document": `{"notify":"` + arn + `"}`}); err != nil {
			return err
		}
		if v >= 4 { // the log group and the parameter are no longer declared
			return nil
		}
		if _, err := app.Declare(logGroup, "logs", map[string]any{"LogGroupName": "golden-logs", "RetentionInDays": retention}); err != nil {
			return err
		}
		_, err = app.Declare(ssmParameter, "param", map[string]any{"Name": "golden-param", "Type": "String", "Value": arn + "/*"}, athanor.Retain())
		return err
	}
}

// TestPlanText compares the text of plans with golden files: creates, then
// updates, replacements in both orders, a delete and a forget, and a
// no-op; each plan is made twice and must print identically.
func TestPlanText(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	steps := []struct {
		name string
		v    int
	}{{"create", 1}, {"update", 2}, {"replace", 3}, {"delete-forget", 4}, {"no-op", 4}}
	for _, s := range steps {
		text := planText(t, e, stack(s.v))
		if again := planText(t, e, stack(s.v)); again != text {
			t.Errorf("%s: two plans of the same program differ:\n%s\n---\n%s", s.name, text, again)
		}
		golden := filepath.Join("testdata", "plan", s.name+".txt")
		if *updateGolden {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./e2e -run TestPlanText -update)", err)
		}
		if text != string(want) {
			t.Errorf("%s plan:\n%s\nwant (%s):\n%s", s.name, text, golden, want)
		}
		if strings.Contains(text, "{}") && strings.Contains(text, "Document") && !strings.Contains(text, "(sensitive)") {
			t.Errorf("%s plan shows a write-only value:\n%s", s.name, text)
		}
		e.run(stack(s.v))
	}
}

// TestSavedPlan: a saved plan applies exactly; it is refused once another
// run changed the stage, and refused when the program changed so that its
// changes differ; neither refusal sends anything.
func TestSavedPlan(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	file := filepath.Join(t.TempDir(), "plan.json")
	save := func(c *athanor.Config) { c.Plan, c.Out = true, file }
	apply := func(c *athanor.Config) { c.ApplyPlan = file }

	e.run(stack(1), save)
	data, err := os.ReadFile(file)
	if err != nil || !bytes.Contains(data, []byte(`"formatVersion": 1`)) || !bytes.Contains(data, []byte(`"stateDigest"`)) || bytes.Contains(data, []byte(`"Document": "{`)) {
		t.Fatalf("saved plan (%v):\n%s", err, data)
	}
	if res := e.run(stack(1), apply); res.Created != 4 || len(e.list(logGroup)) != 1 {
		t.Fatalf("applying the saved plan: %+v", res)
	}

	// The same plan again: the state has changed since.
	mark := e.rec.mark()
	if _, err := e.try(stack(1), apply); !errors.Is(err, athanor.ErrStalePlan) {
		t.Fatalf("a plan applied twice: %v, want ErrStalePlan", err)
	}
	// A plan, then another run, then the plan.
	e.run(stack(2), save)
	e.run(stack(2))
	refused := len(e.rec.since(mark, mutating...))
	if _, err := e.try(stack(2), apply); !errors.Is(err, athanor.ErrStalePlan) {
		t.Fatalf("a plan after another run changed the stage: %v, want ErrStalePlan", err)
	}
	// A plan, then the program edited.
	e.run(stack(3), save)
	_, err = e.try(stack(2), apply)
	if !errors.Is(err, athanor.ErrDeviation) || !strings.Contains(err.Error(), "does not match the program") {
		t.Fatalf("a plan of another program: %v, want ErrDeviation", err)
	}
	if calls := e.rec.since(mark, mutating...); len(calls) != refused {
		t.Fatalf("refused plans sent %d mutating calls", len(calls)-refused)
	}
	if res := e.run(stack(3), apply); res.Replaced != 2 {
		t.Fatalf("the plan of the unchanged program: %+v, want 2 replaced", res)
	}
}

// TestDependenciesInsideStrings: a value carrying another resource's ARN
// inside a JSON document, or with a suffix, records the dependency, and
// removing both deletes the dependent first.
func TestDependenciesInsideStrings(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	e.run(stack(1))
	recs := e.records("test")
	for _, key := range []string{"tpl", "param"} {
		if r := recordOf(recs, key); !slices.Equal(r.DependsOn, []string{"topic"}) {
			t.Errorf("%s depends on %v, want [topic]", key, r.DependsOn)
		}
	}
	mark := e.rec.mark()
	e.run(func(app *athanor.App) error {
		_, err := app.Declare(logGroup, "logs", map[string]any{"LogGroupName": "golden-logs", "RetentionInDays": 7})
		return err
	})
	calls := e.rec.since(mark, "DeleteResource")
	order := []string{}
	for _, c := range calls {
		order = append(order, c.TypeName)
	}
	if len(order) != 2 || order[len(order)-1] != topic {
		t.Fatalf("deletions %v: want the job template before the topic (the retained parameter is forgotten)", order)
	}
}

// TestPreviewDefersOnlyWhatIsUnknown: a value built from an output not
// known yet defers the checks that depend on it, but a constraint the
// known part already breaks, and the other properties, are still checked.
func TestPreviewDefersOnlyWhatIsUnknown(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	_, err := e.try(func(app *athanor.App) error {
		tp, err := app.Declare(topic, "t", map[string]any{"TopicName": "defer-topic"})
		if err != nil {
			return err
		}
		arn, _ := tp.Output("TopicArn")
		if !app.Previewing() {
			t.Error("a program with invalid declarations was applied")
		}
		for _, d := range []struct {
			id    string
			props map[string]any
		}{
			// Deferred: the pattern of JobTemplateId (the placeholder has
			// characters it refuses) and the description's length.
			{"ok", map[string]any{"JobTemplateId": "defer-" + arn, "Description": arn, "Document": "{}"}},
			// The known part is already too long for JobTemplateId.
			{"long", map[string]any{"JobTemplateId": strings.Repeat("x", 70) + arn, "Description": "d", "Document": "{}"}},
			// Another property is invalid.
			{"other", map[string]any{"JobTemplateId": arn, "Description": arn, "Document": "{}", "MaintenanceWindows": "weekly"}},
		} {
			if _, err := app.Declare(jobTemplate, d.id, d.props); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		t.Fatal("the preview found no error")
	}
	msg := err.Error()
	for _, want := range []string{"2 declarations are invalid", "long (AWS::IoT::JobTemplate)", "/JobTemplateId: at least 71 characters (with values not known yet), at most 64 allowed",
		"other (AWS::IoT::JobTemplate)", "/MaintenanceWindows: expected array"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "ok (AWS::IoT::JobTemplate)") || strings.Contains(msg, "/Description") {
		t.Errorf("a check of a value not known yet was not deferred:\n%s", msg)
	}
	if n := e.requests(); n != 0 {
		t.Fatalf("%d mutating requests", n)
	}
}

// TestLookup: a lookup reads an existing resource without managing it: its
// outputs feed a declaration (which depends on it), the plan shows a read,
// the stage's metadata lists it, and neither dropping the lookup nor a
// destroy touches it; a lookup of a resource that does not exist fails the
// preview, before any change.
func TestLookup(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	// Created outside Athanor.
	out, err := e.sdk.CreateResource(context.Background(), &cc.CreateResourceInput{TypeName: aws.String(jobTemplate),
		DesiredState: aws.String(`{"JobTemplateId":"outside","Description":"made elsewhere","Document":"{}"}`)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; e.get(jobTemplate, "outside") == nil; i++ {
		if i == 100 {
			t.Fatal("the template made outside Athanor never appeared")
		}
		if _, err := e.sdk.GetResourceRequestStatus(context.Background(), &cc.GetResourceRequestStatusInput{RequestToken: out.ProgressEvent.RequestToken}); err != nil {
			t.Fatal(err)
		}
	}
	program := func(id string) func(*athanor.App) error {
		return func(app *athanor.App) error {
			tpl, err := app.Lookup(jobTemplate, "existing", id)
			if err != nil {
				return err
			}
			arn, err := tpl.Output("Arn")
			if err != nil {
				return err
			}
			desc, err := tpl.Output("Description")
			if err != nil || desc != "made elsewhere" && !athanor.IsUnknown(desc) {
				return fmt.Errorf("looked-up description %q, %v", desc, err)
			}
			// The typed lookup of the same template.
			typed, props, err := iot.LookupJobTemplate(app, "typed", id)
			if err != nil {
				return err
			}
			if !app.Previewing() && (typed.Arn != arn || typed.JobTemplateId != id || props.Description != "made elsewhere") {
				t.Errorf("typed lookup: %+v, %+v", typed, props)
			}
			_, err = app.Declare(ssmParameter, "param", map[string]any{"Name": "lookup-param", "Type": "String", "Value": arn})
			return err
		}
	}
	if text := planText(t, e, program("outside")); !strings.Contains(text, "< read     existing (AWS::IoT::JobTemplate) outside") {
		t.Errorf("plan:\n%s", text)
	}
	// Through a saved plan, as a reviewed change would go.
	file := filepath.Join(t.TempDir(), "plan.json")
	e.run(program("outside"), func(c *athanor.Config) { c.Plan, c.Out = true, file })
	res := e.run(program("outside"), func(c *athanor.Config) { c.ApplyPlan = file })
	if res.Created != 1 {
		t.Fatalf("deploy: %+v", res)
	}
	if p := e.get(ssmParameter, "lookup-param"); p == nil || !strings.HasSuffix(fmt.Sprint(p["Value"]), ":jobtemplate/outside") {
		t.Fatalf("parameter fed by the lookup: %v", p)
	}
	if r := recordOf(e.records("test"), "param"); !slices.Equal(r.DependsOn, []string{"existing"}) {
		t.Errorf("the parameter depends on %v, want [existing]", r.DependsOn)
	}
	if m := meta(t, e.state, "test"); m.Reads["existing"].Identifier != "outside" || m.Reads["existing"].Type != jobTemplate {
		t.Errorf("stage metadata reads: %+v", m.Reads)
	}
	if recordOf(e.records("test"), "existing").Key != "" {
		t.Error("the lookup has a record of a managed resource")
	}

	// A missing resource: the preview fails, nothing changes.
	mark := e.rec.mark()
	_, err = e.try(program("missing"))
	if !errors.Is(err, athanor.ErrLookupNotFound) || !strings.Contains(err.Error(), `no AWS::IoT::JobTemplate with identifier "missing" exists`) {
		t.Fatalf("lookup of a missing resource: %v", err)
	}
	if calls := e.rec.since(mark, mutating...); len(calls) != 0 {
		t.Fatalf("%d mutating calls after a failed lookup", len(calls))
	}

	// Dropping the lookup and then destroying leave the template alone.
	e.run(func(app *athanor.App) error { return nil })
	e.run(program("outside"))
	e.run(nil, destroy)
	if e.get(jobTemplate, "outside") == nil {
		t.Fatal("the looked-up template was deleted")
	}
	if m := meta(t, e.state, "test"); len(m.Reads) != 0 {
		t.Errorf("reads after a destroy: %+v", m.Reads)
	}
}

// TestDeviationStopsTheRun: a program whose second pass declares another
// change than its preview planned is stopped before that change is sent,
// with an error naming the resource and the difference; what came before
// it is applied, nothing after it starts, and nothing is deleted.
func TestDeviationStopsTheRun(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	program := func(app *athanor.App) error {
		if _, err := app.Declare(logGroup, "first", map[string]any{"LogGroupName": "deviation-first"}); err != nil {
			return err
		}
		retention := 7
		if !app.Previewing() {
			retention = 14 // not what the plan says
		}
		if _, err := app.Declare(logGroup, "second", map[string]any{"LogGroupName": "deviation-second", "RetentionInDays": retention}); err != nil {
			return err
		}
		_, err := app.Declare(logGroup, "third", map[string]any{"LogGroupName": "deviation-third"})
		return err
	}
	_, err := e.try(program)
	var re *athanor.ResourceError
	if !errors.Is(err, athanor.ErrDeviation) || !errors.As(err, &re) || re.Key != "second" ||
		!strings.Contains(err.Error(), "/RetentionInDays is not the planned value") {
		t.Fatalf("run whose second pass deviates: %v", err)
	}
	if got := e.list(logGroup); !slices.Equal(got, []string{"deviation-first"}) {
		t.Fatalf("log groups %v, want only the one declared before the deviation", got)
	}

	// A second pass that puts a resource in another region than planned.
	_, err = e.try(func(app *athanor.App) error {
		region := "eu-west-1"
		if !app.Previewing() {
			region = "us-west-2"
		}
		s, err := app.In("moved", athanor.Provider{Region: region})
		if err != nil {
			return err
		}
		_, err = s.Declare(logGroup, "l", map[string]any{"LogGroupName": "deviation-moved"})
		return err
	}, func(c *athanor.Config) { c.Stage = "moved" })
	if !errors.Is(err, athanor.ErrDeviation) || !strings.Contains(err.Error(), "the plan places it in region eu-west-1") {
		t.Fatalf("run whose second pass moves a resource: %v", err)
	}
	for _, region := range []string{"eu-west-1", "us-west-2"} {
		if got := e.in(t, region, "123456789012").list(logGroup); len(got) != 0 {
			t.Fatalf("%s: log groups %v after a deviation", region, got)
		}
	}
}

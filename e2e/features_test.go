package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/emulator"
)

const subscription = "AWS::SNS::Subscription"

// pubsub declares a topic and a subscription to it: the subscription's
// TopicArn is the topic's identifier, which makes it a dependent.
func pubsub(app *athanor.App) error {
	tp, err := app.Declare(topic, "alerts", map[string]any{"TopicName": "alerts"})
	if err != nil {
		return err
	}
	_, err = app.Declare(subscription, "mail", map[string]any{
		"TopicArn": tp.Identifier, "Protocol": "email", "Endpoint": "ops@example.com",
	})
	return err
}

func TestPlanUnknownOutputsAndDependentsFirst(t *testing.T) {
	e := newEnv(t, emulator.Instant())

	// A plan of a fresh stage: the topic's ARN is not known yet and flows
	// into the subscription as such; nothing is called.
	res := e.run(pubsub, plan)
	if len(res.Changes) != 2 || res.Created != 2 || res.Stats.Requests != 0 {
		t.Fatalf("plan: %+v", res)
	}
	var unknown string
	_, err := e.try(func(app *athanor.App) error {
		tp, err := app.Declare(topic, "alerts", map[string]any{"TopicName": "alerts"})
		if err != nil {
			return err
		}
		unknown = tp.Identifier
		return nil
	}, plan)
	if want := "(known after apply: alerts.TopicArn)"; err != nil || unknown != want || !athanor.IsUnknown(unknown) {
		t.Fatalf("planned topic identifier %q (%v), want %q", unknown, err, want)
	}

	e.run(pubsub)
	recs := e.records("test")
	if r := recordOf(recs, "mail"); !slices.Equal(r.DependsOn, []string{"alerts"}) {
		t.Fatalf("subscription depends on %v, want [alerts]", r.DependsOn)
	}

	// Removing both deletes the subscription before the topic.
	mark := e.rec.mark()
	res = e.run(func(*athanor.App) error { return nil })
	if res.Deleted != 2 {
		t.Fatalf("removal: %+v", res)
	}
	calls := e.rec.since(mark, "DeleteResource")
	if len(calls) != 2 || calls[0].TypeName != subscription || calls[1].TypeName != topic {
		t.Fatalf("deletes %+v, want the subscription first", calls)
	}
}

func TestFailedRunDeletesNothing(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	e.run(pubsub)
	_, err := e.try(func(*athanor.App) error { return errors.New("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("failed program: %v", err)
	}
	if n := len(e.records("test")); n != 2 {
		t.Fatalf("a failed run changed the state: %d records", n)
	}
	if ids := e.list(topic); len(ids) != 1 {
		t.Fatalf("a failed run deleted the topic: %v", ids)
	}
}

func TestAdopt(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	_, err := e.sdk.CreateResource(context.Background(), &cc.CreateResourceInput{
		TypeName:     aws.String(jobTemplate),
		DesiredState: aws.String(`{"JobTemplateId":"existing","Description":"made by hand","Document":"{}"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]any{"JobTemplateId": "existing", "Description": "made by hand", "Document": "{}"}
	_, err = e.try(func(app *athanor.App) error {
		_, err := app.Declare(jobTemplate, "t", props)
		return err
	})
	if !errors.Is(err, cloudcontrol.ErrAlreadyExists) {
		t.Fatalf("without Adopt: %v, want AlreadyExists", err)
	}
	res := e.run(func(app *athanor.App) error {
		_, err := app.Declare(jobTemplate, "t", props, athanor.Adopt())
		return err
	})
	if res.Adopted != 1 || res.Replaced != 0 {
		t.Fatalf("adopt of an identical template: %+v", res)
	}
	// Converging an adopted template that differs replaces it.
	props["Description"] = "now managed"
	res = e.run(func(app *athanor.App) error {
		_, err := app.Declare(jobTemplate, "t", props, athanor.Adopt())
		return err
	})
	if res.Replaced != 1 || e.get(jobTemplate, "existing")["Description"] != "now managed" {
		t.Fatalf("converge adopted: %+v", res)
	}
}

func TestRefresh(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	const logGroup = "AWS::Logs::LogGroup"
	program := func(app *athanor.App) error {
		if _, err := app.Declare(logGroup, "logs", map[string]any{"LogGroupName": "/refresh", "RetentionInDays": 7}); err != nil {
			return err
		}
		_, err := app.Declare(jobTemplate, "tpl", map[string]any{"JobTemplateId": "refresh", "Description": "d", "Document": "{}"})
		return err
	}
	e.run(program)
	ctx := context.Background()
	if _, err := e.sdk.UpdateResource(ctx, &cc.UpdateResourceInput{TypeName: aws.String(logGroup), Identifier: aws.String("/refresh"),
		PatchDocument: aws.String(`[{"op":"replace","path":"/RetentionInDays","value":30}]`)}); err != nil {
		t.Fatal(err)
	}
	del, err := e.sdk.DeleteResource(ctx, &cc.DeleteResourceInput{TypeName: aws.String(jobTemplate), Identifier: aws.String("refresh")})
	if err != nil {
		t.Fatal(err)
	}
	waiter := cc.NewResourceRequestSuccessWaiter(e.sdk, func(o *cc.ResourceRequestSuccessWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
	})
	if err := waiter.Wait(ctx, &cc.GetResourceRequestStatusInput{RequestToken: del.ProgressEvent.RequestToken}, time.Minute); err != nil {
		t.Fatalf("delete behind Athanor's back: %v", err)
	}

	// Without refresh the record is trusted: nothing happens.
	if res := e.run(program); res.Unchanged != 2 {
		t.Fatalf("run without refresh: %+v", res)
	}
	res := e.run(program, refresh)
	var gone, drifted bool
	for _, d := range res.Drift {
		gone = gone || (d.Key == "tpl" && d.Gone)
		drifted = drifted || (d.Key == "logs" && d.Path == "/RetentionInDays")
	}
	if !gone || !drifted || res.Created != 1 || res.Updated != 1 {
		t.Fatalf("refresh: drift %+v, result %+v", res.Drift, res)
	}
	if e.get(jobTemplate, "refresh") == nil || e.get(logGroup, "/refresh")["RetentionInDays"] != float64(7) {
		t.Fatal("refresh did not repair the drift")
	}
}

// TestExample builds examples/jobtemplates and runs it as a user would: it
// deploys the four templates and prints their ARNs, a second run changes
// nothing, --destroy removes them; with PostgreSQL or S3 state, which it
// does not link, it fails before doing anything, naming the import to add.
func TestExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example")
	}
	bin := filepath.Join(t.TempDir(), "jobtemplates")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/jobtemplates").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	runExample := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir // the default target: the embedded emulator under .athanor/local
		cmd.Env = append(cmd.Environ(), "AWS_ENDPOINT_URL_CLOUDCONTROL=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("jobtemplates %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := runExample()
	if !strings.Contains(out, "4 created") || strings.Count(out, "arn:aws:iot:us-east-1:123456789012:jobtemplate/") != 4 {
		t.Fatalf("first run:\n%s", out)
	}
	if out := runExample(); !strings.Contains(out, "0 created, 0 updated, 0 replaced, 0 deleted, 4 unchanged") {
		t.Fatalf("second run:\n%s", out)
	}
	if out := runExample("--destroy"); !strings.Contains(out, "4 deleted") {
		t.Fatalf("destroy:\n%s", out)
	}
	if out := runExample("--plan"); !strings.Contains(out, "Plan: 4 to create") {
		t.Fatalf("plan after destroy:\n%s", out)
	}

	// The example links only the file backend: team state fails at once,
	// saying which import links its backend.
	for scheme, pkg := range map[string]string{"postgresql": "state/postgres", "s3": "state/s3"} {
		cmd := exec.Command(bin, "--state", scheme+"://team/state")
		cmd.Dir = t.TempDir()
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		want := "add `import _ \"github.com/athanor-dev/athanor/" + pkg + "\"` to its main package"
		if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(stderr.String(), want) || stdout.Len() != 0 {
			t.Errorf("--state %s://: %v\nstdout: %s\nstderr: %s\nwant exit status 1 and %s", scheme, err, stdout.Bytes(), stderr.Bytes(), want)
		}
		if entries, err := os.ReadDir(cmd.Dir); err != nil || len(entries) != 0 {
			t.Errorf("--state %s://: the run left %v in its directory (%v)", scheme, entries, err)
		}
	}
}

// TestAlreadyExistsSaysWhatToDo: a create that collides with a resource the
// stage does not manage names the identifier and the ways on.
func TestAlreadyExistsSaysWhatToDo(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	tpl := map[string]any{"JobTemplateId": "shared-name", "Description": "d", "Document": "{}"}
	e.run(func(app *athanor.App) error {
		_, err := app.Declare(jobTemplate, "t", tpl)
		return err
	}, func(c *athanor.Config) { c.Stage = "one" })
	_, err := e.try(func(app *athanor.App) error {
		_, err := app.Declare(jobTemplate, "t", tpl)
		return err
	}, func(c *athanor.Config) { c.Stage = "two" })
	if err == nil {
		t.Fatal("second stage created a template that exists")
	}
	for _, want := range []string{`JobTemplateId "shared-name" already exists`, "athanor.Adopt()", "app.PhysicalName", `athanor.NameFor("AWS::IoT::JobTemplate", "JobTemplateId")`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if !errors.Is(err, cloudcontrol.ErrAlreadyExists) {
		t.Errorf("error %v does not match cloudcontrol.ErrAlreadyExists", err)
	}
}

// TestUntypedIsHonest: an output name the type does not have is an error
// with a "did you mean", not ""; an identifier property reads as the
// identifier; an unknown type name suggests the registry's nearest.
func TestUntypedIsHonest(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	_, err := e.try(func(app *athanor.App) error {
		topic, err := app.Declare(topic, "alerts", map[string]any{"TopicName": "fleet-alerts"})
		if err != nil {
			return err
		}
		arn, err := topic.Output("TopicArn")
		if err != nil || !strings.HasPrefix(arn, "arn:aws:sns:") && !app.Previewing() || !athanor.IsUnknown(arn) && app.Previewing() {
			t.Errorf(`Output("TopicArn") = %q, %v`, arn, err)
		}
		_, err = topic.Output("TopicARN")
		if !errors.Is(err, athanor.ErrNoOutput) || !strings.Contains(err.Error(), `did you mean "TopicArn"?`) {
			t.Errorf(`Output("TopicARN") error %v, want ErrNoOutput suggesting "TopicArn"`, err)
		}
		tpl, err := app.Declare(jobTemplate, "tpl", map[string]any{"JobTemplateId": "honest", "Description": "d", "Document": "{}"})
		if err != nil {
			return err
		}
		if id, err := tpl.Output("JobTemplateId"); err != nil || id != "honest" {
			t.Errorf(`Output("JobTemplateId") = %q, %v; want the identifier`, id, err)
		}
		// In the preview an error is collected, not returned: the run
		// reports them all and changes nothing.
		_, err = app.Declare("AWS::Iot::JobTemplate", "typo", map[string]any{"JobTemplateId": "x", "Description": "d", "Document": "{}"})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), `(did you mean "AWS::IoT::JobTemplate"?)`) {
		t.Errorf("run with a misspelt type: %v, want a suggestion", err)
	}
}

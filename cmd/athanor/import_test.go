package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/state"
)

// runImportCmd runs `athanor import args...` and returns its standard
// output and error output.
func runImportCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newImportCommand()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

// testClients returns a Cloud Control client and an IoT client of the
// emulator at url, through the real SDK.
func testClients(url string) (*cloudcontrol.Client, *iot.Client) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	client := cloudcontrol.New(cfg, cloudcontrol.WithSDKOptions(func(o *cc.Options) { o.BaseEndpoint = aws.String(url) }))
	return client, iot.NewFromConfig(cfg, func(o *iot.Options) { o.BaseEndpoint = aws.String(url) })
}

// mutations counts the emulator's Create, Update and Delete requests.
func mutations(t *testing.T, c *cloudcontrol.Client) int {
	t.Helper()
	n := 0
	for _, err := range c.ListRequests(t.Context(), cloudcontrol.RequestFilter{Operations: []cloudcontrol.Kind{cloudcontrol.Create, cloudcontrol.Update, cloudcontrol.Delete}}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// buildProgram builds the package in dir (inside the module) and returns
// the binary.
func buildProgram(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "prog")
	cmd := exec.Command("go", "build", "-o", bin, "./"+filepath.ToSlash(dir))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the imported program: %v\n%s", err, out)
	}
	return bin
}

// runProgram runs a built program with args and returns its output.
func runProgram(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "ATHANOR_YES=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestImportWritesANoOpProgram is the acceptance test of `athanor import`:
// job templates created through the IoT API (document, timeout, abort and
// rollout configurations; a document source, presigned-URL, retry and
// maintenance-window settings) and a log group created through Cloud
// Control are imported; the program written compiles, its first run makes
// no mutating call, and a changed property plans exactly that change.
func TestImportWritesANoOpProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the imported program")
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	url := startEmulator(t, "123456789012")
	cc, iotc := testClients(url)
	ctx := t.Context()
	if _, err := iotc.CreateJobTemplate(ctx, &iot.CreateJobTemplateInput{
		JobTemplateId: aws.String("ota-update"),
		Description:   aws.String("OTA update"),
		Document:      aws.String(`{"operation":"update","version":"1.2"}`),
		TimeoutConfig: &iottypes.TimeoutConfig{InProgressTimeoutInMinutes: aws.Int64(60)},
		AbortConfig: &iottypes.AbortConfig{CriteriaList: []iottypes.AbortCriteria{{
			Action: iottypes.AbortActionCancel, FailureType: iottypes.JobExecutionFailureTypeFailed,
			MinNumberOfExecutedThings: aws.Int32(10), ThresholdPercentage: aws.Float64(25.5),
		}}},
		JobExecutionsRolloutConfig: &iottypes.JobExecutionsRolloutConfig{
			MaximumPerMinute: aws.Int32(100),
			ExponentialRate: &iottypes.ExponentialRolloutRate{
				BaseRatePerMinute: aws.Int32(10), IncrementFactor: aws.Float64(2),
				RateIncreaseCriteria: &iottypes.RateIncreaseCriteria{NumberOfNotifiedThings: aws.Int32(5)},
			},
		},
		Tags: []iottypes.Tag{{Key: aws.String("team"), Value: aws.String("fleet")}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := iotc.CreateJobTemplate(ctx, &iot.CreateJobTemplateInput{
		JobTemplateId:      aws.String("ota-source"),
		Description:        aws.String("from S3"),
		DocumentSource:     aws.String("https://s3.amazonaws.com/fleet-docs/job.json"),
		PresignedUrlConfig: &iottypes.PresignedUrlConfig{RoleArn: aws.String("arn:aws:iam::123456789012:role/presign"), ExpiresInSec: aws.Int64(600)},
		JobExecutionsRetryConfig: &iottypes.JobExecutionsRetryConfig{CriteriaList: []iottypes.RetryCriteria{
			{FailureType: iottypes.RetryableFailureTypeTimedOut, NumberOfRetries: aws.Int32(3)},
		}},
		MaintenanceWindows: []iottypes.MaintenanceWindow{{StartTime: aws.String("cron(0 0 ? * SUN *)"), DurationInMinutes: aws.Int32(60)}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Apply(ctx, cloudcontrol.Operation{Kind: cloudcontrol.Create, TypeName: "AWS::Logs::LogGroup",
		Desired: json.RawMessage(`{"LogGroupName":"/fleet/ota","RetentionInDays":7,"Tags":[{"Key":"team","Value":"fleet"}]}`)}, cloudcontrol.Hooks{}); err != nil {
		t.Fatal(err)
	}

	dir, err := os.MkdirTemp("testdata", "import-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	stateDir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	stage := []string{"--stage", "dev", "--state", stateDir, "--target", url}
	before := mutations(t, cc)
	_, stderr, err := runImportCmd(t, append(stage, "--app", "fleet", "--out", src,
		"AWS::IoT::JobTemplate", "ota-update", "ota-source", "AWS::Logs::LogGroup", "/fleet/ota")...)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	if n := mutations(t, cc); n != before {
		t.Fatalf("the import made %d mutating calls", n-before)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	code := string(data)
	for _, want := range []string{
		`athanor.Main("fleet", func(app *athanor.App) error {`,
		`iot.NewJobTemplate(app, "otaUpdate", iot.JobTemplateArgs{`,
		"Document: iot.InlineDocument(`{\"operation\":\"update\",\"version\":\"1.2\"}`)",
		`Document: iot.DocumentSource("https://s3.amazonaws.com/fleet-docs/job.json")`,
		`Action: iot.JobTemplateActionCancel`,
		`FailureType: iot.JobTemplateFailureTypeFailed`,
		`ThresholdPercentage: 25.5`,
		`TimeoutConfig: iot.JobTemplateTimeoutConfig{`,
		`InProgressTimeoutInMinutes: 60`,
		`IncrementFactor: 2`,
		`NumberOfRetries: new(3)`,
		`StartTime: "cron(0 0 ? * SUN *)"`,
		`ExpiresInSec: 600`,
		`// /JobArn: write-only, and DescribeJobTemplate does not return it`,
		`logs.NewLogGroup(app, "fleetOta", logs.LogGroupArgs{`,
		`LogGroupName: "/fleet/ota"`,
		`RetentionInDays: logs.LogGroupRetentionInDays7`,
	} {
		if !strings.Contains(spaced(code), spaced(want)) {
			t.Errorf("the program lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatalf("program:\n%s", code)
	}
	for _, want := range []string{"imported otaUpdate (AWS::IoT::JobTemplate) ota-update", "/JobArn: not recovered"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("import's report lacks %q:\n%s", want, stderr)
		}
	}

	b, err := state.Open(ctx, stateDir, "fleet", "dev")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := b.List(ctx)
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("state holds %d records, want 3", len(recs))
	}
	byKey := map[string]*state.Record{}
	for _, r := range recs {
		byKey[r.Key] = r
	}
	tpl := byKey["otaUpdate"]
	if tpl == nil || tpl.Identifier != "ota-update" || tpl.Status != state.StatusCreated {
		t.Fatalf("record otaUpdate = %+v", tpl)
	}
	var desired, outputs map[string]any
	if err := json.Unmarshal(tpl.Desired, &desired); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(tpl.Outputs, &outputs); err != nil {
		t.Fatal(err)
	}
	if desired["Document"] != `{"operation":"update","version":"1.2"}` || desired["TimeoutConfig"] == nil || desired["AbortConfig"] == nil ||
		desired["JobExecutionsRolloutConfig"] == nil || desired["JobArn"] != nil || desired["Arn"] != nil {
		t.Errorf("recorded desired state of otaUpdate = %v", desired)
	}
	if outputs["Arn"] != "arn:aws:iot:us-east-1:123456789012:jobtemplate/ota-update" {
		t.Errorf("recorded outputs of otaUpdate = %v", outputs)
	}

	bin := buildProgram(t, dir)
	before = mutations(t, cc)
	out := runProgram(t, bin, append(stage, "--json")...)
	if n := mutations(t, cc); n != before {
		t.Fatalf("the first run of the imported program made %d mutating calls:\n%s", n-before, out)
	}
	if !strings.Contains(out, `"summary":{"created":0,"updated":0,"replaced":0,"deleted":0,"unchanged":3,`) {
		t.Errorf("the first run of the imported program is not a no-op of 3 resources:\n%s", out)
	}
	b, err = state.Open(ctx, stateDir, "fleet", "dev")
	if err != nil {
		t.Fatal(err)
	}
	after, err := b.List(ctx)
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range after {
		if old := byKey[r.Key]; old == nil || !state.EqualJSON(old.Desired, r.Desired) || old.Identifier != r.Identifier {
			t.Errorf("record %s changed on the first run: %s", r.Key, r.Desired)
		}
	}

	// One property changed: the plan is exactly that update.
	changed := strings.Replace(code, "logs.LogGroupRetentionInDays7,", "logs.LogGroupRetentionInDays14,", 1)
	if err := os.WriteFile(src, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	bin = buildProgram(t, dir)
	out = runProgram(t, bin, append(stage, "--plan", "--json")...)
	var plans []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var ev map[string]any
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev["event"] == "plan" && ev["action"] != "no-op" {
			plans = append(plans, ev)
		}
	}
	if len(plans) != 1 {
		t.Fatalf("plan after one change has %d changes, want 1:\n%s", len(plans), out)
	}
	ch, _ := plans[0]["change"].(map[string]any)
	if plans[0]["key"] != "fleetOta" || plans[0]["action"] != "update" || !reflect.DeepEqual(ch["paths"], []any{"/RetentionInDays"}) {
		t.Errorf("plan after one change = %v", plans[0])
	}

	// A second import of a resource the stage holds is refused.
	if _, _, err := runImportCmd(t, append(stage, "--app", "fleet", "AWS::Logs::LogGroup", "/fleet/ota")...); err == nil ||
		!strings.Contains(err.Error(), "AWS::Logs::LogGroup /fleet/ota is already in stage fleet/dev, as fleetOta") {
		t.Errorf("second import of /fleet/ota: %v", err)
	}
}

// spaced collapses the runs of white space in s (gofmt aligns columns).
func spaced(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestParseImportArgs(t *testing.T) {
	g, err := parseImportArgs([]string{"AWS::IoT::JobTemplate", "a", "b", "AWS::Logs::LogGroup", "/x"}, false)
	if err != nil || len(g) != 2 || !reflect.DeepEqual(g[0].ids, []string{"a", "b"}) || g[1].typeName != "AWS::Logs::LogGroup" {
		t.Errorf("groups = %+v, %v", g, err)
	}
	for _, c := range []struct {
		args []string
		all  bool
		want string
	}{
		{[]string{"a"}, false, "comes before any type"},
		{[]string{"AWS::IoT::JobTemplate"}, false, "no identifier given for AWS::IoT::JobTemplate"},
		{[]string{"AWS::IoT::JobTemplate", "a"}, true, "given with --all"},
	} {
		if _, err := parseImportArgs(c.args, c.all); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseImportArgs(%q, %v) = %v, want %q", c.args, c.all, err, c.want)
		}
	}
}

func TestLogicalID(t *testing.T) {
	for id, want := range map[string]string{
		"device-update-template": "deviceUpdateTemplate",
		"/fleet/ota":             "fleetOta",
		"arn:aws:sns:us-east-1:123456789012:alerts": "alerts",
		"2024-rollout": "jobTemplate2024Rollout",
		"---":          "jobTemplate",
	} {
		if got := logicalID(id, "AWS::IoT::JobTemplate"); got != want {
			t.Errorf("logicalID(%q) = %q, want %q", id, got, want)
		}
	}
	ns := namespace{}
	if a, b := ns.claim("x"), ns.claim("x"); a != "x" || b != "x2" {
		t.Errorf("claims = %q, %q", a, b)
	}
}

// TestImportAll imports every resource of a type, over several pages of
// ListResources, and refuses a stage bound to another target.
func TestImportAll(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	url := startEmulator(t, "123456789012")
	c, _ := testClients(url)
	const n = 102 // more than a page (100)
	for i := range n {
		desired := fmt.Sprintf(`{"LogGroupName":"/bulk/g-%03d","RetentionInDays":%d}`, i, 1+i%2*2)
		if _, err := c.Apply(t.Context(), cloudcontrol.Operation{Kind: cloudcontrol.Create, TypeName: "AWS::Logs::LogGroup", Desired: json.RawMessage(desired)}, cloudcontrol.Hooks{}); err != nil {
			t.Fatal(err)
		}
	}
	stateDir := t.TempDir()
	before := mutations(t, c)
	out, stderr, err := runImportCmd(t, "--app", "bulk", "--state", stateDir, "--target", url, "--all", "AWS::Logs::LogGroup")
	if err != nil {
		t.Fatalf("import --all: %v\n%s", err, stderr)
	}
	if m := mutations(t, c); m != before {
		t.Errorf("import --all made %d mutating calls", m-before)
	}
	if got := strings.Count(out, "logs.NewLogGroup(app, "); got != n {
		t.Errorf("the program declares %d log groups, want %d", got, n)
	}
	for _, want := range []string{`logs.NewLogGroup(app, "bulkG000"`, `logs.NewLogGroup(app, "bulkG101"`, "logs.LogGroupRetentionInDays3,"} {
		if !strings.Contains(out, want) {
			t.Errorf("the program lacks %q", want)
		}
	}
	b, err := state.Open(t.Context(), stateDir, "bulk", "dev")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := b.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.GetMeta(t.Context())
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n || m.NextSeq != n || m.Target == nil || m.Target.Endpoint != url {
		t.Fatalf("state after import --all: %d records, meta %+v", len(recs), m)
	}
	for i, r := range recs {
		if r.Seq != int64(i) {
			t.Errorf("record %s has seq %d, want %d", r.Key, r.Seq, i)
		}
	}

	// A second --all imports only what the stage does not hold yet.
	if _, err := c.Apply(t.Context(), cloudcontrol.Operation{Kind: cloudcontrol.Create, TypeName: "AWS::Logs::LogGroup",
		Desired: json.RawMessage(`{"LogGroupName":"/bulk/late"}`)}, cloudcontrol.Hooks{}); err != nil {
		t.Fatal(err)
	}
	out, stderr, err = runImportCmd(t, "--app", "bulk", "--state", stateDir, "--target", url, "--all", "AWS::Logs::LogGroup")
	if err != nil {
		t.Fatalf("second import --all: %v\n%s", err, stderr)
	}
	if strings.Count(out, "logs.NewLogGroup(app, ") != 1 || !strings.Contains(out, `logs.NewLogGroup(app, "bulkLate"`) ||
		!strings.Contains(out, "The stage held 102 other record(s) before") || strings.Count(stderr, "skipped ") != n ||
		!strings.Contains(stderr, "the stage already held 102 other record(s)") {
		t.Errorf("second import --all:\n%s\n%s", out, stderr)
	}
	if _, _, err := runImportCmd(t, "--app", "bulk", "--state", stateDir, "--target", url, "--all", "AWS::Logs::LogGroup"); err == nil ||
		!strings.Contains(err.Error(), "nothing to import") {
		t.Errorf("third import --all: %v", err)
	}

	other := startEmulator(t, "999999999999")
	if _, _, err := runImportCmd(t, "--app", "bulk", "--state", stateDir, "--target", other, "AWS::Logs::LogGroup", "/x"); err == nil ||
		!strings.Contains(err.Error(), "is bound to account 123456789012") {
		t.Errorf("import into a stage bound elsewhere: %v", err)
	}
	if _, _, err := runImportCmd(t, "--app", "bulk", "--state", stateDir, "--target", url, "AWS::Logs::LogGroup", "/missing"); err == nil ||
		!strings.Contains(err.Error(), "/missing") {
		t.Errorf("import of a missing resource: %v", err)
	}
	if _, _, err := runImportCmd(t, "--app", "bulk", "--state", stateDir, "--target", url, "AWS::Route53::RecordSet", "x"); err == nil ||
		!strings.Contains(err.Error(), "cannot import AWS::Route53::RecordSet: AWS::Route53::RecordSet has no create handler") {
		t.Errorf("import of a type without a typed package: %v", err)
	}
	if _, _, err := runImportCmd(t, "--state", stateDir, "--target", url, "AWS::Logs::LogGroup", "/x"); err == nil || !strings.Contains(err.Error(), "--app") {
		t.Errorf("import without an app: %v", err)
	}
}

func TestHolds(t *testing.T) {
	m := map[string]any{"A": map[string]any{"B": "x"}, "L": []any{}}
	for p, want := range map[string]bool{"/A": true, "/A/B": true, "/A/C": false, "/Z": false, "/L/*/X": true, "/A/B/C": false} {
		if got := holds(m, p); got != want {
			t.Errorf("holds(%s) = %v, want %v", p, got, want)
		}
	}
}

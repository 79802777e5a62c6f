package e2e

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor/emulator"
	iotfleet "github.com/athanor-dev/athanor/examples/iot-fleet/fleet"
)

// TestIoTFleetExample deploys examples/iot-fleet to the emulator, checks
// through the SDK that every link between its resources is the typed
// output it was fed from, redeploys with no Cloud Control call at all, and
// destroys it dependents first.
func TestIoTFleetExample(t *testing.T) {
	const (
		bucketType = "AWS::S3::Bucket"
		roleType   = "AWS::IAM::Role"
		topicType  = "AWS::SNS::Topic"
		ruleType   = "AWS::IoT::TopicRule"
	)
	e := newEnv(t, emulator.Instant())
	total := 4 + len(iotfleet.Templates)
	res := e.run(iotfleet.Stack)
	if res.Created != total {
		t.Fatalf("first run created %d, want %d", res.Created, total)
	}
	one := func(typeName string) (string, map[string]any) {
		t.Helper()
		ids := e.list(typeName)
		if len(ids) != 1 {
			t.Fatalf("%s: %d resources in the emulator, want 1", typeName, len(ids))
		}
		return ids[0], e.get(typeName, ids[0])
	}
	bucketName, bucket := one(bucketType)
	roleName, role := one(roleType)
	topicArn, topic := one(topicType)
	ruleName, rule := one(ruleType)
	exports := map[string]string{}
	for k, v := range res.Exports {
		s, _ := v.(string)
		exports[k] = s
	}
	// AWS's shapes: the bucket's ARN is its name's, the topic's ends with
	// its name, the role's holds its path.
	if want := "arn:aws:s3:::" + bucketName; exports["bucketArn"] != want || bucket["Arn"] != want {
		t.Errorf("bucket ARN exported %q, read %v; want %s", exports["bucketArn"], bucket["Arn"], want)
	}
	topicName, _ := topic["TopicName"].(string)
	if topicName == "" || exports["topicArn"] != topicArn || topicArn != "arn:aws:sns:us-east-1:123456789012:"+topicName {
		t.Errorf("topic ARN exported %q, identifier %q; want arn:aws:sns:us-east-1:123456789012:%s", exports["topicArn"], topicArn, topicName)
	}
	roleArn := "arn:aws:iam::123456789012:role" + iotfleet.RolePath + roleName
	if exports["roleArn"] != roleArn || role["Arn"] != roleArn {
		t.Errorf("role ARN exported %q, read %v; want %s", exports["roleArn"], role["Arn"], roleArn)
	}
	// The rule forwards to the topic as the role.
	actions, _ := rule["TopicRulePayload"].(map[string]any)["Actions"].([]any)
	if len(actions) != 1 {
		t.Fatalf("rule %s actions %v", ruleName, actions)
	}
	sns, _ := actions[0].(map[string]any)["Sns"].(map[string]any)
	if sns["TargetArn"] != topicArn || sns["RoleArn"] != roleArn {
		t.Errorf("rule's SNS action %v, want topic %s and role %s", sns, topicArn, roleArn)
	}
	// Each template reads its document from the bucket through URLs
	// presigned with the role. Both properties are write-only (reads do not
	// return them): look at what the SDK sent.
	ids := e.list("AWS::IoT::JobTemplate")
	if len(ids) != len(iotfleet.Templates) {
		t.Fatalf("job templates %v, want %d", ids, len(iotfleet.Templates))
	}
	created := map[string]map[string]any{}
	for _, c := range e.rec.since(0, "CreateResource") {
		if c.TypeName == "AWS::IoT::JobTemplate" {
			id, _ := c.Desired["JobTemplateId"].(string)
			created[id] = c.Desired
		}
	}
	for _, id := range ids {
		tpl, desired := e.get("AWS::IoT::JobTemplate", id), created[id]
		key := iotfleet.Templates[templateLogicalID(id)]
		if want := "https://" + bucket["RegionalDomainName"].(string) + "/" + iotfleet.DocumentPrefix + key; key == "" || desired["DocumentSource"] != want {
			t.Errorf("template %s created with DocumentSource %v, want %s", id, desired["DocumentSource"], want)
		}
		if p, _ := desired["PresignedUrlConfig"].(map[string]any); p["RoleArn"] != roleArn {
			t.Errorf("template %s created with PresignedUrlConfig %v, want RoleArn %s", id, p, roleArn)
		}
		if arn, _ := tpl["Arn"].(string); arn != "arn:aws:iot:us-east-1:123456789012:jobtemplate/"+id || exports[templateLogicalID(id)+"Arn"] != arn {
			t.Errorf("template %s Arn %v, exported %v", id, tpl["Arn"], exports)
		}
	}
	// The dependencies the engine recorded, which order the destroy.
	deps := res.Dependencies
	for logicalID := range iotfleet.Templates {
		if d := deps[logicalID]; !slices.Contains(d, "jobDocuments") || !slices.Contains(d, "jobsRole") {
			t.Errorf("template %s depends on %v, want the bucket and the role", logicalID, d)
		}
	}
	if d := deps["jobEvents"]; !slices.Contains(d, "jobNotifications") || !slices.Contains(d, "jobsRole") {
		t.Errorf("rule depends on %v, want the topic and the role", d)
	}
	if d := deps["jobsRole"]; !slices.Contains(d, "jobDocuments") || !slices.Contains(d, "jobNotifications") {
		t.Errorf("role depends on %v, want the bucket and the topic", d)
	}

	mark := e.rec.mark()
	res = e.run(iotfleet.Stack)
	if calls := e.rec.since(mark); res.Unchanged != total || len(calls) != 0 || res.Stats.Requests != 0 {
		t.Errorf("redeploy: %d unchanged of %d, Cloud Control calls %v (stats %+v); want none", res.Unchanged, total, calls, res.Stats)
	}

	mark = e.rec.mark()
	res = e.run(iotfleet.Stack, destroy)
	if res.Deleted != total {
		t.Errorf("destroy deleted %d, want %d", res.Deleted, total)
	}
	var order []string
	for _, c := range e.rec.since(mark, "DeleteResource") {
		order = append(order, c.TypeName)
	}
	pos := func(typeName string, first bool) int {
		i := -1
		for j, tn := range order {
			if tn == typeName {
				if first && i < 0 {
					i = j
				}
				if !first {
					i = j
				}
			}
		}
		if i < 0 {
			t.Fatalf("destroy deleted no %s: %v", typeName, order)
		}
		return i
	}
	// Templates and the rule before the role they use; the role before the
	// bucket and the topic its policies name.
	if pos("AWS::IoT::JobTemplate", false) > pos(roleType, true) || pos(ruleType, false) > pos(roleType, true) ||
		pos(roleType, false) > pos(bucketType, true) || pos(roleType, false) > pos(topicType, true) ||
		pos("AWS::IoT::JobTemplate", false) > pos(bucketType, true) || pos(ruleType, false) > pos(topicType, true) {
		t.Errorf("delete order %v: dependents must go first", order)
	}
	for _, typeName := range []string{bucketType, roleType, topicType, ruleType, "AWS::IoT::JobTemplate"} {
		if ids := e.list(typeName); len(ids) != 0 {
			t.Errorf("%s left after destroy: %v", typeName, ids)
		}
	}
}

// templateLogicalID is the logical id of the example's template whose
// JobTemplateId is id.
func templateLogicalID(id string) string {
	for logicalID := range iotfleet.Templates {
		if strings.Contains(id, logicalID) {
			return logicalID
		}
	}
	return ""
}

// TestIoTFleetExampleBinary runs the example's command on its default
// target, the embedded emulator: deploy, redeploy, destroy.
func TestIoTFleetExampleBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example")
	}
	bin := filepath.Join(t.TempDir(), "iot-fleet")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/iot-fleet").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir // the default target: the embedded emulator under .athanor/local
		cmd.Env = append(cmd.Environ(), "AWS_ENDPOINT_URL_CLOUDCONTROL=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("iot-fleet %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run(); !strings.Contains(out, "6 created") || !strings.Contains(out, "roleArn = arn:aws:iam::123456789012:role/service-role/FleetJobsRole-") {
		t.Fatalf("first run:\n%s", out)
	}
	if out := run(); !strings.Contains(out, "0 created, 0 updated, 0 replaced, 0 deleted, 6 unchanged") {
		t.Fatalf("second run:\n%s", out)
	}
	if out := run("--destroy"); !strings.Contains(out, "6 deleted") {
		t.Fatalf("destroy:\n%s", out)
	}
}

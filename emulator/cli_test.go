package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// awsCLI returns a function running the AWS CLI against url, or skips the
// test where the CLI is not installed (CI installs it, so there it fails).
// The CLI signs with the key test; extra environment variables (KEY=value)
// override that and the rest.
func awsCLI(t *testing.T, url string, extra ...string) func(args ...string) map[string]any {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the AWS CLI is required in CI: %v", err)
		}
		t.Skip("the AWS CLI (aws) is not installed; install awscli to run this test")
	}
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"HOME="+home,
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1",
	)
	env = append(env, extra...)
	return func(args ...string) map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoint-url", url, "--output", "json"}, args...)...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("aws %v: %v\n%s", args, err, stderr.String())
		}
		var out map[string]any
		if stdout.Len() > 0 {
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
				t.Fatalf("aws %v: output %q: %v", args, stdout.String(), err)
			}
		}
		return out
	}
}

// TestAWSCLI drives the emulator with the AWS CLI, as a user would, with
// signatures verified: the CLI signs every header the emulator requires.
func TestAWSCLI(t *testing.T) {
	te := startEmulator(t, Options{Credentials: map[string]string{"test": "test", "AKIDEXAMPLE": "secret"}})
	aws := awsCLI(t, te.url)
	event := func(out map[string]any) map[string]any {
		t.Helper()
		ev, ok := out["ProgressEvent"].(map[string]any)
		if !ok {
			t.Fatalf("no ProgressEvent in %v", out)
		}
		return ev
	}

	desired := mustJSONString(t, map[string]any{
		"JobTemplateId": "cli-template",
		"Description":   "made by the AWS CLI",
		"Document":      `{"operation":"update"}`,
		"TimeoutConfig": map[string]any{"InProgressTimeoutInMinutes": 30},
		"Tags":          []any{map[string]any{"Key": "via", "Value": "cli"}},
	})
	ev := event(aws("cloudcontrol", "create-resource", "--type-name", jobTemplate, "--desired-state", desired))
	if ev["OperationStatus"] != "IN_PROGRESS" || ev["Identifier"] != "cli-template" {
		t.Fatalf("create-resource: %v", ev)
	}
	token, _ := ev["RequestToken"].(string)
	st := event(aws("cloudcontrol", "get-resource-request-status", "--request-token", token))
	if st["OperationStatus"] != "SUCCESS" {
		t.Fatalf("get-resource-request-status: %v", st)
	}

	got := aws("cloudcontrol", "get-resource", "--type-name", jobTemplate, "--identifier", "cli-template")
	desc, _ := got["ResourceDescription"].(map[string]any)
	var props map[string]any
	if err := json.Unmarshal([]byte(desc["Properties"].(string)), &props); err != nil {
		t.Fatal(err)
	}
	if props["Arn"] != "arn:aws:iot:us-east-1:123456789012:jobtemplate/cli-template" || props["Document"] != nil {
		t.Fatalf("get-resource: %v", props)
	}

	list := aws("cloudcontrol", "list-resources", "--type-name", jobTemplate)
	if descs, _ := list["ResourceDescriptions"].([]any); len(descs) != 1 {
		t.Fatalf("list-resources: %v", list)
	}

	iot := aws("iot", "describe-job-template", "--job-template-id", "cli-template")
	if iot["document"] != `{"operation":"update"}` || iot["jobTemplateArn"] != props["Arn"] {
		t.Fatalf("iot describe-job-template: %v", iot)
	}

	del := event(aws("cloudcontrol", "delete-resource", "--type-name", jobTemplate, "--identifier", "cli-template"))
	if del["Operation"] != "DELETE" {
		t.Fatalf("delete-resource: %v", del)
	}
	if st := event(aws("cloudcontrol", "get-resource-request-status", "--request-token", del["RequestToken"].(string))); st["OperationStatus"] != "SUCCESS" {
		t.Fatalf("delete status: %v", st)
	}
	id := aws("sts", "get-caller-identity")
	if id["Account"] != "123456789012" {
		t.Fatalf("sts get-caller-identity: %v", id)
	}
}

package emulator

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// python3WithBoto3 returns a python3 interpreter that can import boto3:
// the one on PATH, else the system's /usr/bin/python3 (where Debian's
// python3-boto3 installs when PATH leads to another Python). It skips the
// test where none is installed (CI installs one, so there it fails).
func python3WithBoto3(t *testing.T, env []string) string {
	t.Helper()
	var tried []string
	candidates := []string{"/usr/bin/python3"}
	if bin, err := exec.LookPath("python3"); err == nil {
		candidates = append([]string{bin}, candidates...)
	}
	seen := map[string]bool{}
	for _, bin := range candidates {
		if _, err := os.Stat(bin); err != nil || seen[bin] {
			continue
		}
		seen[bin] = true
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, bin, "-c", "import boto3")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil {
			return bin
		}
		tried = append(tried, fmt.Sprintf("%s cannot import boto3: %v: %s", bin, err, bytes.TrimSpace(lastLine(out))))
	}
	reason := "python3 is not installed"
	if len(tried) > 0 {
		reason = strings.Join(tried, "; ")
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("python3 with boto3 is required in CI: %s", reason)
	}
	t.Skipf("skipping: install python3 and boto3 (Debian: python3-boto3) to run this test; %s", reason)
	return ""
}

// boto3Env is the environment of the Python process: no AWS settings of
// the machine, empty shared config and credentials files, dummy credentials.
func boto3Env(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	for _, name := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(home, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "BOTO_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"HOME="+home,
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		"PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1",
	)
}

// TestBoto3 drives the emulator with boto3 (testdata/boto3_flow.py): Cloud
// Control create, polling and the SDK's waiter, read, paginated list,
// AlreadyExists, ResourceNotFoundException, ClientToken idempotency and
// delete; IoT DescribeJobTemplate; STS GetCallerIdentity.
func TestBoto3(t *testing.T) {
	env := boto3Env(t)
	python := python3WithBoto3(t, env)
	// A little latency, so that polling and the waiter see IN_PROGRESS.
	d := Fixed(50 * time.Millisecond)
	// Signatures verified: boto3 signs every header the emulator requires.
	te := startEmulator(t, Options{Latency: Latency{Create: d, Delete: d}, Credentials: map[string]string{"test": "test", "AKIDEXAMPLE": "secret"}})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join("testdata", "boto3_flow.py"), te.url)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("boto3_flow.py:\n%s", stdout.String())
	if err != nil {
		t.Fatalf("boto3_flow.py: %v\n%s", err, stderr.String())
	}

	// The script deleted everything it made: the emulator agrees.
	for _, id := range []string{"boto3-template", "boto3-page-a", "boto3-page-b"} {
		_, err := te.cc.GetResource(ctx, &cloudcontrol.GetResourceInput{TypeName: aws.String(jobTemplate), Identifier: aws.String(id)})
		wantAPIError(t, err, "ResourceNotFoundException")
		_, err = te.iot.DescribeJobTemplate(ctx, &iot.DescribeJobTemplateInput{JobTemplateId: aws.String(id)})
		wantAPIError(t, err, "ResourceNotFoundException")
	}
	list, err := te.cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(jobTemplate)})
	if err != nil {
		t.Fatalf("ListResources: %v", err)
	}
	if len(list.ResourceDescriptions) != 0 {
		t.Fatalf("ListResources after the script: %d resources remain", len(list.ResourceDescriptions))
	}
}

// lastLine returns the last non-empty line of b (a traceback's message).
func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

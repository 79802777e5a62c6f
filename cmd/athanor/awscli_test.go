package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// awsCLIs finds the AWS CLIs of this machine by major version ("1", "2"):
// every "aws" on PATH, and Debian's /usr/bin/aws, which an earlier one on
// PATH (a pip-installed v1) may hide.
func awsCLIs(t *testing.T) map[string]string {
	t.Helper()
	candidates := []string{"/usr/bin/aws"}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir != "" {
			candidates = append(candidates, filepath.Join(dir, "aws"))
		}
	}
	found := map[string]string{}
	for _, bin := range candidates {
		if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
		cancel()
		if err != nil {
			continue
		}
		// "aws-cli/2.9.19 Python/3.11.2 ..."
		v, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "aws-cli/")
		if !ok {
			continue
		}
		major, _, _ := strings.Cut(v, ".")
		if _, seen := found[major]; !seen {
			found[major] = bin
			t.Logf("AWS CLI v%s: %s (%s)", major, bin, strings.Fields(string(out))[0])
		}
	}
	return found
}

// emulatorHints runs `athanor emulator` with args until the test ends and
// returns what it printed before "Press Ctrl-C to stop.".
func emulatorHints(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &emulatorFlags{getenv: func(string) string { return "" }}
	cmd := f.command()
	pr, pw := io.Pipe()
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(ctx)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("emulator command: %v", err)
		}
	})
	var printed strings.Builder
	lines := bufio.NewScanner(pr)
	for lines.Scan() {
		if lines.Text() == "Press Ctrl-C to stop." {
			go io.Copy(io.Discard, pr)
			return printed.String()
		}
		printed.WriteString(lines.Text() + "\n")
	}
	t.Fatalf("the emulator stopped before it was ready: %v\n%s", <-done, printed.String())
	return ""
}

// TestEmulatorHintsAWSCLI follows what `athanor emulator --credentials
// test:test` prints, with the AWS CLI v2 that Debian packages (and with a
// v1 when there is one): the printed exports alone configure the CLI — no
// AWS configuration file, no other AWS_* variable — and the printed
// commands succeed with signatures verified; IoT calls, which the CLI v2
// signs for "execute-api", see what Cloud Control created.
func TestEmulatorHintsAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the AWS CLI")
	}
	clis := awsCLIs(t)
	if clis["2"] == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("the AWS CLI v2 is required in CI (apt-get install awscli gives /usr/bin/aws)")
		}
		t.Skip("no AWS CLI v2 (apt-get install awscli on Debian 12 gives 2.9 at /usr/bin/aws)")
	}
	hints := emulatorHints(t, "--addr", "127.0.0.1:0", "--credentials", "test:test")
	t.Logf("printed:\n%s", hints)

	// The environment of the printed exports, and nothing else of AWS.
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+home,
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
		"AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
	var commands [][]string
	exported := map[string]bool{}
	for _, line := range strings.Split(hints, "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) > 1 && fields[0] == "export":
			for _, kv := range fields[1:] {
				name, _, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("export line %q: %q is not NAME=VALUE", line, kv)
				}
				exported[name] = true
				env = append(env, kv)
			}
		case len(fields) > 1 && fields[0] == "aws":
			commands = append(commands, fields[1:])
		}
	}
	for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"} {
		if !exported[name] {
			t.Errorf("the hints do not export %s", name)
		}
	}
	var cloudcontrol, iot []string
	for _, c := range commands {
		if len(c) > 2 && c[0] == "--endpoint-url" {
			switch c[2] {
			case "cloudcontrol":
				cloudcontrol = c
			case "iot":
				iot = c
			}
		}
	}
	if cloudcontrol == nil || iot == nil {
		t.Fatalf("the hints do not print a cloudcontrol and an iot command with --endpoint-url: %q", commands)
	}
	endpoint := slices.Clip(cloudcontrol[:2]) // appending must not overwrite cloudcontrol

	for _, major := range []string{"2", "1"} {
		bin := clis[major]
		if bin == "" {
			t.Logf("no AWS CLI v%s here", major)
			continue
		}
		aws := func(args ...string) map[string]any {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"--output", "json"}, args...)...)
			cmd.Env = env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("AWS CLI v%s: aws %s: %v\n%s", major, strings.Join(args, " "), err, stderr.String())
			}
			var out map[string]any
			if stdout.Len() > 0 {
				if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
					t.Fatalf("AWS CLI v%s: aws %s: output %q: %v", major, strings.Join(args, " "), stdout.String(), err)
				}
			}
			return out
		}
		id := "hinted-v" + major
		create := aws(append(endpoint, "cloudcontrol", "create-resource", "--type-name", "AWS::IoT::JobTemplate",
			"--desired-state", `{"JobTemplateId":"`+id+`","Description":"made following the hints","Document":"{\"operation\":\"update\"}"}`)...)
		ev, _ := create["ProgressEvent"].(map[string]any)
		token, _ := ev["RequestToken"].(string)
		if ev["Identifier"] != id || token == "" {
			t.Fatalf("AWS CLI v%s: create-resource: %v", major, create)
		}
		// The create is asynchronous: wait for it to succeed.
		for deadline := time.Now().Add(time.Minute); ; {
			status := aws(append(endpoint, "cloudcontrol", "get-resource-request-status", "--request-token", token)...)
			ev, _ := status["ProgressEvent"].(map[string]any)
			if ev["OperationStatus"] == "SUCCESS" {
				break
			}
			if ev["OperationStatus"] != "IN_PROGRESS" || time.Now().After(deadline) {
				t.Fatalf("AWS CLI v%s: get-resource-request-status: %v", major, status)
			}
		}
		if descs, _ := aws(cloudcontrol...)["ResourceDescriptions"].([]any); !hasIdentifier(descs, "Identifier", id) {
			t.Errorf("AWS CLI v%s: the printed cloudcontrol command does not list %s: %v", major, id, descs)
		}
		if templates, _ := aws(iot...)["jobTemplates"].([]any); !hasIdentifier(templates, "jobTemplateId", id) {
			t.Errorf("AWS CLI v%s: the printed iot command does not list %s: %v", major, id, templates)
		}
		got := aws(append(endpoint, "iot", "describe-job-template", "--job-template-id", id)...)
		if got["jobTemplateId"] != id || got["document"] != `{"operation":"update"}` || got["description"] != "made following the hints" {
			t.Errorf("AWS CLI v%s: iot describe-job-template: %v", major, got)
		}
	}
}

// hasIdentifier reports whether one of items (JSON objects) has field
// equal to id.
func hasIdentifier(items []any, field, id string) bool {
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m[field] == id {
			return true
		}
	}
	return false
}

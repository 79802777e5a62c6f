package main

import (
	"bufio"
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/athanor-dev/athanor/emulator"
)

func TestParseLatency(t *testing.T) {
	tests := []struct {
		in      string
		want    emulator.Duration
		wantErr bool
	}{
		{"2s", emulator.Fixed(2 * time.Second), false},
		{"1s-3s", emulator.Between(time.Second, 3*time.Second), false},
		{"500ms..1s", emulator.Between(500*time.Millisecond, time.Second), false},
		{"3s-1s", emulator.Duration{}, true},
		{"soon", emulator.Duration{}, true},
		{"-1s", emulator.Duration{}, true},
	}
	for _, tt := range tests {
		got, err := parseLatency(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseLatency(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestEmulatorOptions(t *testing.T) {
	f := emulatorFlags{getenv: func(string) string { return "" }}
	cmd := f.command()
	if err := cmd.ParseFlags([]string{"--profile", "realistic", "--seed", "9", "--latency-delete", "5s",
		"--credentials", "AKID1:s1", "--credentials", "AKID2:s2", "--async-failures", "0.25", "--rate-limit", "50"}); err != nil {
		t.Fatal(err)
	}
	opts, err := f.options(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Latency.Create != emulator.Between(time.Second, 3*time.Second) || opts.Latency.Delete != emulator.Fixed(5*time.Second) {
		t.Errorf("latency %+v", opts.Latency)
	}
	if opts.Faults.Seed != 9 || opts.Faults.RateLimit != 50 || opts.Faults.AsyncFailures != 0.25 {
		t.Errorf("faults %+v", opts.Faults)
	}
	if len(opts.Credentials) != 2 || opts.Credentials["AKID2"] != "s2" {
		t.Errorf("credentials %v", opts.Credentials)
	}
	if opts.RequestRetention != 0 {
		t.Errorf("RequestRetention %v without --request-retention, want 0 (the emulator's default)", opts.RequestRetention)
	}
	if err := cmd.ParseFlags([]string{"--request-retention", "36h"}); err != nil {
		t.Fatal(err)
	}
	if opts, err = f.options(cmd); err != nil || opts.RequestRetention != 36*time.Hour {
		t.Errorf("--request-retention 36h: RequestRetention %v, %v", opts.RequestRetention, err)
	}
	if err := cmd.ParseFlags([]string{"--request-retention", "0s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.options(cmd); err == nil {
		t.Error("--request-retention 0s was accepted")
	}
	f.credentials = []string{"nosecret"}
	if _, err := f.options(cmd); err == nil {
		t.Error("--credentials without a secret was accepted")
	}
}

// TestEmulatorCommand runs `athanor emulator` on a free port, calls it with
// the SDK, and stops it as a signal would (by ending its context).
func TestEmulatorCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := newEmulatorCommand()
	pr, pw := io.Pipe()
	cmd.SetOut(pw)
	cmd.SetArgs([]string{"--addr", "127.0.0.1:0", "--account", "444455556666", "--data", t.TempDir()})
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(ctx)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("no output: %v", <-done)
	}
	first := lines.Text()
	i := strings.Index(first, "http://")
	if i < 0 {
		t.Fatalf("first line %q has no URL", first)
	}
	url := strings.Fields(first[i:])[0]
	go io.Copy(io.Discard, pr) // keep the command's output flowing

	client := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		})})
	out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "444455556666" {
		t.Fatalf("account %s", aws.ToString(out.Account))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("emulator command: %v", err)
	}
}

// TestEmulatorCredentialSources: credentials come from a file and from the
// environment as well as from the command line, and a bad entry is refused
// without printing it.
func TestEmulatorCredentialSources(t *testing.T) {
	file := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(file, []byte("# team keys\nAKIDFILE1:file-secret-1\n\n  AKIDFILE2:file-secret-2  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvEmulatorCredentials: "AKIDENV1:env-secret-1, AKIDENV2:env-secret-2\n"}
	f := emulatorFlags{getenv: func(k string) string { return env[k] }}
	cmd := f.command()
	if err := cmd.ParseFlags([]string{"--credentials-file", file, "--credentials", "AKIDCLI:cli-secret"}); err != nil {
		t.Fatal(err)
	}
	opts, err := f.options(cmd)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"AKIDFILE1": "file-secret-1", "AKIDFILE2": "file-secret-2",
		"AKIDENV1": "env-secret-1", "AKIDENV2": "env-secret-2", "AKIDCLI": "cli-secret"}
	if !maps.Equal(opts.Credentials, want) {
		t.Fatalf("credentials %v, want %v", opts.Credentials, want)
	}

	// The environment alone enables verification.
	g := emulatorFlags{getenv: func(k string) string { return env[k] }}
	gcmd := g.command()
	if opts, err := g.options(gcmd); err != nil || len(opts.Credentials) != 2 {
		t.Fatalf("environment only: %v, %v", opts.Credentials, err)
	}

	if err := os.WriteFile(file, []byte("AKIDFILE1:ok\nnot-a-pair-hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = f.options(cmd)
	if err == nil || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("a bad line: %v (want it located by line, its value not printed)", err)
	}
	if err := os.WriteFile(file, []byte("# nothing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err = f.options(cmd); err == nil {
		t.Fatal("a credentials file without credentials was accepted")
	}
	env[EnvEmulatorCredentials] = "AKID-no-secret"
	if _, err := g.options(gcmd); err == nil || !strings.Contains(err.Error(), EnvEmulatorCredentials) {
		t.Fatalf("a bad environment entry: %v", err)
	}
}

// startCommand runs `athanor emulator` with args until the test ends and
// returns its URL and its standard error so far.
func startCommand(t *testing.T, f *emulatorFlags, args ...string) (url string, stderr *strings.Builder) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := f.command()
	pr, pw := io.Pipe()
	stderr = &strings.Builder{}
	cmd.SetOut(pw)
	cmd.SetErr(stderr)
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
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("no output: %v", <-done)
	}
	first := lines.Text()
	i := strings.Index(first, "http://")
	if i < 0 {
		t.Fatalf("first line %q has no URL", first)
	}
	go io.Copy(io.Discard, pr)
	return strings.Fields(first[i:])[0], stderr
}

// TestEmulatorPublicAddressWarning: serving every interface without
// credentials warns loudly on standard error; loopback, or credentials, do
// not.
func TestEmulatorPublicAddressWarning(t *testing.T) {
	noEnv := func(string) string { return "" }
	url, stderr := startCommand(t, &emulatorFlags{getenv: noEnv}, "--addr", "0.0.0.0:0")
	// The warning is written before the first line of output.
	if w := stderr.String(); !strings.Contains(w, "WARNING") || !strings.Contains(w, "anyone who can reach") || !strings.Contains(w, url) {
		t.Fatalf("0.0.0.0 without credentials: stderr %q", w)
	}
	if _, stderr := startCommand(t, &emulatorFlags{getenv: noEnv}, "--addr", "127.0.0.1:0"); stderr.Len() != 0 {
		t.Fatalf("loopback: stderr %q", stderr.String())
	}
	withCreds := func(k string) string {
		if k == EnvEmulatorCredentials {
			return "AKID:secret"
		}
		return ""
	}
	url, stderr = startCommand(t, &emulatorFlags{getenv: withCreds}, "--addr", "0.0.0.0:0")
	if stderr.Len() != 0 {
		t.Fatalf("0.0.0.0 with credentials: stderr %q", stderr.String())
	}
	// The credentials of the environment are verified.
	client := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(strings.Replace(url, "[::]", "127.0.0.1", 1)),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		})})
	if _, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err == nil {
		t.Fatal("an unknown key was accepted")
	}
	client = sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(strings.Replace(url, "[::]", "127.0.0.1", 1)),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, nil
		})})
	if _, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("the key of the environment: %v", err)
	}
}

func TestEmulatorRetryAfterFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want emulator.RetryAfterHint
	}{
		{nil, emulator.RetryAfterExact},
		{[]string{"--retry-after", "round"}, emulator.RetryAfterRound},
		{[]string{"--retry-after", "none"}, emulator.RetryAfterNone},
	} {
		f := emulatorFlags{getenv: func(string) string { return "" }}
		cmd := f.command()
		if err := cmd.ParseFlags(tc.args); err != nil {
			t.Fatal(err)
		}
		if opts, err := f.options(cmd); err != nil || opts.RetryAfter != tc.want {
			t.Errorf("%q: RetryAfter %q, %v; want %q", tc.args, opts.RetryAfter, err, tc.want)
		}
	}
	f := emulatorFlags{getenv: func(string) string { return "" }}
	cmd := f.command()
	if err := cmd.ParseFlags([]string{"--retry-after", "sometimes"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.options(cmd); err == nil || !strings.Contains(err.Error(), "--retry-after") {
		t.Errorf("--retry-after sometimes: %v, want an error naming the flag", err)
	}
}

package main

import (
	"bufio"
	"context"
	"io"
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
	var f emulatorFlags
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

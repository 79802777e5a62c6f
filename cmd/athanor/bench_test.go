package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/athanor-dev/athanor/emulator"
	"github.com/athanor-dev/athanor/internal/bench"
)

// runBenchCmd runs `athanor bench args...` and returns stdout and stderr.
func runBenchCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := benchCommand()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

func TestBenchSmokeJSON(t *testing.T) {
	out, stderr, err := runBenchCmd(t, "--smoke", "--in-process", "--json")
	if err != nil {
		t.Fatalf("bench --smoke: %v\n%s", err, stderr)
	}
	var got struct{ Runs []*bench.Report }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, out)
	}
	if len(got.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(got.Runs))
	}
	r := got.Runs[0]
	if r.N != 10 || r.Profile != "instant" || r.Concurrency != 4 || len(r.Phases) != 6 || len(r.Problems) != 0 {
		t.Errorf("smoke run: N %d, profile %q, concurrency %d, %d phases, problems %q", r.N, r.Profile, r.Concurrency, len(r.Phases), r.Problems)
	}
	if p := r.Phase(bench.RunnerEngine, bench.PhaseDeploy); p == nil || p.Created != 10 {
		t.Errorf("engine deploy: %+v, want 10 created", p)
	}
}

func TestBenchText(t *testing.T) {
	out, _, err := runBenchCmd(t, "--in-process", "--n", "4,3", "--concurrency", "2", "--steps", "deploy,noop")
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	for _, want := range []string{"profile instant, N=4, concurrency 2", "profile instant, N=3, concurrency 2", "4 unchanged", "3 created"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if regexp.MustCompile(`deploy\s+baseline`).MatchString(out) {
		t.Errorf("baseline ran though --steps left it out:\n%s", out)
	}
}

func TestBenchRetryAfterHints(t *testing.T) {
	// One run per hint, at the engine's default concurrency.
	out, _, err := runBenchCmd(t, "--in-process", "--n", "3", "--profile", "latency", "--latency", "50ms", "--steps", "deploy", "--retry-after", "exact,round,none")
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	for _, want := range []string{"RetryAfter exact", "RetryAfter round", "RetryAfter none", "default concurrency (adaptive, up to 1024; baseline 3)", "engine deploy ≤ 1.3× bound"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--profile", "glacial"},
		{"--n", "10,x"},
		{"--n", "0"},
		{"--steps", "deploy,warp"},
		{"--latency", "3s..1s"},
		{"--rate", "-1"},
		{"--burst", "0"},
		{"--steps", "noop"},
		{"--retry-after", "exact,sometimes"},
	} {
		if _, _, err := runBenchCmd(t, append([]string{"--in-process"}, args...)...); err == nil {
			t.Errorf("bench %q succeeded, want an error", args)
		}
	}
}

func TestParseBenchLatency(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    emulator.Duration
		wantErr bool
	}{
		{"1s..3s", emulator.Between(time.Second, 3*time.Second), false},
		{"1s-3s", emulator.Between(time.Second, 3*time.Second), false},
		{"3s-1s", emulator.Duration{}, true},
		{"200ms", emulator.Fixed(200 * time.Millisecond), false},
		{" 0s .. 1s ", emulator.Between(0, time.Second), false},
		{"3s..1s", emulator.Duration{}, true},
		{"-1s", emulator.Duration{}, true},
		{"fast", emulator.Duration{}, true},
		{"1s..", emulator.Duration{}, true},
	} {
		got, err := parseBenchLatency(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseBenchLatency(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseNs(t *testing.T) {
	got, err := parseNs("100, 1_000,10000")
	if err != nil || len(got) != 3 || got[0] != 100 || got[1] != 1000 || got[2] != 10000 {
		t.Errorf("parseNs = %v, %v", got, err)
	}
	for _, bad := range []string{"", "1,,2", "-5", "ten"} {
		if _, err := parseNs(bad); err == nil {
			t.Errorf("parseNs(%q) succeeded", bad)
		}
	}
}

func TestBenchCustomProfile(t *testing.T) {
	cmd := benchCommand()
	if err := cmd.ParseFlags([]string{"--profile", "realistic", "--rate", "50", "--latency", "10ms..20ms", "--seed", "9"}); err != nil {
		t.Fatal(err)
	}
	f := benchFlags{profile: "realistic", rate: 50, latency: "10ms..20ms", seed: 9}
	eo, label, err := benchEmulator(cmd, f)
	if err != nil {
		t.Fatal(err)
	}
	if label != "custom" || eo == nil || eo.Faults.RateLimit != 50 || eo.Faults.Seed != 9 ||
		eo.Latency.Create != emulator.Between(10*time.Millisecond, 20*time.Millisecond) {
		t.Errorf("benchEmulator = %+v, %q", eo, label)
	}
}

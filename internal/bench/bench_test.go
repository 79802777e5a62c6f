package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"

	"github.com/athanor-dev/athanor/aws/iot"
	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/emulator"
)

// workerEnv makes the test binary a benchmark worker (see TestMain).
const workerEnv = "ATHANOR_BENCH_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		if err := ServeWorker(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testWorker re-executes the test binary as a worker process.
func testWorker(ctx context.Context) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"=1")
	return cmd
}

// runSmoke runs a full small benchmark and fails the test on any problem.
func runSmoke(t *testing.T, o Options) *Report {
	t.Helper()
	o.TempDir = t.TempDir()
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, p := range rep.Problems {
		t.Errorf("problem: %s", p)
	}
	return rep
}

func mustPhase(t *testing.T, rep *Report, runner, name string) *Phase {
	t.Helper()
	p := rep.Phase(runner, name)
	if p == nil {
		t.Fatalf("no %s %s phase in the report", runner, name)
	}
	if p.Error != "" {
		t.Fatalf("%s %s: %s", runner, name, p.Error)
	}
	return p
}

func TestRunSmoke(t *testing.T) {
	for _, tc := range []struct {
		name      string
		worker    bool
		wantScope string
	}{
		{"in-process", false, ScopeProcess},
		{"worker", true, ScopeWorker},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 7
			o := Options{N: n, Concurrency: 3}
			if tc.worker {
				o.Worker = testWorker
			}
			rep := runSmoke(t, o)
			if rep.Isolated != tc.worker {
				t.Errorf("Isolated = %v, want %v", rep.Isolated, tc.worker)
			}
			want := []struct {
				runner, name string
				calls        map[string]int64
				count        func(*Phase) int
			}{
				{RunnerBaseline, PhaseDeploy, map[string]int64{"CreateResource": n}, func(p *Phase) int { return p.Created }},
				{RunnerBaseline, PhaseDestroy, map[string]int64{"DeleteResource": n}, func(p *Phase) int { return p.Deleted }},
				{RunnerEngine, PhaseDeploy, map[string]int64{"CreateResource": n}, func(p *Phase) int { return p.Created }},
				{RunnerEngine, PhaseNoop, map[string]int64{}, func(p *Phase) int { return p.Unchanged }},
				{RunnerEngine, PhaseReplace, map[string]int64{"DeleteResource": n, "CreateResource": n}, func(p *Phase) int { return p.Replaced }},
				{RunnerEngine, PhaseDestroy, map[string]int64{"DeleteResource": n}, func(p *Phase) int { return p.Deleted }},
			}
			if len(rep.Phases) != len(want) {
				t.Fatalf("%d phases, want %d", len(rep.Phases), len(want))
			}
			for i, w := range want {
				p := rep.Phases[i]
				if p.Runner != w.runner || p.Name != w.name {
					t.Fatalf("phase %d is %s %s, want %s %s", i, p.Runner, p.Name, w.runner, w.name)
				}
				if got := w.count(p); got != n {
					t.Errorf("%s %s: count %d, want %d", p.Runner, p.Name, got, n)
				}
				if p.Failed != 0 {
					t.Errorf("%s %s: %d failed", p.Runner, p.Name, p.Failed)
				}
				for op, c := range w.calls {
					if got := p.Calls.Requests[op]; got != c {
						t.Errorf("%s %s: %d %s calls, want %d", p.Runner, p.Name, got, op, c)
					}
				}
				if m := p.Calls.Class(ClassMutation); m != int64(len(w.calls))*n {
					t.Errorf("%s %s: %d mutations, want %d", p.Runner, p.Name, m, int64(len(w.calls))*n)
				}
				// Instant: every operation ends by its first poll.
				if p.Calls.Class(ClassPoll) != p.Calls.Class(ClassMutation) {
					t.Errorf("%s %s: %d polls for %d mutations", p.Runner, p.Name, p.Calls.Class(ClassPoll), p.Calls.Class(ClassMutation))
				}
				if p.Scope != tc.wantScope || p.PeakRSSBytes <= 0 {
					t.Errorf("%s %s: scope %q, peak RSS %d; want scope %q and a peak", p.Runner, p.Name, p.Scope, p.PeakRSSBytes, tc.wantScope)
				}
				if p.WallSeconds <= 0 || p.BoundSeconds != 0 || p.RatioToBound != nil {
					t.Errorf("%s %s: wall %v, bound %v, ratio to bound %v; want a wall time and no bound (instant)", p.Runner, p.Name, p.WallSeconds, p.BoundSeconds, p.RatioToBound)
				}
			}
			if noop := mustPhase(t, rep, RunnerEngine, PhaseNoop); noop.Calls.Total() != 1 || noop.Calls.Requests[OpSTS] != 1 {
				t.Errorf("no-op made calls %v, want only the STS target check", noop.Calls.Requests)
			}
			for _, name := range []string{PhaseDeploy, PhaseDestroy} {
				p, base := mustPhase(t, rep, RunnerEngine, name), mustPhase(t, rep, RunnerBaseline, name)
				if p.RatioToBaseline == nil || *p.RatioToBaseline != p.WallSeconds/base.WallSeconds {
					t.Errorf("engine %s: ratio to baseline %v, want %v", name, p.RatioToBaseline, p.WallSeconds/base.WallSeconds)
				}
			}
			if rep.StateBytes <= 0 {
				t.Errorf("StateBytes = %d, want the size of the state after deploy", rep.StateBytes)
			}
			// The instant profile's targets (issue 13): wall and CPU
			// against the bare loop, and the no-op.
			names := map[string]bool{}
			for _, tg := range rep.Targets {
				names[tg.Name] = true
			}
			for _, want := range []string{"engine deploy ≤ 1.2× baseline", "engine deploy CPU ≤ 1.5× baseline's", "engine destroy ≤ 1.2× baseline", "no-op redeploy ≤ 0.5 s"} {
				if !names[want] {
					t.Errorf("target %q missing from %v", want, rep.Targets)
				}
			}
		})
	}
}

func TestRunRateLimited(t *testing.T) {
	// A rate limit and a latency: the bound applies, the baseline is not
	// run by default, and the engine copes with throttling.
	const n = 6
	rep := runSmoke(t, Options{
		N: n, Concurrency: 3, Profile: "custom",
		Emulator: &emulator.Options{
			Latency: emulator.Latency{Create: emulator.Fixed(20 * time.Millisecond), Delete: emulator.Fixed(20 * time.Millisecond)},
			Faults:  emulator.Faults{RateLimit: 100, Burst: 5},
		},
		Steps: []Step{StepDeploy, StepDestroy},
	})
	if len(rep.Phases) != 2 {
		t.Fatalf("%d phases, want deploy and destroy", len(rep.Phases))
	}
	deploy := mustPhase(t, rep, RunnerEngine, PhaseDeploy)
	wantBound := Bound(n, 1, Limits{RateLimit: 100, Burst: 5, MinLatency: 20 * time.Millisecond, Concurrency: 3})
	if deploy.BoundSeconds != wantBound.Seconds() || deploy.RatioToBound == nil {
		t.Errorf("bound %v s (ratio %v), want %v s", deploy.BoundSeconds, deploy.RatioToBound, wantBound.Seconds())
	}
	if deploy.RatioToBaseline != nil {
		t.Errorf("ratio to baseline %v without a baseline", *deploy.RatioToBaseline)
	}
	names := map[string]bool{}
	for _, tg := range rep.Targets {
		names[tg.Name] = true
	}
	for _, want := range []string{"engine deploy ≤ 1.03× bound", "API calls per created resource ≤ 2.1", "no operation failed (throttling or otherwise)"} {
		if !names[want] {
			t.Errorf("target %q missing from %v", want, rep.Targets)
		}
	}
}

func TestRunLatencyBoundAtDefaultSettings(t *testing.T) {
	// Latency and no rate limit, at the engine's default concurrency and
	// without RetryAfter hints: the physical bound applies to each phase,
	// the baseline runs at min(N, DefaultMaxConcurrency), and every resource is accounted.
	const n = 8
	lat := emulator.Fixed(100 * time.Millisecond)
	rep := runSmoke(t, Options{
		N: n, Profile: "custom", RetryAfter: emulator.RetryAfterNone,
		Emulator: &emulator.Options{Latency: emulator.Latency{Create: lat, Update: lat, Delete: lat}},
		Steps:    []Step{StepBaseline, StepDeploy, StepReplace, StepDestroy},
	})
	if rep.Concurrency != 0 || rep.MaxConcurrency != cloudcontrol.DefaultMaxConcurrency || rep.BaselineConcurrency != n || rep.RetryAfter != "none" {
		t.Errorf("report: concurrency %d, max %d, baseline %d, RetryAfter %q; want 0, %d, %d, none",
			rep.Concurrency, rep.MaxConcurrency, rep.BaselineConcurrency, rep.RetryAfter, cloudcontrol.DefaultMaxConcurrency, n)
	}
	for name, chain := range map[string]float64{PhaseDeploy: 1, PhaseReplace: 2, PhaseDestroy: 1} {
		p := mustPhase(t, rep, RunnerEngine, name)
		if p.BoundSeconds != chain*0.1 || p.RatioToBound == nil {
			t.Errorf("%s: bound %v s (ratio %v), want %v s, one latency per step", name, p.BoundSeconds, p.RatioToBound, chain*0.1)
		}
		if p.Client == nil || p.Client.PeakInFlight < 1 || p.Client.PeakInFlight > n {
			t.Errorf("%s: client stats %+v, want a peak in flight in 1..%d", name, p.Client, n)
		}
	}
	names := map[string]bool{}
	for _, tg := range rep.Targets {
		names[tg.Name] = true
	}
	for _, want := range []string{"engine deploy ≤ 1.3× bound", "engine replace ≤ 1.3× bound", "engine destroy ≤ 1.3× bound"} {
		if !names[want] {
			t.Errorf("target %q missing from %v", want, rep.Targets)
		}
	}
	var text bytes.Buffer
	if err := WriteText(&text, rep); err != nil {
		t.Fatal(err)
	}
	if want := "default concurrency (adaptive, up to 1024; baseline 8), RetryAfter none"; !strings.Contains(text.String(), want) {
		t.Errorf("text report lacks %q:\n%s", want, text.String())
	}
}

func TestProfileOptions(t *testing.T) {
	eo, err := ProfileOptions(ProfileLatency, 1)
	if err != nil || eo.Latency.Create != emulator.Fixed(time.Second) || eo.Latency.Delete != emulator.Fixed(time.Second) || eo.Faults.RateLimit != 0 {
		t.Errorf("latency profile: %+v, %v; want 1 s operations without a rate limit", eo, err)
	}
	if eo, err := ProfileOptions(ProfileRealistic, 1); err != nil || eo.Faults.RateLimit != 20 {
		t.Errorf("realistic profile: %+v, %v", eo, err)
	}
	if _, err := ProfileOptions("glacial", 1); err == nil || !strings.Contains(err.Error(), "latency") {
		t.Errorf("unknown profile: %v, want an error naming the profiles", err)
	}
}

func TestRunOptionsErrors(t *testing.T) {
	for _, o := range []Options{
		{Steps: []Step{StepNoop}},
		{N: -1},
		{Concurrency: -2},
		{Profile: "glacial"},
		{RetryAfter: "sometimes"},
	} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("Run(%+v) = nil error, want one", o)
		}
	}
}

func TestBound(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n, chain int
		l        Limits
		want     time.Duration
	}{
		{"instant", 1000, 1, Limits{Concurrency: 32}, 0},
		{"rate bound", 1000, 1, Limits{RateLimit: 20, Burst: 20, MinLatency: time.Second, Concurrency: 32}, 99 * time.Second},
		{"rate bound, replacement", 1000, 2, Limits{RateLimit: 20, Burst: 20, MinLatency: time.Second, Concurrency: 32}, 199 * time.Second},
		{"latency bound", 100, 1, Limits{RateLimit: 1000, Burst: 1000, MinLatency: time.Second, Concurrency: 10}, 10 * time.Second},
		{"latency rounds up", 101, 1, Limits{MinLatency: time.Second, Concurrency: 10}, 11 * time.Second},
		{"replacement latency", 10, 2, Limits{MinLatency: time.Second, Concurrency: 10}, 2 * time.Second},
		{"burst covers all", 5, 1, Limits{RateLimit: 1, Burst: 20}, 0},
		{"no concurrency limit: the physical bound", 3, 1, Limits{MinLatency: time.Second}, time.Second},
		{"no concurrency limit, replacement", 300, 2, Limits{MinLatency: time.Second}, 2 * time.Second},
		{"nothing to do", 0, 1, Limits{RateLimit: 1, MinLatency: time.Second}, 0},
		{"no-op", 100, 0, Limits{RateLimit: 1, MinLatency: time.Second}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Bound(tc.n, tc.chain, tc.l); got != tc.want {
				t.Errorf("Bound(%d, %d, %+v) = %v, want %v", tc.n, tc.chain, tc.l, got, tc.want)
			}
		})
	}
}

// sdkClient returns a Cloud Control client for url that makes attempts
// attempts per call.
func sdkClient(url string, attempts int) *cc.Client {
	return cc.New(cc.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer:      retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = attempts }),
	})
}

func serveCounted(t *testing.T, eo emulator.Options) (*Counter, string) {
	t.Helper()
	srv, err := emulator.New(eo)
	if err != nil {
		t.Fatal(err)
	}
	c := NewCounter(srv)
	hs := httptest.NewServer(c)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return c, hs.URL
}

func TestCounter(t *testing.T) {
	ctx := context.Background()
	c, url := serveCounted(t, emulator.Instant())
	client := sdkClient(url, 1)
	typeName := iot.JobTemplateType
	out, err := client.CreateResource(ctx, &cc.CreateResourceInput{TypeName: &typeName, DesiredState: aws.String(`{"JobTemplateId":"t1","Description":"d","Document":"{}"}`)})
	if err != nil {
		t.Fatal(err)
	}
	mid := c.Snapshot()
	if _, err := client.GetResourceRequestStatus(ctx, &cc.GetResourceRequestStatusInput{RequestToken: out.ProgressEvent.RequestToken}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetResource(ctx, &cc.GetResourceInput{TypeName: &typeName, Identifier: aws.String("t1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ListResources(ctx, &cc.ListResourcesInput{TypeName: &typeName}); err != nil {
		t.Fatal(err)
	}
	// A GetResource of a missing resource is an error, but not a throttle.
	if _, err := client.GetResource(ctx, &cc.GetResourceInput{TypeName: &typeName, Identifier: aws.String("missing")}); err == nil {
		t.Fatal("GetResource of a missing template succeeded")
	}
	got := c.Snapshot()
	want := map[string]int64{"CreateResource": 1, "GetResourceRequestStatus": 1, "GetResource": 2, "ListResources": 1}
	if fmt.Sprint(got.Requests) != fmt.Sprint(want) {
		t.Errorf("requests %v, want %v", got.Requests, want)
	}
	if got.Throttles() != 0 {
		t.Errorf("throttles %v, want none", got.Throttled)
	}
	for class, n := range map[string]int64{ClassMutation: 1, ClassPoll: 1, ClassRead: 3, ClassOther: 0} {
		if got.Class(class) != n {
			t.Errorf("class %s: %d, want %d", class, got.Class(class), n)
		}
	}
	if d := got.Sub(mid); d.Total() != 4 || d.Requests["CreateResource"] != 0 {
		t.Errorf("Sub = %v, want the 4 calls after the create", d.Requests)
	}
}

func TestCounterThrottles(t *testing.T) {
	ctx := context.Background()
	// One request per hour after a burst of one: the second is throttled.
	c, url := serveCounted(t, emulator.Options{Faults: emulator.Faults{RateLimit: 1.0 / 3600, Burst: 1}})
	client := sdkClient(url, 1)
	typeName := iot.JobTemplateType
	for range 3 {
		client.ListResources(ctx, &cc.ListResourcesInput{TypeName: &typeName})
	}
	got := c.Snapshot()
	if got.Requests["ListResources"] != 3 || got.Throttled["ListResources"] != 2 {
		t.Errorf("requests %v, throttled %v; want 3 ListResources, 2 throttled", got.Requests, got.Throttled)
	}
	if got.ThrottledClass(ClassRead) != 2 || got.ThrottledClass(ClassPoll) != 0 {
		t.Errorf("throttled by class: read %d, poll %d", got.ThrottledClass(ClassRead), got.ThrottledClass(ClassPoll))
	}
}

func TestOperationOf(t *testing.T) {
	for _, tc := range []struct{ target, want string }{
		{"CloudApiService.CreateResource", "CreateResource"},
		{"CloudApiService.GetResourceRequestStatus", "GetResourceRequestStatus"},
		{"", ClassOther},
		{"CloudApiService.", ClassOther},
		{"NoDot", "NoDot"},
		{"form", OpSTS},
	} {
		r := httptest.NewRequest("POST", "/", nil)
		if tc.target == "form" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		} else if tc.target != "" {
			r.Header.Set("X-Amz-Target", tc.target)
		}
		if got := operationOf(r); got != tc.want {
			t.Errorf("operationOf(%q) = %q, want %q", tc.target, got, tc.want)
		}
	}
}

func TestExpectLiveFindsLossAndStaleness(t *testing.T) {
	ctx := context.Background()
	_, url := serveCounted(t, emulator.Instant())
	// Two of three templates, one with the wrong description.
	out := runBaseline(ctx, job{Runner: RunnerBaseline, Phase: PhaseDeploy, Target: url, N: 2, Concurrency: 2, Version: 1, Poll: time.Millisecond})
	if out.Err != "" || out.Created != 2 {
		t.Fatalf("baseline deploy: %+v", out)
	}
	b := &runner{o: Options{N: 3}, rep: &Report{}, check: baselineClient(url, 1)}
	p := &Phase{Runner: RunnerBaseline, Name: PhaseDeploy}
	b.expectLive(ctx, p, baselineIDPrefix, 3, 1)
	if len(b.rep.Problems) != 2 ||
		!strings.Contains(b.rep.Problems[0], "holds 2 templates, want 3") ||
		!strings.Contains(b.rep.Problems[1], "bench-b-00002: present false") {
		t.Errorf("problems %q, want a count mismatch and template 2 missing", b.rep.Problems)
	}
	b.rep.Problems = nil
	b.expectLive(ctx, p, baselineIDPrefix, 2, 2)
	if len(b.rep.Problems) != 2 || !strings.Contains(b.rep.Problems[0], "version 1") {
		t.Errorf("problems %q, want both templates stale", b.rep.Problems)
	}
	b.rep.Problems = nil
	b.expectLive(ctx, p, baselineIDPrefix, 2, 1)
	if len(b.rep.Problems) != 0 {
		t.Errorf("problems %q, want none", b.rep.Problems)
	}
}

func TestReportJSON(t *testing.T) {
	rep := runSmoke(t, Options{N: 3, Concurrency: 2})
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"profile", "n", "concurrency", "seed", "rateLimit", "burst", "minLatencySeconds", "isolated", "phases", "stateBytes", "stateBytesPerResource", "targets", "problems"} {
		if _, ok := m[key]; !ok {
			t.Errorf("report has no %q", key)
		}
	}
	if p, ok := m["problems"].([]any); !ok || len(p) != 0 {
		t.Errorf("problems = %#v, want an empty array", m["problems"])
	}
	phases, _ := m["phases"].([]any)
	if len(phases) != 6 {
		t.Fatalf("%d phases, want 6", len(phases))
	}
	for _, ph := range phases {
		p := ph.(map[string]any)
		for _, key := range []string{"name", "runner", "wallSeconds", "boundSeconds", "ratioToBaseline", "ratioToBound", "calls", "callsPerResource", "pollsPerOperation", "throttles", "peakRSSBytes", "cpuSeconds", "scope"} {
			if _, ok := p[key]; !ok {
				t.Errorf("phase %v %v has no %q", p["runner"], p["name"], key)
			}
		}
		calls := p["calls"].(map[string]any)
		if _, ok := calls["requests"].(map[string]any); !ok {
			t.Errorf("phase %v %v: calls.requests = %#v, want an object", p["runner"], p["name"], calls["requests"])
		}
		per := p["callsPerResource"].(map[string]any)
		for _, key := range []string{"total", "mutations", "polls", "reads"} {
			if _, ok := per[key].(float64); !ok {
				t.Errorf("phase %v %v: callsPerResource.%s missing", p["runner"], p["name"], key)
			}
		}
		if p["runner"] == RunnerEngine && (p["name"] == PhaseDeploy || p["name"] == PhaseDestroy) {
			if _, ok := p["ratioToBaseline"].(float64); !ok {
				t.Errorf("engine %v: ratioToBaseline = %#v, want a number", p["name"], p["ratioToBaseline"])
			}
		}
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil || back.N != 3 || len(back.Phases) != 6 {
		t.Errorf("report does not round-trip: %v", err)
	}

	var text bytes.Buffer
	if err := WriteText(&text, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"profile instant, N=3, concurrency 2", "deploy", "baseline", "3 replaced", "no-op redeploy makes no Cloud Control calls"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

// Benchmarks: go test -bench . ./internal/bench [-args -bench.n 1000 -bench.concurrency 32]
// Each iteration is a full run against a fresh emulator, in this process,
// so that -cpuprofile and -memprofile cover the engine; the custom metrics
// are the run's figures.
var (
	benchN           = flag.Int("bench.n", 100, "job templates per benchmark run")
	benchConcurrency = flag.Int("bench.concurrency", DefaultConcurrency, "operations in flight in benchmarks")
	benchSeed        = flag.Uint64("bench.seed", 1, "seed of the realistic profile")
)

func benchRun(b *testing.B, profile string, steps []Step, report func(*testing.B, *Report)) {
	b.Helper()
	if profile == "realistic" && testing.Short() {
		b.Skip("the realistic profile takes minutes")
	}
	var rep *Report
	for b.Loop() {
		var err error
		rep, err = Run(context.Background(), Options{Profile: profile, Seed: *benchSeed, N: *benchN, Concurrency: *benchConcurrency, Steps: steps, TempDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() {
			b.Fatalf("problems: %q", rep.Problems)
		}
	}
	report(b, rep)
}

func reportPhase(b *testing.B, rep *Report, name string) {
	p := rep.Phase(RunnerEngine, name)
	b.ReportMetric(p.WallSeconds, "s/"+name)
	b.ReportMetric(p.CallsPerResource.Total, "calls/resource")
	if p.RatioToBaseline != nil {
		b.ReportMetric(*p.RatioToBaseline, "x-baseline")
	}
	if p.RatioToBound != nil {
		b.ReportMetric(*p.RatioToBound, "x-bound")
	}
	b.ReportMetric(p.PollsPerOperation, "polls/op")
}

func BenchmarkDeployInstant(b *testing.B) {
	benchRun(b, "instant", []Step{StepBaseline, StepDeploy}, func(b *testing.B, r *Report) { reportPhase(b, r, PhaseDeploy) })
}

func BenchmarkDestroyInstant(b *testing.B) {
	benchRun(b, "instant", []Step{StepBaseline, StepDeploy, StepDestroy}, func(b *testing.B, r *Report) { reportPhase(b, r, PhaseDestroy) })
}

func BenchmarkNoopInstant(b *testing.B) {
	benchRun(b, "instant", []Step{StepDeploy, StepNoop}, func(b *testing.B, r *Report) { reportPhase(b, r, PhaseNoop) })
}

func BenchmarkReplaceInstant(b *testing.B) {
	benchRun(b, "instant", []Step{StepDeploy, StepReplace}, func(b *testing.B, r *Report) { reportPhase(b, r, PhaseReplace) })
}

func BenchmarkDeployRealistic(b *testing.B) {
	benchRun(b, "realistic", []Step{StepDeploy}, func(b *testing.B, r *Report) { reportPhase(b, r, PhaseDeploy) })
}

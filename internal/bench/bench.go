// Package bench measures Athanor's engine against the cost of the Cloud
// Control API itself and against the least time the API's limits allow.
//
// [Run] starts an emulator with a latency and rate-limit profile on
// loopback, behind a [Counter] that counts every request by operation, and
// measures in one run:
//
//   - the engine (athanor.Run with N iot.JobTemplate declarations): a
//     deploy, a no-op redeploy, a replace-all (every Description changed)
//     and a destroy, all in one fresh state directory;
//   - the baseline: the same deploy and destroy as a bare loop over the
//     aws-sdk-go-v2 Cloud Control client at the same concurrency (a
//     mutation, then GetResourceRequestStatus at a fixed interval), with no
//     state and no validation — the cost of the API alone;
//   - the bound (see [Bound]): the least wall time the profile's rate limit
//     and latency allow any client.
//
// Each phase is reported with its wall time, its ratios to the baseline and
// to the bound, the API calls it made per resource, polls per operation,
// throttles, peak RSS and CPU time. With Options.Worker each phase runs in
// its own child process, so that its peak RSS and CPU time are its own and
// not the emulator's.
//
// The same code serves the athanor bench command and the go test -bench
// entry points of this package.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"

	"github.com/athanor-dev/athanor/aws/iot"
	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/emulator"
)

// Scopes of the RSS and CPU figures.
const (
	// ScopeWorker: the phase ran in a child process of its own; its figures
	// are that process's alone (the emulator runs in the parent).
	ScopeWorker = "worker"
	// ScopeProcess: the phase ran in the benchmark's process; its figures
	// cover the whole process, emulator included.
	ScopeProcess = "process"
)

// Step names one measured step of a run; Options.Steps selects them.
type Step string

// Steps, in the order a run takes them.
const (
	StepBaseline Step = "baseline" // baseline deploy and destroy
	StepDeploy   Step = "deploy"
	StepNoop     Step = "noop"
	StepReplace  Step = "replace"
	StepDestroy  Step = "destroy"
)

// AllSteps lists every step in order.
var AllSteps = []Step{StepBaseline, StepDeploy, StepNoop, StepReplace, StepDestroy}

// DefaultSteps returns the steps run when Options.Steps is empty: all of
// them, except the baseline under a rate limit, where its fixed-interval
// polling spends the rate on polls that cannot succeed and makes it run for
// many times the bound (the bound is the yardstick there).
func DefaultSteps(rateLimited bool) []Step {
	if rateLimited {
		return []Step{StepDeploy, StepNoop, StepReplace, StepDestroy}
	}
	return slices.Clone(AllSteps)
}

// ParseStep returns the step named s.
func ParseStep(s string) (Step, error) {
	for _, st := range AllSteps {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("bench: unknown step %q (want one of baseline, deploy, noop, replace, destroy)", s)
}

// Profiles of [ProfileOptions]: the emulator's two, and the latency-bound
// scenario.
const (
	ProfileInstant   = "instant"
	ProfileRealistic = "realistic"
	// ProfileLatency: every operation takes LatencyBoundLatency, with no
	// rate limit, so that the least time a phase can take is one latency
	// per dependent step (see Bound); run at the engine's default
	// settings (Options.Concurrency 0), it measures how close they come.
	ProfileLatency = "latency"
)

// LatencyBoundLatency is the operation latency of ProfileLatency.
const LatencyBoundLatency = time.Second

// ProfileOptions returns the emulator options of a named profile: instant,
// realistic (seeded) or latency.
func ProfileOptions(name string, seed uint64) (emulator.Options, error) {
	if name == ProfileLatency {
		d := emulator.Fixed(LatencyBoundLatency)
		return emulator.Options{Latency: emulator.Latency{Create: d, Update: d, Delete: d}}, nil
	}
	eo, err := emulator.Profile(name, seed)
	if err != nil {
		return eo, fmt.Errorf("unknown profile %q (want instant, realistic or latency)", name)
	}
	return eo, nil
}

// Options configures a benchmark run.
type Options struct {
	// Profile names the emulator profile (see ProfileOptions), "instant"
	// by default; Emulator, when set, replaces it (Profile is then only
	// the report's label, e.g. "custom").
	Profile string
	// Seed seeds the realistic profile's latencies.
	Seed uint64
	// Emulator, when set, configures the emulator instead of Profile.
	// DataDir is ignored: the emulator keeps its data in memory.
	Emulator *emulator.Options
	// RetryAfter, when set, replaces the emulator's RetryAfter hint (see
	// emulator.RetryAfterHint): the exact completion time flatters a
	// client that polls at RetryAfter, as real hints are coarse or absent.
	RetryAfter emulator.RetryAfterHint
	// N is the number of job templates (default 100).
	N int
	// Concurrency fixes the operations in flight, for the engine and the
	// baseline alike. Zero, the default, runs the engine at its default
	// settings (an adaptive bound, up to cloudcontrol.DefaultMaxConcurrency)
	// and the baseline at min(N, cloudcontrol.DefaultMaxConcurrency); the
	// bound then assumes no limit on concurrency (the physical bound).
	Concurrency int
	// Steps selects what to measure (default DefaultSteps). noop, replace
	// and destroy need deploy.
	Steps []Step
	// PollInterval is the baseline's fixed status polling interval
	// (default 50 ms).
	PollInterval time.Duration
	// Worker, when set, makes the command that runs one phase in a child
	// process (one that calls ServeWorker); nil runs phases in this process.
	Worker func(ctx context.Context) *exec.Cmd
	// ProfileDir, when set, receives a CPU and a heap profile per phase.
	ProfileDir string
	// TempDir is where the state directory is made (default os.TempDir()).
	TempDir string
	// Log, when set, receives a line as each phase starts and ends.
	Log io.Writer
}

// DefaultN, DefaultConcurrency and DefaultPollInterval are the defaults of
// Options; DefaultConcurrency 0 means the engine's default settings.
const (
	DefaultN            = 100
	DefaultConcurrency  = 0
	DefaultPollInterval = 50 * time.Millisecond
)

// Report is the result of a run: what ran under which limits, and each
// phase's figures.
type Report struct {
	Profile string `json:"profile"`
	N       int    `json:"n"`
	// Concurrency is the fixed bound of the run; 0 means the engine's
	// default, adaptive bound (up to MaxConcurrency), with the baseline at
	// BaselineConcurrency.
	Concurrency         int    `json:"concurrency"`
	MaxConcurrency      int    `json:"maxConcurrency"`
	BaselineConcurrency int    `json:"baselineConcurrency"`
	Seed                uint64 `json:"seed"`
	// RetryAfter is the emulator's RetryAfter hint.
	RetryAfter string `json:"retryAfter"`
	// Limits are the profile's: rate limit, burst, least latency.
	RateLimit        float64 `json:"rateLimit"`
	Burst            int     `json:"burst"`
	MinLatencySecond float64 `json:"minLatencySeconds"`
	MaxLatencySecond float64 `json:"maxLatencySeconds"`
	// BaselinePollSeconds is the baseline's polling interval.
	BaselinePollSeconds float64 `json:"baselinePollSeconds"`
	// Isolated is true when each phase ran in its own worker process.
	Isolated  bool   `json:"isolated"`
	GoVersion string `json:"goVersion"`
	CPUs      int    `json:"cpus"`
	Started   string `json:"started"`
	// Phases are the measured phases in the order they ran.
	Phases []*Phase `json:"phases"`
	// StateBytes is the size of the state directory after the deploy, and
	// StateBytesPerResource that divided by N.
	StateBytes            int64   `json:"stateBytes"`
	StateBytesPerResource float64 `json:"stateBytesPerResource"`
	// Targets are the acceptance targets that apply to this run.
	Targets []Target `json:"targets"`
	// Problems lists everything that went wrong: phase errors, resources
	// lost or duplicated, counts that do not add up. A run with problems
	// is not a valid measurement.
	Problems []string `json:"problems"`
}

// OK reports whether the run had no problems.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Phase returns the phase of runner named name, or nil.
func (r *Report) Phase(runner, name string) *Phase {
	for _, p := range r.Phases {
		if p.Runner == runner && p.Name == name {
			return p
		}
	}
	return nil
}

// Phase is one measured phase.
type Phase struct {
	Name   string `json:"name"`   // deploy, noop, replace, destroy
	Runner string `json:"runner"` // engine or baseline
	// WallSeconds is the phase's wall time (for the engine: athanor.Run,
	// state opening and locking included; process start excluded).
	WallSeconds float64 `json:"wallSeconds"`
	// BoundSeconds is the least time the API's limits allow (see Bound);
	// zero when the profile has neither a rate limit nor latency.
	BoundSeconds float64 `json:"boundSeconds"`
	// RatioToBaseline is WallSeconds over the baseline's same phase; nil
	// when there is none. RatioToBound is WallSeconds over BoundSeconds;
	// nil when the bound is zero.
	RatioToBaseline *float64 `json:"ratioToBaseline"`
	RatioToBound    *float64 `json:"ratioToBound"`
	// Calls are the requests the emulator received during the phase.
	Calls Counts `json:"calls"`
	// CallsPerResource breaks the requests down per resource (÷ N), by
	// class; throttled requests are included, as they count against the
	// rate limit.
	CallsPerResource PerResource `json:"callsPerResource"`
	// PollsPerOperation is status polls ÷ accepted mutations.
	PollsPerOperation float64 `json:"pollsPerOperation"`
	// Throttles counts requests answered with ThrottlingException.
	Throttles int64 `json:"throttles"`
	// Result counts what the runner says it did.
	Created   int `json:"created"`
	Replaced  int `json:"replaced"`
	Deleted   int `json:"deleted"`
	Unchanged int `json:"unchanged"`
	Updated   int `json:"updated"`
	Failed    int `json:"failed"`
	// Client is the engine client's own statistics (engine phases only).
	Client *cloudcontrol.Stats `json:"client,omitempty"`
	// PeakRSSBytes and CPUSeconds (user and system; CPUSysSeconds the
	// system part) cover Scope: the worker process of the phase, or the
	// whole benchmark process. CPU is counted from the start to the end of
	// the phase; the peak RSS covers the worker's life.
	PeakRSSBytes  int64   `json:"peakRSSBytes"`
	CPUSeconds    float64 `json:"cpuSeconds"`
	CPUSysSeconds float64 `json:"cpuSysSeconds"`
	Scope         string  `json:"scope"`
	// Runtime holds the Go runtime's peaks during the phase (goroutines,
	// stack and heap bytes), the parts of the peak RSS.
	Runtime Peaks `json:"runtime"`
	// WorkerSeconds is the worker process's wall time, start-up and exit
	// included (worker scope only).
	WorkerSeconds float64 `json:"workerSeconds,omitempty"`
	Error         string  `json:"error,omitempty"`
	Note          string  `json:"note,omitempty"`
}

// PerResource is a per-resource breakdown of API calls.
type PerResource struct {
	Total     float64 `json:"total"`
	Mutations float64 `json:"mutations"`
	Polls     float64 `json:"polls"`
	Reads     float64 `json:"reads"`
	Other     float64 `json:"other"`
}

// Target is one acceptance target and how the run measured against it.
type Target struct {
	Name     string  `json:"name"`
	Measured float64 `json:"measured"`
	Limit    float64 `json:"limit"`
	Unit     string  `json:"unit"`
	Met      bool    `json:"met"`
}

func (o *Options) defaults() error {
	if o.Profile == "" {
		o.Profile = "instant"
	}
	if o.N == 0 {
		o.N = DefaultN
	}
	if o.N < 1 || o.N > 99999 {
		return fmt.Errorf("bench: N = %d, want 1..99999", o.N)
	}
	if o.Concurrency < 0 {
		return fmt.Errorf("bench: concurrency %d, want ≥ 1 (or 0 for the engine's default)", o.Concurrency)
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.PollInterval < 0 {
		return fmt.Errorf("bench: poll interval %v, want > 0", o.PollInterval)
	}
	return nil
}

// emulatorOptions resolves the emulator configuration of o.
func (o *Options) emulatorOptions() (emulator.Options, error) {
	eo := emulator.Options{}
	if o.Emulator != nil {
		eo = *o.Emulator
		eo.DataDir = ""
	} else {
		var err error
		if eo, err = ProfileOptions(o.Profile, o.Seed); err != nil {
			return eo, err
		}
	}
	if o.RetryAfter != "" {
		h, err := emulator.ParseRetryAfterHint(string(o.RetryAfter))
		if err != nil {
			return eo, err
		}
		eo.RetryAfter = h
	}
	if eo.RetryAfter == "" {
		eo.RetryAfter = emulator.RetryAfterExact
	}
	return eo, nil
}

// maxConcurrency is the most operations the engine has in flight at the
// fixed concurrency n (0: the default, adaptive bound).
func maxConcurrency(n int) int {
	if n > 0 {
		return n
	}
	return cloudcontrol.DefaultMaxConcurrency
}

// baselineConcurrency is the baseline's concurrency for o.
func (o *Options) baselineConcurrency() int {
	if o.Concurrency > 0 {
		return o.Concurrency
	}
	return min(o.N, cloudcontrol.DefaultMaxConcurrency)
}

// limitsOf returns the limits of an emulator configuration; concurrency 0
// means none.
func limitsOf(eo emulator.Options, concurrency int) (Limits, time.Duration) {
	l := Limits{RateLimit: eo.Faults.RateLimit, Concurrency: concurrency}
	if l.RateLimit > 0 {
		l.Burst = eo.Faults.Burst
		if l.Burst <= 0 {
			l.Burst = max(1, int(l.RateLimit))
		}
	}
	lat := eo.Latency
	l.MinLatency = min(lat.Create.Min, lat.Delete.Min)
	maxLat := max(lat.Create.Max, lat.Create.Min, lat.Delete.Max, lat.Delete.Min)
	return l, maxLat
}

// Run measures the engine, the baseline and the bound as o says and returns
// the report. Problems found along the way (errors of a phase, resources
// lost or duplicated) are in Report.Problems; the error is for a run that
// could not be carried out at all.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	eo, err := o.emulatorOptions()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	steps := o.Steps
	if len(steps) == 0 {
		steps = DefaultSteps(eo.Faults.RateLimit > 0)
	}
	has := func(s Step) bool { return slices.Contains(steps, s) }
	if !has(StepDeploy) && (has(StepNoop) || has(StepReplace) || has(StepDestroy)) {
		return nil, errors.New("bench: the noop, replace and destroy steps need the deploy step")
	}
	limits, maxLat := limitsOf(eo, o.Concurrency)

	srv, err := emulator.New(eo)
	if err != nil {
		return nil, fmt.Errorf("bench: emulator: %w", err)
	}
	defer srv.Close()
	counter := NewCounter(srv)
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: listen: %w", err)
	}
	hs := &http.Server{Handler: counter, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	target := "http://" + ln.Addr().String()

	tmp, err := os.MkdirTemp(o.TempDir, "athanor-bench-*")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(tmp)
	stateDir := filepath.Join(tmp, "state")

	rep := &Report{
		Profile: o.Profile, N: o.N, Concurrency: o.Concurrency, Seed: o.Seed,
		MaxConcurrency: maxConcurrency(o.Concurrency), BaselineConcurrency: o.baselineConcurrency(),
		RetryAfter: string(eo.RetryAfter),
		RateLimit:  limits.RateLimit, Burst: limits.Burst,
		MinLatencySecond:    limits.MinLatency.Seconds(),
		MaxLatencySecond:    maxLat.Seconds(),
		BaselinePollSeconds: o.PollInterval.Seconds(),
		Isolated:            o.Worker != nil,
		GoVersion:           runtime.Version(),
		CPUs:                runtime.NumCPU(),
		Started:             time.Now().UTC().Format(time.RFC3339),
		Phases:              []*Phase{},
		Targets:             []Target{},
		Problems:            []string{},
	}
	b := &runner{o: o, rep: rep, counter: counter, limits: limits, target: target, stateDir: stateDir, check: baselineClient(target, 4)}

	if has(StepBaseline) {
		if p := b.phase(ctx, RunnerBaseline, PhaseDeploy, 1); p.Error == "" {
			b.expectLive(ctx, p, baselineIDPrefix, o.N, 1)
		}
		if p := b.phase(ctx, RunnerBaseline, PhaseDestroy, 1); p.Error == "" {
			b.expectLive(ctx, p, baselineIDPrefix, 0, 1)
		}
	}
	if has(StepDeploy) {
		p := b.phase(ctx, RunnerEngine, PhaseDeploy, 1)
		b.expectCount(p, "created", p.Created, o.N)
		b.expectLive(ctx, p, engineIDPrefix, o.N, 1)
		rep.StateBytes = dirSize(stateDir)
		rep.StateBytesPerResource = float64(rep.StateBytes) / float64(o.N)
	}
	version := 1
	if has(StepNoop) {
		p := b.phase(ctx, RunnerEngine, PhaseNoop, version)
		b.expectCount(p, "unchanged", p.Unchanged, o.N)
		if n, ids := p.Calls.Total()-p.Calls.Class(ClassIdentity), p.Calls.Class(ClassIdentity); n != 0 || ids > 1 {
			b.problem(p, "made %d Cloud Control calls and %d STS calls, want none and at most one (the target check)", n, ids)
		}
	}
	if has(StepReplace) {
		version = 2
		p := b.phase(ctx, RunnerEngine, PhaseReplace, version)
		b.expectCount(p, "replaced", p.Replaced, o.N)
		b.expectLive(ctx, p, engineIDPrefix, o.N, version)
	}
	if has(StepDestroy) {
		p := b.phase(ctx, RunnerEngine, PhaseDestroy, version)
		b.expectCount(p, "deleted", p.Deleted, o.N)
		b.expectLive(ctx, p, engineIDPrefix, 0, version)
	}
	for _, p := range rep.Phases {
		if p.Runner != RunnerEngine {
			continue
		}
		if base := rep.Phase(RunnerBaseline, p.Name); base != nil && base.WallSeconds > 0 && base.Error == "" {
			p.RatioToBaseline = ratio(p.WallSeconds, base.WallSeconds)
		}
	}
	rep.Targets = targets(rep)
	return rep, nil
}

// runner carries out the phases of one Run.
type runner struct {
	o        Options
	rep      *Report
	counter  *Counter
	limits   Limits
	target   string
	stateDir string
	check    *cc.Client // lists the emulator's resources between phases
}

func (b *runner) logf(format string, args ...any) {
	if b.o.Log != nil {
		fmt.Fprintf(b.o.Log, format+"\n", args...)
	}
}

func (b *runner) problem(p *Phase, format string, args ...any) {
	b.rep.Problems = append(b.rep.Problems, fmt.Sprintf("%s %s (N=%d): %s", p.Runner, p.Name, b.o.N, fmt.Sprintf(format, args...)))
}

func (b *runner) expectCount(p *Phase, what string, got, want int) {
	if got != want {
		b.problem(p, "%s %d resources, want %d", what, got, want)
	}
	if p.Failed != 0 {
		b.problem(p, "%d resources failed", p.Failed)
	}
}

// settle waits until the emulator's rate limiter has refilled its bucket,
// so that a phase does not pay for the requests of the one before (or of
// the checks between them).
func (b *runner) settle(ctx context.Context) {
	if b.limits.RateLimit <= 0 {
		return
	}
	d := time.Duration(float64(b.limits.Burst)/b.limits.RateLimit*float64(time.Second)) + 100*time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// phase runs one phase and records it in the report.
func (b *runner) phase(ctx context.Context, runnerName, name string, version int) *Phase {
	j := job{
		Runner: runnerName, Phase: name, Target: b.target, N: b.o.N,
		Concurrency: b.o.Concurrency, Version: version, Poll: b.o.PollInterval,
		ProfileDir: b.o.ProfileDir,
	}
	if runnerName == RunnerEngine {
		j.StateDir = b.stateDir
	} else {
		j.Concurrency = b.o.baselineConcurrency()
	}
	b.settle(ctx)
	b.logf("bench: N=%d %s %s ...", b.o.N, runnerName, name)
	before := b.counter.Snapshot()
	var out outcome
	if b.o.Worker != nil {
		out = b.spawn(ctx, j)
	} else {
		out = measure(ctx, j)
	}
	calls := b.counter.Snapshot().Sub(before)

	p := &Phase{
		Name: name, Runner: runnerName,
		WallSeconds: out.Wall.Seconds(),
		Calls:       calls,
		Throttles:   calls.Throttles(),
		Created:     out.Created, Replaced: out.Replaced, Deleted: out.Deleted,
		Unchanged: out.Unchanged, Updated: out.Updated, Failed: out.Failed,
		PeakRSSBytes: out.PeakRSS, CPUSeconds: out.CPU.Seconds(), CPUSysSeconds: out.CPUSys.Seconds(),
		Scope: out.Scope, WorkerSeconds: out.Process.Seconds(), Runtime: out.Peaks,
		Error: out.Err, Note: out.Note,
	}
	p.Client = out.Client
	n := float64(b.o.N)
	p.CallsPerResource = PerResource{
		Total:     float64(calls.Total()) / n,
		Mutations: float64(calls.Class(ClassMutation)) / n,
		Polls:     float64(calls.Class(ClassPoll)) / n,
		Reads:     float64(calls.Class(ClassRead)) / n,
		Other:     float64(calls.Class(ClassOther)) / n,
	}
	if m := calls.Class(ClassMutation) - calls.ThrottledClass(ClassMutation); m > 0 {
		p.PollsPerOperation = float64(calls.Class(ClassPoll)) / float64(m)
	}
	chain := 1
	switch name {
	case PhaseNoop:
		chain = 0
	case PhaseReplace:
		chain = 2
	}
	p.BoundSeconds = Bound(b.o.N, chain, b.limits).Seconds()
	if p.BoundSeconds > 0 {
		p.RatioToBound = ratio(p.WallSeconds, p.BoundSeconds)
	}
	if p.Error != "" {
		b.problem(p, "%s", p.Error)
	}
	b.rep.Phases = append(b.rep.Phases, p)
	b.logf("bench: N=%d %s %s: %.3fs, %d calls, %d throttled", b.o.N, runnerName, name, p.WallSeconds, calls.Total(), p.Throttles)
	return p
}

// spawn runs j in a worker process.
func (b *runner) spawn(ctx context.Context, j job) outcome {
	cmd := b.o.Worker(ctx)
	in, _ := json.Marshal(j)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	var out outcome
	if derr := json.Unmarshal(stdout.Bytes(), &out); err != nil || derr != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return outcome{Err: fmt.Sprintf("%v: %v %v: %s", errWorker, err, derr, msg), Scope: ScopeWorker}
	}
	out.Process = elapsed
	return out
}

// expectLive checks that exactly want templates with prefix exist in the
// emulator, each with the description of version.
func (b *runner) expectLive(ctx context.Context, p *Phase, prefix string, want, version int) {
	live, err := listTemplates(ctx, b.check, prefix)
	if err != nil {
		b.problem(p, "listing the emulator's templates: %v", err)
		return
	}
	if len(live) != want {
		b.problem(p, "the emulator holds %d templates, want %d", len(live), want)
	}
	bad := 0
	for i := range want {
		id := templateID(prefix, i)
		d, ok := live[id]
		if !ok || d != description(i, version) {
			bad++
			if bad <= 3 {
				b.problem(p, "template %s: present %v, description %q, want %q", id, ok, d, description(i, version))
			}
		}
	}
	if bad > 3 {
		b.problem(p, "... and %d more templates missing or stale", bad-3)
	}
}

// listTemplates returns the job templates whose identifier has prefix,
// with their descriptions.
func listTemplates(ctx context.Context, c *cc.Client, prefix string) (map[string]string, error) {
	live := map[string]string{}
	pg := cc.NewListResourcesPaginator(c, &cc.ListResourcesInput{TypeName: aws.String(iot.JobTemplateType), MaxResults: aws.Int32(100)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range page.ResourceDescriptions {
			id := aws.ToString(d.Identifier)
			if !strings.HasPrefix(id, prefix) {
				continue
			}
			var props struct{ Description string }
			if err := json.Unmarshal([]byte(aws.ToString(d.Properties)), &props); err != nil {
				return nil, fmt.Errorf("template %s: properties: %w", id, err)
			}
			if _, dup := live[id]; dup {
				return nil, fmt.Errorf("template %s listed twice", id)
			}
			live[id] = props.Description
		}
	}
	return live, nil
}

func ratio(a, b float64) *float64 {
	if b <= 0 {
		return nil
	}
	r := a / b
	return &r
}

// dirSize returns the total size of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			n += info.Size()
		}
		return nil
	})
	return n
}

// Acceptance targets (issue 13; issue 5 set looser ones for the first
// release).
const (
	// TargetRatioToLatencyBound applies without a rate limit, with
	// latency: deploy, replace and destroy each within this factor of the
	// bound, up to TargetLatencyBoundN resources;
	// TargetRatioToLatencyBoundLarge applies beyond (1,000 templates of
	// 1 s: a deploy within 1.6 s).
	TargetRatioToLatencyBound      = 1.3
	TargetRatioToLatencyBoundLarge = 1.6
	TargetLatencyBoundN            = 100
	// TargetRatioToBaseline (wall) and TargetCPURatioToBaseline (CPU,
	// user and system) compare the engine with the bare SDK loop without a
	// rate limit or latency.
	TargetRatioToBaseline    = 1.2
	TargetCPURatioToBaseline = 1.5
	// TargetNoopSeconds bounds a no-op redeploy (of up to 10,000
	// resources).
	TargetNoopSeconds = 0.5
	// TargetRatioToBound and TargetCallsPerCreated apply with a rate
	// limit.
	TargetRatioToBound    = 1.03
	TargetCallsPerCreated = 2.1
	TargetPeakRSSBytes    = 300 << 20
)

// targets evaluates the acceptance targets that apply to rep: ratios to the
// baseline without a rate limit, ratios to the bound and calls per created
// resource with one, and no-op and RSS everywhere.
func targets(rep *Report) []Target {
	ts := []Target{}
	add := func(name string, measured, limit float64, unit string, met bool) {
		ts = append(ts, Target{Name: name, Measured: measured, Limit: limit, Unit: unit, Met: met})
	}
	if rep.RateLimit == 0 && rep.MinLatencySecond == 0 {
		for _, name := range []string{PhaseDeploy, PhaseDestroy} {
			p, base := rep.Phase(RunnerEngine, name), rep.Phase(RunnerBaseline, name)
			if p == nil || p.RatioToBaseline == nil {
				continue
			}
			add(fmt.Sprintf("engine %s ≤ %.2g× baseline", name, TargetRatioToBaseline), *p.RatioToBaseline, TargetRatioToBaseline, "×", *p.RatioToBaseline <= TargetRatioToBaseline)
			if base != nil && base.CPUSeconds > 0 {
				r := p.CPUSeconds / base.CPUSeconds
				add(fmt.Sprintf("engine %s CPU ≤ %.2g× baseline's", name, TargetCPURatioToBaseline), r, TargetCPURatioToBaseline, "×", r <= TargetCPURatioToBaseline)
			}
		}
	}
	if rep.RateLimit == 0 && rep.MinLatencySecond > 0 {
		limit := TargetRatioToLatencyBound
		if rep.N > TargetLatencyBoundN {
			limit = TargetRatioToLatencyBoundLarge
		}
		for _, name := range []string{PhaseDeploy, PhaseReplace, PhaseDestroy} {
			if p := rep.Phase(RunnerEngine, name); p != nil && p.RatioToBound != nil {
				add(fmt.Sprintf("engine %s ≤ %.2g× bound", name, limit), *p.RatioToBound, limit, "×", *p.RatioToBound <= limit && p.Error == "")
			}
		}
	}
	if p := rep.Phase(RunnerEngine, PhaseNoop); p != nil {
		add(fmt.Sprintf("no-op redeploy ≤ %g s", TargetNoopSeconds), p.WallSeconds, TargetNoopSeconds, "s", p.WallSeconds <= TargetNoopSeconds)
		calls := float64(p.Calls.Total() - p.Calls.Class(ClassIdentity))
		add("no-op redeploy makes no Cloud Control calls (one STS target check)", calls, 0, "calls", calls == 0 && p.Calls.Class(ClassIdentity) <= 1)
	}
	if p := rep.Phase(RunnerEngine, PhaseDeploy); p != nil && rep.RateLimit > 0 {
		if p.RatioToBound != nil {
			add(fmt.Sprintf("engine deploy ≤ %.3g× bound", TargetRatioToBound), *p.RatioToBound, TargetRatioToBound, "×", *p.RatioToBound <= TargetRatioToBound)
		}
		perCreated := 0.0
		if p.Created > 0 {
			perCreated = float64(p.Calls.Total()) / float64(p.Created)
		}
		add(fmt.Sprintf("API calls per created resource ≤ %g", TargetCallsPerCreated), perCreated, TargetCallsPerCreated, "calls", p.Created > 0 && perCreated <= TargetCallsPerCreated)
		add("no operation failed (throttling or otherwise)", float64(p.Failed), 0, "failed", p.Failed == 0 && p.Error == "")
	}
	for _, p := range rep.Phases {
		if p.Runner == RunnerEngine && p.Scope == ScopeWorker {
			add(fmt.Sprintf("engine %s peak RSS < %d MB", p.Name, TargetPeakRSSBytes>>20), float64(p.PeakRSSBytes)/(1<<20), TargetPeakRSSBytes>>20, "MB", p.PeakRSSBytes < TargetPeakRSSBytes)
		}
	}
	return ts
}

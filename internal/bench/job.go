package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/aws/iot"
	"github.com/athanor-dev/athanor/cloudcontrol"
)

// Runners: who carries out a phase.
const (
	RunnerEngine   = "engine"
	RunnerBaseline = "baseline"
)

// Phase names.
const (
	PhaseDeploy  = "deploy"
	PhaseNoop    = "noop"
	PhaseReplace = "replace"
	PhaseDestroy = "destroy"
)

// Resource naming of a run: the engine's and the baseline's templates have
// different identifiers so that neither sees the other's.
const (
	engineIDPrefix   = "bench-e-"
	baselineIDPrefix = "bench-b-"
	benchApp         = "bench"
	benchStage       = "bench"
	benchDocument    = `{"operation":"benchmark"}`
)

// job is one phase for a runner to carry out, in this process or in a
// worker process (it travels as JSON on the worker's standard input).
type job struct {
	Runner      string        `json:"runner"`
	Phase       string        `json:"phase"`
	Target      string        `json:"target"`
	StateDir    string        `json:"stateDir,omitempty"`
	N           int           `json:"n"`
	Concurrency int           `json:"concurrency"`
	Version     int           `json:"version"` // of the descriptions declared
	Poll        time.Duration `json:"pollInterval,omitempty"`
	// ProfileDir, when set, receives a CPU profile and a heap profile of
	// the phase.
	ProfileDir string `json:"profileDir,omitempty"`
}

// outcome is what a job reports.
type outcome struct {
	Wall time.Duration `json:"wall"`
	// Counts of resources, as the engine's Result (or the baseline's own
	// tally) gives them.
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Replaced  int `json:"replaced"`
	Deleted   int `json:"deleted"`
	Unchanged int `json:"unchanged"`
	Failed    int `json:"failed"`
	// Client holds the engine client's own statistics.
	Client *cloudcontrol.Stats `json:"client,omitempty"`
	// Err is the phase's error, if any.
	Err string `json:"err,omitempty"`
	// PeakRSS (bytes) and CPU are measured by whoever runs the job; Scope
	// says what they cover.
	PeakRSS int64         `json:"peakRSS"`
	CPU     time.Duration `json:"cpu"`
	CPUSys  time.Duration `json:"cpuSys"`
	Scope   string        `json:"scope"`
	// Peaks are the Go runtime's peaks during the phase.
	Peaks Peaks `json:"peaks"`
	// Process is the worker process's wall time, start-up and exit
	// included (set by the parent).
	Process time.Duration `json:"process,omitempty"`
	// Note records a limit of the measurement (a profile not taken, ...).
	Note string `json:"note,omitempty"`
}

func templateID(prefix string, i int) string { return fmt.Sprintf("%s%05d", prefix, i) }

func description(i, version int) string {
	return fmt.Sprintf("Benchmark job template %d, version %d", i, version)
}

// execute carries out j and reports the outcome, with the CPU time the
// process spent meanwhile.
func execute(ctx context.Context, j job) outcome {
	user0, sys0 := cpuTime()
	peaks := samplePeaks(50 * time.Millisecond)
	stop, note := startCPUProfile(j)
	var out outcome
	switch j.Runner {
	case RunnerEngine:
		out = runEngine(ctx, j)
	case RunnerBaseline:
		out = runBaseline(ctx, j)
	default:
		out.Err = fmt.Sprintf("bench: unknown runner %q", j.Runner)
	}
	stop()
	out.Peaks = peaks()
	user1, sys1 := cpuTime()
	out.CPU, out.CPUSys = user1-user0+sys1-sys0, sys1-sys0
	if n := writeHeapProfile(j); n != "" {
		note = joinNote(note, n)
	}
	out.Note = joinNote(out.Note, note)
	return out
}

func joinNote(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

func profilePath(j job, kind string) string {
	return filepath.Join(j.ProfileDir, fmt.Sprintf("%s-%s-n%d.%s.pprof", j.Runner, j.Phase, j.N, kind))
}

// startCPUProfile starts a CPU profile of the phase when asked to; the
// returned function stops it.
func startCPUProfile(j job) (stop func(), note string) {
	if j.ProfileDir == "" {
		return func() {}, ""
	}
	f, err := os.Create(profilePath(j, "cpu"))
	if err != nil {
		return func() {}, fmt.Sprintf("no CPU profile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		// Another profile runs (go test -cpuprofile): that one covers us.
		f.Close()
		os.Remove(f.Name())
		return func() {}, fmt.Sprintf("no CPU profile of the phase: %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, ""
}

func writeHeapProfile(j job) string {
	if j.ProfileDir == "" {
		return ""
	}
	f, err := os.Create(profilePath(j, "heap"))
	if err != nil {
		return fmt.Sprintf("no heap profile: %v", err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		return fmt.Sprintf("no heap profile: %v", err)
	}
	return ""
}

// runEngine runs one engine phase through athanor.Run, declaring the
// templates as a program would: one app.Go per resource.
func runEngine(ctx context.Context, j job) outcome {
	cfg := athanor.Config{
		App:         benchApp,
		Stage:       benchStage,
		Target:      j.Target,
		State:       j.StateDir,
		Concurrency: j.Concurrency,
		Destroy:     j.Phase == PhaseDestroy,
		Output:      io.Discard,
	}
	start := time.Now()
	res, err := athanor.Run(ctx, cfg, func(app *athanor.App) error {
		for i := range j.N {
			app.Go(func() error {
				_, err := iot.NewJobTemplate(app, fmt.Sprintf("template%05d", i), iot.JobTemplateArgs{
					JobTemplateId: templateID(engineIDPrefix, i),
					Description:   description(i, j.Version),
					Document:      iot.InlineDocument(benchDocument),
				})
				return err
			})
		}
		return nil
	})
	out := outcome{Wall: time.Since(start)}
	if err != nil {
		out.Err = err.Error()
	}
	if res != nil {
		out.Created, out.Updated, out.Replaced = res.Created, res.Updated, res.Replaced
		out.Deleted, out.Unchanged, out.Failed = res.Deleted, res.Unchanged, res.Failed
		stats := res.Stats
		out.Client = &stats
	}
	return out
}

// baselineClient is a plain aws-sdk-go-v2 Cloud Control client for target:
// the SDK's standard retryer, with enough attempts and without the retry
// quota, so that throttled calls are retried with the SDK's backoff rather
// than failing the operation.
func baselineClient(target string, concurrency int) *cc.Client {
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 2 * concurrency
		t.MaxIdleConnsPerHost = 2 * concurrency
	})
	cfg := aws.Config{
		Region:      cloudcontrol.DefaultRegion,
		Credentials: credentials.NewStaticCredentialsProvider(cloudcontrol.DummyAccessKeyID, cloudcontrol.DummySecretAccessKey, ""),
		HTTPClient:  hc,
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 20
				o.RateLimiter = ratelimit.None
			})
		},
	}
	return cc.NewFromConfig(cfg, func(o *cc.Options) { o.BaseEndpoint = aws.String(target) })
}

// runBaseline deploys or destroys N templates with a bare loop over the SDK
// client: a mutation, then status polls at a fixed interval until the
// request is final (none when the first event already is), j.Concurrency
// at a time, with no state and no validation.
func runBaseline(ctx context.Context, j job) outcome {
	client := baselineClient(j.Target, j.Concurrency)
	typeName := iot.JobTemplateType
	var (
		done, failed atomic.Int64
		errMu        sync.Mutex
		firstErr     error
	)
	fail := func(err error) {
		failed.Add(1)
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	one := func(i int) {
		id := templateID(baselineIDPrefix, i)
		var ev *types.ProgressEvent
		switch j.Phase {
		case PhaseDeploy:
			model, _ := json.Marshal(map[string]string{
				"JobTemplateId": id,
				"Description":   description(i, j.Version),
				"Document":      benchDocument,
			})
			out, err := client.CreateResource(ctx, &cc.CreateResourceInput{TypeName: &typeName, DesiredState: aws.String(string(model))})
			if err != nil {
				fail(fmt.Errorf("create %s: %w", id, err))
				return
			}
			ev = out.ProgressEvent
		case PhaseDestroy:
			out, err := client.DeleteResource(ctx, &cc.DeleteResourceInput{TypeName: &typeName, Identifier: &id})
			if err != nil {
				fail(fmt.Errorf("delete %s: %w", id, err))
				return
			}
			ev = out.ProgressEvent
		}
		for ev != nil && !finalStatus(ev.OperationStatus) {
			t := time.NewTimer(j.Poll)
			select {
			case <-ctx.Done():
				t.Stop()
				fail(ctx.Err())
				return
			case <-t.C:
			}
			out, err := client.GetResourceRequestStatus(ctx, &cc.GetResourceRequestStatusInput{RequestToken: ev.RequestToken})
			if err != nil {
				fail(fmt.Errorf("poll %s: %w", id, err))
				return
			}
			ev = out.ProgressEvent
		}
		switch {
		case ev == nil:
			fail(fmt.Errorf("%s %s: no progress event", j.Phase, id))
		case ev.OperationStatus == types.OperationStatusSuccess,
			j.Phase == PhaseDestroy && ev.ErrorCode == types.HandlerErrorCodeNotFound:
			done.Add(1)
		default:
			fail(fmt.Errorf("%s %s: %s %s: %s", j.Phase, id, ev.OperationStatus, ev.ErrorCode, aws.ToString(ev.StatusMessage)))
		}
	}

	start := time.Now()
	var out outcome
	if j.Phase != PhaseDeploy && j.Phase != PhaseDestroy {
		out.Err = fmt.Sprintf("bench: the baseline has no %s phase", j.Phase)
		return out
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(j.Concurrency, 1) {
		wg.Go(func() {
			for i := range next {
				one(i)
			}
		})
	}
	for i := range j.N {
		next <- i
	}
	close(next)
	wg.Wait()
	out.Wall = time.Since(start)
	out.Failed = int(failed.Load())
	if j.Phase == PhaseDeploy {
		out.Created = int(done.Load())
	} else {
		out.Deleted = int(done.Load())
	}
	if firstErr != nil {
		out.Err = fmt.Sprintf("%d of %d operations failed; first: %v", out.Failed, j.N, firstErr)
	}
	return out
}

func finalStatus(s types.OperationStatus) bool {
	switch s {
	case types.OperationStatusSuccess, types.OperationStatusFailed, types.OperationStatusCancelComplete:
		return true
	}
	return false
}

// measure runs j in this process and measures it: CPU time as a delta of
// the process's, peak RSS as the process's high-water mark since a reset.
// Both cover the whole process, emulator included.
func measure(ctx context.Context, j job) outcome {
	reset := resetPeakRSS()
	out := execute(ctx, j)
	out.Scope = ScopeProcess
	if rss, err := peakRSS(); err == nil {
		out.PeakRSS = rss
	}
	if !reset {
		out.Note = joinNote(out.Note, "peak RSS could not be reset: it covers the process's life")
	}
	return out
}

// ServeWorker runs one phase for a parent benchmark run: it reads the job
// from r, carries it out, and writes the outcome to w, with this process's
// peak RSS (the whole process's) and the CPU time it spent during the phase.
// The athanor command's
// hidden bench-worker subcommand and test binaries call it.
func ServeWorker(ctx context.Context, r io.Reader, w io.Writer) error {
	var j job
	if err := json.NewDecoder(r).Decode(&j); err != nil {
		return fmt.Errorf("bench worker: read job: %w", err)
	}
	out := execute(ctx, j)
	out.Scope = ScopeWorker
	rss, err := peakRSS()
	if err != nil {
		out.Note = joinNote(out.Note, err.Error())
	}
	out.PeakRSS = rss
	if err := json.NewEncoder(w).Encode(out); err != nil {
		return fmt.Errorf("bench worker: write outcome: %w", err)
	}
	return nil
}

// errWorker wraps failures of the worker process itself.
var errWorker = errors.New("bench: worker process failed")

package athanor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/emulator"
	"github.com/athanor-dev/athanor/internal/engine"
	"github.com/athanor-dev/athanor/internal/graph"
	"github.com/athanor-dev/athanor/schema"
	"github.com/athanor-dev/athanor/state"
	_ "github.com/athanor-dev/athanor/state/file" // the default state backend; see the package doc for the others
)

// Targets.
const (
	// TargetLocal is the embedded Cloud Control emulator, run in-process with
	// its data under the state directory's "local" folder.
	TargetLocal = "local"
	// TargetAWS is the real AWS Cloud Control API, configured by the standard
	// AWS configuration chain (environment, shared files, roles).
	TargetAWS = "aws"
)

// DefaultStage is the stage deployed when none is given.
const DefaultStage = "dev"

// DefaultHeartbeat is the default of Config.Heartbeat.
const DefaultHeartbeat = 10 * time.Second

// Config is everything a run needs: the values of Main's flags plus the
// options of programs that embed Athanor (tests, tools).
type Config struct {
	// App names the application; the state is kept per app and stage.
	App string
	// Stage names the deployment (default "dev").
	Stage string
	// Plan computes and prints what would change, and changes nothing.
	Plan bool
	// Out, with Plan, saves the plan to this file (versioned JSON with the
	// state's digest and the target; write-only values only as salted
	// digests), for ApplyPlan.
	Out string
	// ApplyPlan applies the plan saved in this file exactly: the run is
	// refused, before any change, when the stage's state changed since the
	// plan was made (ErrStalePlan), when the target is another, or when
	// the program's changes differ from the plan (ErrDeviation). The
	// plan's Destroy and Refresh settings are the run's.
	ApplyPlan string
	// Confirm, when set, is asked before a plan with changes is applied,
	// once the plan is printed; false stops the run with ErrNotConfirmed
	// and nothing changed. Main sets it when standard input and output are
	// a terminal (and neither --yes nor ATHANOR_YES is given); without a
	// terminal the plan is applied without asking.
	Confirm func(*Plan) (bool, error)
	// Yes applies the plan without asking Confirm.
	Yes bool
	// Destroy deletes every resource of the stage; the program's function
	// is not called.
	Destroy bool
	// Refresh reads every recorded resource back before the run, reports
	// drift on readable properties and recreates resources deleted outside
	// Athanor.
	Refresh bool
	// Target is where resources live: "" or "local" for the embedded
	// emulator, "aws" for AWS, or the URL of any Cloud Control endpoint.
	// With Target empty, AWS_ENDPOINT_URL_CLOUDCONTROL selects an endpoint.
	Target string
	// State is the state location: a directory (default ".athanor"), a
	// postgres:// URL or an s3://bucket/prefix URL. The file backend is
	// always linked; a postgres:// (or postgresql://) URL needs the program
	// to import _ "github.com/athanor-dev/athanor/state/postgres", an s3://
	// URL _ "github.com/athanor-dev/athanor/state/s3". Without it the run
	// fails before it changes anything, naming the import to add.
	State string
	// Concurrency fixes the bound on Cloud Control operations in flight.
	// Zero, the default, lets the bound adapt (cloudcontrol.AdaptiveConcurrency):
	// it grows while operations are answered promptly and without
	// throttling, up to cloudcontrol.DefaultMaxConcurrency, and backs off
	// on sustained throttling and rising latency.
	Concurrency int
	// JSON writes machine-readable events, one JSON object per line,
	// instead of text.
	JSON bool
	// Graph, "dot" or "mermaid", makes the run a plan (as Plan) that prints
	// the plan's dependency graph in that format to Output instead of the
	// plan text: a node per resource with its planned action, an edge to
	// each resource it depends on.
	Graph string
	// Output receives progress and the summary (default os.Stdout). On a
	// terminal (and TERM not "dumb"), text output shows the operations in
	// flight live, with their elapsed time; elsewhere it writes a
	// "still creating ..." line for each one every Heartbeat.
	Output io.Writer
	// Heartbeat is the interval of those lines when Output is not a
	// terminal (default DefaultHeartbeat; negative: none). On a terminal
	// the live view is redrawn every second, or every Heartbeat when
	// shorter. JSON output has neither.
	Heartbeat time.Duration

	// LocalDir holds the embedded emulator's data (default: "local/<stage>"
	// in the state directory, or ".athanor/local/<stage>": one local account
	// per stage).
	LocalDir string
	// Options adjust how the run reaches the cloud and reads schemas, for
	// programs that embed Athanor (tests, tools): WithEmulator,
	// WithAWSConfig, WithClient, WithClientOptions, WithRegistry.
	Options []Option
	// LockTimeout is how long to wait for another run's stage lock before
	// failing (default: fail at once).
	LockTimeout time.Duration
	// onReporter, when set, is told of the run's reporter when it is made
	// and of nil when the run ends (Main: to write its signal notes above a
	// live view).
	onReporter func(*engine.Reporter)

	// LockLease is the lease of a shared stage lock (PostgreSQL): a run that
	// dies holding the lock keeps others out for at most this long (default
	// state.DefaultLease). The file backend's lock dies with its process.
	// A run that cannot renew its lease for three quarters of it (the
	// database unreachable, the process paused) stops with a
	// *LockLostError before another run can take the stage.
	LockLease time.Duration
}

// ResourceError is the error of one resource: it names the resource (key
// and type) and wraps the cause; validation failures list every offending
// property path.
type ResourceError struct {
	// Key and Type name the resource.
	Key, Type string
	// Err is the cause: a *schema.ValidationError for invalid properties.
	Err error
}

// Error names the resource and the cause, each invalid property on its own
// line.
func (e *ResourceError) Error() string {
	return (&engine.ResourceError{Key: e.Key, Type: e.Type, Err: e.Err}).Error()
}

// Unwrap returns the cause.
func (e *ResourceError) Unwrap() error { return e.Err }

// publicError turns the engine's resource errors in err into
// *ResourceError.
func publicError(err error) error {
	var re *engine.ResourceError
	if errors.As(err, &re) && err == error(re) {
		return &ResourceError{Key: re.Key, Type: re.Type, Err: re.Err}
	}
	return err
}

// ErrDuplicate is wrapped by the error of a second declaration of one
// logical id in one scope.
var ErrDuplicate = engine.ErrDuplicate

// Drift is a difference between a recorded resource and the cloud, found
// by a refresh: a readable property whose live value differs from the
// record, or a resource deleted outside Athanor (Gone).
type Drift struct {
	// Key and Type name the resource.
	Key  string `json:"key"`
	Type string `json:"type"`
	// Path is the drifted property's JSON pointer; Recorded and Live its
	// values.
	Path     string `json:"path,omitempty"`
	Recorded any    `json:"recorded,omitempty"`
	Live     any    `json:"live,omitempty"`
	// Gone tells that the resource no longer exists.
	Gone bool `json:"gone,omitempty"`
}

// Result is what a run did.
type Result struct {
	App, Stage string
	// Mode is "deploy", "plan" or "destroy".
	Mode string
	// Counts of resources by what happened to them (in a plan: would).
	// Forgotten counts retained resources left in the cloud; Resumed counts
	// operations of an interrupted run that this run finished (also counted
	// under their kind). When the run was interrupted (ErrInterrupted),
	// Interrupted counts the operations it left in flight, recorded for the
	// next run, and NotStarted the declarations it did not start.
	Created, Updated, Replaced, Deleted, Unchanged, Adopted, Resumed, Failed, Forgotten int
	Interrupted, NotStarted                                                             int
	// Duration is the run's wall time.
	Duration time.Duration
	// Plan is the plan the run computed (and, unless it was a plan only,
	// applied); nil when the run failed before it.
	Plan *Plan
	// Changes lists the plan's changes (Plan.Changes).
	Changes []Change
	// Dependencies lists, for each resource, the keys of the resources it
	// depends on (as declared in this run, or as recorded).
	Dependencies map[string][]string
	// Drift lists what a refresh found.
	Drift []Drift
	// Exports are the values the program exported.
	Exports map[string]any
	// Stats counts the Cloud Control calls made.
	Stats cloudcontrol.Stats
}

// Run runs fn as a deploy, plan or destroy of cfg.App's stage cfg.Stage and
// returns what it did. It holds the stage lock for the whole run: a second
// run of the same stage fails with an error matching state.ErrLocked that
// names the holder.
//
// A deploy first runs fn in preview: nothing is sent or written, every
// declaration is validated (all errors are reported, by resource and
// property path) and its change computed, giving the Plan. A preview with
// any error changes nothing and fails the run. Otherwise the plan is
// confirmed (Config.Confirm, on a terminal) and applied: fn runs again,
// and each declaration executes its planned change; one whose change
// differs from the plan (values not known at preview excepted) stops the
// run before it is sent (ErrDeviation).
func Run(ctx context.Context, cfg Config, fn func(*App) error) (res *Result, err error) {
	cfg.defaults()
	if cfg.Graph != "" {
		if err := graph.CheckFormat(cfg.Graph); err != nil {
			return nil, fmt.Errorf("athanor: %w", err)
		}
		res, err := Run(ctx, graphPlan(cfg), fn)
		if res != nil && err == nil {
			err = graph.FromPlan(cfg.App+"/"+cfg.Stage, res.Plan.p.Changes, res.Dependencies).Write(cfg.Output, cfg.Graph)
		}
		return res, err
	}
	if err := state.ValidateName("app", cfg.App); err != nil {
		return nil, fmt.Errorf("athanor: %w", err)
	}
	if err := state.ValidateName("stage", cfg.Stage); err != nil {
		return nil, fmt.Errorf("athanor: %w", err)
	}
	var saved *Plan
	if cfg.ApplyPlan != "" {
		if cfg.Plan {
			return nil, errors.New("athanor: a saved plan is applied (ApplyPlan, --apply) or a plan made (Plan, --plan), not both")
		}
		if saved, err = ReadPlanFile(cfg.ApplyPlan); err != nil {
			return nil, fmt.Errorf("athanor: %w", err)
		}
		if saved.App != cfg.App || saved.Stage != cfg.Stage {
			return nil, fmt.Errorf("athanor: the saved plan %s is for %s/%s, not %s/%s", cfg.ApplyPlan, saved.App, saved.Stage, cfg.App, cfg.Stage)
		}
		cfg.Destroy, cfg.Refresh = saved.Destroy, saved.p.Refresh
	}
	start := time.Now()
	rep := newReporter(cfg)
	defer rep.Close()
	if cfg.onReporter != nil {
		cfg.onReporter(rep)
		defer cfg.onReporter(nil)
	}
	mode := "deploy"
	switch {
	case cfg.Plan:
		mode = "plan"
	case cfg.Destroy:
		mode = "destroy"
	}
	res = &Result{App: cfg.App, Stage: cfg.Stage, Mode: mode}

	st, err := state.Open(ctx, cfg.State, cfg.App, cfg.Stage,
		state.WithLockTimeout(cfg.LockTimeout), state.WithLease(cfg.LockLease),
		state.WithLockWait(func(le *state.LockedError) { rep.LockWait(cfg.App, cfg.Stage, le, cfg.LockTimeout) }))
	if err != nil {
		return nil, fmt.Errorf("athanor: open state: %w", err)
	}
	defer st.Close()
	op := mode
	if cfg.Plan && cfg.Destroy {
		op = "plan destroy"
	}
	lock, err := st.Lock(ctx, state.NewLockInfo(op))
	if err != nil {
		return nil, fmt.Errorf("athanor: %w", err)
	}
	defer func() {
		if uerr := lock.Unlock(context.WithoutCancel(ctx)); uerr != nil && err == nil {
			err = fmt.Errorf("athanor: release stage lock: %w", uerr)
		}
	}()
	// A lost lock (lease run out, taken, forcibly unlocked) stops the run at
	// once: its context ends, so no further Cloud Control call is made, and
	// the backend refuses its writes anyway (see state.Lock).
	ctx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	go func() {
		select {
		case <-lock.Lost():
			stopRun(lock.Err())
		case <-ctx.Done():
		}
	}()

	client, target, stop, err := cfg.client(ctx)
	if err != nil {
		return nil, fmt.Errorf("athanor: %w", err)
	}
	defer stop()
	// The target's identity, before anything reads or changes it.
	identity, st, err := cfg.checkTarget(ctx, st, client, cfg.Plan)
	if err != nil {
		return nil, fmt.Errorf("athanor: %w", err)
	}
	rep.Header(cfg.App, cfg.Stage, op, withIdentity(target, identity))

	var eng *engine.Engine
	var prev *engine.Preview
	applying := false
	places := newPlacer(&cfg, client)
	finish := func(runErr error) (*Result, error) {
		if cause := context.Cause(ctx); errors.Is(cause, state.ErrLockLost) {
			runErr = &LockLostError{Cause: cause, Run: runErr}
		}
		s := engine.Summary{}
		if res.Plan != nil && !applying {
			s = res.Plan.p.Counts()
		} else if eng != nil {
			s = eng.Summary()
		}
		if eng != nil {
			res.Dependencies = eng.Dependencies()
			if prev != nil && !applying {
				for k, d := range prev.Dependencies() {
					res.Dependencies[k] = d
				}
			}
			for _, d := range eng.Drift() {
				res.Drift = append(res.Drift, Drift(d))
			}
		}
		s.Duration = time.Since(start)
		res.Created, res.Updated, res.Replaced, res.Deleted = s.Created, s.Updated, s.Replaced, s.Deleted
		res.Unchanged, res.Adopted, res.Resumed, res.Failed = s.Unchanged, s.Adopted, s.Resumed, s.Failed
		res.Forgotten, res.NotStarted, res.Interrupted = s.Forgotten, s.NotStarted, rep.InterruptedCount()
		res.Duration = s.Duration
		res.Stats = places.stats(client.Stats())
		done := mode
		if !applying && res.Plan != nil && (cfg.Plan || runErr != nil) {
			done = "plan"
		}
		rep.Done(done, s, res.Exports, runErr)
		return res, runErr
	}
	eng, err = engine.Load(ctx, engine.Options{
		App: cfg.App, Stage: cfg.Stage, Refresh: cfg.Refresh, State: st,
		Provider: provider{client}, Place: places.place, Registry: cfg.options().registry, Reporter: rep,
	})
	if err != nil {
		return finish(stopped(ctx, rep, err))
	}

	// The plan: computed without any change.
	var plan *engine.Plan
	if cfg.Destroy {
		plan = eng.PlanDestroy()
	} else {
		salt := ""
		if saved != nil {
			salt = saved.p.Salt
		}
		prev = eng.Preview(salt)
		r := &run{ctx: ctx, name: cfg.App, stage: cfg.Stage, decl: prev, reg: eng.Registry(), preview: true, placer: places, exports: map[string]any{}}
		perr := r.call(fn)
		errs := prev.Errors()
		if perr != nil || len(errs) > 0 {
			// Every declaration has an outcome: the valid ones were not
			// started (an event in JSON; the summary says why).
			for _, c := range prev.Valid() {
				rep.Rejected(c.Key, c.Type, errNotApplied, true)
			}
		}
		// The declarations' errors first: the program's own may follow
		// from them (a typed lookup that failed, say).
		switch {
		case perr != nil && ctx.Err() != nil:
			return finish(stopped(ctx, rep, perr))
		case perr != nil && len(errs) == 0:
			return finish(fmt.Errorf("program failed in the preview; nothing was changed: %w", perr))
		case len(errs) == 1:
			return finish(fmt.Errorf("1 declaration is invalid (see above); nothing was changed: %w", publicError(errs[0])))
		case len(errs) > 1:
			return finish(fmt.Errorf("%d declarations are invalid (see above); nothing was changed: %w", len(errs), errors.Join(errs...)))
		}
		plan = prev.Plan()
	}
	plan.Target = &identity
	res.Plan = publicPlan(plan)
	res.Changes = res.Plan.Changes
	if saved != nil {
		if err := sameTarget(saved, identity); err != nil {
			return finish(err)
		}
		if saved.StateDigest != plan.StateDigest {
			return finish(fmt.Errorf("%w: the saved plan %s was made from another state of %s/%s (another run has changed it since); make a new plan",
				ErrStalePlan, cfg.ApplyPlan, cfg.App, cfg.Stage))
		}
		if err := engine.SamePlan(saved.p, plan); err != nil {
			return finish(fmt.Errorf("the saved plan %s does not match the program: %w; nothing was changed", cfg.ApplyPlan, err))
		}
		plan = saved.p
		plan.Target = &identity
	}
	ask := cfg.Confirm != nil && !cfg.Yes && !plan.Empty()
	if cfg.Plan || ask || cfg.JSON {
		rep.PlanHeader(plan)
		for _, c := range plan.Changes {
			rep.Planned(c)
		}
	}
	if cfg.Plan {
		if cfg.Out != "" {
			if err := res.Plan.WriteFile(cfg.Out); err != nil {
				return finish(err)
			}
			rep.Note(fmt.Sprintf("Saved the plan to %s; apply it with --apply %s\n", cfg.Out, cfg.Out))
		}
		return finish(nil)
	}
	if ask {
		rep.Note(engine.PlanLine(plan.Counts()))
		ok, err := cfg.Confirm(res.Plan)
		if err != nil {
			return finish(fmt.Errorf("confirm the plan: %w", err))
		}
		if !ok {
			return finish(ErrNotConfirmed)
		}
	}

	// The plan applied.
	applying = true
	if err := eng.Apply(ctx, plan); err != nil {
		return finish(stopped(ctx, rep, err))
	}
	if cfg.Destroy {
		return finish(stopped(ctx, rep, eng.Destroy(ctx)))
	}
	r := &run{ctx: ctx, name: cfg.App, stage: cfg.Stage, decl: eng, reg: eng.Registry(), placer: places, exports: map[string]any{},
		goLimit: max(eng.Concurrency(), minGoLimit)}
	ferr := r.call(fn)
	res.Exports = r.exports
	if ferr != nil {
		if ctx.Err() != nil {
			return finish(stopped(ctx, rep, ferr))
		}
		return finish(fmt.Errorf("program failed; nothing was deleted: %w", ferr))
	}
	return finish(stopped(ctx, rep, eng.Finish(ctx, r.exports)))
}

// minGoLimit is the fewest functions of App.Go that run at once when a
// plan is applied, however low the concurrency: the program's own work in
// them (reading a file, computing a document) stays parallel.
const minGoLimit = 64

// errNotApplied is the outcome of a valid declaration whose preview found
// errors elsewhere.
var errNotApplied = errors.New("not started: the preview found errors, so nothing was changed")

// sameTarget refuses a saved plan computed for another cloud than the
// run's.
func sameTarget(p *Plan, actual state.Target) error {
	if p.Target == nil || p.Target.Same(actual) {
		return nil
	}
	return fmt.Errorf("the saved plan was made for %s, but this run's target is %s; nothing was changed", p.Target, actual)
}

// newReporter returns the reporter of a run: JSON lines, a live view on a
// terminal, or text with heartbeats.
func newReporter(cfg Config) *engine.Reporter {
	o := engine.ReporterOptions{JSON: cfg.JSON, Heartbeat: cfg.Heartbeat}
	if !cfg.JSON {
		o.Size, o.Live = engine.Terminal(cfg.Output)
	}
	return engine.NewReporterWith(cfg.Output, o)
}

// ErrInterrupted is wrapped by the error of a run stopped by SIGINT or
// SIGTERM (Main) or by the cancellation of Run's context: it started no
// new operation after that, and the operations in flight are recorded in
// state, so the next run resumes them. Main exits with status 130.
var ErrInterrupted = engine.ErrInterrupted

// stopped turns the error of a run whose context ended into one that says
// why it stopped and what the next run does; other errors pass unchanged.
func stopped(ctx context.Context, rep *engine.Reporter, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	cause := context.Cause(ctx)
	if errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded) {
		cause = fmt.Errorf("%w (%v)", ErrInterrupted, cause)
	}
	var inFlight string
	switch n := rep.InterruptedCount(); n {
	case 0:
		inFlight = "no operation was in flight"
	case 1:
		inFlight = "1 operation in flight is recorded and the next run resumes it"
	default:
		inFlight = fmt.Sprintf("%d operations in flight are recorded and the next run resumes them", n)
	}
	return fmt.Errorf("%w: %s; nothing undeclared was deleted", cause, inFlight)
}

// LockLostError is the error of a run stopped because it lost its stage
// lock (errors.Is state.ErrLockLost): the lease ran out while the run could
// not renew it (paused, or cut off from the state database), another run
// took it, or it was forcibly unlocked. The run sent no Cloud Control call
// after noticing, and its state writes after the loss were refused, so the
// operations it had in flight stay recorded as pending: the next run polls
// or repeats them with their recorded tokens.
type LockLostError struct {
	// Cause says how the lock was lost; it wraps state.ErrLockLost.
	Cause error
	// Run is what the stopped run itself failed with, if anything (mostly
	// the cancellation of its operations).
	Run error
}

// Error names the cause and what becomes of the operations in flight.
func (e *LockLostError) Error() string {
	return fmt.Sprintf("the stage lock was lost, so the run stopped: %v; no further change was sent, and the operations in flight are recorded in the state: the next run resumes them", e.Cause)
}

// Unwrap returns the cause (so errors.Is(err, state.ErrLockLost)) and the
// run's own error.
func (e *LockLostError) Unwrap() []error {
	if e.Run == nil {
		return []error{e.Cause}
	}
	return []error{e.Cause, e.Run}
}

// graphPlan is the configuration of the plan behind a Graph run of cfg:
// a plan whose text output is discarded (its error is Run's).
func graphPlan(cfg Config) Config {
	cfg.Graph, cfg.Plan, cfg.JSON, cfg.Output = "", true, false, io.Discard
	return cfg
}

func (cfg *Config) defaults() {
	if cfg.Stage == "" {
		cfg.Stage = DefaultStage
	}
	if cfg.State == "" {
		cfg.State = state.DefaultURL
	}
	switch {
	case cfg.Heartbeat == 0:
		cfg.Heartbeat = DefaultHeartbeat
	case cfg.Heartbeat < 0:
		cfg.Heartbeat = 0
	}
	if cfg.Output == nil {
		cfg.Output = os.Stdout
	}
	if cfg.Target == "" {
		if u := os.Getenv("AWS_ENDPOINT_URL_CLOUDCONTROL"); u != "" {
			cfg.Target = u
		} else {
			cfg.Target = TargetLocal
		}
	}
	if cfg.LocalDir == "" {
		// The embedded cloud keeps one account per stage, as teams keep one
		// AWS account per stage: two stages deploy at once without sharing
		// the emulator's database file.
		root := state.DefaultURL
		if u, err := state.ParseURL(cfg.State); err == nil && (u.Scheme == "" || u.Scheme == "file") {
			root = u.Path
		}
		cfg.LocalDir = filepath.Join(root, "local", cfg.Stage)
	}
}

// client returns the Cloud Control client for the configured target, a
// description of the target, and a function that releases what it started.
func (cfg *Config) client(ctx context.Context) (*cloudcontrol.Client, string, func(), error) {
	nop := func() {}
	o := cfg.options()
	if o.client != nil {
		return o.client, "the given client", nop, nil
	}
	opts := append([]cloudcontrol.Option{cloudcontrol.WithConcurrency(cfg.Concurrency)}, o.clientOptions...)
	if o.awsConfig != nil {
		return cloudcontrol.New(*o.awsConfig, opts...), "the given AWS configuration", nop, nil
	}
	switch target := cfg.Target; {
	case target == TargetLocal:
		eo := emulator.Instant()
		if o.emulator != nil {
			eo = *o.emulator
		}
		eo.DataDir = cfg.LocalDir
		if err := os.MkdirAll(eo.DataDir, 0o755); err != nil {
			return nil, "", nil, fmt.Errorf("local emulator: %w", err)
		}
		running, err := emulator.Start(context.WithoutCancel(ctx), "127.0.0.1:0", eo)
		if err != nil {
			return nil, "", nil, fmt.Errorf("start the local emulator on %s (another run may be using it; run a shared one with \"athanor emulator\" and pass --target): %w", eo.DataDir, err)
		}
		region := eo.Region
		if region == "" {
			region = cloudcontrol.DefaultRegion
		}
		creds := credentials.NewStaticCredentialsProvider(cloudcontrol.DummyAccessKeyID, cloudcontrol.DummySecretAccessKey, "")
		cfg := aws.Config{Region: region, Credentials: creds}
		c := cloudcontrol.New(cfg, append(opts, withEndpoint(running.URL))...)
		return c, "the local emulator (" + eo.DataDir + ")", func() { running.Close() }, nil
	case target == TargetAWS:
		awsCfg, err := cloudcontrol.LoadConfig(ctx, cloudcontrol.TargetAWS)
		if err != nil {
			return nil, "", nil, err
		}
		region := awsCfg.Region
		if region == "" {
			return nil, "", nil, errors.New("target aws: no region configured (set AWS_REGION or a profile's region)")
		}
		return cloudcontrol.New(awsCfg, opts...), "AWS " + region, nop, nil
	default:
		u, err := url.Parse(target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, "", nil, fmt.Errorf("target %q: want %q, %q or an http(s) endpoint URL", target, TargetLocal, TargetAWS)
		}
		// The configured region and credentials when there are any, else
		// cloudcontrol.DefaultRegion and dummy ones (an emulator accepts
		// any signature unless it checks credentials).
		epCfg, err := cloudcontrol.LoadConfig(ctx, target)
		if err != nil {
			return nil, "", nil, err
		}
		return cloudcontrol.New(epCfg, append(opts, withEndpoint(target))...), target, nop, nil
	}
}

// Option adjusts how a run reaches the cloud or reads schemas (see
// Config.Options).
type Option func(*options)

// options are what Option functions set.
type options struct {
	emulator      *emulator.Options
	awsConfig     *aws.Config
	client        *cloudcontrol.Client
	clientOptions []cloudcontrol.Option
	registry      *schema.Registry
}

// options applies cfg.Options.
func (cfg *Config) options() options {
	var o options
	for _, opt := range cfg.Options {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// WithEmulator configures the embedded emulator of the local target
// (latency, faults, ...); its DataDir is set from Config.LocalDir.
func WithEmulator(eo emulator.Options) Option {
	return func(o *options) { o.emulator = &eo }
}

// WithAWSConfig makes the run use c instead of the AWS configuration it
// would load for Config.Target.
func WithAWSConfig(c aws.Config) Option {
	return func(o *options) { o.awsConfig = &c }
}

// WithClient makes the run use c as its Cloud Control client; Target,
// WithAWSConfig and Concurrency are then ignored.
func WithClient(c *cloudcontrol.Client) Option {
	return func(o *options) { o.client = c }
}

// WithClientOptions adds options to the Cloud Control client a run builds.
func WithClientOptions(opts ...cloudcontrol.Option) Option {
	return func(o *options) { o.clientOptions = append(o.clientOptions, opts...) }
}

// WithRegistry makes the run validate against r instead of the embedded
// registry with the services' rules.
func WithRegistry(r *schema.Registry) Option {
	return func(o *options) { o.registry = r }
}

// withEndpoint points the client at endpoint, whatever the environment's
// endpoint variables say: the target was chosen explicitly.
func withEndpoint(endpoint string) cloudcontrol.Option {
	return cloudcontrol.WithSDKOptions(func(o *cc.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

func engineDisplay(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(string(data))
}

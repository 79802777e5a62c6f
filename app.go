package athanor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/athanor-dev/athanor/internal/engine"
	"github.com/athanor-dev/athanor/schema"
	"github.com/athanor-dev/athanor/state"
)

// App is a running program's view of its stage: resources are declared on
// it (it implements Declarer), scopes nest under it, and exports leave it.
// An App and its scopes are safe for concurrent use.
type App struct {
	run   *run
	scope string
	// placement is where the scope's resources live (App.In); nil: the
	// run's region and account.
	placement *state.Placement
}

// run is what an App and all its scopes share: one pass of the program,
// the preview (decl is the engine's Preview) or the application of the plan
// (decl is the engine).
type run struct {
	ctx     context.Context
	name    string
	stage   string
	decl    declarer
	reg     *schema.Registry
	preview bool
	placer  *placer
	// names caches, by type, the output names of its resources (Output's
	// "did you mean"), and of its lookups under "lookup "+type.
	names sync.Map
	group errgroup.Group
	// goLimit, when positive, bounds the functions of Go running at once
	// in the applying pass: goBusy run, goQueue wait their turn, in order.
	// goErr is the first error one of them returned.
	goLimit int
	goMu    sync.Mutex
	goBusy  int
	goQueue []func() error
	goErr   error
	mu      sync.Mutex
	exports map[string]any
	// errs are failures found outside a declaration (an export set twice,
	// a Name that names an unknown property); any fails the run.
	errs []error
}

// declarer is what declarations go to: the preview or the engine.
type declarer interface {
	Declare(ctx context.Context, d engine.Declaration) (*engine.Declared, error)
	Lookup(ctx context.Context, l engine.Lookup) (*engine.Declared, error)
}

// call runs the program fn on the run's App and waits for the functions it
// started with Go; it returns the first error, or the run's own errors.
func (r *run) call(fn func(*App) error) error {
	err := fn(&App{run: r})
	if werr := r.wait(); err == nil {
		err = werr
	}
	if err == nil {
		r.mu.Lock()
		err = errors.Join(r.errs...)
		r.mu.Unlock()
	}
	return err
}

// outputNames returns names(schema of typeName), computed once per cache
// key; nil for a type the registry does not have.
func (r *run) outputNames(cacheKey, typeName string, names func(*schema.Schema) []string) []string {
	if v, ok := r.names.Load(cacheKey); ok {
		return v.([]string)
	}
	s, err := r.reg.Lookup(typeName)
	if err != nil {
		return nil
	}
	v, _ := r.names.LoadOrStore(cacheKey, names(s))
	return v.([]string)
}

// fail records an error that fails the run when the program returns.
func (r *run) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

var _ Declarer = (*App)(nil)

// Name returns the application's name.
func (a *App) Name() string { return a.run.name }

// Stage returns the stage being deployed, e.g. "dev".
func (a *App) Stage() string { return a.run.stage }

// Context returns the run's context: cancelled when the run is interrupted.
func (a *App) Context() context.Context { return a.run.ctx }

// Previewing reports whether this pass of the program is the preview that
// computes the plan (nothing is sent or written; outputs not known yet are
// placeholders, see IsUnknown) rather than the one applying it. A program
// runs twice per deploy: side effects of its own that must happen once
// (sending a notification, writing a file) belong in the second pass.
func (a *App) Previewing() bool { return a.run.preview }

// Path returns the scope path, "" for the App itself.
func (a *App) Path() string { return a.scope }

// Scope returns a nested scope: resources declared in it get keys
// "<scope path>/<logical id>", so the same logical id can be used in
// different scopes. name must be a valid record key element: non-empty,
// valid UTF-8, without '/' or NUL, and the whole key at most 1024 bytes;
// otherwise Scope returns an error saying what is wrong.
func (a *App) Scope(name string) (*App, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || !utf8.ValidString(name) {
		return nil, fmt.Errorf("athanor: scope name %q: want a non-empty UTF-8 name without '/' or NUL", name)
	}
	path := name
	if a.scope != "" {
		path = a.scope + "/" + name
	}
	if err := state.ValidateKey(path); err != nil {
		return nil, fmt.Errorf("athanor: scope %q: %w", name, err)
	}
	return &App{run: a.run, scope: path, placement: a.placement}, nil
}

// Declare makes the resource typeName (a registry type such as
// "AWS::Logs::LogGroup") exist with props — a map[string]any, a struct
// that encodes to the type's JSON model, or raw JSON — and returns it with
// its identifier and outputs. The properties are validated against the
// type's schema before any API call; the error names every offending
// property path. Typed constructors (aws/iot.NewJobTemplate, ...) call it.
func (a *App) Declare(typeName, logicalID string, props any, opts ...ResourceOption) (*Resource, error) {
	var o ResourceOptions
	for _, opt := range opts {
		opt(&o)
	}
	d := engine.Declaration{Scope: a.scope, LogicalID: logicalID, Type: typeName, Props: props, Adopt: o.Adopt, Retain: o.Retain, Placement: a.placement}
	for _, r := range o.DependsOn {
		if r != nil {
			d.DependsOn = append(d.DependsOn, r.Key)
		}
	}
	res, err := a.run.decl.Declare(a.run.ctx, d)
	if err != nil {
		return nil, publicError(err)
	}
	r := &Resource{Type: typeName, LogicalID: logicalID, Key: res.Key, Identifier: res.Identifier, Outputs: res.Outputs}
	if s, err := a.run.reg.Lookup(typeName); err == nil {
		r.outputNames = a.run.outputNames(typeName, typeName, func(s *schema.Schema) []string {
			return schema.TopLevelNames(s.ReadOnly, s.PrimaryIdentifier)
		})
		if len(s.PrimaryIdentifier) == 1 {
			r.idProperty = strings.TrimPrefix(s.PrimaryIdentifier[0], "/properties/")
		}
	}
	return r, nil
}

// Lookup reads the existing resource typeName with the given Cloud Control
// identifier without managing it: its properties and outputs (Outputs,
// Output) feed declarations like any other resource's, and a declaration
// using them depends on it. The plan shows it as a read; it is never
// changed or deleted, and the stage's state lists it as read until the
// program no longer looks it up. A resource that does not exist is an
// error of the preview, before any change. logicalID names it in the stage
// like a declaration's, and must not be one the stage manages.
func (a *App) Lookup(typeName, logicalID, identifier string) (*Resource, error) {
	res, err := a.run.decl.Lookup(a.run.ctx, engine.Lookup{Scope: a.scope, LogicalID: logicalID, Type: typeName, Identifier: identifier, Placement: a.placement})
	if err != nil {
		return nil, publicError(err)
	}
	r := &Resource{Type: typeName, LogicalID: logicalID, Key: res.Key, Identifier: res.Identifier, Outputs: res.Outputs}
	r.outputNames = a.run.outputNames("lookup "+typeName, typeName, (*schema.Schema).PropertyNames)
	return r, nil
}

// Export records a named value of the run (an ARN, an endpoint, ...): it is
// printed at the end and kept in the stage's state. Export names are shared
// by all scopes; exporting one name twice fails the run.
func (a *App) Export(name string, value any) {
	a.run.mu.Lock()
	defer a.run.mu.Unlock()
	if _, ok := a.run.exports[name]; ok {
		a.run.errs = append(a.run.errs, fmt.Errorf("export %q set twice", name))
		return
	}
	a.run.exports[name] = value
}

// Go runs fn in a new goroutine, for declaring resources in parallel. The
// run waits for every fn before finishing; the first error fails the run,
// as with errgroup.Group. Wait waits earlier, for outputs a later
// declaration needs.
//
// In the preview that computes the plan (where no call is made, so there
// is nothing to wait for), fn runs at once, before Go returns: the plan
// then lists the changes in the same order on every run. Functions must
// therefore not wait for one started after them. When the plan is
// applied, as many functions run at once as Cloud Control operations may
// be in flight (the concurrency, or its cap when it adapts; at least 64):
// the others start, each in a new goroutine, in the order they were given,
// as those return. A program of 10,000 functions thus keeps closures in
// memory rather than 10,000 goroutine stacks waiting their turn.
func (a *App) Go(fn func() error) {
	r := a.run
	if r.preview {
		if err := fn(); err != nil {
			r.goFailed(err)
		}
		return
	}
	r.goMu.Lock()
	if r.goLimit > 0 && r.goBusy >= r.goLimit {
		r.goQueue = append(r.goQueue, fn)
		r.goMu.Unlock()
		return
	}
	r.goBusy++
	r.goMu.Unlock()
	r.start(fn)
}

// start runs fn in a new goroutine that, when fn returns, starts the next
// queued function of Go, in a goroutine of its own too (a new goroutine's
// stack is small; one that made calls keeps what it grew).
func (r *run) start(fn func() error) {
	r.group.Go(func() error {
		if err := fn(); err != nil {
			r.goFailed(err)
		}
		r.goMu.Lock()
		var next func() error
		if len(r.goQueue) > 0 {
			next = r.goQueue[0]
			r.goQueue[0] = nil
			r.goQueue = r.goQueue[1:]
		} else {
			r.goQueue = nil
			r.goBusy--
		}
		r.goMu.Unlock()
		if next != nil {
			r.start(next)
		}
		return nil
	})
}

// goFailed records the error of a function of Go; the first is the run's.
func (r *run) goFailed(err error) {
	r.goMu.Lock()
	if r.goErr == nil {
		r.goErr = err
	}
	r.goMu.Unlock()
}

// wait waits for every function of Go and returns the first error one
// returned.
func (r *run) wait() error {
	r.group.Wait()
	r.goMu.Lock()
	defer r.goMu.Unlock()
	return r.goErr
}

// Wait waits for every function started with Go and returns the first
// error any of them returned.
func (a *App) Wait() error { return a.run.wait() }

func outputString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		return engineDisplay(x)
	}
}

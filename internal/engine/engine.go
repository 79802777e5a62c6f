// Package engine is the machinery behind package athanor: it converges each
// declared resource through Cloud Control, keeps every step in durable
// state so that a run killed at any instant is resumed by the next, deletes
// what is no longer declared, and reports progress.
package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/internal/par"
	"github.com/athanor-dev/athanor/schema"
	"github.com/athanor-dev/athanor/schema/services"
	"github.com/athanor-dev/athanor/state"
)

// Options configure an Engine.
type Options struct {
	App, Stage string
	// Refresh reads every recorded resource back when the stage is loaded,
	// before the preview: drift on readable properties is reported and
	// becomes part of the plan (the declaration converges it), and a
	// resource deleted behind Athanor's back is planned for creation. The
	// refreshed records are written when a plan is applied.
	Refresh bool
	// State is the stage's backend; the caller holds its lock.
	State state.Backend
	// Provider reaches Cloud Control in the run's region and account.
	Provider Provider
	// Place, when set, reaches Cloud Control where a placement says: the
	// region and account of resources the program put elsewhere (see
	// state.Placement). It is asked once per placement and may refuse one
	// whose credentials now resolve to another account than recorded.
	Place func(ctx context.Context, p *state.Placement) (Provider, error)
	// Registry holds the resource schemas; nil means services.Default(), the
	// embedded registry with the services' own rules.
	Registry *schema.Registry
	// Reporter receives progress; nil discards it.
	Reporter *Reporter
	// Admission bounds the declarations, deletions and resumptions doing
	// work at once (schema lookup, validation, diff, state writes and
	// provider calls); the others wait, cheaply, before starting. Zero
	// means AdmissionPerSlot times the provider's concurrency when it
	// reports one (see Concurrent), else times
	// cloudcontrol.DefaultConcurrency. A provider whose bound adapts
	// reports its cap: the engine admits enough work for the bound at its
	// highest, and the provider's own slots bound the calls below that.
	Admission int
}

// AdmissionPerSlot is how many operations the engine admits per provider
// concurrency slot by default: one calling the provider and one preparing
// the next call (lookup, validation, diff), so that the provider never
// waits for work while the goroutines of a large program that wait for
// admission keep their initial, small stacks instead of each growing one
// through validation and then blocking on the provider.
const AdmissionPerSlot = 2

// Concurrent is implemented by a Provider that bounds its operations in
// flight; the engine sizes its default admission from it.
type Concurrent interface {
	// Concurrency returns the most operations the provider has in flight
	// at once: its fixed bound, or the cap of one that adapts.
	Concurrency() int
}

// Engine converges the resources of one run. It is safe for concurrent use.
type Engine struct {
	o     Options
	start time.Time

	// admission bounds the operations doing work at once (Options.Admission).
	// It is always taken before a slot's mutex, never while holding one,
	// and never held while waiting for another operation, so it cannot
	// deadlock.
	admission *semaphore.Weighted
	// concurrency is the provider's bound (Concurrency).
	concurrency int

	mu      sync.Mutex
	slots   map[string]*slot
	nextSeq int64
	values  valueIndex          // identifier and output values → key, for dependency detection
	deps    map[string][]string // each declared key's dependencies, as this run found them
	sum     Summary
	drift   []Drift
	digest  string // of the state as loaded (Plan.StateDigest)

	// plan is the plan being applied (Apply); halted, once set, is the
	// deviation from it that stopped the run: nothing new starts.
	plan   *Plan
	halted error
	// decisions are the preview's, by key, for declarations that held no
	// value not known yet (see previewed).
	decisions map[string]*decision
	// placed caches the providers of placements (see Options.Place), by
	// placement without its account.
	placedMu sync.Mutex
	placed   map[state.Placement]placedProvider
	// previewReads are the preview's lookups, reads those of the run
	// applying the plan (written to the stage's metadata).
	previewReads, reads map[string]*read

	// secrets conceals write-only values in the provider's errors.
	secrets concealer
}

// slot is one key of the stage: its record and what this run did with it.
type slot struct {
	mu        sync.Mutex // held while a goroutine works on the record
	key       string
	rec       *state.Record // nil when the stage holds no record
	declared  bool
	resumed   bool // this run finished the record's interrupted operation
	refreshed bool // a refresh changed rec in memory; Apply writes it
	// outputs are the outputs of outputsOf as Load decoded them, until
	// the preview takes them for its answer (see takeDeclared).
	outputs   map[string]any
	outputsOf *state.Record
}

// Declaration is one resource as the program declares it.
type Declaration struct {
	Scope, LogicalID, Type string
	// Props is a typed Args struct, a map[string]any or raw JSON.
	Props any
	// Adopt takes over an existing resource on AlreadyExists.
	Adopt bool
	// DependsOn lists keys of resources this one depends on explicitly.
	DependsOn []string
	// Placement is where the resource is to live (nil: the run's region
	// and account); moving a resource replaces it.
	Placement *state.Placement
	// Retain records that the resource is to be kept in the cloud when it
	// is no longer declared or the stage is destroyed: its record is then
	// removed without an API call (forgotten). Replacements still delete
	// the old resource.
	Retain bool
}

// Declared is the engine's answer to a Declaration.
type Declared struct {
	Key        string
	Identifier string
	Outputs    map[string]any
}

// ResourceError is a failure of one resource; it names the resource and
// wraps the cause (a *schema.ValidationError names the property paths).
type ResourceError struct {
	Key, Type string
	Err       error
}

func (e *ResourceError) Error() string {
	var v *schema.ValidationError
	if errors.As(e.Err, &v) && len(v.Violations) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "%s (%s): invalid properties:", e.Key, e.Type)
		for _, x := range v.Violations {
			fmt.Fprintf(&b, "\n  %s", x)
		}
		return b.String()
	}
	return fmt.Sprintf("%s (%s): %v", e.Key, e.Type, e.Err)
}

// Unwrap returns the cause.
func (e *ResourceError) Unwrap() error { return e.Err }

// ErrDuplicate is wrapped by the error of a second declaration of a key.
var ErrDuplicate = errors.New("declared twice")

// Load reads the stage's records and, with Refresh, reads every recorded
// resource back (in memory: nothing is written). It makes no change: a plan
// is computed from it (Preview, PlanDestroy) and then applied (Apply). The
// caller must hold the stage lock.
func Load(ctx context.Context, o Options) (*Engine, error) {
	if o.Registry == nil {
		o.Registry = services.Default()
	}
	if o.Reporter == nil {
		o.Reporter = NewReporter(nil, false)
	}
	concurrency := cloudcontrol.DefaultConcurrency
	if c, ok := o.Provider.(Concurrent); ok && c.Concurrency() > 0 {
		concurrency = c.Concurrency()
	}
	if o.Admission <= 0 {
		o.Admission = AdmissionPerSlot * concurrency
	}
	e := &Engine{o: o, start: time.Now(), concurrency: concurrency, slots: map[string]*slot{}, deps: map[string][]string{}, decisions: map[string]*decision{},
		previewReads: map[string]*read{}, reads: map[string]*read{},
		admission: semaphore.NewWeighted(int64(o.Admission))}
	e.o.Provider = concealing{Provider: o.Provider, c: &e.secrets}
	e.placed = map[state.Placement]placedProvider{}
	recs, err := o.State.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	meta, err := o.State.GetMeta(ctx)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	if e.digest, err = stateDigest(recs, meta); err != nil {
		return nil, err
	}
	if meta != nil {
		e.nextSeq = meta.NextSeq
	}
	e.slots = make(map[string]*slot, len(recs))
	e.decisions = make(map[string]*decision, len(recs))
	e.values.exact = make(map[string]string, 2*len(recs))
	// The recorded outputs, decoded once on every CPU: for the value index
	// here, and for the preview's answer to the resource's declaration.
	// A record whose outputs do not decode is left to declaredFrom, which
	// reports it when the resource is declared.
	outputs := make([]map[string]any, len(recs))
	par.For(len(recs), loadChunk, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			outputs[i], _ = recordedOutputs(recs[i])
		}
	})
	for i, r := range recs {
		sl := &slot{key: r.Key, rec: r}
		e.slots[r.Key] = sl
		if r.Pending != nil {
			// A resumed operation sends this desired state again.
			e.secrets.addRecorded(o.Registry, r.Type, r.Pending.Desired)
		}
		if r.Seq >= e.nextSeq {
			e.nextSeq = r.Seq + 1
		}
		e.values.add(r.Key, r.Identifier)
		if outputs[i] != nil {
			stringLeaves(outputs[i], func(s string) { e.values.add(r.Key, s) })
			sl.outputs, sl.outputsOf = outputs[i], r
		}
	}
	if o.Refresh {
		if err := e.refreshAll(ctx); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Apply makes e the executor of plan, a plan of this stage computed from
// the state e loaded (Preview or PlanDestroy, or a saved plan whose
// StateDigest is e's): it writes the records a refresh changed and
// finishes every operation an earlier run left pending. The program is
// then run again, each declaration (Declare) executing its planned change,
// and Finish (or Destroy) ends the run.
func (e *Engine) Apply(ctx context.Context, plan *Plan) error {
	if plan == nil {
		return errors.New("engine: apply without a plan")
	}
	if plan.StateDigest != e.digest {
		return fmt.Errorf("%w: the plan was computed from state %s, the stage's state is now %s", ErrStalePlan, short(plan.StateDigest), short(e.digest))
	}
	e.plan = plan
	var refreshed []*slot
	e.mu.Lock()
	for _, sl := range e.slots {
		if sl.refreshed {
			refreshed = append(refreshed, sl)
		}
	}
	e.mu.Unlock()
	for _, sl := range refreshed {
		sl.mu.Lock()
		err := e.put(ctx, sl, sl.rec)
		sl.refreshed = false
		sl.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return e.resumeAll(ctx)
}

// ErrStalePlan is wrapped by the error of applying a plan computed from
// another state of the stage than its state now.
var ErrStalePlan = errors.New("the stage's state changed since the plan was made")

// Summary returns what the run did so far.
func (e *Engine) Summary() Summary {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sum
	s.Duration = time.Since(e.start)
	return s
}

// Dependencies returns the keys each resource depends on: for a resource
// declared in this run, the dependencies its declaration has (detected or
// explicit); for any other recorded one, those its record holds. Call it
// once the run is over.
func (e *Engine) Dependencies() map[string][]string {
	e.mu.Lock()
	out := make(map[string][]string, len(e.slots))
	for k, d := range e.deps {
		out[k] = append([]string(nil), d...)
	}
	slots := make([]*slot, 0, len(e.slots))
	for _, sl := range e.slots {
		slots = append(slots, sl)
	}
	e.mu.Unlock()
	for _, sl := range slots {
		sl.mu.Lock()
		if _, declared := out[sl.key]; !declared && sl.rec != nil && len(sl.rec.DependsOn) > 0 {
			out[sl.key] = append([]string(nil), sl.rec.DependsOn...)
		}
		sl.mu.Unlock()
	}
	return out
}

// Drift returns the drift a refresh found.
func (e *Engine) Drift() []Drift {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Drift(nil), e.drift...)
}

func (e *Engine) count(f func(*Summary)) {
	e.mu.Lock()
	f(&e.sum)
	e.mu.Unlock()
}

// Declare makes one declared resource match its declaration by executing
// its change of the plan being applied, and returns its identifier and
// outputs. A declaration whose change is not the planned one (see
// DeviationError) is refused before any call, and the run starts nothing
// new after it.
func (e *Engine) Declare(ctx context.Context, d Declaration) (*Declared, error) {
	if e.plan == nil || e.plan.Destroy {
		return nil, errors.New("engine: declare without a deploy plan being applied")
	}
	key := d.LogicalID
	if d.Scope != "" {
		key = d.Scope + "/" + d.LogicalID
	}
	if d.LogicalID == "" || strings.Contains(d.LogicalID, "/") {
		return nil, &ResourceError{Key: key, Type: d.Type, Err: fmt.Errorf("logical id %q must be non-empty and contain no '/'", d.LogicalID)}
	}
	e.mu.Lock()
	sl := e.slots[key]
	if sl == nil {
		sl = &slot{key: key}
		e.slots[key] = sl
	}
	if sl.declared {
		e.sum.Failed++
		e.mu.Unlock()
		scope := d.Scope
		if scope == "" {
			scope = "(root)"
		}
		err := &ResourceError{Key: key, Type: d.Type, Err: fmt.Errorf("logical id %q in scope %s: %w", d.LogicalID, scope, ErrDuplicate)}
		e.o.Reporter.Failed(key, d.Type, err)
		return nil, err
	}
	sl.declared = true
	e.mu.Unlock()

	var res *Declared
	err := e.admit(ctx)
	if err == nil {
		res, err = e.declare(ctx, sl, key, d)
		e.release()
	}
	if err != nil {
		switch {
		case ctx.Err() == nil || !Interrupted(err):
			e.count(func(s *Summary) { s.Failed++ })
		case errors.Is(err, errNotStarted):
			e.count(func(s *Summary) { s.NotStarted++ })
		}
		var re *ResourceError
		if !errors.As(err, &re) {
			err = &ResourceError{Key: key, Type: d.Type, Err: err}
		}
		// An outcome for every declaration: those that failed before (or
		// after) their operation, and those a cancelled run did not start.
		e.o.Reporter.Rejected(key, d.Type, err, ctx.Err() != nil && Interrupted(err))
		return nil, err
	}
	e.values.addDeclared(res)
	return res, nil
}

// admit waits until the engine admits one more operation (see
// Options.Admission), or returns ctx's error if it ends first. Every admit
// that succeeded is followed by one release. An admitted operation must not
// wait for another one, and admit is never called with a slot's mutex held.
func (e *Engine) admit(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		// A cancelled run starts nothing new, even with admission free.
		return fmt.Errorf("%w: %w", errNotStarted, err)
	}
	e.mu.Lock()
	halted := e.halted
	e.mu.Unlock()
	if halted != nil {
		return fmt.Errorf("%w: the run stopped at a change that differs from the plan", errNotStarted)
	}
	if err := e.admission.Acquire(ctx, 1); err != nil {
		return fmt.Errorf("%w (waiting to start): %w", errNotStarted, err)
	}
	return nil
}

// errNotStarted is wrapped by the error of an operation that a cancelled
// run never started.
var errNotStarted = errors.New("not started")

// release ends an admitted operation.
func (e *Engine) release() { e.admission.Release(1) }

func (e *Engine) declare(ctx context.Context, sl *slot, key string, d Declaration) (*Declared, error) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	dec, reused := e.previewed(key, sl.rec, d)
	if !reused {
		var err error
		if dec, err = e.decide(key, sl.rec, d, nil); err != nil {
			return nil, err
		}
	}
	if err := e.conformed(dec, reused); err != nil {
		e.mu.Lock()
		if e.halted == nil {
			e.halted = err
		}
		e.mu.Unlock()
		return nil, err
	}
	e.mu.Lock()
	e.deps[key] = dec.deps
	e.mu.Unlock()
	rec := sl.rec
	if rec != nil {
		// Retain is recorded with whatever write converges the resource;
		// a resource that is otherwise unchanged is written for it alone.
		rec.Retain = d.Retain
	}
	c := dec.change
	switch c.Action {
	case ActionCreate:
		return e.create(ctx, sl, dec.s, dec.model, dec.deps, d, "")
	case ActionUpdate:
		return e.update(ctx, sl, dec.s, dec.model, dec.deps, c, dec.patch)
	case ActionReplace:
		return e.replace(ctx, sl, dec.s, dec.model, dec.deps, d, c)
	default:
		return e.noop(ctx, sl, dec.deps, dec.retainChanged, dec.declared)
	}
}

// replaceOrder decides how a replacement proceeds: a resource whose new
// identifier is the old one (a name the user chose and kept) must be
// deleted first, since creating first would fail with AlreadyExists.
func replaceOrder(s *schema.Schema, oldID string, model map[string]any) (Order, string) {
	if s.ReplacementStrategy == "delete_then_create" {
		return DeleteFirst, "the type replaces delete-then-create"
	}
	newID, err := s.Identifier(model)
	switch {
	case err != nil || newID == "":
		return CreateFirst, "the service assigns the new identifier"
	case newID == oldID:
		return DeleteFirst, "identifier " + oldID + " is kept"
	default:
		return CreateFirst, "identifier changes to " + newID
	}
}

func (e *Engine) newRecord(sl *slot, s *schema.Schema, d Declaration) *state.Record {
	e.mu.Lock()
	seq := e.nextSeq
	e.nextSeq++
	e.mu.Unlock()
	now := time.Now().UTC()
	return &state.Record{
		FormatVersion: state.FormatVersion, Key: sl.key, Scope: d.Scope, LogicalID: d.LogicalID,
		Type: s.TypeName, Seq: seq, Status: state.StatusCreating, Retain: d.Retain, CreatedAt: now, UpdatedAt: now,
	}
}

// loadChunk is the fewest records a goroutine of Load works on.
const loadChunk = 256

// recordedOutputs decodes rec's outputs (none is an empty map).
func recordedOutputs(rec *state.Record) (map[string]any, error) {
	if len(rec.Outputs) == 0 {
		return map[string]any{}, nil
	}
	m, err := decodeModel(rec.Outputs)
	if err != nil {
		return nil, fmt.Errorf("recorded outputs: %w", err)
	}
	return m, nil
}

// takeDeclared is declaredFrom(rec), from the outputs Load decoded when
// they are rec's and not taken yet. The caller holds sl.mu.
func (sl *slot) takeDeclared(rec *state.Record) (*Declared, error) {
	if sl.outputsOf != rec || rec == nil {
		return declaredFrom(rec)
	}
	out := sl.outputs
	sl.outputs, sl.outputsOf = nil, nil
	return &Declared{Key: rec.Key, Identifier: rec.Identifier, Outputs: out}, nil
}

func declaredFrom(rec *state.Record) (*Declared, error) {
	out, err := recordedOutputs(rec)
	if err != nil {
		return nil, err
	}
	return &Declared{Key: rec.Key, Identifier: rec.Identifier, Outputs: out}, nil
}

// noop keeps sl's resource as it is; known, when set, is its identifier and
// outputs as the preview read them from the same record.
func (e *Engine) noop(ctx context.Context, sl *slot, deps []string, retainChanged bool, known *Declared) (*Declared, error) {
	rec := sl.rec
	if !sl.resumed {
		e.count(func(s *Summary) { s.Unchanged++ })
	}
	if retainChanged || !slices.Equal(rec.DependsOn, deps) {
		rec.DependsOn = deps
		rec.UpdatedAt = time.Now().UTC()
		if err := e.o.State.Put(ctx, rec); err != nil {
			return nil, fmt.Errorf("write state: %w", err)
		}
	}
	if known != nil && known.Identifier == rec.Identifier {
		// A copy: the preview's program had the same map.
		return &Declared{Key: known.Key, Identifier: known.Identifier, Outputs: maps.Clone(known.Outputs)}, nil
	}
	return declaredFrom(rec)
}

// Concurrency returns the most Cloud Control operations the engine has in
// flight at once: the provider's bound (its cap when the bound adapts, see
// Concurrent), else cloudcontrol.DefaultConcurrency.
func (e *Engine) Concurrency() int { return e.concurrency }

// Registry returns the registry the engine validates declarations against.
func (e *Engine) Registry() *schema.Registry { return e.o.Registry }

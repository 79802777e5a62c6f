package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/athanor-dev/athanor/state"
)

// Lookup is a read of an existing resource that the stage does not manage:
// its properties and outputs feed declarations, it is never changed or
// deleted, and the plan shows it as a read.
type Lookup struct {
	Scope, LogicalID, Type string
	// Identifier is the resource's Cloud Control primary identifier.
	Identifier string
	// Placement is where the resource lives (nil: the run's region and
	// account).
	Placement *state.Placement
}

// key returns the lookup's key in the stage.
func (l Lookup) key() string { return state.Key(l.Scope, l.LogicalID) }

// read is a lookup's answer, kept from the preview for the application of
// its plan and recorded in the stage's metadata.
type read struct {
	typ, identifier string
	placement       string // Change.Placement of where it was read
	declared        *Declared
	at              time.Time
}

// ErrLookupNotFound is wrapped by the error of a lookup of a resource that
// does not exist.
var ErrLookupNotFound = errors.New("no such resource")

// readResource reads l's resource: every property the read returns, as the
// lookup's outputs.
func (e *Engine) readResource(ctx context.Context, l Lookup) (*read, error) {
	s, err := e.o.Registry.Lookup(l.Type)
	if err != nil {
		return nil, err
	}
	if !s.Handlers.Read {
		return nil, fmt.Errorf("%s has no read handler: it cannot be looked up", s.TypeName)
	}
	if l.Identifier == "" || IsUnknown(l.Identifier) {
		return nil, fmt.Errorf("a lookup needs the identifier of an existing resource, not %q", l.Identifier)
	}
	raw, err := e.get(ctx, l.Placement, s.TypeName, l.Identifier)
	if isGone(err) {
		return nil, fmt.Errorf("%w: no %s with identifier %q exists (a lookup reads an existing resource; declare it to create it)", ErrLookupNotFound, s.TypeName, l.Identifier)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", l.Identifier, err)
	}
	model, err := decodeModel(raw)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", l.Identifier, err)
	}
	if model == nil {
		model = map[string]any{}
	}
	placement := ""
	if !l.Placement.IsZero() {
		placement = l.Placement.String()
	}
	return &read{typ: s.TypeName, identifier: l.Identifier, at: time.Now().UTC(), placement: placement,
		declared: &Declared{Key: l.key(), Identifier: l.Identifier, Outputs: model}}, nil
}

// checkLookup refuses a lookup whose key the stage manages.
func (e *Engine) checkLookup(l Lookup) error {
	if l.LogicalID == "" || strings.Contains(l.LogicalID, "/") {
		return fmt.Errorf("logical id %q must be non-empty and contain no '/'", l.LogicalID)
	}
	e.mu.Lock()
	sl := e.slots[l.key()]
	e.mu.Unlock()
	if sl != nil {
		sl.mu.Lock()
		managed := sl.rec != nil
		sl.mu.Unlock()
		if managed {
			return fmt.Errorf("%s is a resource this stage manages; a lookup needs another logical id", l.key())
		}
	}
	return nil
}

// Lookup reads an existing resource in the preview: its change is a read,
// and a resource that does not exist is an error (collected, as every
// preview error; the answer is then placeholders).
func (p *Preview) Lookup(ctx context.Context, l Lookup) (*Declared, error) {
	key := l.key()
	en := p.begin(key, l.Type)
	fail := func(err error) (*Declared, error) {
		en.err = &ResourceError{Key: key, Type: l.Type, Err: err}
		close(en.done)
		out := &Declared{Key: key, Identifier: l.Identifier, Outputs: map[string]any{}}
		if s, serr := p.e.o.Registry.Lookup(l.Type); serr == nil {
			for _, name := range s.PropertyNames() {
				out.Outputs[name] = p.u.placeholder(key, name)
			}
		}
		return out, nil
	}
	p.mu.Lock()
	dup := p.declared[key]
	p.declared[key] = true
	p.mu.Unlock()
	if dup {
		return fail(fmt.Errorf("logical id %q: %w", l.LogicalID, ErrDuplicate))
	}
	if err := p.e.checkLookup(l); err != nil {
		return fail(err)
	}
	r, err := p.e.readResource(ctx, l)
	if err != nil {
		return fail(err)
	}
	c := Change{Key: key, Type: r.typ, Action: ActionRead, Identifier: l.Identifier}
	if !l.Placement.IsZero() {
		c.Placement = l.Placement.String()
	}
	en.read = &c
	close(en.done)
	p.e.mu.Lock()
	p.e.previewReads[key] = r
	p.e.mu.Unlock()
	// The declarations before it find their dependencies without its
	// values, as they would have had they been worked out at once.
	p.settle()
	p.e.values.addDeclared(r.declared)
	return cloneDeclared(r.declared), nil
}

// Lookup reads an existing resource while a plan is applied: the plan must
// have its read; the preview's read is used when there was one.
func (e *Engine) Lookup(ctx context.Context, l Lookup) (*Declared, error) {
	key := l.key()
	fail := func(err error) (*Declared, error) {
		e.count(func(s *Summary) { s.Failed++ })
		err = &ResourceError{Key: key, Type: l.Type, Err: err}
		e.o.Reporter.Failed(key, l.Type, err)
		return nil, err
	}
	if e.plan == nil || e.plan.Destroy {
		return nil, errors.New("engine: lookup without a deploy plan being applied")
	}
	planned, ok := e.plan.Change(key)
	placement := ""
	if !l.Placement.IsZero() {
		placement = l.Placement.String()
	}
	if !ok || planned.Action != ActionRead || planned.Identifier != l.Identifier || planned.Placement != placement {
		detail := "the plan has no read of it"
		if ok {
			detail = fmt.Sprintf("the plan has %s %s in %s", planned.Action, planned.Identifier, placementText(planned.Placement))
		}
		err := &DeviationError{Key: key, Type: l.Type, Detail: detail}
		e.mu.Lock()
		if e.halted == nil {
			e.halted = err
		}
		e.mu.Unlock()
		return fail(err)
	}
	e.mu.Lock()
	r := e.previewReads[key]
	e.mu.Unlock()
	if r == nil || r.identifier != l.Identifier || r.placement != placement {
		var err error
		if r, err = e.readResource(ctx, l); err != nil {
			return fail(err)
		}
	}
	e.mu.Lock()
	e.reads[key] = r
	e.mu.Unlock()
	e.values.addDeclared(r.declared)
	return cloneDeclared(r.declared), nil
}

// reads returns the lookups of the run, for the stage's metadata.
func (e *Engine) readRecords() map[string]state.Read {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.reads) == 0 {
		return nil
	}
	out := make(map[string]state.Read, len(e.reads))
	for k, r := range e.reads {
		out[k] = state.Read{Type: r.typ, Identifier: r.identifier, ReadAt: r.at}
	}
	return out
}

// cloneDeclared copies d and its outputs map: each pass of the program gets
// its own.
func cloneDeclared(d *Declared) *Declared {
	return &Declared{Key: d.Key, Identifier: d.Identifier, Outputs: maps.Clone(d.Outputs)}
}

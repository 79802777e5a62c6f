package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/schema"
	"github.com/athanor-dev/athanor/state"
)

// definite reports whether err says for certain that a mutation did not
// take effect (a FAILED event or a rejected request), as opposed to an
// outcome that is unknown (a crash, a cancelled context, a network error),
// where the pending record must stay for the next run to resume.
func definite(err error) bool {
	var oe *cloudcontrol.OperationError
	if errors.As(err, &oe) {
		return true
	}
	for _, target := range []error{cloudcontrol.ErrInvalidRequest, cloudcontrol.ErrAlreadyExists,
		cloudcontrol.ErrNotFound, cloudcontrol.ErrNotUpdatable} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// mutate runs op while keeping *pp — the pending slot of rec or of one of
// its retired resources — durable in state: written with the ClientToken
// before every call and with the RequestToken right after. A non-empty
// requestToken or clientToken resumes an earlier attempt instead of
// starting a new one.
func (e *Engine) mutate(ctx context.Context, rec *state.Record, pp **state.Pending, status state.Status,
	op cloudcontrol.Operation, pl *state.Placement, clientToken, requestToken string) (cloudcontrol.ProgressEvent, error) {
	prov, err := e.provider(ctx, pl)
	if err != nil {
		return cloudcontrol.ProgressEvent{}, err
	}
	hooks := cloudcontrol.Hooks{
		BeforeSend: func(ctx context.Context, token string) error {
			now := time.Now().UTC()
			*pp = &state.Pending{Operation: string(op.Kind), ClientToken: token, Identifier: op.Identifier,
				Desired: op.Desired, Patch: op.Patch, StartedAt: now, Placement: pl}
			rec.Status = status
			rec.UpdatedAt = now
			if err := e.o.State.Put(ctx, rec); err != nil {
				return fmt.Errorf("write state before %s: %w", op.Kind, err)
			}
			return nil
		},
		Started: func(ctx context.Context, ev cloudcontrol.ProgressEvent) error {
			p := *pp
			if p == nil {
				return nil
			}
			p.RequestToken = ev.RequestToken
			if ev.Identifier != "" {
				p.Identifier = ev.Identifier
			}
			rec.UpdatedAt = time.Now().UTC()
			if err := e.o.State.Put(ctx, rec); err != nil {
				return fmt.Errorf("write state after %s: %w", op.Kind, err)
			}
			return nil
		},
	}
	if requestToken != "" {
		ev, err := prov.Resume(ctx, requestToken)
		if !errors.Is(err, cloudcontrol.ErrRequestNotFound) {
			return ev, err
		}
		// The service no longer knows the request: repeat it with its
		// ClientToken, which is idempotent while the service remembers it.
	}
	if clientToken != "" {
		return prov.Repeat(ctx, op, clientToken, hooks)
	}
	return prov.Apply(ctx, op, hooks)
}

// put writes rec, or removes it when gone.
func (e *Engine) put(ctx context.Context, sl *slot, rec *state.Record) error {
	rec.UpdatedAt = time.Now().UTC()
	if err := e.o.State.Put(ctx, rec); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	sl.rec = rec
	return nil
}

func (e *Engine) drop(ctx context.Context, sl *slot) error {
	if err := e.o.State.Delete(ctx, sl.key); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	sl.rec = nil
	return nil
}

// created settles a successful CREATE of rec: a create-first replacement
// retires the old resource; outputs come from the final model or a read.
// It returns the outputs recorded, so that the caller need not decode them
// again.
func (e *Engine) created(ctx context.Context, sl *slot, rec *state.Record, s *schema.Schema, ev cloudcontrol.ProgressEvent) (map[string]any, error) {
	p := rec.Pending
	id := ev.Identifier
	if id == "" && p != nil {
		id = p.Identifier
	}
	if id == "" {
		return nil, fmt.Errorf("create succeeded without an identifier (request %s)", ev.RequestToken)
	}
	model, err := decodeModel(ev.ResourceModel)
	if err != nil {
		model = nil
	}
	var pl *state.Placement
	if p != nil {
		pl = p.Placement
	}
	if missingOutputs(s, model) {
		raw, err := e.get(ctx, pl, s.TypeName, id)
		if err != nil {
			return nil, fmt.Errorf("read %s after create: %w", id, err)
		}
		if model, err = decodeModel(raw); err != nil {
			return nil, fmt.Errorf("read %s after create: %w", id, err)
		}
	}
	if rec.Identifier != "" && (rec.Identifier != id || !rec.Placement.Same(pl)) {
		rec.Retired = append(rec.Retired, state.Retired{Identifier: rec.Identifier, Placement: rec.Placement})
	}
	rec.Identifier = id
	rec.Placement = pl
	if p != nil && len(p.Desired) > 0 {
		rec.Desired = p.Desired
	}
	outs := outputsOf(s, model)
	rec.Outputs = encodeModel(outs)
	rec.Status = state.StatusCreated
	rec.Pending = nil
	return outs, e.put(ctx, sl, rec)
}

// createFailed settles a CREATE that failed for certain. A create that ended
// NotStabilized or ServiceTimeout did provision a resource when the event
// names one: unless its identifier is the user-chosen one the declaration
// will create again (and can adopt), it is recorded as retired so that it is
// deleted like a replaced resource rather than leaked.
func (e *Engine) createFailed(ctx context.Context, sl *slot, rec *state.Record, s *schema.Schema, cause error) error {
	oweLeftover(rec, s, cause)
	rec.Pending = nil
	if rec.Identifier == "" && len(rec.Retired) == 0 {
		return e.drop(ctx, sl)
	}
	rec.Status = state.StatusCreated
	return e.put(ctx, sl, rec)
}

// oweLeftover records in rec.Retired the resource that the failed create
// of rec.Pending left behind, if any (see createFailed).
func oweLeftover(rec *state.Record, s *schema.Schema, cause error) {
	if id := leftover(cause); id != "" && id != rec.Identifier && rec.Pending != nil {
		desired, _ := decodeModel(rec.Pending.Desired)
		if chosen, err := s.Identifier(desired); err != nil || chosen != id {
			rec.Retired = append(rec.Retired, state.Retired{Identifier: id})
		}
	}
}

// unstableAttempts bounds the creates of one declaration whose resource did
// not stabilise, and the updates re-applied after an update did not, within
// one run: a resource that fails to stabilise again and again points at a
// problem a further attempt will not cure.
const unstableAttempts = 5

// unstable reports whether err is a mutation of kind that ended FAILED
// because the resource did not stabilise (NotStabilized, ServiceTimeout):
// the handler did provision or change it.
func unstable(err error, kind cloudcontrol.Kind) bool {
	var oe *cloudcontrol.OperationError
	if !errors.As(err, &oe) || oe.Operation != kind || oe.Status != cloudcontrol.StatusFailed {
		return false
	}
	return oe.ErrorCode == cloudcontrol.CodeNotStabilized || oe.ErrorCode == cloudcontrol.CodeServiceTimeout
}

// createAgain reports whether the create of rec.Pending, which failed with
// err, is sent again within the run: when its resource did not stabilise and
// the service generates the identifier. The leftover (when the event names
// it) is owed for deletion first, so that the second create cannot leak it.
//
// A create with an identifier the user chose is not created again here: the
// client already re-ran it (see cloudcontrol.RetryableHandlerError), and a
// further create would only collide with the resource that did not
// stabilise and holds the name; deleting that resource to make room is not
// the engine's call (it may have stabilised since, or be adopted), so the
// run ends and reports it.
func createAgain(rec *state.Record, s *schema.Schema, err error) bool {
	if rec.Pending == nil || !unstable(err, cloudcontrol.Create) {
		return false
	}
	desired, derr := decodeModel(rec.Pending.Desired)
	if derr != nil {
		return false
	}
	_, chosen := s.Identifier(desired)
	return chosen != nil
}

// leftover returns the identifier of the resource a failed create may have
// left behind: one named by a FAILED event whose code says the handler
// provisioned it but it did not stabilise.
func leftover(err error) string {
	var oe *cloudcontrol.OperationError
	if !errors.As(err, &oe) || oe.Operation != cloudcontrol.Create || oe.Status != cloudcontrol.StatusFailed {
		return ""
	}
	switch oe.ErrorCode {
	case cloudcontrol.CodeNotStabilized, cloudcontrol.CodeServiceTimeout:
		return oe.Identifier
	}
	return ""
}

// updated settles a successful UPDATE.
func (e *Engine) updated(ctx context.Context, sl *slot, rec *state.Record, s *schema.Schema, ev cloudcontrol.ProgressEvent) error {
	if p := rec.Pending; p != nil && len(p.Desired) > 0 {
		rec.Desired = p.Desired
	}
	if model, err := decodeModel(ev.ResourceModel); err == nil && model != nil && !missingOutputs(s, model) {
		rec.Outputs = encodeModel(outputsOf(s, model))
	}
	rec.Status = state.StatusCreated
	rec.Pending = nil
	return e.put(ctx, sl, rec)
}

// deleted settles a successful DELETE of rec's resource: a delete-first
// replacement keeps the record without a resource, any other drops it.
func (e *Engine) deleted(ctx context.Context, sl *slot, rec *state.Record) error {
	rec.Pending = nil
	if rec.Status == state.StatusReplacing {
		rec.Identifier = ""
		rec.Outputs = nil
		return e.put(ctx, sl, rec)
	}
	if len(rec.Retired) > 0 {
		rec.Identifier = ""
		rec.Status = state.StatusDeleting
		return e.put(ctx, sl, rec)
	}
	return e.drop(ctx, sl)
}

// isGone reports whether a delete's error means the resource is already gone.
func isGone(err error) bool { return errors.Is(err, cloudcontrol.ErrNotFound) }

// create creates the resource of sl; with a non-empty replacing reason it is
// the create step of a replacement.
func (e *Engine) create(ctx context.Context, sl *slot, s *schema.Schema, model map[string]any, deps []string, d Declaration, order Order) (*Declared, error) {
	rec := sl.rec
	if rec == nil {
		rec = e.newRecord(sl, s, d)
	}
	rec.Type = s.TypeName
	rec.Scope, rec.LogicalID = d.Scope, d.LogicalID
	rec.DependsOn = deps
	rec.Retain = d.Retain
	status := state.StatusCreating
	if order != "" {
		status = state.StatusReplacing
	}
	action := ActionCreate
	if order == "" {
		e.o.Reporter.Begin(sl.key, s.TypeName, action, "")
	}
	began := time.Now()
	desired := encodeModel(model)
	op := cloudcontrol.Operation{Kind: cloudcontrol.Create, TypeName: s.TypeName, Desired: desired}
	ev, err := e.mutate(ctx, rec, &rec.Pending, status, op, d.Placement, "", "")
	for attempt := 1; err != nil && attempt < unstableAttempts && ctx.Err() == nil && createAgain(rec, s, err); attempt++ {
		// The resource did not stabilise: owe its leftover for deletion
		// (at the end of the run, as a replaced resource) and create
		// afresh. The record is written with the leftover before the next
		// create, whose own ClientToken mutate records before the call.
		oweLeftover(rec, s, err)
		rec.Pending = nil
		rec.Status = state.StatusCreated
		if serr := e.put(ctx, sl, rec); serr != nil {
			err = errors.Join(err, serr)
			break
		}
		ev, err = e.mutate(ctx, rec, &rec.Pending, status, op, d.Placement, "", "")
	}
	if err != nil {
		if rec.Pending != nil && definite(err) {
			if serr := e.createFailed(ctx, sl, rec, s, err); serr != nil {
				err = errors.Join(err, serr)
			}
		}
		if d.Adopt && order == "" && errors.Is(err, cloudcontrol.ErrAlreadyExists) {
			return e.adopt(ctx, sl, s, model, deps, d)
		}
		err = alreadyExists(s, model, err)
		if order == "" {
			e.o.Reporter.End(sl.key, s.TypeName, action, "", time.Since(began), err)
		}
		return nil, err
	}
	if rec.Pending == nil {
		// The hooks never ran: a provider that does not persist progress.
		rec.Pending = &state.Pending{Operation: string(cloudcontrol.Create), Desired: desired, Placement: d.Placement}
	}
	outs, err := e.created(ctx, sl, rec, s, ev)
	if err != nil {
		return nil, err
	}
	if order == "" {
		e.count(func(s *Summary) { s.Created++ })
		e.o.Reporter.End(sl.key, s.TypeName, action, rec.Identifier, time.Since(began), nil)
	}
	return &Declared{Key: rec.Key, Identifier: rec.Identifier, Outputs: outs}, nil
}

// update applies patch, the unmasked form of c.Patch.
func (e *Engine) update(ctx context.Context, sl *slot, s *schema.Schema, model map[string]any, deps []string, c Change, patch json.RawMessage) (*Declared, error) {
	rec := sl.rec
	e.o.Reporter.Begin(sl.key, s.TypeName, ActionUpdate, "")
	began := time.Now()
	rec.DependsOn = deps
	op := cloudcontrol.Operation{Kind: cloudcontrol.Update, TypeName: s.TypeName, Identifier: rec.Identifier,
		Desired: encodeModel(model), Patch: patch}
	var ev cloudcontrol.ProgressEvent
	var err error
	for attempt := 1; ; attempt++ {
		ev, err = e.mutate(ctx, rec, &rec.Pending, state.StatusUpdating, op, rec.Placement, "", "")
		if err == nil {
			break
		}
		if rec.Pending != nil && definite(err) {
			rec.Pending = nil
			rec.Status = state.StatusCreated
			if serr := e.put(ctx, sl, rec); serr != nil {
				err = errors.Join(err, serr)
				break
			}
		}
		if ctx.Err() != nil || rec.Pending != nil || !unstable(err, cloudcontrol.Update) {
			break
		}
		// The update did not stabilise: it may have taken effect in
		// whole, in part or not at all, and re-sending its JSON Patch is
		// not idempotent (an "add" to an array appends twice, a "remove"
		// of what is gone fails). Read the resource and apply what the
		// fresh read still lacks.
		base, live, rerr := e.freshBase(ctx, rec, s)
		if rerr != nil {
			err = errors.Join(err, rerr)
			break
		}
		if attempt >= unstableAttempts {
			// Give up, but record what the resource now is, so that the
			// next run patches from there.
			rec.Desired = encodeModel(base)
			if serr := e.put(ctx, sl, rec); serr != nil {
				err = errors.Join(err, serr)
			}
			break
		}
		patch, rerr := reconcile(rec, s, base, model)
		if rerr != nil {
			err = errors.Join(err, rerr)
			break
		}
		if patch == nil {
			// Nothing is missing: the update did take effect.
			ev, err = cloudcontrol.ProgressEvent{Operation: cloudcontrol.Update, TypeName: s.TypeName, Identifier: rec.Identifier,
				OperationStatus: cloudcontrol.StatusSuccess, ResourceModel: live}, nil
			break
		}
		op.Patch = patch
	}
	if err != nil {
		e.o.Reporter.End(sl.key, s.TypeName, ActionUpdate, rec.Identifier, time.Since(began), err)
		return nil, err
	}
	if rec.Pending == nil {
		rec.Pending = &state.Pending{Operation: string(cloudcontrol.Update), Desired: op.Desired}
	}
	if err := e.updated(ctx, sl, rec, s, ev); err != nil {
		return nil, err
	}
	e.count(func(s *Summary) { s.Updated++ })
	e.o.Reporter.End(sl.key, s.TypeName, ActionUpdate, rec.Identifier, time.Since(began), nil)
	return declaredFrom(rec)
}

// freshBase reads rec's resource after an update that did not stabilise and
// returns what it now is, as the base to patch from (and the read model):
// the recorded desired state with the live values of its readable
// properties, as a refresh sees them. Write-only values, which a read never
// returns, stay as recorded, so that a patch sends them again.
func (e *Engine) freshBase(ctx context.Context, rec *state.Record, s *schema.Schema) (map[string]any, json.RawMessage, error) {
	raw, err := e.get(ctx, rec.Placement, rec.Type, rec.Identifier)
	var live map[string]any
	if err == nil {
		live, err = decodeModel(raw)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read %s after the update did not stabilise: %w", rec.Identifier, err)
	}
	base, err := decodeModel(rec.Desired)
	if err != nil {
		return nil, nil, fmt.Errorf("recorded state: %w", err)
	}
	if base == nil {
		base = map[string]any{}
	}
	for _, d := range s.Drift(base, live) {
		setPath(base, d.Path, d.Live, d.Live == nil)
	}
	return base, raw, nil
}

// reconcile returns the JSON Patch that takes rec's resource from base (see
// freshBase) to model, or nil when it is there already. It is an error,
// ending the run, when the patch would need a replacement (the resource
// drifted in a create-only property): re-applying is not safe then.
func reconcile(rec *state.Record, s *schema.Schema, base, model map[string]any) (json.RawMessage, error) {
	ch, err := s.Diff(base, model)
	if err != nil {
		return nil, err
	}
	switch ch.Action {
	case schema.NoChange:
		return nil, nil
	case schema.Update:
		return json.Marshal(ch.Patch)
	default:
		return nil, fmt.Errorf("not re-applying the update that did not stabilise: %s now differs from the declaration in %v, which needs a replacement",
			rec.Identifier, ch.ReplacePaths)
	}
}

func (e *Engine) replace(ctx context.Context, sl *slot, s *schema.Schema, model map[string]any, deps []string, d Declaration, c Change) (*Declared, error) {
	rec := sl.rec
	e.o.Reporter.Begin(sl.key, s.TypeName, ActionReplace, fmt.Sprintf(" %s, %s", c.Order, c.Reason))
	began := time.Now()
	fail := func(err error) (*Declared, error) {
		e.o.Reporter.End(sl.key, s.TypeName, ActionReplace, "", time.Since(began), err)
		return nil, err
	}
	if c.Order == DeleteFirst {
		op := cloudcontrol.Operation{Kind: cloudcontrol.Delete, TypeName: rec.Type, Identifier: rec.Identifier}
		_, err := e.mutate(ctx, rec, &rec.Pending, state.StatusReplacing, op, rec.Placement, "", "")
		if err != nil && !isGone(err) {
			if rec.Pending != nil && definite(err) {
				rec.Pending = nil
				rec.Status = state.StatusCreated
				if serr := e.put(ctx, sl, rec); serr != nil {
					err = errors.Join(err, serr)
				}
			}
			return fail(err)
		}
		rec.Status = state.StatusReplacing
		if err := e.deleted(ctx, sl, rec); err != nil {
			return fail(err)
		}
	}
	res, err := e.create(ctx, sl, s, model, deps, d, c.Order)
	if err != nil {
		return fail(err)
	}
	e.count(func(s *Summary) { s.Replaced++ })
	e.o.Reporter.End(sl.key, s.TypeName, ActionReplace, res.Identifier, time.Since(began), nil)
	return res, nil
}

// adopt takes over the existing resource a create collided with: it reads
// it, records it (keeping the declared write-only values, which a read never
// returns) and converges it to the declaration.
func (e *Engine) adopt(ctx context.Context, sl *slot, s *schema.Schema, model map[string]any, deps []string, d Declaration) (*Declared, error) {
	began := time.Now()
	e.o.Reporter.Begin(sl.key, s.TypeName, ActionAdopt, "")
	id, err := s.Identifier(model)
	if err != nil {
		err = fmt.Errorf("adopt: %w", err)
		e.o.Reporter.End(sl.key, s.TypeName, ActionAdopt, "", time.Since(began), err)
		return nil, err
	}
	raw, err := e.get(ctx, d.Placement, s.TypeName, id)
	var live map[string]any
	if err == nil {
		live, err = decodeModel(raw)
	}
	if err != nil {
		err = fmt.Errorf("adopt %s: %w", id, err)
		e.o.Reporter.End(sl.key, s.TypeName, ActionAdopt, id, time.Since(began), err)
		return nil, err
	}
	base := s.WithoutReadOnly(live)
	if base == nil {
		base = map[string]any{}
	}
	for _, wo := range s.WriteOnly {
		p := trimProperties(wo)
		if v, ok := lookup(model, p); ok {
			setPath(base, p, v, false)
		}
	}
	rec := sl.rec
	if rec == nil {
		rec = e.newRecord(sl, s, d)
	}
	rec.Identifier = id
	rec.Placement = d.Placement
	rec.Desired = encodeModel(base)
	rec.Outputs = encodeModel(outputsOf(s, live))
	rec.Status = state.StatusCreated
	rec.Pending = nil
	rec.DependsOn = deps
	rec.Retain = d.Retain
	if err := e.put(ctx, sl, rec); err != nil {
		return nil, err
	}
	e.count(func(s *Summary) { s.Adopted++ })
	e.o.Reporter.End(sl.key, s.TypeName, ActionAdopt, id, time.Since(began), nil)
	ch, err := s.Diff(base, model)
	if err != nil {
		return nil, err
	}
	switch ch.Action {
	case schema.NoChange:
		return declaredFrom(rec)
	case schema.Update:
		patch, shown, err := planPatch(s, ch.Patch)
		if err != nil {
			return nil, err
		}
		return e.update(ctx, sl, s, model, deps, Change{Key: sl.key, Type: s.TypeName, Action: ActionUpdate, Identifier: id, Patch: shown, Paths: ch.Paths}, patch)
	default:
		c := Change{Key: sl.key, Type: s.TypeName, Action: ActionReplace, Identifier: id, Paths: ch.Paths, ReplacePaths: ch.ReplacePaths}
		c.Order, c.Reason = replaceOrder(s, id, model)
		return e.replace(ctx, sl, s, model, deps, d, c)
	}
}

func trimProperties(p string) string {
	const prefix = "/properties"
	if len(p) >= len(prefix) && p[:len(prefix)] == prefix {
		return p[len(prefix):]
	}
	return p
}

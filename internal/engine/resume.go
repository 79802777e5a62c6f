package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/state"
)

// eachSlot runs fn for every slot selected by pick, in parallel up to the
// engine's admission (the provider bounds the calls in flight), and joins
// the errors. A goroutine is started only once admitted, so that a large
// stage does not start one per slot.
func (e *Engine) eachSlot(ctx context.Context, pick func(*slot) bool, fn func(*slot) error) error {
	e.mu.Lock()
	var todo []*slot
	for _, sl := range e.slots {
		if pick(sl) {
			todo = append(todo, sl)
		}
	}
	e.mu.Unlock()
	sort.Slice(todo, func(i, j int) bool { return todo[i].key < todo[j].key })
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, sl := range todo {
		if err := e.admit(ctx); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer e.release()
			if err := fn(sl); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func hasPending(r *state.Record) bool {
	if r == nil {
		return false
	}
	if r.Pending != nil {
		return true
	}
	for _, rt := range r.Retired {
		if rt.Pending != nil {
			return true
		}
	}
	return false
}

// resumeAll finishes every operation an earlier run left pending, before
// anything else touches those resources: it polls the recorded request, or
// repeats the call with the recorded ClientToken, so that nothing is created
// twice or leaked.
func (e *Engine) resumeAll(ctx context.Context) error {
	err := e.eachSlot(ctx, func(sl *slot) bool { return hasPending(sl.rec) }, func(sl *slot) error {
		sl.mu.Lock()
		defer sl.mu.Unlock()
		if err := e.resume(ctx, sl); err != nil {
			return &ResourceError{Key: sl.key, Type: sl.rec.Type, Err: fmt.Errorf("resume interrupted operation: %w", err)}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("finishing operations of an interrupted run: %w", err)
	}
	return nil
}

func (e *Engine) resume(ctx context.Context, sl *slot) error {
	rec := sl.rec
	s, err := e.o.Registry.Lookup(rec.Type)
	if err != nil {
		return err
	}
	for i := 0; i < len(rec.Retired); {
		rt := &rec.Retired[i]
		if rt.Pending == nil {
			i++
			continue
		}
		began := time.Now()
		e.o.Reporter.Begin(sl.key, rec.Type, ActionResume, " delete of replaced "+rt.Identifier)
		op := cloudcontrol.Operation{Kind: cloudcontrol.Delete, TypeName: rec.Type, Identifier: rt.Identifier}
		_, err := e.mutate(ctx, rec, &rt.Pending, rec.Status, op, rt.Placement, rt.Pending.ClientToken, rt.Pending.RequestToken)
		switch {
		case err == nil || isGone(err):
			rec.Retired = append(rec.Retired[:i], rec.Retired[i+1:]...)
		case definite(err):
			rt.Pending = nil
			i++
		default:
			e.o.Reporter.End(sl.key, rec.Type, ActionResume, rt.Identifier, time.Since(began), err)
			return err
		}
		if err := e.put(ctx, sl, rec); err != nil {
			return err
		}
		e.o.Reporter.End(sl.key, rec.Type, ActionResume, rt.Identifier, time.Since(began), nil)
	}
	p := rec.Pending
	if p == nil {
		return nil
	}
	began := time.Now()
	e.o.Reporter.Begin(sl.key, rec.Type, ActionResume, " "+p.Operation)
	op := cloudcontrol.Operation{Kind: cloudcontrol.Kind(p.Operation), TypeName: rec.Type, Identifier: p.Identifier, Desired: p.Desired, Patch: p.Patch}
	if op.Kind != cloudcontrol.Create && op.Identifier == "" {
		op.Identifier = rec.Identifier
	}
	if op.Kind == cloudcontrol.Create {
		op.Identifier = ""
	}
	ev, err := e.mutate(ctx, rec, &rec.Pending, rec.Status, op, p.Placement, p.ClientToken, p.RequestToken)
	var serr error
	switch {
	case err != nil && !definite(err):
		e.o.Reporter.End(sl.key, rec.Type, ActionResume, rec.Identifier, time.Since(began), err)
		return err
	case op.Kind == cloudcontrol.Delete:
		if err == nil || isGone(err) {
			serr = e.deleted(ctx, sl, rec)
			err = nil
		} else {
			rec.Pending, rec.Status = nil, state.StatusCreated
			serr = e.put(ctx, sl, rec)
		}
	case op.Kind == cloudcontrol.Create:
		if err == nil {
			_, serr = e.created(ctx, sl, rec, s, ev)
		} else {
			serr = e.createFailed(ctx, sl, rec, s, err)
		}
	default:
		if err == nil {
			serr = e.updated(ctx, sl, rec, s, ev)
			break
		}
		if unstable(err, cloudcontrol.Update) {
			// The update may have taken effect in part: record what the
			// resource now is, so that the declaration patches from there
			// rather than sending the interrupted patch again.
			if base, _, rerr := e.freshBase(ctx, rec, s); rerr == nil {
				rec.Desired = encodeModel(base)
			}
		}
		rec.Pending, rec.Status = nil, state.StatusCreated
		serr = e.put(ctx, sl, rec)
	}
	if serr != nil {
		return serr
	}
	// A finished operation counts once, under its own kind (a resumed
	// create is a create), and Resumed says how many were finished for an
	// interrupted run; the declaration that follows finds it unchanged and
	// does not count it again. A definite failure of the interrupted
	// operation is not this run's failure: the declaration retries it.
	if err == nil {
		sl.resumed = true
	}
	e.count(func(s *Summary) {
		s.Resumed++
		if err != nil {
			return
		}
		switch op.Kind {
		case cloudcontrol.Create:
			s.Created++
		case cloudcontrol.Update:
			s.Updated++
		case cloudcontrol.Delete:
			s.Deleted++
		}
	})
	id := ""
	if sl.rec != nil {
		id = sl.rec.Identifier
	}
	e.o.Reporter.End(sl.key, rec.Type, ActionResume, id, time.Since(began), nil)
	return nil
}

// refreshAll reads every recorded resource back: drift on readable
// properties is reported and put into the record in memory, so that the
// plan converges it; a resource deleted behind Athanor's back loses its
// identifier, so that it is planned for creation. Apply writes the
// refreshed records.
func (e *Engine) refreshAll(ctx context.Context) error {
	return e.eachSlot(ctx, func(sl *slot) bool { return sl.rec != nil && sl.rec.Identifier != "" && sl.rec.Pending == nil },
		func(sl *slot) error {
			sl.mu.Lock()
			defer sl.mu.Unlock()
			rec := sl.rec
			s, err := e.o.Registry.Lookup(rec.Type)
			if err != nil {
				return &ResourceError{Key: sl.key, Type: rec.Type, Err: err}
			}
			began := time.Now()
			e.o.Reporter.Begin(sl.key, rec.Type, ActionRead, "")
			raw, err := e.get(ctx, rec.Placement, rec.Type, rec.Identifier)
			if err != nil && !isGone(err) {
				e.o.Reporter.End(sl.key, rec.Type, ActionRead, rec.Identifier, time.Since(began), err)
			} else {
				e.o.Reporter.End(sl.key, rec.Type, ActionRead, rec.Identifier, time.Since(began), nil)
			}
			if isGone(err) {
				d := Drift{Key: sl.key, Type: rec.Type, Gone: true}
				e.noteDrift(d)
				rec.Identifier, rec.Outputs = "", nil
				sl.refreshed = true
				return nil
			}
			var live map[string]any
			if err == nil {
				live, err = decodeModel(raw)
			}
			if err != nil {
				return &ResourceError{Key: sl.key, Type: rec.Type, Err: fmt.Errorf("refresh: %w", err)}
			}
			recorded, err := decodeModel(rec.Desired)
			if err != nil {
				return &ResourceError{Key: sl.key, Type: rec.Type, Err: fmt.Errorf("recorded state: %w", err)}
			}
			if recorded == nil {
				recorded = map[string]any{}
			}
			drift := s.Drift(recorded, live)
			for _, d := range drift {
				e.noteDrift(Drift{Key: sl.key, Type: rec.Type, Path: d.Path, Recorded: d.Recorded, Live: d.Live})
				setPath(recorded, d.Path, d.Live, d.Live == nil)
			}
			rec.Desired = encodeModel(recorded)
			rec.Outputs = encodeModel(outputsOf(s, live))
			sl.refreshed = true
			return nil
		})
}

func (e *Engine) noteDrift(d Drift) {
	e.mu.Lock()
	e.drift = append(e.drift, d)
	e.mu.Unlock()
	e.o.Reporter.Drifted(d)
}

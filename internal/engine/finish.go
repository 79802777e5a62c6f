package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/state"
)

// ErrFailedDeclarations is returned by Finish when some declarations failed
// even though the program returned nil: nothing is deleted then.
var ErrFailedDeclarations = errors.New("declarations failed")

// Finish ends the application of a deploy's plan after the program
// returned: unless the program or a declaration failed, or a resource no
// longer declared was not planned for removal, resources no longer declared are deleted
// (dependents first, independent ones in parallel) or, when retained,
// forgotten; replaced resources still owed are deleted, and exports are
// written to the stage's metadata.
func (e *Engine) Finish(ctx context.Context, exports map[string]any) error {
	e.mu.Lock()
	failed := e.sum.Failed
	var orphans, owing []*slot
	for _, sl := range e.slots {
		switch {
		case !sl.declared && sl.rec != nil:
			orphans = append(orphans, sl)
		case sl.declared && sl.rec != nil && len(sl.rec.Retired) > 0:
			owing = append(owing, sl)
		}
	}
	e.mu.Unlock()
	if failed > 0 {
		return fmt.Errorf("%w (%d, see above) although the program returned nil; nothing was deleted", ErrFailedDeclarations, failed)
	}
	if e.plan == nil || e.plan.Destroy {
		return errors.New("engine: finish without a deploy plan being applied")
	}
	if err := e.planned(orphans); err != nil {
		return err
	}
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, sl := range owing {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.admit(ctx)
			if err == nil {
				sl.mu.Lock()
				err = e.deleteRetired(ctx, sl)
				sl.mu.Unlock()
				e.release()
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	errs = append(errs, e.deleteAll(ctx, orphans))
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return e.writeMeta(ctx, exports)
}

// Destroy deletes every resource of the stage, dependents first and
// independent ones in parallel; a resource already gone counts as deleted.
// Retained resources are forgotten instead: their records are removed and
// the resources left in the cloud.
func (e *Engine) Destroy(ctx context.Context) error {
	e.mu.Lock()
	var all []*slot
	for _, sl := range e.slots {
		if sl.rec != nil {
			all = append(all, sl)
		}
	}
	e.mu.Unlock()
	if e.plan == nil || !e.plan.Destroy {
		return errors.New("engine: destroy without a destroy plan being applied")
	}
	if err := e.planned(all); err != nil {
		return err
	}
	if err := e.deleteAll(ctx, all); err != nil {
		return err
	}
	return e.writeMeta(ctx, nil)
}

// planned checks that the plan being applied removes every one of slots
// as it would now be removed (deleted, or forgotten when retained).
func (e *Engine) planned(slots []*slot) error {
	for _, sl := range slots {
		want := removal(sl.rec)
		c, ok := e.plan.Change(sl.key)
		switch {
		case !ok:
			return &DeviationError{Key: sl.key, Type: sl.rec.Type, Detail: "no longer declared, but the plan does not remove it"}
		case c.Action != want.Action:
			return &DeviationError{Key: sl.key, Type: sl.rec.Type, Detail: fmt.Sprintf("no longer declared, so it is to %s, but the plan has %s", want.Action, c.Action)}
		}
	}
	return nil
}

func (e *Engine) writeMeta(ctx context.Context, exports map[string]any) error {
	meta, err := e.o.State.GetMeta(ctx)
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	if meta == nil {
		meta = &state.Meta{}
	}
	meta.FormatVersion = state.FormatVersion
	e.mu.Lock()
	if e.nextSeq > meta.NextSeq {
		meta.NextSeq = e.nextSeq
	}
	e.mu.Unlock()
	meta.Reads = e.readRecords()
	meta.Exports = nil
	if len(exports) > 0 {
		meta.Exports = make(map[string]json.RawMessage, len(exports))
		for k, v := range exports {
			data, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("export %q: %w", k, err)
			}
			meta.Exports[k] = data
		}
	}
	meta.UpdatedAt = time.Now().UTC()
	if err := e.o.State.PutMeta(ctx, meta); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// removal is the planned change for a record that is no longer wanted:
// forget when it is retained, delete otherwise.
func removal(rec *state.Record) Change {
	c := Change{Key: rec.Key, Type: rec.Type, Action: ActionDelete, Identifier: rec.Identifier}
	if !rec.Placement.IsZero() {
		c.Placement = rec.Placement.String()
	}
	if rec.Retain {
		c.Action = ActionForget
		c.Reason = "retained: removed from state, left in the cloud"
	}
	return c
}

// deleteAll deletes the resources of slots (forgets the retained ones): a
// resource waits until every resource of the set that depends on it is
// deleted or forgotten; the others run in parallel. Dependency cycles
// (possible only across runs) are broken.
func (e *Engine) deleteAll(ctx context.Context, slots []*slot) error {
	if len(slots) == 0 {
		return nil
	}
	in := make(map[string]*slot, len(slots))
	for _, sl := range slots {
		in[sl.key] = sl
	}
	// dependents[k]: the set's keys whose records depend on k.
	dependents := map[string][]string{}
	for _, sl := range slots {
		for _, dep := range sl.rec.DependsOn {
			if _, ok := in[dep]; ok && dep != sl.key {
				dependents[dep] = append(dependents[dep], sl.key)
			}
		}
	}
	breakCycles(slots, dependents)

	done := make(map[string]chan struct{}, len(slots))
	ok := make(map[string]bool, len(slots))
	for _, sl := range slots {
		done[sl.key] = make(chan struct{})
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, sl := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[sl.key])
			for _, d := range dependents[sl.key] {
				<-done[d]
				mu.Lock()
				good := ok[d]
				mu.Unlock()
				if !good {
					mu.Lock()
					errs = append(errs, &ResourceError{Key: sl.key, Type: sl.rec.Type, Err: fmt.Errorf("not deleted: %s, which depends on it, was not deleted", d)})
					mu.Unlock()
					return
				}
			}
			// Admitted only now: waiting for dependents holds nothing.
			err := e.admit(ctx)
			if err == nil {
				err = e.deleteSlot(ctx, sl)
				e.release()
			}
			mu.Lock()
			if err != nil {
				errs = append(errs, err)
			} else {
				ok[sl.key] = true
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// breakCycles drops the dependency edges inside cycles: the edges between
// resources of one strongly connected component (Tarjan's algorithm). Edges
// into and out of a cycle stay, so a resource a cycle uses is still deleted
// after it and one that uses a cycle still before it.
func breakCycles(slots []*slot, dependents map[string][]string) {
	var (
		index   = map[string]int{}
		low     = map[string]int{}
		onStack = map[string]bool{}
		comp    = map[string]int{}
		stack   []string
		next    int
		ncomp   int
	)
	var visit func(k string)
	visit = func(k string) {
		index[k], low[k] = next, next
		next++
		stack = append(stack, k)
		onStack[k] = true
		for _, d := range dependents[k] {
			if _, seen := index[d]; !seen {
				visit(d)
				low[k] = min(low[k], low[d])
			} else if onStack[d] {
				low[k] = min(low[k], index[d])
			}
		}
		if low[k] == index[k] {
			for {
				top := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[top] = false
				comp[top] = ncomp
				if top == k {
					break
				}
			}
			ncomp++
		}
	}
	for _, sl := range slots {
		if _, seen := index[sl.key]; !seen {
			visit(sl.key)
		}
	}
	for k, ds := range dependents {
		var keep []string
		for _, d := range ds {
			if comp[d] != comp[k] {
				keep = append(keep, d)
			}
		}
		dependents[k] = keep
	}
}

// deleteSlot deletes a record's replaced resources and then its resource,
// and drops the record. A retained resource is not deleted but forgotten:
// its replaced resources are still deleted, then its record is dropped
// without any call for the resource itself.
func (e *Engine) deleteSlot(ctx context.Context, sl *slot) error {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	rec := sl.rec
	if rec == nil {
		return nil
	}
	if err := e.deleteRetired(ctx, sl); err != nil {
		return err
	}
	if rec.Identifier == "" {
		return e.drop(ctx, sl)
	}
	if rec.Retain {
		return e.forget(ctx, sl)
	}
	began := time.Now()
	e.o.Reporter.Begin(sl.key, rec.Type, ActionDelete, "")
	op := cloudcontrol.Operation{Kind: cloudcontrol.Delete, TypeName: rec.Type, Identifier: rec.Identifier}
	id := rec.Identifier
	rec.Status = state.StatusDeleting
	_, err := e.mutate(ctx, rec, &rec.Pending, state.StatusDeleting, op, rec.Placement, "", "")
	if err != nil && !isGone(err) {
		if rec.Pending != nil && definite(err) {
			rec.Pending, rec.Status = nil, state.StatusCreated
			if serr := e.put(ctx, sl, rec); serr != nil {
				err = errors.Join(err, serr)
			}
		}
		err = &ResourceError{Key: sl.key, Type: rec.Type, Err: err}
		e.o.Reporter.End(sl.key, rec.Type, ActionDelete, id, time.Since(began), err)
		return err
	}
	if err := e.deleted(ctx, sl, rec); err != nil {
		return err
	}
	e.count(func(s *Summary) { s.Deleted++ })
	e.o.Reporter.End(sl.key, rec.Type, ActionDelete, id, time.Since(began), nil)
	return nil
}

// deleteRetired deletes the resources a create-first replacement left
// behind. The caller holds sl.mu.
func (e *Engine) deleteRetired(ctx context.Context, sl *slot) error {
	rec := sl.rec
	for len(rec.Retired) > 0 {
		rt := &rec.Retired[0]
		began := time.Now()
		e.o.Reporter.Begin(sl.key, rec.Type, ActionDelete, " replaced "+rt.Identifier)
		op := cloudcontrol.Operation{Kind: cloudcontrol.Delete, TypeName: rec.Type, Identifier: rt.Identifier}
		_, err := e.mutate(ctx, rec, &rt.Pending, rec.Status, op, rt.Placement, "", "")
		if err != nil && !isGone(err) {
			if rt.Pending != nil && definite(err) {
				rt.Pending = nil
				if serr := e.put(ctx, sl, rec); serr != nil {
					err = errors.Join(err, serr)
				}
			}
			err = &ResourceError{Key: sl.key, Type: rec.Type, Err: fmt.Errorf("delete replaced %s: %w", rt.Identifier, err)}
			e.o.Reporter.End(sl.key, rec.Type, ActionDelete, rt.Identifier, time.Since(began), err)
			return err
		}
		id := rt.Identifier
		rec.Retired = append([]state.Retired(nil), rec.Retired[1:]...)
		if rec.Identifier == "" && len(rec.Retired) == 0 && rec.Status == state.StatusDeleting {
			if err := e.drop(ctx, sl); err != nil {
				return err
			}
		} else if err := e.put(ctx, sl, rec); err != nil {
			return err
		}
		e.o.Reporter.End(sl.key, rec.Type, ActionDelete, id, time.Since(began), nil)
	}
	return nil
}

// forget drops the record of a retained resource, leaving the resource in
// the cloud. The caller holds sl.mu.
func (e *Engine) forget(ctx context.Context, sl *slot) error {
	rec := sl.rec
	if err := e.drop(ctx, sl); err != nil {
		err = &ResourceError{Key: sl.key, Type: rec.Type, Err: fmt.Errorf("forget: %w", err)}
		e.o.Reporter.End(sl.key, rec.Type, ActionForget, rec.Identifier, 0, err)
		return err
	}
	e.count(func(s *Summary) { s.Forgotten++ })
	e.o.Reporter.Forgot(sl.key, rec.Type, rec.Identifier)
	return nil
}

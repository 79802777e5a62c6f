package state

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// RenewDeadline is how long after sending its last successful renewal a
// holder still counts a lease of the given length as held: three quarters
// of it, so that the holder stops a quarter of a lease before the store lets
// another run in.
func RenewDeadline(lease time.Duration) time.Duration { return lease - lease/4 }

// LeaseKeeper is the holder's side of a lock that expires unless renewed
// (the PostgreSQL and S3 backends): it judges by this process's monotonic
// clock whether the lease is still held, renews it from a heartbeat, and
// reports its loss as the Lock contract asks (Lost, Err). A backend embeds
// one in its Lock and supplies the renewal; the store's own check of every
// fenced write stays the backend's.
type LeaseKeeper struct {
	app, stage string
	store      string // what holds the lease, for messages: "the database", "S3"
	lease      time.Duration
	onLost     func()
	lost       chan struct{}

	mu       sync.Mutex
	deadline time.Time // renew deadline by this process's clock
	renewed  time.Time // when the last successful renewal was sent
	err      error     // why the lock was lost; nil while held
}

// NewLeaseKeeper returns the keeper of a lease of app/stage taken by a
// request sent at acquired. store names the lease's keeper in messages;
// onLost, if not nil, runs once when the lock is lost.
func NewLeaseKeeper(app, stage, store string, lease time.Duration, acquired time.Time, onLost func()) *LeaseKeeper {
	return &LeaseKeeper{app: app, stage: stage, store: store, lease: lease, onLost: onLost, lost: make(chan struct{}),
		deadline: acquired.Add(RenewDeadline(lease)), renewed: acquired}
}

// Lost returns a channel closed when the lock is lost: its lease ran out
// unrenewed by this process's clock, or the store showed it taken, released
// or removed.
func (k *LeaseKeeper) Lost() <-chan struct{} { return k.lost }

// Err returns nil while the lock is held, and why it was lost (wrapping
// ErrLockLost) once Lost is closed.
func (k *LeaseKeeper) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

// Deadline returns the renew deadline: past it the lock counts as lost.
func (k *LeaseKeeper) Deadline() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.deadline
}

// Check returns Err, first declaring the lock lost if the renew deadline
// has passed.
func (k *LeaseKeeper) Check() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err == nil && !time.Now().Before(k.deadline) {
		k.loseLocked(fmt.Errorf("%w: stage %s/%s: the lease (%v) could not be renewed for %v (%s was unreachable or this process was paused), so another run may take the lock",
			ErrLockLost, k.app, k.stage, k.lease, time.Since(k.renewed).Round(time.Millisecond), k.store))
	}
	return k.err
}

// LoseBecause declares the lock lost for the reason why (e.g. "run 3f2a…
// holds it now") and returns Err, which then wraps ErrLockLost. Only the
// first loss is kept.
func (k *LeaseKeeper) LoseBecause(why string) error {
	k.lose(fmt.Errorf("%w: stage %s/%s: %s", ErrLockLost, k.app, k.stage, why))
	return k.Err()
}

func (k *LeaseKeeper) lose(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.loseLocked(err)
}

func (k *LeaseKeeper) loseLocked(err error) {
	if k.err == nil {
		k.err = err
		if k.onLost != nil {
			k.onLost()
		}
		close(k.lost)
	}
}

// Keep renews the lease until ctx ends or the lock is lost: every sixth of
// the lease, or at once when the renew deadline comes, it calls renew with a
// context that ends at the deadline, in its own goroutine, so that a
// blocked connection cannot hold the verdict past the lease. renew returns
// nil when the lease was renewed (counted from when the call started), an
// error wrapping ErrLockLost when the store shows the lock is no longer
// this holder's (the keeper then loses it with that error), and any other
// error to try again at the next tick, until the deadline decides.
func (k *LeaseKeeper) Keep(ctx context.Context, renew func(context.Context) error) {
	every := k.lease / 6
	for {
		deadline := k.Deadline()
		tick, expire := time.NewTimer(every), time.NewTimer(time.Until(deadline))
		select {
		case <-ctx.Done():
		case <-tick.C:
		case <-expire.C:
		}
		tick.Stop()
		expire.Stop()
		// After a pause both timers may have fired: the clock decides.
		if ctx.Err() != nil || k.Check() != nil {
			return
		}
		sent := time.Now()
		rctx, cancel := context.WithDeadline(ctx, deadline)
		res := make(chan error, 1)
		go func() { res <- renew(rctx) }()
		var err error
		select {
		case err = <-res:
		case <-rctx.Done():
			err = rctx.Err()
		}
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			k.mu.Lock()
			if k.err == nil {
				k.deadline, k.renewed = sent.Add(RenewDeadline(k.lease)), sent
			}
			k.mu.Unlock()
		case errors.Is(err, ErrLockLost):
			k.lose(err)
			return
		}
	}
}

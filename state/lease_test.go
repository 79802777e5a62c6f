package state_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/athanor-dev/athanor/state"
)

// TestLeaseKeeper: renewals that succeed keep the lock; one that says the
// lock is another's loses it with that reason, once, and Keep returns; a
// lease left unrenewed past its deadline counts as lost by the clock alone.
func TestLeaseKeeper(t *testing.T) {
	lost := 0
	k := state.NewLeaseKeeper("app", "dev", "the store", 600*time.Millisecond, time.Now(), func() { lost++ })
	renewals := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.Keep(context.Background(), func(context.Context) error {
			renewals++
			if renewals < 3 {
				return nil
			}
			return k.LoseBecause("run x holds it now")
		})
	}()
	select {
	case <-k.Lost():
	case <-time.After(30 * time.Second):
		t.Fatal("the lock was not lost")
	}
	<-done
	if err := k.Err(); !errors.Is(err, state.ErrLockLost) || !strings.Contains(err.Error(), "stage app/dev: run x holds it now") {
		t.Errorf("Err() = %v", err)
	}
	if renewals != 3 || lost != 1 {
		t.Errorf("%d renewals, onLost ran %d times; want 3 and 1", renewals, lost)
	}
	if err := k.Check(); !strings.Contains(fmt.Sprint(err), "run x holds it now") {
		t.Errorf("Check after the loss = %v, want the first reason kept", err)
	}

	past := state.NewLeaseKeeper("app", "dev", "the store", time.Second, time.Now().Add(-time.Hour), nil)
	if err := past.Check(); !errors.Is(err, state.ErrLockLost) || !strings.Contains(err.Error(), "the store was unreachable") {
		t.Errorf("Check of an expired lease = %v", err)
	}
	select {
	case <-past.Lost():
	default:
		t.Error("an expired lease's Lost is open")
	}
}

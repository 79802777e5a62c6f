package athanor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

// TestGoBoundsTheApplyingPass: when a plan is applied, at most
// max(concurrency, minGoLimit) functions of App.Go run at once, the
// others wait their turn, queued, and all run; the first error fails the
// run; and functions that wait for ones started before them finish.
func TestGoBoundsTheApplyingPass(t *testing.T) {
	const n = 5 * minGoLimit
	cfg := Config{App: "gobound", Stage: "qa", State: t.TempDir(), Output: io.Discard, Concurrency: 2}
	var (
		mu      sync.Mutex
		running int
		ran     int
		full    = make(chan struct{}) // closed when minGoLimit run
		release = make(chan struct{}) // closed by the program once it looked
		errFn   = errors.New("function 250 failed")
	)
	_, err := Run(context.Background(), cfg, func(app *App) error {
		for i := range n {
			app.Go(func() error {
				if app.Previewing() {
					return nil
				}
				mu.Lock()
				running++
				ran++
				if running == minGoLimit && ran == minGoLimit {
					close(full)
				}
				mu.Unlock()
				<-release
				mu.Lock()
				running--
				mu.Unlock()
				if i == 250 {
					return errFn
				}
				return nil
			})
		}
		if app.Previewing() {
			return nil
		}
		defer close(release)
		select {
		case <-full:
		case <-time.After(30 * time.Second):
			return fmt.Errorf("fewer than %d functions ran at once", minGoLimit)
		}
		// None returns before release: the bound's worth run, the rest
		// wait in the queue.
		mu.Lock()
		r := running
		mu.Unlock()
		app.run.goMu.Lock()
		busy, queued := app.run.goBusy, len(app.run.goQueue)
		app.run.goMu.Unlock()
		if r != minGoLimit || busy != minGoLimit || queued != n-minGoLimit {
			t.Errorf("%d functions running (%d busy), %d queued; want %d running, %d queued", r, busy, queued, minGoLimit, n-minGoLimit)
		}
		return nil
	})
	if !errors.Is(err, errFn) {
		t.Errorf("run error %v, want the failed function's", err)
	}
	if ran != n {
		t.Errorf("%d of %d functions ran", ran, n)
	}

	// Each function waits for the one started before it: they finish in
	// turn, however many wait.
	done := make([]chan struct{}, n)
	for i := range done {
		done[i] = make(chan struct{})
	}
	cfg.Stage = "chain"
	if _, err := Run(context.Background(), cfg, func(app *App) error {
		if app.Previewing() {
			return nil
		}
		for i := range n {
			app.Go(func() error {
				defer close(done[i])
				if i == 0 {
					return nil
				}
				select {
				case <-done[i-1]:
					return nil
				case <-time.After(30 * time.Second):
					return fmt.Errorf("function %d: the one started before it did not finish", i)
				}
			})
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

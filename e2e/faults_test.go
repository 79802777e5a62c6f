package e2e

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/emulator"
	"github.com/athanor-dev/athanor/state"
)

// TestFaultsDeploy200 deploys 200 resources while the emulator throttles,
// fails requests with 500s and fails operations asynchronously: the deploy
// completes with nothing lost or duplicated, and a rerun changes nothing.
func TestFaultsDeploy200(t *testing.T) {
	opts := emulator.Instant()
	opts.Latency = emulator.Latency{
		Create: emulator.Between(5*time.Millisecond, 50*time.Millisecond),
		Delete: emulator.Between(5*time.Millisecond, 50*time.Millisecond),
	}
	opts.Faults = emulator.Faults{
		Seed:          7,
		Throttles:     0.02,
		ServerErrors:  0.02,
		AsyncFailures: 0.15,
		AsyncCodes:    []string{"Throttling", "ServiceInternalError", "NetworkFailure"},
	}
	e := newEnv(t, opts)
	fast := func(c *athanor.Config) {
		c.Stage = "crash"
		c.Concurrency = 32
		c.Options = append(c.Options, athanor.WithClientOptions(cloudcontrol.WithReruns(10, 5*time.Millisecond, 100*time.Millisecond)))
	}
	res := e.run(fleet(120, 80, "v1"), fast)
	if res.Created != 200 {
		t.Fatalf("created %d, want 200", res.Created)
	}
	if res.Stats.Reruns == 0 || res.Stats.Retries == 0 {
		t.Fatalf("no fault was injected: %+v", res.Stats)
	}
	t.Logf("200 resources under faults: %s, %d requests, %d SDK retries, %d re-runs", res.Duration, res.Stats.Requests, res.Stats.Retries, res.Stats.Reruns)
	e.checkFleet(t, 120, 80, "v1")

	res = e.run(fleet(120, 80, "v1"), fast)
	if res.Unchanged != 200 || res.Stats.Requests != 0 {
		t.Fatalf("rerun: %+v", res)
	}
	res = e.run(fleet(120, 80, "v1"), fast, destroy)
	if res.Deleted != 200 {
		t.Fatalf("destroy deleted %d, want 200", res.Deleted)
	}
	e.checkFleet(t, 0, 0, "")
}

// TestConcurrentRunsRefused holds a stage with one run while a second
// starts: the second is refused naming the holder, the first completes,
// and the state is intact.
func TestConcurrentRunsRefused(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	holding, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var first *athanor.Result
	var firstErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		first, firstErr = e.try(func(app *athanor.App) error {
			if _, err := app.Declare(jobTemplate, "one", map[string]any{"JobTemplateId": "one", "Description": "d", "Document": "{}"}); err != nil {
				return err
			}
			if !app.Previewing() {
				close(holding)
				<-release
			}
			_, err := app.Declare(jobTemplate, "two", map[string]any{"JobTemplateId": "two", "Description": "d", "Document": "{}"})
			return err
		})
	}()
	<-holding
	_, err := e.try(func(app *athanor.App) error {
		t.Error("the refused run's program ran")
		return nil
	})
	close(release)
	wg.Wait()
	if !errors.Is(err, state.ErrLocked) {
		t.Fatalf("second run: %v, want state.ErrLocked", err)
	}
	var le *state.LockedError
	if !errors.As(err, &le) || le.Holder.PID == 0 || !strings.Contains(err.Error(), strconv.Itoa(le.Holder.PID)) {
		t.Errorf("refusal %q does not name the holder", err)
	}
	if firstErr != nil || first.Created != 2 {
		t.Fatalf("first run: %+v, %v", first, firstErr)
	}
	if n := len(e.records("test")); n != 2 {
		t.Fatalf("state holds %d records, want 2", n)
	}
	// The lock is released: a third run goes through and changes nothing.
	res := e.run(func(app *athanor.App) error {
		for _, id := range []string{"one", "two"} {
			if _, err := app.Declare(jobTemplate, id, map[string]any{"JobTemplateId": id, "Description": "d", "Document": "{}"}); err != nil {
				return err
			}
		}
		return nil
	})
	if res.Unchanged != 2 {
		t.Fatalf("third run: %+v", res)
	}
}

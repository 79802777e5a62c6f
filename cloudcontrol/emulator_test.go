package cloudcontrol

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/athanor-dev/athanor/emulator"
)

// startEmulator serves the Cloud Control emulator on loopback and returns a
// client of it built the way the engine builds one (LoadConfig on the URL).
func startEmulator(t *testing.T, eo emulator.Options, opts ...Option) (*Client, *emulator.Server) {
	t.Helper()
	isolateEnv(t)
	srv, err := emulator.New(eo)
	if err != nil {
		t.Fatalf("emulator.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	cfg, err := LoadConfig(t.Context(), hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg, opts...), srv
}

func jobTemplate(id, description string) Operation {
	d, _ := json.Marshal(map[string]any{"JobTemplateId": id, "Description": description, "Document": `{"operation":"update"}`,
		"Tags": []map[string]string{{"Key": "Environment", "Value": "Production"}}})
	return Operation{Kind: Create, TypeName: "AWS::IoT::JobTemplate", Desired: d}
}

func TestEmulatorJobTemplateLifecycle(t *testing.T) {
	c, _ := startEmulator(t, emulator.Instant())
	ctx := t.Context()
	op := jobTemplate("device-update-template", "Basic job template for device updates")

	var token string
	var started ProgressEvent
	created, err := c.Apply(ctx, op, Hooks{
		BeforeSend: func(_ context.Context, tok string) error { token = tok; return nil },
		Started:    func(_ context.Context, ev ProgressEvent) error { started = ev; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.OperationStatus != StatusSuccess || created.Identifier != "device-update-template" || started.RequestToken == "" {
		t.Fatalf("created %+v, started %+v", created, started)
	}

	model, err := c.Get(ctx, op.TypeName, created.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	var props map[string]any
	if err := json.Unmarshal(model, &props); err != nil {
		t.Fatal(err)
	}
	if arn, _ := props["Arn"].(string); !strings.HasSuffix(arn, ":jobtemplate/device-update-template") {
		t.Errorf("Arn = %v", props["Arn"])
	}
	if _, ok := props["Document"]; ok {
		t.Errorf("write-only Document returned by a read: %s", model)
	}

	// Resuming the recorded request gives its final event.
	resumed, err := c.Resume(ctx, started.RequestToken)
	if err != nil || resumed.OperationStatus != StatusSuccess {
		t.Errorf("Resume = %+v, %v", resumed, err)
	}
	// Repeating the call with the same ClientToken is the same request, not
	// a second resource.
	again, err := c.ApplyWithToken(ctx, op, token, Hooks{})
	if err != nil || again.RequestToken != started.RequestToken {
		t.Errorf("ApplyWithToken(same token) = %+v, %v; want the original request %s", again, err, started.RequestToken)
	}
	// The same token with another request conflicts.
	if _, err := c.ApplyWithToken(ctx, jobTemplate("other", "x"), token, Hooks{}); !errors.Is(err, ErrClientTokenConflict) {
		t.Errorf("same token, different request: err = %v, want ErrClientTokenConflict", err)
	}
	// A second create with the same identifier already exists.
	if _, err := c.Apply(ctx, op, Hooks{}); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("duplicate create: err = %v, want ErrAlreadyExists", err)
	}

	var ids []string
	for r, err := range c.List(ctx, op.TypeName) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.Identifier)
	}
	if len(ids) != 1 || ids[0] != "device-update-template" {
		t.Errorf("List = %v", ids)
	}

	del := Operation{Kind: Delete, TypeName: op.TypeName, Identifier: created.Identifier}
	if _, err := c.Apply(ctx, del, Hooks{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, del, Hooks{}); err != nil {
		t.Errorf("deleting a deleted resource: %v, want success", err)
	}
	if _, err := c.Get(ctx, op.TypeName, created.Identifier); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after delete: err = %v, want ErrNotFound", err)
	}
}

// TestEmulatorFaults deploys and destroys resources through an emulator that
// throttles, fails with 5xx and fails operations asynchronously: every
// operation must succeed, and each resource exist exactly once.
func TestEmulatorFaults(t *testing.T) {
	const n = 60
	c, _ := startEmulator(t, emulator.Options{Faults: emulator.Faults{
		Seed: 7, Throttles: 0.1, ServerErrors: 0.05, AsyncFailures: 0.2,
	}}, WithConcurrency(8), withNoBackoff(), WithReruns(0, time.Millisecond, 5*time.Millisecond),
		// Injected throttles are random, not a rate limit: slowing down
		// would not avoid them (TestEmulatorRealisticRateLimit covers that).
		WithRateLimiter(noLimit{}))
	ctx := t.Context()
	run := func(op func(i int) Operation) {
		t.Helper()
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if _, err := c.Apply(ctx, op(i), Hooks{}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	run(func(i int) Operation { return jobTemplate(fmt.Sprintf("tpl-%03d", i), "faulty") })
	seen := map[string]int{}
	for r, err := range c.List(ctx, "AWS::IoT::JobTemplate") {
		if err != nil {
			t.Fatal(err)
		}
		seen[r.Identifier]++
	}
	if len(seen) != n {
		t.Errorf("%d resources after deploy, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s listed %d times", id, k)
		}
	}
	s := c.Stats()
	t.Logf("deploy stats: %+v", s)
	if s.Reruns == 0 || s.Retries == 0 {
		t.Errorf("no faults exercised: %+v", s)
	}
	run(func(i int) Operation {
		return Operation{Kind: Delete, TypeName: "AWS::IoT::JobTemplate", Identifier: fmt.Sprintf("tpl-%03d", i)}
	})
	for r, err := range c.List(ctx, "AWS::IoT::JobTemplate") {
		t.Errorf("left after destroy: %v %v", r.Identifier, err)
	}
}

// TestEmulatorRealisticRateLimit runs operations against the emulator's rate
// limit: the client must slow down instead of failing.
func TestEmulatorRealisticRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds of real time")
	}
	eo := emulator.Options{Faults: emulator.Faults{Seed: 1, RateLimit: 40, Burst: 5}}
	c, _ := startEmulator(t, eo, WithConcurrency(16))
	const n = 80
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := c.Apply(t.Context(), jobTemplate(fmt.Sprintf("rl-%03d", i), "limited"), Hooks{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s := c.Stats()
	t.Logf("stats: %+v", s)
	if s.Failed != 0 {
		t.Errorf("%d operations failed", s.Failed)
	}
	if s.Throttles > 0 && s.RateLimit == 0 {
		t.Errorf("throttled %d times but the limiter never engaged", s.Throttles)
	}
}

// noLimit is a RateLimiter that never waits.
type noLimit struct{}

func (noLimit) Wait(context.Context) error { return nil }
func (noLimit) Feedback(bool)              {}

// TestWaveWithoutHistoryPollsThroughScouts starts 200 operations of 300 ms
// at once without RetryAfter hints: before the first completes, only the
// scouts poll on the schedule without history, and the rest poll once
// the first completion says when.
func TestWaveWithoutHistoryPollsThroughScouts(t *testing.T) {
	d := emulator.Fixed(300 * time.Millisecond)
	c, _ := startEmulator(t, emulator.Options{Latency: emulator.Latency{Create: d}, RetryAfter: emulator.RetryAfterNone},
		WithConcurrency(256))
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Apply(t.Context(), jobTemplate(fmt.Sprintf("wave-%03d", i), "wave"), Hooks{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	polls := c.Stats().Polls
	t.Logf("%d polls for %d operations", polls, n)
	// Every operation polled on the schedule without history would poll
	// two or three times before 300 ms (at 50–100 ms, 150–300 ms, ...).
	if perOp := float64(polls) / n; perOp > 1.6 {
		t.Errorf("%.2f polls per operation, want at most 1.6: only the %d scouts poll before the first completion", perOp, scouts)
	}
}

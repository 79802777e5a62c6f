package cloudcontrol

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"
)

// TestApplyWaitsOutThrottling: a call throttled far more often than the
// SDK's usual attempt count allows is retried until it passes, within the
// retry budget, with the same ClientToken.
func TestApplyWaitsOutThrottling(t *testing.T) {
	f := newFakeServer(t)
	replies := make([]reply, 0, 31)
	for range 30 {
		replies = append(replies, throttle())
	}
	f.script("CreateResource", append(replies, progress("SUCCESS"))...)
	c := newTestClient(t, f, newFakeClock())
	if _, err := c.Apply(t.Context(), createOp(), Hooks{}); err != nil {
		t.Fatalf("err = %v, want the create to pass after 30 throttles", err)
	}
	reqs := f.requests("CreateResource")
	if len(reqs) != 31 {
		t.Fatalf("%d CreateResource requests, want 31", len(reqs))
	}
	for _, r := range reqs[1:] {
		if r.str("ClientToken") != reqs[0].str("ClientToken") {
			t.Fatalf("retry changed ClientToken: %q vs %q", r.str("ClientToken"), reqs[0].str("ClientToken"))
		}
	}
	if s := c.Stats(); s.Throttles != 30 || s.RateLimit == 0 {
		t.Errorf("stats = %+v, want 30 throttles and the limiter engaged", s)
	}
}

// TestRetryBudgetEndsSyncRetries: a call that keeps failing retryably is
// given up once the budget has passed since its first attempt, with the last
// error (still matching its sentinel and SDK type) and a word on the budget.
func TestRetryBudgetEndsSyncRetries(t *testing.T) {
	f := newFakeServer(t)
	clk := newFakeClock()
	f.handle("CreateResource", func(req) reply {
		clk.Advance(time.Minute)
		return throttle()
	})
	c := newTestClient(t, f, clk, WithRetryPolicy(RetryPolicy{Budget: 5 * time.Minute}))
	_, err := c.Apply(t.Context(), createOp(), Hooks{})
	if !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v, want ErrThrottled", err)
	}
	var te *types.ThrottlingException
	if !errors.As(err, &te) {
		t.Errorf("err %v does not wrap *types.ThrottlingException", err)
	}
	if !strings.Contains(err.Error(), "retry budget 5m0s") || !strings.Contains(err.Error(), "5 attempts") {
		t.Errorf("err %q does not say the retry budget of 5m0s was spent after 5 attempts", err)
	}
	if n := f.count("CreateResource"); n != 5 {
		t.Errorf("%d attempts, want 5 (one a minute for the 5 minute budget)", n)
	}
}

// TestRetryBudgetCoversServerErrorsAndDroppedConnections: 5xx answers and
// connections closed without an answer are retried like throttles, with
// the same ClientToken, while a non-retryable error fails at once (see
// TestSyncErrorMapping).
func TestRetryBudgetCoversServerErrorsAndDroppedConnections(t *testing.T) {
	f := newFakeServer(t)
	f.script("CreateResource", apiError(http.StatusInternalServerError, "InternalFailure", "boom"),
		apiError(http.StatusServiceUnavailable, "ServiceUnavailable", "busy"), progress("SUCCESS"))
	var dropped atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if dropped.Add(1) <= 12 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			conn.Close()
			return
		}
		f.serve(w, r)
	}))
	t.Cleanup(front.Close)
	p := DefaultPollPolicy()
	p.Adaptive = false
	c := New(testConfig(front.URL), withClock(newFakeClock()), withNoBackoff(), WithPollPolicy(p))
	if _, err := c.Apply(t.Context(), createOp(), Hooks{}); err != nil {
		t.Fatalf("err = %v, want success after 12 dropped connections and two 5xx", err)
	}
	reqs := f.requests("CreateResource")
	if len(reqs) != 3 {
		t.Fatalf("%d CreateResource requests reached the server, want 3", len(reqs))
	}
	if reqs[1].str("ClientToken") != reqs[0].str("ClientToken") || reqs[2].str("ClientToken") != reqs[0].str("ClientToken") {
		t.Errorf("retries changed the ClientToken")
	}
	if s := c.Stats(); s.Retries != 14 {
		t.Errorf("%d retries, want 14", s.Retries)
	}
}

// TestRerunsBoundedByBudget: a mutation that keeps ending FAILED/Throttling
// is re-run, with growing delays, until the next re-run would start past the
// budget after the first failure; each asynchronous throttle slows the
// shared limiter down.
func TestRerunsBoundedByBudget(t *testing.T) {
	f := newFakeServer(t)
	f.script("CreateResource", progress("FAILED", ev{"ErrorCode": "Throttling", "StatusMessage": "Rate exceeded (Service: Iot)"}))
	clk := newFakeClock()
	var reruns []time.Duration
	c := newTestClient(t, f, clk, WithRetryPolicy(RetryPolicy{Budget: time.Minute}),
		WithReruns(0, time.Second, 20*time.Second), WithObserver(func(e Event) {
			if e.Type == EventRerun {
				reruns = append(reruns, e.Delay)
			}
		}))
	_, err := c.Apply(t.Context(), createOp(), Hooks{})
	var oe *OperationError
	if !errors.As(err, &oe) || oe.ErrorCode != CodeThrottling || !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v, want the Throttling failure", err)
	}
	var total time.Duration
	for _, d := range reruns {
		total += d
	}
	// Delays of 0.5–1, 1–2, 4, 8, 16 and then 20 s at most: at least six
	// re-runs fit in the minute, more than the old fixed bound of five.
	if len(reruns) < 6 || total > time.Minute {
		t.Errorf("re-runs after %v (%s in all), want at least 6 within the 1m budget", reruns, total)
	}
	if n := f.count("CreateResource"); n != len(reruns)+1 {
		t.Errorf("%d sends, want %d", n, len(reruns)+1)
	}
	if s := c.Stats(); s.AsyncThrottles != int64(len(reruns)+1) || s.RateLimit == 0 {
		t.Errorf("stats = %+v, want every asynchronous throttle counted and the limiter engaged", s)
	}
}

// TestNothingListeningGivesUpAfterConnectBudget: an endpoint where nothing
// listens is reported after the connect budget, not retried for the whole
// retry budget.
func TestNothingListeningGivesUpAfterConnectBudget(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	c := New(testConfig(url), WithRetryPolicy(RetryPolicy{ConnectBudget: 100 * time.Millisecond, Base: time.Millisecond, Max: 5 * time.Millisecond}))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err = c.Apply(ctx, createOp(), Hooks{})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("err = %v (context %v), want the connection error within the connect budget", err, ctx.Err())
	}
	if !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "retry budget 100ms") {
		t.Errorf("err %q does not say the connection was refused until the 100ms connect budget was spent", err)
	}
	if s := c.Stats(); s.Retries == 0 {
		t.Errorf("no retry of the refused connection: %+v", s)
	}
}

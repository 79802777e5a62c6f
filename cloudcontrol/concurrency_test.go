package cloudcontrol

import (
	"context"
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fill takes n slots of l, failing if any has to wait.
func fill(t *testing.T, l *inflight, n int) {
	t.Helper()
	for i := range n {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		l.mu.Lock()
		free := len(l.waiters) == 0 && l.inFlight < l.bound()
		l.mu.Unlock()
		if !free {
			t.Fatalf("slot %d of %d: none free (bound %d)", i+1, n, l.Limit())
		}
		if err := l.acquire(context.WithoutCancel(ctx)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAdaptiveConcurrencyGrowsWhileAnswersAreFastAndInUse(t *testing.T) {
	l := newAdaptiveInflight(AdaptiveConcurrency{Initial: 4, Min: 2, Max: 64})
	now := t0
	// Unused slots: answers grow nothing.
	fill(t, l, 2)
	for range 10 {
		l.feedback(now, "CreateResource", time.Millisecond, true, false)
	}
	if got := l.Limit(); got != 4 {
		t.Fatalf("bound %d after answers with half the slots free, want 4", got)
	}
	// In use: slow start, one slot per answer, doubling per round.
	fill(t, l, 2)
	for round, want := range []int{8, 16, 32, 64, 64} {
		// Each answer's new slot is taken at once, as by a waiter.
		for range l.Limit() {
			l.feedback(now, "CreateResource", time.Millisecond, true, false)
			l.mu.Lock()
			free := l.bound() - l.inFlight
			l.mu.Unlock()
			fill(t, l, free)
		}
		if got := l.Limit(); got != want {
			t.Fatalf("round %d: bound %d, want %d", round, got, want)
		}
	}
	if l.Peak() != 64 {
		t.Fatalf("peak in flight %d, want 64", l.Peak())
	}
	// Errors other than throttles grow nothing.
	l.mu.Lock()
	l.limit = 32
	l.mu.Unlock()
	l.feedback(now, "CreateResource", time.Millisecond, false, false)
	if got := l.Limit(); got != 32 {
		t.Fatalf("bound %d after a failed answer, want 32", got)
	}
}

func TestAdaptiveConcurrencyHoldsWhileRequestsQueueForTheRate(t *testing.T) {
	l := newAdaptiveInflight(AdaptiveConcurrency{Initial: 4, Max: 64})
	mutations, polls := 2*time.Second, 2*time.Second
	l.backlog = func(p Priority) time.Duration {
		if p == PriorityPoll {
			return polls
		}
		return mutations
	}
	fill(t, l, 4)
	now := t0
	answers := func(n int) {
		for range n {
			now = now.Add(10 * time.Millisecond)
			l.feedback(now, "GetResourceRequestStatus", time.Millisecond, true, false)
		}
	}
	answers(20)
	if got := l.Limit(); got != 4 {
		t.Fatalf("bound %d after answers while mutations queue 2 s for the rate, want 4: more operations would only queue longer", got)
	}
	// Mutations have queued for the rate: slow start is over, and with
	// their queue short again the bound grows by about one per round
	// (1/bound per answer: 4 → 5 in five answers), although polls wait
	// two seconds behind them: that is how polls wait for their
	// operations to finish.
	mutations = 100 * time.Millisecond
	answers(5)
	if got := l.Limit(); got != 5 {
		t.Fatalf("bound %d after 5 answers with a short queue of mutations, want 5 (one per round)", got)
	}
	// Polls deferred five seconds: the bound holds.
	polls = deferredPolls
	answers(20)
	if got := l.Limit(); got != 5 {
		t.Fatalf("bound %d after answers while polls wait %v, want 5", got, polls)
	}
}

func TestAdaptiveConcurrencyLeavesSlowStartWhenTheRateBinds(t *testing.T) {
	l := newAdaptiveInflight(AdaptiveConcurrency{Initial: 4, Max: 64})
	saturated := false
	l.saturated = func() bool { return saturated }
	fill(t, l, 4)
	now := t0
	// Each answer's new slot is taken at once, as by a waiter.
	answer := func() {
		now = now.Add(10 * time.Millisecond)
		l.feedback(now, "CreateResource", time.Millisecond, true, false)
		l.mu.Lock()
		free := l.bound() - l.inFlight
		l.mu.Unlock()
		fill(t, l, free)
	}
	for range 4 {
		answer()
	}
	if got := l.Limit(); got != 8 {
		t.Fatalf("bound %d after a round of answers in slow start, want 8", got)
	}
	// The rate binds: one slot per round from now on, also once it no
	// longer does.
	saturated = true
	for i := range 16 {
		if i == 8 {
			saturated = false
		}
		answer()
	}
	if got := l.Limit(); got != 9 {
		t.Fatalf("bound %d after 16 answers once the rate bound, want 9 (about one per round of 8)", got)
	}
}

func TestAdaptiveConcurrencyBacksOffOnSustainedThrottling(t *testing.T) {
	l := newAdaptiveInflight(AdaptiveConcurrency{Initial: 100, Max: 256, Min: 10})
	fill(t, l, 100)
	now := t0
	// One throttle in twenty answers is the rate limiter's business.
	for i := range 20 {
		now = now.Add(40 * time.Millisecond)
		l.feedback(now, "GetResourceRequestStatus", time.Millisecond, i != 10, i == 10)
	}
	if got := l.Limit(); got < 100 {
		t.Fatalf("bound %d after one throttle in 20 answers, want no decrease from 100", got)
	}
	// The throttles of the first second after the first one answer the rate
	// limiter's probe of the service's rate: all throttled, the bound stays.
	for range 10 {
		now = now.Add(10 * time.Millisecond)
		l.feedback(now, "CreateResource", time.Millisecond, false, true)
	}
	if got := l.Limit(); got < 100 {
		t.Fatalf("bound %d after the throttles answering the rate limiter's probe, want no decrease from 100", got)
	}
	now = now.Add(time.Second)
	before := l.Limit()
	// Half the answers of a second throttled: one decrease per cooldown.
	for i := range 20 {
		now = now.Add(10 * time.Millisecond)
		l.feedback(now, "CreateResource", time.Millisecond, i%2 == 0, i%2 == 1)
	}
	want := int(float64(before) * 0.7)
	if got := l.Limit(); got < want-1 || got > want+1 {
		t.Fatalf("bound %d after sustained throttling, want about %d (0.7 × %d, once per cooldown)", got, want, before)
	}
	// After the decrease, growth is additive: about one per bound answers.
	b := l.Limit()
	now = now.Add(2 * time.Second)
	for range b {
		l.feedback(now, "CreateResource", time.Millisecond, true, false)
	}
	if got := l.Limit(); got != b+1 && got != b {
		t.Fatalf("bound %d after %d answers past a decrease, want %d or %d (additive increase)", got, b, b, b+1)
	}
	// Throttling that goes on cuts, cooldown after cooldown, down to Min.
	for range 20 {
		now = now.Add(time.Second)
		for range 10 {
			l.feedback(now, "CreateResource", time.Millisecond, false, true)
		}
	}
	if got := l.Limit(); got != 10 {
		t.Fatalf("bound %d after 20 s of throttling, want the floor 10", got)
	}
}

func TestAdaptiveConcurrencyBacksOffOnRisingLatency(t *testing.T) {
	l := newAdaptiveInflight(AdaptiveConcurrency{Initial: 50, Max: 256, Min: 5})
	fill(t, l, 50)
	now := t0
	for range 20 {
		now = now.Add(10 * time.Millisecond)
		l.feedback(now, "CreateResource", 100*time.Millisecond, true, false)
		// Another API's latency has its own baseline: a slower one is
		// not a rise.
		l.feedback(now, "GetResourceRequestStatus", 20*time.Millisecond, true, false)
	}
	grown := l.Limit()
	if grown <= 50 {
		t.Fatalf("bound %d after flat latencies, want growth past 50", grown)
	}
	// Within tolerance (3 × 100 ms + 500 ms): no decrease.
	for range 20 {
		now = now.Add(10 * time.Millisecond)
		l.feedback(now, "CreateResource", 700*time.Millisecond, true, false)
	}
	if got := l.Limit(); got < grown {
		t.Fatalf("bound %d after latencies within tolerance, want ≥ %d", got, grown)
	}
	// Latency rises past it: the bound comes down.
	peak := l.Limit()
	for range 20 {
		now = now.Add(10 * time.Millisecond)
		l.feedback(now, "CreateResource", 2*time.Second, true, false)
	}
	if got := l.Limit(); got >= peak {
		t.Fatalf("bound %d after latency rose twentyfold, want below %d", got, peak)
	}
}

func TestFixedConcurrencyDoesNotAdapt(t *testing.T) {
	l := newFixedInflight(3)
	fill(t, l, 3)
	for range 10 {
		l.feedback(t0, "CreateResource", time.Millisecond, true, false)
		l.feedback(t0, "CreateResource", time.Hour, false, true)
	}
	if l.Limit() != 3 || l.Max() != 3 {
		t.Fatalf("fixed bound %d (max %d), want 3", l.Limit(), l.Max())
	}
}

func TestInflightWaitersInOrderAndCancellation(t *testing.T) {
	l := newFixedInflight(1)
	fill(t, l, 1)
	got := make(chan int, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() { cancelled <- l.acquire(ctx) }()
	waitFor(t, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.waiters) == 1 })
	for i := range 2 {
		go func() {
			if l.acquire(context.Background()) == nil {
				got <- i
				l.release()
			}
		}()
		waitFor(t, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.waiters) == i+2 })
	}
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v, want context.Canceled", err)
	}
	l.release()
	if a, b := <-got, <-got; a != 0 || b != 1 {
		t.Fatalf("waiters served in order %d, %d; want 0, 1", a, b)
	}
	waitFor(t, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.inFlight == 0 })
}

// waitFor waits, boundedly, until cond holds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

package cloudcontrol

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

// reserve takes the first slot free at or after now for one request, as
// Wait does for a request that finds nobody queued (sleeping until the slot
// when it is not free), and returns the wait.
func (l *AIMDLimiter) reserve(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.take(now, false) {
		return 0
	}
	at := l.nextSlot()
	l.take(at, false)
	return at.Sub(now)
}

// queueAt queues one request of priority p at now, as Wait does when it
// must wait (without starting pace: the test dispatches).
func queueAt(t *testing.T, l *AIMDLimiter, now time.Time, p Priority) *slotWaiter {
	t.Helper()
	w, _ := l.enqueue(now, p)
	if w == nil {
		t.Fatal("a request went at once, want it queued")
	}
	return w
}

func granted(w *slotWaiter) bool {
	select {
	case <-w.ready:
		return true
	default:
		return false
	}
}

func TestAIMDPollsWaitBehindMutations(t *testing.T) {
	clk := newFakeClock()
	l := newAIMDLimiter(AIMDOptions{InitialRate: 10, MaxRate: 10}, clk)
	now := clk.Now()
	if w, _ := l.enqueue(now, PriorityPoll); w != nil {
		t.Fatal("the first request waits with the slot free")
	}
	// Three polls and two mutations queue, interleaved.
	p1 := queueAt(t, l, now, PriorityPoll)
	m1 := queueAt(t, l, now, PriorityNormal)
	p2 := queueAt(t, l, now, PriorityPoll)
	m2 := queueAt(t, l, now, PriorityNormal)
	p3 := queueAt(t, l, now, PriorityPoll)
	// A slot every 100 ms: the mutations first, then the polls in the
	// order they came.
	for i, w := range []*slotWaiter{m1, m2, p1, p2, p3} {
		next, more := l.dispatch(now.Add(time.Duration(i)*100*time.Millisecond + 50*time.Millisecond))
		if !more || next != 50*time.Millisecond {
			t.Fatalf("before slot %d: next %v, more %v; want the slot in 50ms", i+1, next, more)
		}
		at := now.Add(time.Duration(i+1) * 100 * time.Millisecond)
		next, more = l.dispatch(at)
		if !granted(w) {
			t.Fatalf("slot %d did not go to waiter %d", i+1, i)
		}
		for _, o := range []*slotWaiter{m1, m2, p1, p2, p3}[i+1:] {
			if granted(o) {
				t.Fatalf("slot %d also went to a later waiter", i+1)
			}
		}
		if i < 4 && (!more || next != 100*time.Millisecond) {
			t.Fatalf("after slot %d: next %v, more %v; want the next slot in 100ms", i+1, next, more)
		}
	}
	if _, more := l.dispatch(now.Add(time.Second)); more {
		t.Error("dispatch reports more waiters once all are served")
	}
}

func TestAIMDDecreaseAppliesToTheQueue(t *testing.T) {
	clk := newFakeClock()
	l := newAIMDLimiter(AIMDOptions{InitialRate: 10, MaxRate: 10, Decrease: 0.5}, clk)
	now := clk.Now()
	l.reserve(now)
	l.Feedback(false)
	for range 9 {
		queueAt(t, l, now, PriorityNormal)
	}
	// A throttle halves the rate: the requests still queued leave at the
	// new rate (the one accepted request of the last second, halved,
	// floored at MinRate 1: a second apart), counted from the last slot
	// handed out, not at the old rate.
	clk.Advance(50 * time.Millisecond)
	l.Feedback(true)
	if r := l.Rate(); r != 1 {
		t.Fatalf("rate after the throttle %v, want 1", r)
	}
	if next, _ := l.dispatch(now.Add(100 * time.Millisecond)); next != 900*time.Millisecond {
		t.Errorf("at the old rate's next slot: next %v, want 900ms (a second after the last)", next)
	}
	for i := 1; i <= 3; i++ {
		at := now.Add(time.Duration(i) * time.Second)
		before := l.waiting()
		next, _ := l.dispatch(at)
		if l.waiting() != before-1 || next != time.Second {
			t.Errorf("slot %d s after the first: %d waiters left (had %d), next %v; want one served, next in 1s", i, l.waiting(), before, next)
		}
	}
}

func TestAIMDPaceKeepsTimeWhenLate(t *testing.T) {
	clk := newFakeClock()
	l := newAIMDLimiter(AIMDOptions{InitialRate: 10, MaxRate: 10}, clk)
	now := clk.Now()
	l.reserve(now)
	for range 3 {
		queueAt(t, l, now, PriorityNormal)
	}
	// Woken 30 ms after each slot, pace still hands them out 100 ms
	// apart: the next slot is due 70 ms after each wake-up.
	for i := 1; i <= 3; i++ {
		next, more := l.dispatch(now.Add(time.Duration(i)*100*time.Millisecond + 30*time.Millisecond))
		if i < 3 && (!more || next != 70*time.Millisecond) {
			t.Errorf("woken 30 ms late for slot %d: next in %v, want 70ms", i, next)
		}
	}
	if n := l.waiting(); n != 0 {
		t.Errorf("%d waiters left, want 0", n)
	}
}

func TestAIMDBacklog(t *testing.T) {
	clk := newFakeClock()
	if b := newAIMDLimiter(AIMDOptions{}, clk).Backlog(PriorityPoll); b != 0 {
		t.Errorf("unlimited: Backlog %v, want 0", b)
	}
	l := newAIMDLimiter(AIMDOptions{InitialRate: 10, MaxRate: 10}, clk)
	now := clk.Now()
	l.reserve(now)
	var ws []*slotWaiter
	for range 9 {
		ws = append(ws, queueAt(t, l, now, PriorityPoll))
	}
	// One sent and nine polls queued at 10/s: another poll would wait a
	// second, a mutation only for the next slot.
	if b := l.Backlog(PriorityPoll); b != time.Second {
		t.Errorf("poll's Backlog with nine polls queued at 10/s = %v, want 1s", b)
	}
	if b := l.Backlog(PriorityNormal); b != 100*time.Millisecond {
		t.Errorf("mutation's Backlog with nine polls queued at 10/s = %v, want 100ms", b)
	}
	ws = append(ws, queueAt(t, l, now, PriorityNormal))
	if b := l.Backlog(PriorityNormal); b != 200*time.Millisecond {
		t.Errorf("mutation's Backlog behind one mutation = %v, want 200ms", b)
	}
	clk.Advance(100 * time.Millisecond)
	l.dispatch(clk.Now())
	if b := l.Backlog(PriorityPoll); b != time.Second {
		t.Errorf("poll's Backlog once the mutation is served = %v, want 1s", b)
	}
	for i := 2; i <= 10; i++ {
		l.dispatch(now.Add(time.Duration(i) * 100 * time.Millisecond))
	}
	clk.Advance(2 * time.Second)
	if b := l.Backlog(PriorityPoll); b != 0 {
		t.Errorf("Backlog once the queue is past = %v, want 0", b)
	}
	for i, w := range ws {
		if !granted(w) {
			t.Errorf("waiter %d never served", i)
		}
	}
}

// TestAIMDWaitServesByPriority runs Wait on the real clock from many
// goroutines: the mutations queued behind polls leave before them, a
// waiter whose context ends leaves the queue, and pace stops once the
// queue is empty.
func TestAIMDWaitServesByPriority(t *testing.T) {
	l := NewAIMDLimiter(AIMDOptions{InitialRate: 10, MaxRate: 10})
	ctx := t.Context()
	if err := l.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		order []Priority
		wg    sync.WaitGroup
	)
	// live returns the requests queued at each priority.
	live := func() (normal, poll int) {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.live[PriorityNormal.class()], l.live[PriorityPoll.class()]
	}
	until := func(cond func() bool) {
		for !cond() {
			time.Sleep(time.Millisecond)
		}
	}
	start := func(p Priority) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Wait(WithPriority(ctx, p)); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, p)
			mu.Unlock()
		}()
	}
	const polls, mutations = 10, 3
	for range polls {
		start(PriorityPoll)
	}
	until(func() bool { _, p := live(); return p >= polls-1 })
	// A mutation whose context ends while it waits gives up its place.
	gone, cancel := context.WithCancel(ctx)
	abandoned := make(chan error)
	go func() { abandoned <- l.Wait(gone) }()
	until(func() bool { n, _ := live(); return n == 1 })
	cancel()
	if err := <-abandoned; err != context.Canceled {
		t.Fatalf("Wait of a cancelled waiter = %v, want context.Canceled", err)
	}
	for range mutations {
		start(PriorityNormal)
	}
	until(func() bool { n, _ := live(); return n == mutations })
	_, behind := live()
	wg.Wait()
	if len(order) != polls+mutations {
		t.Fatalf("%d requests served, want %d", len(order), polls+mutations)
	}
	// Every slot from the one after all mutations queued went to them
	// first: the polls still queued then are the last served.
	if behind < mutations {
		t.Fatalf("only %d polls still queued behind the mutations; the test needs %d", behind, mutations)
	}
	for i, p := range order[len(order)-behind:] {
		if p != PriorityPoll {
			t.Fatalf("a mutation was served after a poll queued ahead of it: order %v (%d polls were still queued, slot %d of them)", order, behind, i)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.waiting(); n != 0 || l.pacing {
		t.Errorf("after all served: %d queued, pacing %v; want 0, false", n, l.pacing)
	}
}

func TestAIMDUnlimitedUntilThrottled(t *testing.T) {
	clk := newFakeClock()
	l := newAIMDLimiter(AIMDOptions{}, clk)
	for range 1000 {
		if d := l.reserve(clk.Now()); d != 0 {
			t.Fatalf("unthrottled limiter delayed a request by %v", d)
		}
		l.Feedback(false)
	}
	if r := l.Rate(); r != 0 {
		t.Errorf("Rate() = %v, want 0 (not limiting)", r)
	}
}

func TestAIMDPacesAtRate(t *testing.T) {
	clk := newFakeClock()
	l := newAIMDLimiter(AIMDOptions{InitialRate: 10, MaxRate: 10}, clk)
	now := clk.Now()
	// Ten requests at the same instant leave 100 ms apart.
	for i := range 10 {
		if d, want := l.reserve(now), time.Duration(i)*100*time.Millisecond; d != want {
			t.Errorf("request %d waits %v, want %v", i, d, want)
		}
	}
	// After an idle second, the next goes at once (burst 1: only one).
	now = now.Add(2 * time.Second)
	if d := l.reserve(now); d != 0 {
		t.Errorf("after idle: wait %v, want 0", d)
	}
	if d := l.reserve(now); d != 100*time.Millisecond {
		t.Errorf("second after idle: wait %v, want 100ms", d)
	}
}

func TestAIMDBurst(t *testing.T) {
	clk := newFakeClock()
	l := newAIMDLimiter(AIMDOptions{InitialRate: 10, Burst: 3}, clk)
	now := clk.Now()
	want := []time.Duration{0, 0, 0, 100 * time.Millisecond, 200 * time.Millisecond}
	for i, w := range want {
		if d := l.reserve(now); d != w {
			t.Errorf("request %d waits %v, want %v", i, d, w)
		}
	}
}

func TestAIMDDecreaseToAcceptedRate(t *testing.T) {
	clk := newFakeClock()
	l := newAIMDLimiter(AIMDOptions{}, clk)
	// Unlimited: 60 requests offered over one second, 30 accepted.
	for i := range 60 {
		l.reserve(clk.Now())
		if i%2 == 0 {
			l.Feedback(false)
		}
		clk.Advance(time.Second / 60)
	}
	l.Feedback(true)
	// The cut is from the accepted rate (30/s), not the offered one.
	if r := l.Rate(); math.Abs(r-0.8*30) > 1 {
		t.Fatalf("rate after the first throttle = %.2f, want 0.8 × 30 accepted/s = 24", r)
	}
}

func TestAIMDDecreaseAndIncrease(t *testing.T) {
	clk := newFakeClock()
	l := newAIMDLimiter(AIMDOptions{InitialRate: 20, Decrease: 0.5, Increase: 2, Cooldown: time.Second}, clk)
	// Offer 25 requests/s, more than the rate, for two seconds: they go
	// out at the rate, which is in use from the first second on.
	second := func() {
		for range 25 {
			clk.Advance(l.reserve(clk.Now()))
			l.Feedback(false)
			clk.Advance(40 * time.Millisecond)
		}
	}
	second()
	first := l.Rate()
	second()
	rateBefore := l.Rate()
	if rateBefore <= first {
		t.Fatalf("additive increase did not raise the rate: %v → %v", first, rateBefore)
	}
	// Each success adds Increase/rate: 25 at a rate of about 21 add
	// about 2.4.
	if want := first + 25*2/first; math.Abs(rateBefore-want) > 0.2 {
		t.Errorf("rate after one second of successes at the rate = %.2f, want ≈ %.2f", rateBefore, want)
	}
	l.Feedback(true)
	got := l.Rate()
	// 0.5 × the requests accepted over the last second, which went out at
	// the rate: between first and rateBefore.
	if got < 0.5*first-0.5 || got > 0.5*rateBefore+0.5 {
		t.Errorf("rate after throttle = %.2f, want 0.5 × %.2f–%.2f accepted/s", got, first, rateBefore)
	}
	// Throttles within the cooldown count once.
	l.Feedback(true)
	l.Feedback(true)
	if r := l.Rate(); r != got {
		t.Errorf("rate within cooldown = %.2f, want unchanged %.2f", r, got)
	}
	// After the cooldown a throttle decreases again, never below MinRate.
	for range 20 {
		clk.Advance(2 * time.Second)
		l.Feedback(true)
	}
	if r := l.Rate(); r != 1 {
		t.Errorf("rate after many throttles = %v, want MinRate 1", r)
	}
}

func TestAIMDMaxRate(t *testing.T) {
	clk := newFakeClock()
	l := newAIMDLimiter(AIMDOptions{InitialRate: 5, MaxRate: 6, Increase: 10}, clk)
	for range 100 {
		clk.Advance(l.reserve(clk.Now()))
		l.Feedback(false)
	}
	if r := l.Rate(); r != 6 {
		t.Errorf("rate = %v, want capped at 6", r)
	}
}

func TestAIMDGrowsOnlyInUse(t *testing.T) {
	clk := newFakeClock()
	l := newAIMDLimiter(AIMDOptions{InitialRate: 20}, clk)
	// Ten seconds at 5 requests/s, a quarter of the rate: the service's
	// answers say nothing of its limit, and the rate stays.
	for range 50 {
		l.reserve(clk.Now())
		l.Feedback(false)
		clk.Advance(200 * time.Millisecond)
	}
	if r := l.Rate(); r != 20 {
		t.Errorf("rate after 10 s at a quarter of it = %v, want 20", r)
	}
	if l.Saturated() {
		t.Error("Saturated at a quarter of the rate")
	}
	// Offered more than the rate, it is saturated, and grows.
	for range 50 {
		clk.Advance(l.reserve(clk.Now()))
		l.Feedback(false)
		clk.Advance(40 * time.Millisecond)
	}
	if !l.Saturated() {
		t.Error("not Saturated at the rate")
	}
	if r := l.Rate(); r <= 20 {
		t.Errorf("rate after 2 s at it = %v, want more than 20", r)
	}
	// A throttle saturates it whatever the traffic.
	clk.Advance(5 * time.Second)
	if l.Saturated() {
		t.Error("Saturated after 5 idle seconds")
	}
	l.Feedback(true)
	if !l.Saturated() {
		t.Error("not Saturated right after a throttle")
	}
	// An unlimited limiter never is.
	u := newAIMDLimiter(AIMDOptions{}, clk)
	for range 100 {
		u.reserve(clk.Now())
		u.Feedback(false)
	}
	if u.Saturated() {
		t.Error("an unlimited limiter is Saturated")
	}
}

func TestAIMDWaitHonoursContext(t *testing.T) {
	clk := newFakeClock()
	l := newAIMDLimiter(AIMDOptions{InitialRate: 1}, clk)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := l.Wait(ctx); err != context.Canceled {
		t.Errorf("Wait on cancelled ctx = %v", err)
	}
	if err := l.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := l.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := clk.Sleeps(); len(s) != 1 || s[0] != time.Second {
		t.Errorf("sleeps = %v, want [1s]", s)
	}
}

// TestClientSlowsDownOnThrottles runs a client against a server that
// accepts 10 requests per second of fake time and throttles the rest: the
// client must finish every operation, and throttles must stay a small share
// of requests.
func TestClientSlowsDownOnThrottles(t *testing.T) {
	f := newFakeServer(t)
	clk := newFakeClock()
	var bucket tokenBucket
	bucket.rate, bucket.capacity = 10, 10
	handler := func(api string) func(req) reply {
		return func(req) reply {
			if !bucket.take(clk.Now()) {
				return throttle()
			}
			if api == "CreateResource" {
				return progress("IN_PROGRESS")
			}
			return progress("SUCCESS")
		}
	}
	f.handle("CreateResource", handler("CreateResource"))
	f.handle("GetResourceRequestStatus", handler("GetResourceRequestStatus"))
	c := newTestClient(t, f, clk, WithMaxAttempts(20))
	const ops = 100
	for range ops {
		if _, err := c.Apply(t.Context(), createOp(), Hooks{}); err != nil {
			t.Fatal(err)
		}
	}
	s := c.Stats()
	t.Logf("stats %+v", s)
	if s.RateLimit == 0 || s.RateLimit > 15 {
		t.Errorf("limiter rate %v, want ≈ the server's 10/s", s.RateLimit)
	}
	if share := float64(s.Throttles) / float64(s.Requests); share > 0.1 {
		t.Errorf("%d of %d requests throttled, want under 10%%", s.Throttles, s.Requests)
	}
}

// tokenBucket is the server side of TestClientSlowsDownOnThrottles.
type tokenBucket struct {
	rate, capacity, tokens float64
	last                   time.Time
}

func (b *tokenBucket) take(now time.Time) bool {
	if b.last.IsZero() {
		b.tokens = b.capacity
	} else {
		b.tokens = min(b.capacity, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// priorityLimiter records the priority of each request it lets through.
type priorityLimiter struct {
	mu  sync.Mutex
	got []Priority
}

func (l *priorityLimiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, PriorityOf(ctx))
	return nil
}

func (l *priorityLimiter) Feedback(bool) {}

func TestClientSendsPollsAtPollPriority(t *testing.T) {
	f := newFakeServer(t)
	polls := 0
	f.handle("CreateResource", func(req) reply { return progress("IN_PROGRESS") })
	f.handle("GetResourceRequestStatus", func(req) reply {
		polls++
		if polls < 2 {
			return progress("IN_PROGRESS")
		}
		return progress("SUCCESS")
	})
	lim := &priorityLimiter{}
	c := newTestClient(t, f, newFakeClock(), WithRateLimiter(lim))
	if _, err := c.Apply(t.Context(), createOp(), Hooks{}); err != nil {
		t.Fatal(err)
	}
	want := []Priority{PriorityNormal, PriorityPoll, PriorityPoll}
	if !slices.Equal(lim.got, want) {
		t.Errorf("priorities of create, poll, poll = %v, want %v", lim.got, want)
	}
}

func TestAIMDPollsWaitTenSecondsAtMost(t *testing.T) {
	clk := newFakeClock()
	l := newAIMDLimiter(AIMDOptions{InitialRate: 1, MaxRate: 1}, clk)
	now := clk.Now()
	l.reserve(now)
	poll := queueAt(t, l, now, PriorityPoll)
	// A mutation queued each second, after the poll: each goes first,
	// until the poll has waited maxDeferral.
	var last *slotWaiter
	for i := 1; ; i++ {
		at := now.Add(time.Duration(i) * time.Second)
		last = queueAt(t, l, at.Add(-time.Millisecond), PriorityNormal)
		l.dispatch(at)
		if granted(poll) {
			if waited := at.Sub(now); waited != maxDeferral {
				t.Errorf("poll served after %v behind a stream of mutations, want %v", waited, maxDeferral)
			}
			if granted(last) {
				t.Error("the mutation queued last went with the poll's slot")
			}
			break
		}
		if !granted(last) {
			t.Fatalf("slot %d went to neither the poll nor the mutation", i)
		}
		if i > 20 {
			t.Fatal("the poll was never served")
		}
	}
}

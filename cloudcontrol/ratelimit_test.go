package cloudcontrol

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"
)

// reserve books a slot at now and sends on it at its time, as Wait does
// without sleeping, and returns the wait.
func (l *AIMDLimiter) reserve(now time.Time) time.Duration {
	d, gen := l.book(now)
	l.send(now.Add(d), gen)
	return d
}

func TestAIMDDecreaseVoidsTheQueuedBookings(t *testing.T) {
	clk := newFakeClock()
	l := newAIMDLimiter(AIMDOptions{InitialRate: 10, MaxRate: 10, Decrease: 0.5}, clk)
	now := clk.Now()
	// Ten requests queue at 10/s: slots 0, 100, ... 900 ms.
	var gens []uint64
	for i := range 10 {
		d, gen := l.book(now)
		if want := time.Duration(i) * 100 * time.Millisecond; d != want {
			t.Fatalf("booking %d waits %v, want %v", i, d, want)
		}
		gens = append(gens, gen)
	}
	if !l.send(now, gens[0]) {
		t.Fatal("the first booking was voided with no decrease")
	}
	l.Feedback(false)
	// A throttle halves the rate: the bookings still queued are void, and
	// booked again they leave at the new rate (the one accepted request
	// of the last second, halved, floored at MinRate 1: a second apart).
	clk.Advance(50 * time.Millisecond)
	l.Feedback(true)
	if l.send(now.Add(100*time.Millisecond), gens[1]) {
		t.Fatal("a booking made before the decrease still went out")
	}
	at := clk.Now()
	var waits []time.Duration
	for range 3 {
		d, gen := l.book(at)
		if !l.send(at.Add(d), gen) {
			t.Fatal("a booking made after the decrease was voided")
		}
		waits = append(waits, d)
	}
	if want := []time.Duration{0, time.Second, 2 * time.Second}; !slices.Equal(waits, want) {
		t.Errorf("waits after the decrease %v, want %v", waits, want)
	}
}

func TestAIMDBacklog(t *testing.T) {
	clk := newFakeClock()
	if b := newAIMDLimiter(AIMDOptions{}, clk).Backlog(); b != 0 {
		t.Errorf("unlimited: Backlog %v, want 0", b)
	}
	l := newAIMDLimiter(AIMDOptions{InitialRate: 10, MaxRate: 10}, clk)
	for range 10 {
		l.book(clk.Now())
	}
	// Ten booked at 10/s: the next would wait a second.
	if b := l.Backlog(); b != time.Second {
		t.Errorf("Backlog after 10 bookings at 10/s = %v, want 1s", b)
	}
	clk.Advance(400 * time.Millisecond)
	if b := l.Backlog(); b != 600*time.Millisecond {
		t.Errorf("Backlog 400 ms later = %v, want 600ms", b)
	}
	clk.Advance(time.Second)
	if b := l.Backlog(); b != 0 {
		t.Errorf("Backlog once the queue is past = %v, want 0", b)
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

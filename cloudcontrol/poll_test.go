package cloudcontrol

import (
	"math"
	"testing"
	"time"
)

func TestPollPolicyDelay(t *testing.T) {
	p := DefaultPollPolicy()
	p.Jitter = 0
	ms := time.Millisecond
	learnt := estimate{target: 2400 * ms}
	tests := []struct {
		name       string
		n          int
		elapsed    time.Duration
		est        estimate
		ok         bool
		retryAfter time.Duration
		want       time.Duration
	}{
		{"first, no history", 0, 0, estimate{}, false, 0, 100 * ms},
		{"backoff", 3, 0, estimate{}, false, 0, 800 * ms},
		{"capped", 10, 0, estimate{}, false, 0, 2 * time.Second},
		{"retry after sets the poll", 0, 0, estimate{}, false, 3 * time.Second, 3*time.Second + 5*ms},
		{"retry after sets a later poll", 4, 0, estimate{}, false, 3 * time.Second, 3*time.Second + 5*ms},
		{"retry after comes before the backoff", 6, 0, estimate{}, false, 300 * ms, 305 * ms},
		{"retry after comes before the learnt target", 0, 0, learnt, true, time.Second, time.Second + 5*ms},
		{"retry after soon floors at Min", 0, 0, estimate{}, false, ms, 20 * ms},
		{"retry after just past, within the slack", 0, 0, estimate{}, false, -2 * ms, 20 * ms},
		{"retry after long past ignored", 0, 0, estimate{}, false, -time.Second, 100 * ms},
		{"retry after long past, learnt target", 0, 0, learnt, true, -time.Second, 2400 * ms},
		{"retry after capped", 0, 0, estimate{}, false, time.Hour, time.Minute},
		{"adaptive first poll at target", 0, 0, learnt, true, 0, 2400 * ms},
		{"adaptive first poll counts elapsed", 0, 400 * ms, learnt, true, 0, 2000 * ms},
		{"adaptive target already passed", 0, 3 * time.Second, learnt, true, 0, 20 * ms},
		{"adaptive after a miss", 1, 0, learnt, true, 0, 300 * ms},
		{"adaptive after misses", 3, 0, learnt, true, 0, 1200 * ms},
		{"adaptive short target floors at Initial", 1, 0, estimate{target: 40 * ms}, true, 0, 100 * ms},
		{"adaptive tiny target floors at Min", 0, 0, estimate{target: 5 * ms}, true, 0, 20 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.delay(tt.n, tt.elapsed, tt.est, tt.ok, tt.retryAfter, false, 0); got != tt.want {
				t.Errorf("delay = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPollPolicyJitterShortens(t *testing.T) {
	p := DefaultPollPolicy()
	for _, r := range []float64{0, 0.5, 0.999} {
		// Without history, by up to 2.5 × Jitter, which spreads a wave.
		d := p.delay(2, 0, estimate{}, false, 0, false, r)
		want := 400*time.Millisecond - time.Duration(r*0.5*float64(400*time.Millisecond))
		if diff := d - want; diff > time.Microsecond || diff < -time.Microsecond {
			t.Errorf("r=%v: delay %v without history, want %v (400ms shortened by r × 50%%)", r, d, want)
		}
		// With a learnt target, by up to Jitter.
		d = p.delay(1, 0, estimate{target: 8 * time.Second}, true, 0, false, r)
		if d > time.Second || d < 800*time.Millisecond {
			t.Errorf("r=%v: delay %v after a learnt target of 8s outside [800ms, 1s]", r, d)
		}
		// The service's RetryAfter is kept as given: jitter would poll
		// before it, too early to find the operation done.
		if d := p.delay(2, 0, estimate{}, false, time.Second, false, r); d != time.Second+p.RetryAfterSlack {
			t.Errorf("r=%v: delay %v with a RetryAfter in 1s, want 1s + slack", r, d)
		}
	}
}

func TestPollPolicyDefaults(t *testing.T) {
	got := PollPolicy{Initial: 10 * time.Millisecond}.withDefaults()
	d := DefaultPollPolicy()
	if got.Initial != 10*time.Millisecond || got.Min != 10*time.Millisecond || got.RetryAfterSlack != d.RetryAfterSlack || got.MaxRetryAfter != d.MaxRetryAfter {
		t.Errorf("withDefaults = %+v", got)
	}
}

func TestEstimatorTracksQuantile(t *testing.T) {
	p := DefaultPollPolicy()
	var e estimator
	e.observe(p, "T", Create, noTarget, 0, 0, false, time.Second, 2*time.Second)
	target := func(i int) time.Duration {
		est, ok := e.get("T", Create, i)
		if !ok {
			t.Fatalf("no estimate")
		}
		return est.target
	}
	near := func(what string, got, want time.Duration) {
		t.Helper()
		if (got - want).Abs() > time.Microsecond {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	near("seed of the Quantile's target: the bracket's end", target(targetQuantile), 2*time.Second)
	near("seed of the rate-bound target: the bracket's end", target(targetRateBound), 2*time.Second)
	if _, ok := e.get("T", Delete, targetQuantile); ok {
		t.Error("kinds must be learnt separately")
	}
	scale := func(d time.Duration, f float64) time.Duration { return d + time.Duration(float64(d)*f) }
	// The gain of a target's n-th move (from 0): 1/√(n+1), at least Step.
	gain := func(n int) float64 { return max(p.Step, 1/math.Sqrt(float64(n+1))) }

	// Found done at the first poll, which followed the Quantile's target:
	// that target moves down by g·(1−Quantile); so does the later target
	// of RateBoundQuantile, which the request finished before.
	e.observe(p, "T", Create, targetQuantile, 2*time.Second, 2*time.Second, true, 0, 2*time.Second)
	q, b := target(targetQuantile), target(targetRateBound)
	near("after a hit", q, scale(2*time.Second, -gain(0)*0.2))
	near("rate-bound target after a hit before it", b, scale(2*time.Second, -gain(0)*0.03))
	// Another hit of a poll at the old, higher value says nothing of the
	// current one: requests polled together count once.
	e.observe(p, "T", Create, targetQuantile, 2*time.Second, 2*time.Second, true, 0, 1900*time.Millisecond)
	near("after a hit above the target", target(targetQuantile), q)
	near("rate-bound target after a hit before it", target(targetRateBound), scale(b, -gain(1)*0.03))
	b = target(targetRateBound)

	// Missed: up by g·Quantile. The bracket straddles the rate-bound
	// target, which says nothing of it.
	e.observe(p, "T", Create, targetQuantile, q, q, false, q, 2*q)
	near("after a miss", target(targetQuantile), scale(q, gain(1)*0.8))
	near("rate-bound target after a straddling bracket", target(targetRateBound), b)
	// A miss polled below the new value counts only when the request was
	// seen running at or after it.
	up := target(targetQuantile)
	e.observe(p, "T", Create, targetQuantile, q, q, false, q, 2*q)
	near("after a miss below the target", target(targetQuantile), up)
	b = target(targetRateBound)
	e.observe(p, "T", Create, targetQuantile, q, q, false, up, 2*up)
	near("after a miss seen running at the target", target(targetQuantile), scale(up, gain(2)*0.8))
	// That request was still running past the rate-bound target too.
	near("rate-bound target after a bracket above it", target(targetRateBound), scale(b, gain(2)*0.97))
	up = target(targetQuantile)

	// A miss at the rate-bound target moves only it, by g·RateBoundQuantile.
	b = target(targetRateBound)
	e.observe(p, "T", Create, targetRateBound, b, b, false, b, 2*b)
	near("rate-bound target after its miss", target(targetRateBound), scale(b, gain(3)*0.97))
	near("Quantile's target after a rate-bound miss", target(targetQuantile), up)

	// Later moves have the gain Step.
	for range 30 {
		b = target(targetRateBound)
		e.observe(p, "T", Create, targetRateBound, b, b, true, 0, b)
	}
	b = target(targetRateBound)
	e.observe(p, "T", Create, targetRateBound, b, b, true, 0, b)
	near("rate-bound target after its 34th move", target(targetRateBound), scale(b, -p.Step*0.03))

	// Requests sent before the estimate existed do not move it.
	b = target(targetRateBound)
	e.observe(p, "T", Create, noTarget, 0, 0, true, 0, time.Millisecond)
	near("unused estimate", target(targetQuantile), up)
	near("unused estimate", target(targetRateBound), b)
}

func TestEstimatorIgnoresHitsOfDeferredPolls(t *testing.T) {
	p := DefaultPollPolicy()
	var e estimator
	e.observe(p, "T", Create, noTarget, 0, 0, false, time.Second, 2*time.Second)
	target := func() time.Duration {
		est, _ := e.get("T", Create, targetRateBound)
		return est.target
	}
	b := target()
	// Due at the target, the poll waited a second behind mutations for
	// the rate and found the request done: whether it was done at the
	// target is unknown, and the target stays.
	e.observe(p, "T", Create, targetRateBound, b, b+time.Second, true, 0, b+time.Second)
	if got := target(); got != b {
		t.Errorf("target after a hit of a poll deferred a second: %v, want %v unchanged", got, b)
	}
	// Late by a timer's slack, a hit still counts.
	e.observe(p, "T", Create, targetRateBound, b, b+p.Min, true, 0, b+p.Min)
	if got := target(); got >= b {
		t.Errorf("target after a hit sent %v after it: %v, want below %v", p.Min, got, b)
	}
	// A deferred poll that found the request running says that it was
	// running at the target: up.
	b = target()
	e.observe(p, "T", Create, targetRateBound, b, b+time.Second, false, b+time.Second, b+2*time.Second)
	if got := target(); got <= b {
		t.Errorf("target after a miss of a deferred poll: %v, want above %v", got, b)
	}
}

func TestEstimatorWatchClosesOnFirstEstimate(t *testing.T) {
	var e estimator
	p := DefaultPollPolicy()
	ch := e.watch("AWS::IoT::JobTemplate", Create)
	if ch == nil || e.watch("AWS::IoT::JobTemplate", Create) != ch {
		t.Fatal("watch without an estimate: want one shared, open channel")
	}
	other := e.watch("AWS::IoT::JobTemplate", Delete)
	e.observe(p, "AWS::IoT::JobTemplate", Create, noTarget, 0, 0, false, 800*time.Millisecond, 1200*time.Millisecond)
	select {
	case <-ch:
	default:
		t.Fatal("the channel stayed open after the first estimate was learnt")
	}
	select {
	case <-other:
		t.Fatal("a DELETE watcher was woken by a CREATE estimate")
	default:
	}
	if e.watch("AWS::IoT::JobTemplate", Create) != nil {
		t.Fatal("watch with an estimate: want nil")
	}
	if est, ok := e.get("AWS::IoT::JobTemplate", Create, targetQuantile); !ok || est.target != 1200*time.Millisecond {
		t.Fatalf("estimate %+v, %v; want the bracket's end 1.2s", est, ok)
	}
}

func TestPollPolicyCoarseRetryAfterBoundsTheSchedule(t *testing.T) {
	p := DefaultPollPolicy()
	p.Jitter = 0
	slack := p.RetryAfterSlack
	for _, tc := range []struct {
		name       string
		n          int
		est        estimate
		ok         bool
		retryAfter time.Duration
		want       time.Duration
	}{
		// The first poll (100 ms) waits for the second before the hint.
		{"not before the last second", 0, estimate{}, false, 5 * time.Second, 4 * time.Second},
		// Within that second, the policy's own steps.
		{"own steps within it", 1, estimate{}, false, 800 * time.Millisecond, 200 * time.Millisecond},
		// No later than the hint.
		{"capped by the hint", 4, estimate{}, false, 300 * time.Millisecond, 300*time.Millisecond + slack},
		// A learnt target inside the window is kept.
		{"learnt target", 0, estimate{target: 1500 * time.Millisecond}, true, 1700 * time.Millisecond, 1500 * time.Millisecond},
	} {
		if got := p.delay(tc.n, 0, tc.est, tc.ok, tc.retryAfter, true, 0); got != tc.want {
			t.Errorf("%s: delay %v, want %v", tc.name, got, tc.want)
		}
	}
	at := time.Date(2026, 1, 1, 0, 0, 7, 0, time.UTC)
	if !coarseHint(at) || coarseHint(at.Add(250*time.Millisecond)) || coarseHint(time.Time{}) {
		t.Error("coarseHint: want true on a whole second only")
	}
}

// TestPollPolicyDelayStaysAtMaxForLongOperations: an operation running for
// minutes is polled every Max (less the jitter) however many polls it took,
// with or without history; an exponential step past a Duration's range must
// not turn into a short one.
func TestPollPolicyDelayStaysAtMaxForLongOperations(t *testing.T) {
	p := DefaultPollPolicy()
	for _, n := range []int{10, 36, 37, 40, 64, 100, 10000} {
		for _, ok := range []bool{false, true} {
			d := p.delay(n, time.Hour, estimate{target: time.Second}, ok, 0, false, 0)
			if d != p.Max {
				t.Errorf("poll %d (history %v) after an hour: delay %v, want Max %v", n, ok, d, p.Max)
			}
		}
	}
	r := RetryPolicy{}.withDefaults()
	for _, n := range []int{30, 40, 64, 1000} {
		if d := r.backoff(n, nil, 0.999999); d < r.Max*9/10 || d > r.Max {
			t.Errorf("retry %d: backoff %v, want about Max %v", n, d, r.Max)
		}
	}
}

package cloudcontrol

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxConcurrency caps the adaptive bound on operations in flight.
// Cloud Control has no documented limit on requests in progress per
// account; the rate limit on calls is what binds, and the rate limiter
// enforces it. A generous cap lets a latency-bound deploy start every
// independent operation at once (1,000 templates with 1 s operations deploy
// in about 1.3 s, against about 4.2 s with a cap of 256), while keeping the
// connections and goroutines of one client bounded.
const DefaultMaxConcurrency = 1024

// AdaptiveConcurrency configures the adaptive bound on operations in flight
// (the default; see [WithAdaptiveConcurrency]). Zero fields take the
// defaults noted on each.
//
// The bound adapts as the request-rate limiter does, from the answers to
// the client's HTTP requests. It starts at Initial and grows while answers
// come back unthrottled and no slower than usual, the bound is in use, and
// mutations would wait less than a second for the client's rate limiter
// and polls less than five: by one per answer (doubling per round of
// requests, as TCP's slow start does) until the rate limiter says that its
// rate binds (see [RateLimiter]), the bottleneck slow start looks for, or a
// congestion signal comes; by 1/bound per answer (one per round) from then
// on. The limiter sends mutations before polls ([PriorityPoll]): a queue of
// mutations means that more operations in flight would only queue longer
// (a second's queue keeps the rate busy), while a queue of polls is how a
// rate-bound run defers each poll until its operation is likely done, so
// that few polls are lost to the rate; but a poll deferred by more than a
// few seconds gains little, and its operation is found done later. A
// congestion signal multiplies the bound by Decrease, at most once per
// Cooldown, never below Min:
//
//   - throttling: at least ThrottleFraction of the answers of the last
//     second were throttling errors. A throttle now and then is the rate
//     limiter's business (it probes the account's rate and backs off), and
//     so are the throttles of the first second after the first one, which
//     answer the limiter's first probe from unlimited; only throttling the
//     rate limiter does not absorb says that fewer operations should be in
//     flight;
//   - rising latency: the smoothed latency of an API's requests (the time
//     on the wire, without the rate limiter's wait) exceeds
//     LatencyTolerance times the least latency seen of that API over the
//     last 10 to 20 seconds, plus LatencySlack.
type AdaptiveConcurrency struct {
	// Initial is the starting bound; default DefaultConcurrency.
	Initial int
	// Min is the floor; default DefaultConcurrency/2 (or Initial, if less).
	Min int
	// Max is the cap; default DefaultMaxConcurrency.
	Max int
	// Decrease is the multiplicative decrease on a congestion signal, in
	// (0, 1); default 0.7.
	Decrease float64
	// Cooldown is the least time between two decreases; default 1 s.
	Cooldown time.Duration
	// ThrottleFraction is the fraction of answers over the last second that
	// must be throttles for throttling to count as a congestion signal, in
	// (0, 1]; default 0.25.
	ThrottleFraction float64
	// LatencyTolerance and LatencySlack define rising latency (see the
	// type's doc); defaults 3 and 500 ms: a service that struggles
	// answers in seconds. The slack keeps the queueing of a burst of
	// requests sent at once (a wave of mutations, polls of operations
	// started together; on loopback, a busy machine's scheduling) from
	// counting.
	LatencyTolerance float64
	LatencySlack     time.Duration
}

func (a AdaptiveConcurrency) withDefaults() AdaptiveConcurrency {
	if a.Max <= 0 {
		a.Max = DefaultMaxConcurrency
	}
	if a.Initial <= 0 {
		a.Initial = DefaultConcurrency
	}
	a.Initial = min(a.Initial, a.Max)
	if a.Min <= 0 {
		a.Min = min(DefaultConcurrency/2, a.Initial)
	}
	a.Min = min(a.Min, a.Initial)
	if a.Decrease <= 0 || a.Decrease >= 1 {
		a.Decrease = 0.7
	}
	if a.Cooldown <= 0 {
		a.Cooldown = time.Second
	}
	if a.ThrottleFraction <= 0 || a.ThrottleFraction > 1 {
		a.ThrottleFraction = 0.25
	}
	if a.LatencyTolerance < 1 {
		a.LatencyTolerance = 3
	}
	if a.LatencySlack <= 0 {
		a.LatencySlack = 500 * time.Millisecond
	}
	return a
}

// standingQueue is the wait of a mutation for the rate limiter at which
// the bound stops growing: a queue that keeps the rate busy, whose requests
// a decrease of the rate puts back a second at most.
const standingQueue = time.Second

// deferredPolls is the wait of a poll for the rate limiter at which the
// bound stops growing: polls that wait behind mutations find their
// operations done (see AdaptiveConcurrency), but beyond a few seconds the
// wait only delays finding them done.
const deferredPolls = 5 * time.Second

// rateProbe is the span, from the first throttle a client receives, of the
// throttles that do not count as a congestion signal: the rate limiter's
// probe of the service's rate (see AdaptiveConcurrency).
const rateProbe = time.Second

// latencyWindow is the span of each of the two windows whose least latency
// is an API's baseline.
const latencyWindow = 10 * time.Second

// latencySmoothing is the weight of a new sample in an API's smoothed
// latency.
const latencySmoothing = 0.2

// inflight bounds the operations in flight: a semaphore whose size is fixed
// or adapts to the answers of the client's requests (see
// AdaptiveConcurrency). Waiters are served in order. It is safe for
// concurrent use.
type inflight struct {
	adaptive bool
	opts     AdaptiveConcurrency
	// backlog, when set, returns how long a request of a priority would
	// wait for the client's rate limiter now: the bound does not grow while
	// that is standingQueue or more for a mutation, or deferredPolls or
	// more for a poll.
	backlog func(Priority) time.Duration
	// saturated, when set, reports whether the rate limiter's rate binds:
	// slow start ends then.
	saturated func() bool

	mu        sync.Mutex
	limit     float64
	inFlight  int
	peak      int
	waiters   []chan struct{}
	slowStart bool
	// lastDecrease is when the bound last decreased.
	lastDecrease time.Time
	// firstThrottle is when the first throttle was answered.
	firstThrottle time.Time
	started       time.Time
	answers       slidingCount
	throttled     slidingCount
	latency       map[string]*latencyTrack
}

// latencyTrack follows the latency of one API.
type latencyTrack struct {
	smoothed    time.Duration
	cur, prev   time.Duration // least latency of the current and the previous window
	windowStart time.Time
}

func newFixedInflight(n int) *inflight {
	return &inflight{limit: float64(n)}
}

func newAdaptiveInflight(a AdaptiveConcurrency) *inflight {
	a = a.withDefaults()
	return &inflight{adaptive: true, opts: a, limit: float64(a.Initial), slowStart: true, latency: map[string]*latencyTrack{}}
}

// bound is the current number of slots.
func (l *inflight) bound() int { return max(1, int(l.limit)) }

// Limit returns the current bound.
func (l *inflight) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bound()
}

// Max returns the most the bound can be: the fixed size, or the adaptive
// cap.
func (l *inflight) Max() int {
	if l.adaptive {
		return l.opts.Max
	}
	return l.bound()
}

// Peak returns the most slots held at once.
func (l *inflight) Peak() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peak
}

// acquire takes a slot, waiting in order behind earlier callers.
func (l *inflight) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	if len(l.waiters) == 0 && l.inFlight < l.bound() {
		l.take()
		l.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	l.waiters = append(l.waiters, ch)
	l.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		for i, w := range l.waiters {
			if w == ch {
				l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
				l.mu.Unlock()
				return ctx.Err()
			}
		}
		l.mu.Unlock()
		// Granted meanwhile: hand the slot on.
		l.release()
		return ctx.Err()
	}
}

func (l *inflight) take() {
	l.inFlight++
	l.peak = max(l.peak, l.inFlight)
}

// release gives a slot back.
func (l *inflight) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	l.grant()
}

// grant hands free slots to waiters, first come first served.
func (l *inflight) grant() {
	for len(l.waiters) > 0 && l.inFlight < l.bound() {
		l.take()
		close(l.waiters[0])
		l.waiters[0] = nil
		l.waiters = l.waiters[1:]
	}
}

// feedback adapts the bound to the answer of one HTTP request of api,
// received at now after latency on the wire; throttled tells whether it was
// a throttling error, and ok whether it succeeded (other errors neither grow
// nor shrink the bound, beyond their latency).
func (l *inflight) feedback(now time.Time, api string, latency time.Duration, ok, throttled bool) {
	if !l.adaptive {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started.IsZero() {
		l.started = now
	}
	l.answers.add(now)
	if throttled {
		if l.firstThrottle.IsZero() {
			l.firstThrottle = now
		}
		if now.Sub(l.firstThrottle) < rateProbe {
			// The rate limiter starts unlimited and learns the service's
			// rate from its first throttles: those answer its probe, not
			// the bound.
			return
		}
		l.throttled.add(now)
		span := now.Sub(l.started)
		if l.throttled.rate(now, span) >= l.opts.ThrottleFraction*l.answers.rate(now, span) {
			l.decrease(now)
		}
		return
	}
	if l.slower(now, api, latency) {
		l.decrease(now)
		return
	}
	if !ok || l.inFlight < l.bound() && len(l.waiters) == 0 {
		// Not in use: no evidence that more would be served as well.
		return
	}
	if l.saturated != nil && l.saturated() {
		// The bound has found the rate, as slow start looks for: from
		// now on it grows by one per round at most.
		l.slowStart = false
	}
	if l.backlog != nil && (l.backlog(PriorityNormal) >= standingQueue || l.backlog(PriorityPoll) >= deferredPolls) {
		// Requests queue for the rate: more operations in flight would
		// only queue longer.
		l.slowStart = false
		return
	}
	if l.slowStart {
		l.limit++
	} else {
		l.limit += 1 / l.limit
	}
	if l.limit >= float64(l.opts.Max) {
		l.limit = float64(l.opts.Max)
		l.slowStart = false
	}
	l.grant()
}

// slower records a latency sample of api and reports whether its smoothed
// latency has risen beyond the tolerance.
func (l *inflight) slower(now time.Time, api string, latency time.Duration) bool {
	t := l.latency[api]
	if t == nil {
		t = &latencyTrack{smoothed: latency, cur: latency, prev: latency, windowStart: now}
		l.latency[api] = t
		return false
	}
	if now.Sub(t.windowStart) >= latencyWindow {
		t.prev, t.cur, t.windowStart = t.cur, latency, now
	}
	t.cur = min(t.cur, latency)
	t.smoothed += time.Duration(latencySmoothing * float64(latency-t.smoothed))
	base := min(t.cur, t.prev)
	return t.smoothed > time.Duration(l.opts.LatencyTolerance*float64(base))+l.opts.LatencySlack
}

// decrease cuts the bound on a congestion signal, at most once per
// cooldown.
func (l *inflight) decrease(now time.Time) {
	l.slowStart = false
	if !l.lastDecrease.IsZero() && now.Sub(l.lastDecrease) < l.opts.Cooldown {
		return
	}
	l.limit = max(float64(l.opts.Min), l.limit*l.opts.Decrease)
	l.lastDecrease = now
}

package cloudcontrol

import (
	"math"
	"sync"
	"time"
)

// PollPolicy decides when GetResourceRequestStatus is called while a request
// is in progress.
//
// When the event carries a RetryAfter — Cloud Control documents it as "when
// to next request the status of this resource operation request" — and the
// hint is precise (not on a whole second), the next poll comes then:
// RetryAfter plus RetryAfterSlack (the timestamp has millisecond
// precision), no sooner than Min from now and no later than MaxRetryAfter
// from now (against clock skew). That finds an operation
// whose end the service predicts with one poll, whatever the history, and
// it is the service's own statement of when a call is worth making. A hint
// on a whole second is taken as rounded up: the policy's own schedule
// applies within the second before it, and the hint caps the delay.
//
// Without a RetryAfter and without history, the first poll comes Initial
// after the mutation returned and each next one Multiplier times later,
// capped at Max: 100 ms, 200 ms, 400 ms, ... 2 s by default. That finds a
// one-second operation done within about a quarter of its duration, where
// SDK waiters sleep 5 s first. The schedule without history applies only to
// the requests sent before the first one of their type and kind completes
// (at most the client's concurrency; the estimate below takes over then),
// so a shorter Initial would save at most its difference once per deploy,
// and only on operations that finish at once, which real ones do not. Against a
// rate-limited service it costs calls instead: with Initial at 50 ms, a
// client bound by a 10 requests/s limit (TestClientSlowsDownOnThrottles)
// received 25 throttles in 225 requests instead of 9 in 209 and finished
// no sooner, since every call passes the shared rate limiter, which then
// runs saturated. Hence 100 ms.
//
// With Adaptive set, the client learns per resource type and operation kind
// when to poll first: the Quantile of completion times (by default the
// 80th percentile), so that most requests are polled exactly once. The
// completion time of a request is only known to lie between its last
// unfinished poll and its first finished one, so the quantile is tracked by
// stochastic approximation, which needs only that: each request whose first
// poll found it finished moves the target down by g·(1−Quantile), each one
// still running moves it up by g·Quantile (both relative; the gain g starts
// at 1 and decreases as 1/√n with the moves made, down to Step; and each
// only if it was polled on the side of the target's current value that
// tells something of it: requests in flight together are answered
// together), which settles where a Quantile fraction of first polls
// succeed. The first sample seeds the target with the end of its bracket.
// A request missed by the first poll is polled again every eighth
// of the target (at least Initial), growing by Multiplier up to Max.
//
// While the client's rate limiter is saturated (see [RateLimiter]), a poll
// is not free: it takes the place in the rate of a request that would have
// started or ended another operation, and a poll that finds the operation
// still running is a request lost. The first poll then follows a second
// target, learnt the same way, at RateBoundQuantile (by default the 97th
// percentile), so that the requests of a rate-bound run go to mutations
// and to the one poll that finds each done; the operation ends later than
// with the Quantile, which costs nothing while other operations fill the
// rate.
//
// The requests of a type and kind sent before the first one completes
// follow the schedule without history, but not blindly. Only the first
// scouts (16) at a time do; the others poll every Max until then, since
// the first completion is what they wait for: a wave of 1,000 operations
// of one second made 2,500 polls, all but a few of them finding the
// operation running, before the first completed, and those polls took the
// CPU its creates needed. When the first completes, the others still
// waiting poll at the target it seeds (if that is sooner), since requests
// sent together tend to finish together. A wave of operations started at
// once then ends about when its first one is found finished, not up to a
// backoff step later.
//
// Every delay not set by a RetryAfter is shortened by up to Jitter (a
// fraction) so that requests started together do not poll in lockstep;
// without history by up to 2.5 times as much (0.5 by default, at most 0.9),
// which spreads the polls of a wave over each backoff step, so that one of
// them finds the first completion soon after it happens and the rest
// follow it (above).
type PollPolicy struct {
	Initial       time.Duration // first poll without history; default 100 ms
	Min           time.Duration // shortest delay ever; default 20 ms
	Max           time.Duration // cap of the backoff; default 2 s
	Multiplier    float64       // backoff factor; default 2
	Jitter        float64       // fraction in [0, 1); default 0.2
	MaxRetryAfter time.Duration // cap on honouring RetryAfter; default 1 min
	// RetryAfterSlack is added to a RetryAfter so that the poll does not
	// arrive just before the time it names, which Cloud Control gives in
	// epoch seconds to the millisecond; default 5 ms.
	RetryAfterSlack time.Duration
	// MaxExpected caps the adaptive first delay; default 5 min.
	MaxExpected time.Duration
	// Adaptive enables learning when to poll first (on in
	// DefaultPollPolicy).
	Adaptive bool
	// Quantile is the fraction of requests the adaptive first poll aims to
	// find finished, in (0, 1); default 0.8.
	Quantile float64
	// RateBoundQuantile replaces Quantile while the client's rate limiter
	// is saturated, in [Quantile, 1); default 0.97.
	RateBoundQuantile float64
	// Step is the relative step of the adaptive target, in (0, 1);
	// default 0.2.
	Step float64
}

// DefaultPollPolicy returns the policy used when none is given.
func DefaultPollPolicy() PollPolicy {
	return PollPolicy{
		Initial:           100 * time.Millisecond,
		RetryAfterSlack:   5 * time.Millisecond,
		Min:               20 * time.Millisecond,
		Max:               2 * time.Second,
		Multiplier:        2,
		Jitter:            0.2,
		MaxRetryAfter:     time.Minute,
		MaxExpected:       5 * time.Minute,
		Adaptive:          true,
		Quantile:          0.8,
		RateBoundQuantile: 0.97,
		Step:              0.2,
	}
}

// withDefaults fills zero fields from DefaultPollPolicy.
func (p PollPolicy) withDefaults() PollPolicy {
	d := DefaultPollPolicy()
	if p.Initial <= 0 {
		p.Initial = d.Initial
	}
	if p.Min <= 0 {
		p.Min = min(d.Min, p.Initial)
	}
	if p.Max <= 0 {
		p.Max = max(d.Max, p.Initial)
	}
	if p.Multiplier < 1 {
		p.Multiplier = d.Multiplier
	}
	if p.Jitter < 0 || p.Jitter >= 1 {
		p.Jitter = d.Jitter
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	if p.RetryAfterSlack <= 0 {
		p.RetryAfterSlack = d.RetryAfterSlack
	}
	if p.MaxExpected <= 0 {
		p.MaxExpected = d.MaxExpected
	}
	if p.Quantile <= 0 || p.Quantile >= 1 {
		p.Quantile = d.Quantile
	}
	if p.RateBoundQuantile <= 0 || p.RateBoundQuantile >= 1 {
		p.RateBoundQuantile = d.RateBoundQuantile
	}
	p.RateBoundQuantile = max(p.RateBoundQuantile, p.Quantile)
	if p.Step <= 0 || p.Step >= 1 {
		p.Step = d.Step
	}
	return p
}

// estimate is a learned first-poll target.
type estimate struct {
	target time.Duration // when to poll first, after the request was sent
}

// delay returns how long to wait before poll number n (0-based) of a request
// sent elapsed ago. est is the learned target (ok false when there is none);
// retryAfter is the event's RetryAfter relative to now (zero when absent,
// negative when past); r is a random number in [0, 1).
//
// A coarse RetryAfter (on a whole second) bounds the delay instead of
// setting it: see coarseDelay.
func (p PollPolicy) delay(n int, elapsed time.Duration, est estimate, ok bool, retryAfter time.Duration, coarse bool, r float64) time.Duration {
	if coarse && retryAfter+p.RetryAfterSlack > 0 {
		return p.coarseDelay(n, elapsed, est, ok, retryAfter, r)
	}
	if retryAfter != 0 && retryAfter+p.RetryAfterSlack > 0 {
		// The service said when: poll then, not merely not before.
		return min(max(retryAfter+p.RetryAfterSlack, p.Min), p.MaxRetryAfter)
	}
	// No RetryAfter, or one already past by more than the slack (a
	// prediction the service missed): the policy's own schedule.
	var d time.Duration
	switch {
	case ok && n == 0:
		d = min(est.target, p.MaxExpected) - elapsed
	case ok:
		base := max(p.Initial, est.target/8)
		d = grow(base, p.Multiplier, n-1, max(p.Max, base))
	default:
		d = grow(p.Initial, p.Multiplier, n, p.Max)
	}
	j := p.Jitter
	if !ok {
		j = min(waveSpread*j, 0.9)
	}
	d -= time.Duration(float64(d) * j * r)
	return max(d, p.Min)
}

// grow returns base·m^n, or limit if that is more. It computes in floating
// point and compares before converting: base·m^n overflows a Duration
// after a few dozen steps (2^37 × 100 ms does), and the conversion of an
// out-of-range float is no duration at all, which had made the 37th poll
// of an operation without a RetryAfter come after Min instead of Max.
func grow(base time.Duration, m float64, n int, limit time.Duration) time.Duration {
	f := float64(base) * math.Pow(m, float64(n))
	if !(f < float64(limit)) {
		return limit
	}
	return time.Duration(f)
}

// waveSpread multiplies the jitter of the schedule without history (see
// PollPolicy).
const waveSpread = 2.5

// scouts is the most requests of a type and kind that poll on the schedule
// without history at once (see PollPolicy).
const scouts = 16

// unscouted is the poll number given to the schedule without history for a
// request that is not a scout: a step that is always Max.
const unscouted = 1 << 20

// coarseDelay is the delay before poll n under a RetryAfter that falls on a
// whole second, retryAfter from now: the policy's own schedule, kept within
// the second before the hint and no later than the hint (plus the slack).
// A hint rounded up to whole seconds says that the operation ends within
// the second before it, not when; polling only at the hint would lose up
// to a second per operation.
func (p PollPolicy) coarseDelay(n int, elapsed time.Duration, est estimate, ok bool, retryAfter time.Duration, r float64) time.Duration {
	d := p.delay(n, elapsed, est, ok, 0, false, r)
	lo := retryAfter - time.Second
	hi := min(retryAfter+p.RetryAfterSlack, p.MaxRetryAfter)
	return max(min(max(d, lo), hi), p.Min)
}

// coarseHint reports whether a RetryAfter is coarse: on a whole second.
func coarseHint(t time.Time) bool { return !t.IsZero() && t.Nanosecond() == 0 }

// Which learnt target a first poll follows: the one of Quantile, or, while
// the rate limiter is saturated, the one of RateBoundQuantile; noTarget
// when the first poll followed none (the schedule without history).
const (
	targetQuantile = iota
	targetRateBound
	targets

	noTarget = -1
)

// quantile returns the quantile the target i tracks.
func (p PollPolicy) quantile(i int) float64 {
	if i == targetRateBound {
		return p.RateBoundQuantile
	}
	return p.Quantile
}

// estimator learns first-poll targets per type and operation kind.
type estimator struct {
	mu sync.Mutex
	m  map[estimatorKey]*learning
	// learnt holds, per key without an estimate, a channel closed when
	// the first one is learnt (see watch).
	learnt map[estimatorKey]chan struct{}
	// scouting counts, per key without an estimate, the requests polling on
	// the schedule without history (see scout).
	scouting map[estimatorKey]int
}

// scout enlists a request of typeName and kind as one of the scouts, which
// poll on the schedule without history while there is no estimate (see
// PollPolicy), and returns the function that ends its scouting; nil when
// there is an estimate already, or scouts requests scout.
func (e *estimator) scout(typeName string, kind Kind) (release func()) {
	k := estimatorKey{typeName, kind}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.m[k]; ok || e.scouting[k] >= scouts {
		return nil
	}
	if e.scouting == nil {
		e.scouting = make(map[estimatorKey]int)
	}
	e.scouting[k]++
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.scouting[k]--; e.scouting[k] <= 0 {
			delete(e.scouting, k)
		}
	}
}

// learning is what an estimator knows of one type and kind.
type learning struct {
	target [targets]time.Duration
	moves  [targets]int // times each target moved
}

type estimatorKey struct {
	typeName string
	kind     Kind
}

// watch returns a channel that is closed when the first estimate of
// typeName and kind is learnt, or nil when there is one already.
func (e *estimator) watch(typeName string, kind Kind) <-chan struct{} {
	k := estimatorKey{typeName, kind}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.m[k]; ok {
		return nil
	}
	if e.learnt == nil {
		e.learnt = make(map[estimatorKey]chan struct{})
	}
	ch := e.learnt[k]
	if ch == nil {
		ch = make(chan struct{})
		e.learnt[k] = ch
	}
	return ch
}

// get returns the learnt target i of typeName and kind.
func (e *estimator) get(typeName string, kind Kind, i int) (estimate, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, ok := e.m[estimatorKey{typeName, kind}]
	if !ok {
		return estimate{}, false
	}
	return estimate{target: l.target[i]}, true
}

// observe records a request that completed between lower and upper after
// it was sent. used is the target its first poll followed (noTarget for
// none), sched the value that target had then, first when that poll went
// out (later than scheduled when it waited for the rate limiter), and
// firstDone tells whether that poll found the request finished.
//
// The target used moves by g·(1−q) down on a hit and g·q up on a miss (q
// its quantile; the gain g is 1/√(moves+1), from 1 down to Step), but only
// on evidence about its current value: a hit of a poll scheduled at or
// before it and sent by it (within Min, the slack of a timer), a miss of a
// poll scheduled at or after it (or of a request seen running at or after
// it). A poll that waited for the rate limiter past the target, behind
// mutations (see [PriorityPoll]), and found its request done says nothing
// of whether it was done at the target: counted, such hits would pull the
// target down by the wait, round after round, until the polls missed
// again. Requests in flight together are polled at about the same target
// and answered about together; counted each, their answers would compound
// into swings of the target many times its size (a wave of 30 misses would
// multiply it by 1.16³⁰ ≈ 85) where they are one round's evidence: the
// first of them moves the target, and the rest, polled at the value it had
// before, tell nothing of the new one. A request polled at the target of
// Quantile also says whether it finished before the (later) target of
// RateBoundQuantile when its bracket lies on one side of it, which keeps
// that target learning while the rate does not bind.
func (e *estimator) observe(p PollPolicy, typeName string, kind Kind, used int, sched, first time.Duration, firstDone bool, lower, upper time.Duration) {
	k := estimatorKey{typeName, kind}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = make(map[estimatorKey]*learning)
	}
	l, ok := e.m[k]
	switch {
	case !ok:
		// Both targets start at the bracket's end: the requests waiting
		// for the first completion poll at the target it seeds (see
		// PollPolicy), and those of a wave, sent together and finishing
		// together, find their operations done there, where at the
		// bracket's midpoint most would poll once too soon.
		l = &learning{}
		l.target[targetQuantile] = min(max(upper, p.Min), p.MaxExpected)
		l.target[targetRateBound] = l.target[targetQuantile]
		e.m[k] = l
		if ch := e.learnt[k]; ch != nil {
			close(ch)
			delete(e.learnt, k)
		}
	case used == noTarget:
		// Sent before the target existed; its bracket says little.
		return
	default:
		move := func(i int, hit bool) {
			q := p.quantile(i)
			// The gain decreases from 1 to Step as evidence accrues
			// (1/√(moves+1)), so that a target far from its quantile,
			// as a seed from the wave's first completion is, gets there
			// in a few rounds rather than a dozen.
			gain := max(p.Step, 1/math.Sqrt(float64(l.moves[i]+1)))
			f := gain * q
			if hit {
				f = -gain * (1 - q)
			}
			t := l.target[i] + time.Duration(float64(l.target[i])*f)
			l.target[i] = min(max(t, p.Min), p.MaxExpected)
			l.moves[i]++
		}
		switch t := l.target[used]; {
		case firstDone && sched <= t && first <= t+p.Min:
			move(used, true)
		case !firstDone && (sched >= t || lower >= t):
			move(used, false)
		}
		if used == targetQuantile {
			switch bound := l.target[targetRateBound]; {
			case upper <= bound:
				move(targetRateBound, true)
			case lower >= bound:
				move(targetRateBound, false)
			}
		}
	}
}

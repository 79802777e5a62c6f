package cloudcontrol

import (
	"context"
	"math"
	"sync"
	"time"
)

// RateLimiter paces the API requests of a Client. Wait is called before
// every HTTP request the client sends (mutations, polls, reads and the SDK's
// retries alike) and Feedback after each response, with throttled true when
// the service answered with a throttling error. One RateLimiter may be shared
// by several clients that draw on the same account's quota.
//
// A RateLimiter may also have a method Saturated() bool, which reports
// whether the rate it allows binds now ([AIMDLimiter.Saturated] does). A
// client whose limiter is saturated treats every status poll as costing a
// created resource's share of the rate: it polls at
// [PollPolicy.RateBoundQuantile] instead of [PollPolicy.Quantile]. A
// limiter without the method is never saturated.
//
// It may also have a method Backlog() time.Duration, which says how long a
// request would wait for it now ([AIMDLimiter.Backlog] does): the adaptive
// bound on operations in flight grows only while that is under a second,
// enough queue to keep the rate busy (see [AdaptiveConcurrency]).
type RateLimiter interface {
	// Wait blocks until a request may be sent or ctx is done.
	Wait(ctx context.Context) error
	// Feedback reports the outcome of a request sent after Wait.
	Feedback(throttled bool)
}

// saturater is what a RateLimiter implements to say when its rate binds
// (see RateLimiter).
type saturater interface {
	Saturated() bool
}

// backlogger is what a RateLimiter implements to say how long a request
// would wait for it now (see RateLimiter).
type backlogger interface {
	Backlog() time.Duration
}

// saturationWindow is how long a throttle keeps an [AIMDLimiter] saturated,
// and the span over which it compares the requests it let through with its
// rate.
const saturationWindow = time.Second

// saturationShare is the share of its rate an [AIMDLimiter] must have let
// through over the last saturationWindow to be saturated.
const saturationShare = 0.9

// AIMDOptions configures an [AIMDLimiter]. Zero fields take the defaults
// noted on each.
type AIMDOptions struct {
	// InitialRate is the starting rate in requests per second. Zero means
	// unlimited until the first throttle.
	InitialRate float64
	// MaxRate caps the rate; zero means no cap.
	MaxRate float64
	// MinRate is the floor the rate never goes below. Default 1.
	MinRate float64
	// Increase is the additive increase: requests per second gained per
	// second of throttle-free traffic at the current rate. Default 1.
	Increase float64
	// Decrease is the multiplicative decrease factor applied on a throttle,
	// in (0, 1). Default 0.8.
	Decrease float64
	// Cooldown is the minimum time between two decreases, so that the burst
	// of throttles answering one overload counts once. Default 1 s.
	Cooldown time.Duration
	// Burst is how many requests may go out back to back after an idle
	// period. Default 1 (smooth pacing).
	Burst int
}

// AIMDLimiter is a [RateLimiter] that adapts its rate to the service by
// additive increase and multiplicative decrease, as TCP does for congestion:
// each throttle cuts the rate to Decrease times the rate the service was
// actually accepting over the last second, and each accepted request adds
// Increase/rate while the rate is in use (see Saturated), so the rate climbs
// by Increase per second of use until the next throttle. Requests are paced by the generic cell rate algorithm (a token
// bucket of Burst tokens), so waiting requests leave evenly spaced.
//
// Why AIMD rather than the SDK's adaptive retry mode: the SDK's limiter lives
// inside its retryer, only engages after throttling and is tuned for
// per-client retries; ours is shared by every request of a Client (polls
// included), starts unlimited (no cost against an unthrottled endpoint such as
// the local emulator), converges in one step to the accepted rate (not the
// offered one), and exposes its current rate for the benchmark. With the
// default Decrease of 0.8 the sawtooth between 0.8·R and R keeps about 90% of
// a limit R busy while throttles stay rare (a few per ten seconds).
//
// An AIMDLimiter is safe for concurrent use.
type AIMDLimiter struct {
	opts  AIMDOptions
	clock clock

	mu           sync.Mutex
	rate         float64 // requests per second; +Inf when unlimited
	tat          time.Time
	lastDecrease time.Time
	// lastThrottle is when a request was last throttled.
	lastThrottle time.Time
	// gen counts the decreases: a booking made before the last one is
	// void (see Wait).
	gen      uint64
	granted  slidingCount
	accepted slidingCount
}

// NewAIMDLimiter returns an AIMD rate limiter.
func NewAIMDLimiter(o AIMDOptions) *AIMDLimiter {
	return newAIMDLimiter(o, realClock{})
}

func newAIMDLimiter(o AIMDOptions, c clock) *AIMDLimiter {
	if o.MinRate <= 0 {
		o.MinRate = 1
	}
	if o.Increase <= 0 {
		o.Increase = 1
	}
	if o.Decrease <= 0 || o.Decrease >= 1 {
		o.Decrease = 0.8
	}
	if o.Cooldown <= 0 {
		o.Cooldown = time.Second
	}
	if o.Burst <= 0 {
		o.Burst = 1
	}
	l := &AIMDLimiter{opts: o, clock: c, rate: math.Inf(1)}
	if o.InitialRate > 0 {
		l.rate = max(o.InitialRate, o.MinRate)
	}
	if o.MaxRate > 0 && l.rate > o.MaxRate {
		l.rate = o.MaxRate
	}
	return l
}

// Rate returns the current rate in requests per second, or 0 when the
// limiter is not (yet) limiting.
func (l *AIMDLimiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if math.IsInf(l.rate, 1) {
		return 0
	}
	return l.rate
}

// Saturated reports whether the rate binds (see [RateLimiter]): the limiter
// is limiting, and over the last second it let through at least 90% of its
// rate, or a request was throttled.
func (l *AIMDLimiter) Saturated() bool {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.saturated(now)
}

func (l *AIMDLimiter) saturated(now time.Time) bool {
	if math.IsInf(l.rate, 1) {
		return false
	}
	if !l.lastThrottle.IsZero() && now.Sub(l.lastThrottle) < saturationWindow {
		return true
	}
	return l.granted.rate(now, saturationWindow) >= saturationShare*l.rate
}

// Backlog returns how long a request would wait for its slot now: the
// requests booked ahead of it, at the rate (see [RateLimiter]).
func (l *AIMDLimiter) Backlog() time.Duration {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if math.IsInf(l.rate, 1) {
		return 0
	}
	return max(0, l.tat.Sub(now))
}

// Wait implements [RateLimiter].
//
// A request books the next send slot and sleeps until it. A decrease of the
// rate cancels every booking made before it: each sleeper books again when
// it wakes, at the new rate, so that the requests queued at the old rate do
// not keep going out at it (and keep being throttled) for as long as the
// queue lasts.
func (l *AIMDLimiter) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for {
		d, gen := l.book(l.clock.Now())
		if d > 0 {
			if err := l.clock.Sleep(ctx, d); err != nil {
				return err
			}
		}
		if l.send(l.clock.Now(), gen) {
			return nil
		}
	}
}

// book books the next send slot at or after now and returns how long the
// caller must wait for it, and the booking's generation (see send).
func (l *AIMDLimiter) book(now time.Time) (time.Duration, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if math.IsInf(l.rate, 1) {
		return 0, l.gen
	}
	interval := time.Duration(float64(time.Second) / l.rate)
	tolerance := time.Duration(l.opts.Burst-1) * interval
	send := now
	if earliest := l.tat.Add(-tolerance); earliest.After(send) {
		send = earliest
	}
	if l.tat.Before(send) {
		l.tat = send
	}
	l.tat = l.tat.Add(interval)
	return send.Sub(now), l.gen
}

// send counts a request going out at now on a booking of generation gen,
// and reports false, counting nothing, when the rate has decreased since
// the booking: the caller must book again.
func (l *AIMDLimiter) send(now time.Time, gen uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if gen != l.gen {
		return false
	}
	l.granted.add(now)
	return true
}

// Feedback implements [RateLimiter].
func (l *AIMDLimiter) Feedback(throttled bool) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !throttled {
		l.accepted.add(now)
		// Only a rate in use grows: a client that sends less than its
		// rate learns nothing of the service's limit from being answered
		// (without this, a run that idles for a while would come back
		// at a rate far above the limit).
		if l.saturated(now) {
			l.rate += l.opts.Increase / l.rate
			if l.opts.MaxRate > 0 && l.rate > l.opts.MaxRate {
				l.rate = l.opts.MaxRate
			}
		}
		return
	}
	l.lastThrottle = now
	if !l.lastDecrease.IsZero() && now.Sub(l.lastDecrease) < l.opts.Cooldown {
		return
	}
	// The accepted rate over the last whole second, also when the traffic
	// started less than a second ago: what a throttling service accepts
	// at first is its burst, which, counted over the fraction of a second
	// it took to spend, would set a rate many times the service's (and
	// keep the requests of the whole cooldown throttled).
	base := l.accepted.rate(now, time.Second)
	if base <= 0 {
		// Nothing got through in the last second: fall back on what was
		// offered.
		base = l.granted.rate(now, time.Second)
	}
	if base <= 0 || base > l.rate {
		base = l.rate
	}
	if math.IsInf(base, 1) {
		base = l.opts.MinRate
	}
	l.rate = max(l.opts.MinRate, base*l.opts.Decrease)
	l.lastDecrease = now
	l.gen++
	l.tat = now
}

// slidingCount counts events over the last second in ten 100 ms slots.
type slidingCount struct {
	slot [slidingSlots]int64 // slot index (time / slidingSlot) of each bucket
	n    [slidingSlots]int64
}

const (
	slidingSlots = 10
	slidingSlot  = 100 * time.Millisecond
)

func (c *slidingCount) add(now time.Time) {
	idx := now.UnixNano() / int64(slidingSlot)
	i := idx % slidingSlots
	if c.slot[i] != idx {
		c.slot[i], c.n[i] = idx, 0
	}
	c.n[i]++
}

// rate returns events per second over the last second, or over span when
// the counting started less than a second ago.
func (c *slidingCount) rate(now time.Time, span time.Duration) float64 {
	idx := now.UnixNano() / int64(slidingSlot)
	var sum int64
	for i := range slidingSlots {
		if s := c.slot[i]; s > idx-slidingSlots && s <= idx {
			sum += c.n[i]
		}
	}
	// The newest slot has only just begun: the counts cover the older
	// slots whole and the newest one up to now.
	window := time.Duration(slidingSlots-1)*slidingSlot + time.Duration(now.UnixNano()-idx*int64(slidingSlot))
	if span < window {
		window = max(span, slidingSlot)
	}
	return float64(sum) / window.Seconds()
}

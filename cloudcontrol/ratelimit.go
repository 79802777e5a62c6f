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
// [PollPolicy.RateBoundQuantile] instead of [PollPolicy.Quantile]; and the
// adaptive bound on operations in flight leaves its slow start, since the
// rate is the bottleneck slow start looks for. A limiter without the method
// is never saturated.
//
// It may also have a method Backlog(Priority) time.Duration, which says
// how long a request of that priority would wait for it now
// ([AIMDLimiter.Backlog] does): the adaptive bound on operations in flight
// grows only while mutations would wait less than a second and polls less
// than five (see [AdaptiveConcurrency]).
//
// Wait's ctx carries the request's [Priority] ([PriorityOf]); a limiter
// that queues requests should let the higher ones go first.
type RateLimiter interface {
	// Wait blocks until a request may be sent or ctx is done.
	Wait(ctx context.Context) error
	// Feedback reports the outcome of a request sent after Wait.
	Feedback(throttled bool)
}

// Priority orders the requests queued for a [RateLimiter] that honours it
// ([AIMDLimiter] does): a slot goes to a waiting request of a higher
// priority before any of a lower one (an AIMDLimiter lets one of a lower
// priority go first once it has waited 10 s), and among equals to the
// first come.
// The Client sends its status polls at PriorityPoll and everything else at
// PriorityNormal. An AIMDLimiter has those two classes: a priority above
// PriorityNormal is served as PriorityNormal, one below it as PriorityPoll.
type Priority int8

const (
	// PriorityNormal is the priority of mutations, reads and every request
	// not marked otherwise.
	PriorityNormal Priority = 0
	// PriorityPoll is the priority of GetResourceRequestStatus: a status
	// poll only learns what a mutation started, and sent later it is
	// likelier to find it finished.
	PriorityPoll Priority = -1
)

// priorityClasses is the number of Priority values, indexed by class.
const priorityClasses = 2

// class is the queue index of p: 0 for the highest priority.
func (p Priority) class() int {
	if p < PriorityNormal {
		return 1
	}
	return 0
}

type priorityKey struct{}

// WithPriority returns ctx marked with the priority of the requests sent
// under it, for the rate limiter's Wait to read with [PriorityOf].
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityOf returns the priority ctx carries (see [WithPriority]):
// PriorityNormal when it carries none.
func PriorityOf(ctx context.Context) Priority {
	p, _ := ctx.Value(priorityKey{}).(Priority)
	return p
}

// saturater is what a RateLimiter implements to say when its rate binds
// (see RateLimiter).
type saturater interface {
	Saturated() bool
}

// backlogger is what a RateLimiter implements to say how long a request
// of a priority would wait for it now (see RateLimiter).
type backlogger interface {
	Backlog(Priority) time.Duration
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
// by Increase per second of use until the next throttle.
//
// Requests are paced by the generic cell rate algorithm (a token bucket of
// Burst tokens): a request finding a free slot and nobody waiting goes at
// once; the others queue, and each slot, when it comes, goes to the first
// waiter of the highest [Priority] (see [WithPriority]): status polls wait
// behind the mutations and reads queued with them, for 10 s at most (then
// they go first). While the rate binds, a poll sent later is more likely
// to find its operation finished (a poll that does not is a request lost
// to the rate), and a mutation sent sooner starts its operation sooner; the
// operations already started end no later for being polled a little later,
// since every request waits for the same rate. Slots are handed out when
// they come, not booked ahead, so that a decrease of the rate applies at
// once to every request still queued.
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
	// queue holds the waiters of each priority class, first come first
	// (abandoned ones stay until they reach the head); live counts the
	// others per class, and pacing tells whether a goroutine hands out the
	// slots (see pace).
	queue    [priorityClasses][]*slotWaiter
	live     [priorityClasses]int
	pacing   bool
	granted  slidingCount
	accepted slidingCount
}

// slotWaiter is a request queued for a send slot.
type slotWaiter struct {
	ready chan struct{} // closed when the slot is granted
	class int           // of its priority
	since time.Time     // when it queued
	// granted and abandoned are guarded by the limiter's mutex.
	granted, abandoned bool
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

// Backlog returns how long a request of priority p would wait for its slot
// now: behind the requests queued at p or above it (see [RateLimiter]).
// Requests that come later at a higher priority would delay it further.
func (l *AIMDLimiter) Backlog(p Priority) time.Duration {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if math.IsInf(l.rate, 1) {
		return 0
	}
	ahead := 0
	for c := range p.class() + 1 {
		ahead += l.live[c]
	}
	return max(0, l.nextSlot().Sub(now)) + time.Duration(float64(ahead)*float64(time.Second)/l.rate)
}

// Wait implements [RateLimiter]. The request's [Priority] is the one ctx
// carries (see [WithPriority]).
func (l *AIMDLimiter) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w, start := l.enqueue(l.clock.Now(), PriorityOf(ctx))
	if w == nil {
		return nil
	}
	if start {
		go l.pace()
	}
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		if !w.granted {
			// Granted meanwhile, the slot is spent either way.
			w.abandoned = true
			l.live[w.class]--
		}
		return ctx.Err()
	}
}

// enqueue takes the slot at now for a request of priority p when one is
// free and nobody waits (returning nil), or queues the request; start
// tells the caller to run pace, which nobody runs yet.
func (l *AIMDLimiter) enqueue(now time.Time, p Priority) (w *slotWaiter, start bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waiting() == 0 && l.take(now, false) {
		return nil, false
	}
	w = &slotWaiter{ready: make(chan struct{}), class: p.class(), since: now}
	l.queue[w.class] = append(l.queue[w.class], w)
	l.live[w.class]++
	start = !l.pacing
	l.pacing = true
	return w, start
}

// pace hands out the slots to the queued requests as they come, and
// returns once the queue is empty.
func (l *AIMDLimiter) pace() {
	for {
		d, more := l.dispatch(l.clock.Now())
		if !more {
			return
		}
		// Not the caller's context: the slots must go on being handed out
		// to the other waiters whatever becomes of one of them.
		_ = l.clock.Sleep(context.Background(), d)
	}
}

// dispatch grants the slots due at now to the first waiters of the highest
// priority, and returns how long until the next slot, or more false (and
// pacing cleared) when nobody waits.
func (l *AIMDLimiter) dispatch(now time.Time) (next time.Duration, more bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.waiting() > 0 {
		w := l.head(now)
		if !l.take(now, true) {
			return l.nextSlot().Sub(now), true
		}
		l.queue[w.class] = l.queue[w.class][1:]
		l.live[w.class]--
		w.granted = true
		close(w.ready)
	}
	l.pacing = false
	return 0, false
}

// waiting is the number of requests queued.
func (l *AIMDLimiter) waiting() int {
	n := 0
	for _, k := range l.live {
		n += k
	}
	return n
}

// head returns the waiter the next slot goes to at now: the first live one
// of the highest priority class, unless a waiter of a lower class has
// waited maxDeferral (see AIMDLimiter), dropping the abandoned ones ahead
// of them. There must be one.
func (l *AIMDLimiter) head(now time.Time) *slotWaiter {
	var first *slotWaiter
	for c := range l.queue {
		q := l.queue[c]
		for len(q) > 0 && q[0].abandoned {
			q[0] = nil
			q = q[1:]
		}
		l.queue[c] = q
		if len(q) == 0 {
			continue
		}
		if first == nil {
			first = q[0]
		} else if now.Sub(q[0].since) >= maxDeferral {
			return q[0]
		}
	}
	if first == nil {
		panic("cloudcontrol: rate limiter queue count out of step with its queue")
	}
	return first
}

// maxDeferral is the longest a request waits for an AIMDLimiter's slot
// behind requests of a higher priority that came after it: past it, it
// goes first. A status poll is deferred for mutations to start sooner, but
// a stream of them (or of reads) must not hold it back for minutes, up to
// its operation's timeout.
const maxDeferral = 10 * time.Second

// nextSlot is when the next slot is free (GCRA: its theoretical arrival
// time less the burst tolerance).
func (l *AIMDLimiter) nextSlot() time.Time {
	interval := time.Duration(float64(time.Second) / l.rate)
	return l.tat.Add(-time.Duration(l.opts.Burst-1) * interval)
}

// take spends the slot at now if it is free, counting the request as sent.
// late tells that now is when pace woke for a slot due earlier: up to an
// interval late, the schedule keeps its time (the next slot is one interval
// after the one due, not after now), or every wake-up's lateness would be
// lost to the rate.
func (l *AIMDLimiter) take(now time.Time, late bool) bool {
	if math.IsInf(l.rate, 1) {
		l.granted.add(now)
		return true
	}
	if now.Before(l.nextSlot()) {
		return false
	}
	interval := time.Duration(float64(time.Second) / l.rate)
	if l.tat.Before(now) && !(late && now.Sub(l.tat) < interval) {
		l.tat = now
	}
	l.tat = l.tat.Add(interval)
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
	prev := l.rate
	l.rate = max(l.opts.MinRate, base*l.opts.Decrease)
	l.lastDecrease = now
	// The next slot comes one new interval after the last one handed out
	// (not the old interval's end): the queue leaves at the new rate from
	// now on.
	if !l.tat.IsZero() {
		last := l.tat.Add(-time.Duration(float64(time.Second) / prev))
		l.tat = last.Add(time.Duration(float64(time.Second) / l.rate))
	}
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

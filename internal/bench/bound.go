package bench

import (
	"math"
	"time"
)

// Limits are what the API allows a client: the emulator profile's rate
// limit and operation latency, and the client's concurrency.
type Limits struct {
	// RateLimit is the requests per second the whole API accepts; zero
	// means unlimited.
	RateLimit float64
	// Burst is the rate limiter's bucket: requests accepted at once before
	// the rate applies.
	Burst int
	// MinLatency is the least time an operation takes from its mutation to
	// its final status.
	MinLatency time.Duration
	// Concurrency is the number of operations in flight at most; zero
	// means no limit.
	Concurrency int
}

// Bound returns the least wall time in which any client could carry out n
// independent resource changes, each made of chain operations that must
// run one after the other (1 for a create or a delete, 2 for a replacement
// that keeps its identifier: delete, then create), under l:
//
//	bound = max( (2·chain·n − burst) / rate ,  ⌈n / concurrency⌉ · chain · minLatency )
//
// The first term is the rate limit: every operation needs at least two
// calls (the mutation, whose first event is never final, and one status
// poll at or after its completion), all of which count against the rate,
// and only the burst can be spent ahead of it. The second term is latency:
// a concurrency slot carries one operation at a time, and no operation ends
// before minLatency has passed; without a limit on concurrency (zero) the
// term is chain · minLatency, one latency per dependent step: the physical
// bound. Either term is zero when its limit is
// absent (no rate limit; zero latency), so the bound of the instant profile
// is zero and ratios to it are undefined.
func Bound(n, chain int, l Limits) time.Duration {
	if n <= 0 || chain <= 0 {
		return 0
	}
	var rate, lat time.Duration
	if l.RateLimit > 0 {
		calls := float64(2*chain*n - max(l.Burst, 0))
		if calls > 0 {
			rate = time.Duration(calls / l.RateLimit * float64(time.Second))
		}
	}
	if l.MinLatency > 0 {
		rounds := int64(1)
		if l.Concurrency > 0 {
			rounds = int64(math.Ceil(float64(n) / float64(l.Concurrency)))
		}
		lat = time.Duration(rounds*int64(chain)) * l.MinLatency
	}
	return max(rate, lat)
}

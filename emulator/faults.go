package emulator

import (
	"sync"
	"sync/atomic"
)

// FaultCounts says how many faults a Server injected, so that a test can
// tell that the faults it configured did happen.
type FaultCounts struct {
	// RateLimited counts the requests answered ThrottlingException because
	// they exceeded Faults.RateLimit.
	RateLimited int64
	// Throttles counts the requests answered ThrottlingException by the
	// Faults.Throttles fraction.
	Throttles int64
	// ServerErrors counts the requests answered with an HTTP 500.
	ServerErrors int64
	// DroppedConnections counts the connections closed without an answer.
	DroppedConnections int64
	// AsyncFailures counts, per HandlerErrorCode, the mutations accepted
	// with an injected asynchronous failure that has no effect.
	AsyncFailures map[string]int64
	// UnstableFailures counts the mutations accepted to take effect and
	// then end FAILED with NotStabilized (Faults.UnstableFailures).
	UnstableFailures int64
}

// faultCounters backs FaultCounts.
type faultCounters struct {
	rateLimited, throttles, serverErrors, dropped, unstable atomic.Int64

	mu    sync.Mutex
	async map[string]int64
}

func (c *faultCounters) asyncFailure(code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.async == nil {
		c.async = map[string]int64{}
	}
	c.async[code]++
}

// FaultCounts returns the faults injected so far.
func (s *Server) FaultCounts() FaultCounts {
	c := &s.faults
	out := FaultCounts{
		RateLimited:        c.rateLimited.Load(),
		Throttles:          c.throttles.Load(),
		ServerErrors:       c.serverErrors.Load(),
		DroppedConnections: c.dropped.Load(),
		UnstableFailures:   c.unstable.Load(),
		AsyncFailures:      map[string]int64{},
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.async {
		out.AsyncFailures[k] = v
	}
	return out
}

// Kinds of injected asynchronous fault, for counting once accepted.
const (
	faultNone = iota
	faultAsync
	faultUnstable
)

// unstableFault decides whether the mutation r takes effect and then fails
// NotStabilized: creates of resources whose identifier the service
// generates (a chosen identifier would make a second create collide with
// the resource that did not stabilise, which no client can settle alone)
// and updates.
func (s *Server) unstableFault(r *request) bool {
	f := s.opts.Faults
	if f.UnstableFailures == 0 || !(r.Operation == opUpdate || (r.Operation == opCreate && r.HideIdentifier)) {
		return false
	}
	return s.chance(f.UnstableFailures)
}

// countAsyncFault counts the injected fault of an accepted request.
func (s *Server) countAsyncFault(kind int, code string) {
	switch kind {
	case faultAsync:
		s.faults.asyncFailure(code)
	case faultUnstable:
		s.faults.unstable.Add(1)
	}
}

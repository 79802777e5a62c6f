package cloudcontrol

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a Client's counters since it was created.
type Stats struct {
	// Calls counts HTTP requests sent, by API operation name
	// ("CreateResource", "GetResourceRequestStatus", ...). SDK retries are
	// included: every request counts against the account's rate limit.
	Calls map[string]int64 `json:"calls"`
	// Requests is the sum of Calls.
	Requests int64 `json:"requests"`
	// Retries counts requests that were retries by the SDK retryer (after a
	// throttle, a 5xx, a connection error or a concurrent operation).
	Retries int64 `json:"retries"`
	// Throttles counts synchronous throttling responses received.
	Throttles int64 `json:"throttles"`
	// Polls counts GetResourceRequestStatus calls made to follow requests.
	Polls int64 `json:"polls"`
	// Operations counts Apply and Resume calls; Failed those that returned
	// an error.
	Operations int64 `json:"operations"`
	Failed     int64 `json:"failed"`
	// Reruns counts mutations sent again with a new ClientToken after a
	// retryable asynchronous failure; AsyncThrottles counts FAILED events
	// with HandlerErrorCode Throttling.
	Reruns         int64 `json:"reruns"`
	AsyncThrottles int64 `json:"asyncThrottles"`
	// InFlight is the number of operations holding a concurrency slot now.
	InFlight int64 `json:"inFlight"`
	// PeakInFlight is the most operations that held a slot at once, and
	// ConcurrencyLimit the bound on them now (see AdaptiveConcurrency).
	PeakInFlight     int64 `json:"peakInFlight"`
	ConcurrencyLimit int   `json:"concurrencyLimit"`
	// RateLimit is the rate limiter's current rate in requests per second,
	// 0 when it is not limiting (or is not an *AIMDLimiter).
	RateLimit float64 `json:"rateLimit"`
}

// PollsPerOperation returns Polls/Operations, or 0 with no operations.
func (s Stats) PollsPerOperation() float64 {
	if s.Operations == 0 {
		return 0
	}
	return float64(s.Polls) / float64(s.Operations)
}

// EventType is the kind of an [Event].
type EventType int

// Event types.
const (
	// EventRequest: an HTTP request is about to be sent (API names the
	// operation, Attempt counts from 1).
	EventRequest EventType = iota + 1
	// EventRetry: the SDK retries a request (Err is the previous error).
	EventRetry
	// EventThrottle: a request was answered with a throttling error.
	EventThrottle
	// EventPoll: a status poll is scheduled Delay from now.
	EventPoll
	// EventRerun: a mutation is re-run with a new ClientToken after a
	// retryable FAILED event (ErrorCode), after Delay.
	EventRerun
	// EventDone: an operation finished (Err is its error, if any; Delay is
	// its duration).
	EventDone
)

// String returns the event type's name.
func (t EventType) String() string {
	switch t {
	case EventRequest:
		return "request"
	case EventRetry:
		return "retry"
	case EventThrottle:
		return "throttle"
	case EventPoll:
		return "poll"
	case EventRerun:
		return "rerun"
	case EventDone:
		return "done"
	}
	return "unknown"
}

// Event is reported to an observer (see [WithObserver]) as the client works.
// Fields that do not apply to the type are zero.
type Event struct {
	Type         EventType
	API          string // API operation name, for request, retry and throttle
	Attempt      int    // attempt number of the request, from 1
	Kind         Kind
	TypeName     string
	RequestToken string
	ErrorCode    string
	Delay        time.Duration
	Err          error
}

// apiNames are the Cloud Control operations, for per-operation counters.
var apiNames = []string{
	"CreateResource", "UpdateResource", "DeleteResource", "GetResource",
	"ListResources", "GetResourceRequestStatus", "ListResourceRequests",
	"CancelResourceRequest",
}

// counters are the live values behind Stats.
type counters struct {
	calls                      map[string]*atomic.Int64 // fixed keys: apiNames
	other                      sync.Map                 // string → *atomic.Int64, unforeseen names
	retries, throttles, polls  atomic.Int64
	operations, failed, reruns atomic.Int64
	asyncThrottles, inFlight   atomic.Int64
}

func newCounters() *counters {
	c := &counters{calls: make(map[string]*atomic.Int64, len(apiNames))}
	for _, n := range apiNames {
		c.calls[n] = new(atomic.Int64)
	}
	return c
}

func (c *counters) call(api string) {
	if n, ok := c.calls[api]; ok {
		n.Add(1)
		return
	}
	v, _ := c.other.LoadOrStore(api, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (c *counters) snapshot() Stats {
	s := Stats{
		Calls:          make(map[string]int64, len(c.calls)),
		Retries:        c.retries.Load(),
		Throttles:      c.throttles.Load(),
		Polls:          c.polls.Load(),
		Operations:     c.operations.Load(),
		Failed:         c.failed.Load(),
		Reruns:         c.reruns.Load(),
		AsyncThrottles: c.asyncThrottles.Load(),
		InFlight:       c.inFlight.Load(),
	}
	add := func(name string, n int64) {
		if n != 0 {
			s.Calls[name] = n
			s.Requests += n
		}
	}
	for name, n := range c.calls {
		add(name, n.Load())
	}
	c.other.Range(func(k, v any) bool {
		add(k.(string), v.(*atomic.Int64).Load())
		return true
	})
	return s
}

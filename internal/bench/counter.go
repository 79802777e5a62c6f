package bench

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"strings"
	"sync"
)

// Operation classes of the Cloud Control API, as the benchmark counts them.
const (
	ClassMutation = "mutation" // CreateResource, UpdateResource, DeleteResource, CancelResourceRequest
	ClassPoll     = "poll"     // GetResourceRequestStatus
	ClassRead     = "read"     // GetResource, ListResources, ListResourceRequests
	ClassIdentity = "identity" // STS (GetCallerIdentity: every run's target check)
	ClassOther    = "other"    // IoT REST, unknown operations
)

// OpSTS names the STS requests (awsQuery form POSTs) a Counter sees: the
// GetCallerIdentity with which every run checks its target.
const OpSTS = "STS"

// classOf returns the class of a Cloud Control operation name.
func classOf(op string) string {
	switch op {
	case "CreateResource", "UpdateResource", "DeleteResource", "CancelResourceRequest":
		return ClassMutation
	case "GetResourceRequestStatus":
		return ClassPoll
	case "GetResource", "ListResources", "ListResourceRequests":
		return ClassRead
	case OpSTS:
		return ClassIdentity
	}
	return ClassOther
}

// Counts is a snapshot of the requests a Counter saw.
type Counts struct {
	// Requests counts every request by operation name ("CreateResource",
	// ...; OpSTS for STS; "other" for the remaining requests that are not
	// Cloud Control JSON requests),
	// throttled ones included: every request counts against the rate limit.
	Requests map[string]int64 `json:"requests"`
	// Throttled counts requests answered with a throttling error, by
	// operation name.
	Throttled map[string]int64 `json:"throttled"`
}

// Total returns the number of requests.
func (c Counts) Total() int64 { return sum(c.Requests, "") }

// Class returns the number of requests of a class (ClassMutation, ...).
func (c Counts) Class(class string) int64 { return sum(c.Requests, class) }

// Throttles returns the number of throttled requests.
func (c Counts) Throttles() int64 { return sum(c.Throttled, "") }

// ThrottledClass returns the number of throttled requests of a class.
func (c Counts) ThrottledClass(class string) int64 { return sum(c.Throttled, class) }

func sum(m map[string]int64, class string) int64 {
	var n int64
	for op, v := range m {
		if class == "" || classOf(op) == class {
			n += v
		}
	}
	return n
}

// Sub returns the requests counted in c but not in before: the counts of
// the interval between two snapshots.
func (c Counts) Sub(before Counts) Counts {
	d := Counts{Requests: map[string]int64{}, Throttled: map[string]int64{}}
	for op, v := range c.Requests {
		if n := v - before.Requests[op]; n != 0 {
			d.Requests[op] = n
		}
	}
	for op, v := range c.Throttled {
		if n := v - before.Throttled[op]; n != 0 {
			d.Throttled[op] = n
		}
	}
	return d
}

// Counter is an http.Handler that counts the requests it passes to the
// handler it wraps, by Cloud Control operation, and the throttling errors
// they were answered with. Counting at the server side counts every client
// the same way, whatever its own statistics say. It is safe for concurrent
// use.
type Counter struct {
	next http.Handler

	mu        sync.Mutex
	requests  map[string]int64
	throttled map[string]int64
}

// NewCounter returns a Counter in front of next.
func NewCounter(next http.Handler) *Counter {
	return &Counter{next: next, requests: map[string]int64{}, throttled: map[string]int64{}}
}

// ServeHTTP counts the request, serves it with the wrapped handler and
// counts its answer if it is a throttling error.
func (c *Counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := operationOf(r)
	c.mu.Lock()
	c.requests[op]++
	c.mu.Unlock()
	rec := &errorSniffer{ResponseWriter: w}
	c.next.ServeHTTP(rec, r)
	if rec.throttled() {
		c.mu.Lock()
		c.throttled[op]++
		c.mu.Unlock()
	}
}

// Snapshot returns the counts so far.
func (c *Counter) Snapshot() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Counts{Requests: make(map[string]int64, len(c.requests)), Throttled: make(map[string]int64, len(c.throttled))}
	for k, v := range c.requests {
		s.Requests[k] = v
	}
	for k, v := range c.throttled {
		s.Throttled[k] = v
	}
	return s
}

// operationOf names a request's operation from its X-Amz-Target header
// ("CloudApiService.CreateResource" → "CreateResource"); a form POST
// without one is STS (OpSTS).
func operationOf(r *http.Request) string {
	t := r.Header.Get("X-Amz-Target")
	if t == "" {
		if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			return OpSTS
		}
		return ClassOther
	}
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		t = t[i+1:]
	}
	if t == "" {
		return ClassOther
	}
	return t
}

// sniffLimit bounds how much of an error answer is kept to recognise a
// throttling error: the error type comes first in every door's body.
const sniffLimit = 512

// errorSniffer records the status of an answer and, for errors, the start
// of the body and the error-type header.
type errorSniffer struct {
	http.ResponseWriter
	status int
	head   bytes.Buffer
}

func (s *errorSniffer) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *errorSniffer) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if s.status >= 400 && s.head.Len() < sniffLimit {
		s.head.Write(p[:min(len(p), sniffLimit-s.head.Len())])
	}
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer (the
// emulator hijacks connections to simulate dropped ones).
func (s *errorSniffer) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Hijack passes hijacking through to the underlying writer: the emulator
// closes connections without an answer to simulate network faults.
func (s *errorSniffer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(s.ResponseWriter).Hijack()
}

func (s *errorSniffer) throttled() bool {
	if s.status != http.StatusBadRequest && s.status != http.StatusTooManyRequests {
		return false
	}
	if strings.Contains(s.Header().Get("X-Amzn-Errortype"), "Throttling") {
		return true
	}
	return bytes.Contains(s.head.Bytes(), []byte("Throttling"))
}

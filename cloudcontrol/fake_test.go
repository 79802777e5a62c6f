package cloudcontrol

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// fakeServer speaks Cloud Control's AWS JSON 1.0 protocol on loopback and
// answers from scripts, so tests can inject precise sequences and faults.
type fakeServer struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	scripts  map[string][]reply         // API → replies, consumed in order, the last repeated
	handlers map[string]func(req) reply // API → handler, overrides scripts
	calls    []req                      // every request, in arrival order
	byAPI    map[string]int             // request count per API
}

// req is one request the server received.
type req struct {
	API  string
	Body map[string]any
}

func (r req) str(key string) string {
	s, _ := r.Body[key].(string)
	return s
}

// reply is a scripted answer: an HTTP status and a JSON body.
type reply struct {
	status int
	body   any
}

func newFakeServer(t testing.TB) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t, scripts: map[string][]reply{}, handlers: map[string]func(req) reply{}, byAPI: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	api, ok := strings.CutPrefix(target, "CloudApiService.")
	if r.Method != http.MethodPost || !ok {
		http.Error(w, "bad request target "+target, http.StatusBadRequest)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
		f.t.Errorf("%s: Content-Type %q", api, ct)
	}
	if !strings.Contains(r.Header.Get("Authorization"), "/cloudcontrolapi/aws4_request") {
		f.t.Errorf("%s: not signed for cloudcontrolapi: %q", api, r.Header.Get("Authorization"))
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		f.t.Errorf("%s: body %q: %v", api, raw, err)
	}
	rq := req{API: api, Body: body}

	f.mu.Lock()
	f.calls = append(f.calls, rq)
	seq := len(f.calls)
	f.byAPI[api]++
	h := f.handlers[api]
	var rp reply
	if h == nil {
		s := f.scripts[api]
		switch len(s) {
		case 0:
			f.mu.Unlock()
			f.t.Errorf("unscripted call %s %s", api, raw)
			http.Error(w, "unscripted", http.StatusInternalServerError)
			return
		case 1:
			rp = s[0]
		default:
			rp, f.scripts[api] = s[0], s[1:]
		}
	}
	f.mu.Unlock()
	if h != nil {
		rp = h(rq)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Requestid", fmt.Sprintf("req-%d", seq))
	if rp.status == 0 {
		rp.status = http.StatusOK
	}
	w.WriteHeader(rp.status)
	_ = json.NewEncoder(w).Encode(rp.body)
}

// script queues replies for an API; the last one repeats.
func (f *fakeServer) script(api string, replies ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts[api] = append(f.scripts[api], replies...)
}

// handle answers an API with fn (called concurrently).
func (f *fakeServer) handle(api string, fn func(req) reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[api] = fn
}

func (f *fakeServer) count(api string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byAPI[api]
}

func (f *fakeServer) requests(api string) []req {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []req
	for _, c := range f.calls {
		if c.API == api {
			out = append(out, c)
		}
	}
	return out
}

// event builds a ProgressEvent reply body for api ("ProgressEvent" member).
type ev map[string]any

func progress(status string, fields ...ev) reply {
	e := ev{
		"TypeName":        "AWS::IoT::JobTemplate",
		"Identifier":      "tpl",
		"RequestToken":    "rt-1",
		"Operation":       "CREATE",
		"OperationStatus": status,
		"EventTime":       1.7e9,
	}
	for _, f := range fields {
		for k, v := range f {
			e[k] = v
		}
	}
	return reply{body: map[string]any{"ProgressEvent": e}}
}

// apiError builds a synchronous error reply.
func apiError(status int, typ, msg string) reply {
	return reply{status: status, body: map[string]any{"__type": typ, "Message": msg}}
}

func ccError(status int, name string) reply {
	return apiError(status, "com.amazon.cloudapiservice#"+name, name+" injected")
}

func throttle() reply {
	return apiError(http.StatusBadRequest, "com.amazon.coral.availability#ThrottlingException", "Rate exceeded")
}

// fakeClock is a clock whose Sleep returns at once, advancing the time and
// recording the requested duration.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	if d > 0 {
		c.now = c.now.Add(d)
	}
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

func withClock(c clock) Option { return func(o *options) { o.clock = c } }

// withNoBackoff makes the SDK retryer retry at once.
func withNoBackoff() Option {
	return func(o *options) {
		o.backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
	}
}

// testConfig is an aws.Config pointed at url with static credentials.
func testConfig(url string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(url),
	}
}

// newTestClient returns a client of f with a fake clock, no SDK backoff,
// jitter-free polling and the given options after those.
func newTestClient(t *testing.T, f *fakeServer, clk *fakeClock, opts ...Option) *Client {
	t.Helper()
	p := DefaultPollPolicy()
	p.Jitter = 0
	p.Adaptive = false
	base := []Option{withClock(clk), withNoBackoff(), WithPollPolicy(p)}
	return New(testConfig(f.srv.URL), append(base, opts...)...)
}

func createOp() Operation {
	return Operation{Kind: Create, TypeName: "AWS::IoT::JobTemplate",
		Desired: json.RawMessage(`{"JobTemplateId":"tpl","Description":"d","Document":"{}"}`)}
}

func deleteOp() Operation {
	return Operation{Kind: Delete, TypeName: "AWS::IoT::JobTemplate", Identifier: "tpl"}
}

package cloudcontrol

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"
)

// Defaults of a Client.
const (
	// DefaultConcurrency is where the adaptive bound on operations in
	// flight starts (see [AdaptiveConcurrency]); it grows from there up to
	// DefaultMaxConcurrency while answers come back unthrottled and no
	// slower. Sixteen operations, each polled adaptively (about one poll
	// per operation once its duration is learnt), stay within the few tens
	// of requests per second at which Cloud Control throttles an account.
	DefaultConcurrency = 16
	// DefaultOperationTimeout bounds one Apply or Resume, polling included.
	// Most handlers finish in seconds; some (CloudFront, RDS) take tens of
	// minutes.
	DefaultOperationTimeout = time.Hour
	// DefaultRetryBudget is how long failures that may pass (throttles,
	// 5xx answers, dropped connections, retryable asynchronous failures)
	// are retried before the operation gives up; see [RetryPolicy].
	// Sustained throttling of a busy account lasts minutes, not the
	// seconds a fixed number of attempts rides out.
	DefaultRetryBudget = 15 * time.Minute
	// EnvEndpointCloudControlAPI is the endpoint variable of the TypeScript
	// original, honoured when the SDK's own variables are unset.
	EnvEndpointCloudControlAPI = "AWS_ENDPOINT_URL_CLOUDCONTROLAPI"
)

// Client is Athanor's Cloud Control provider. It is safe for concurrent use.
type Client struct {
	sdk     *cc.Client
	slots   *inflight
	limiter RateLimiter
	poll    PollPolicy
	est     estimator
	stats   *counters
	clock   clock
	log     *slog.Logger
	observe func(Event)

	timeout   time.Duration
	retry     RetryPolicy
	retryable retry.IsErrorRetryable
	maxReruns int
	rerunBase time.Duration
	rerunMax  time.Duration
}

// Option configures a Client.
type Option func(*options)

type options struct {
	concurrency int
	adaptive    AdaptiveConcurrency
	poll        PollPolicy
	timeout     time.Duration
	limiter     RateLimiter
	log         *slog.Logger
	observe     func(Event)
	maxAttempts int
	retry       RetryPolicy
	maxReruns   int
	rerunBase   time.Duration
	rerunMax    time.Duration
	sdkOptions  []func(*cc.Options)

	// For tests in this package.
	clock   clock
	backoff retry.BackoffDelayer
}

// WithConcurrency fixes the bound on operations (Apply and Resume calls) in
// flight at n; further calls wait for a slot. n ≤ 0 means the default, a
// bound that adapts (see [AdaptiveConcurrency]) between
// DefaultConcurrency/2 and DefaultMaxConcurrency, starting at
// DefaultConcurrency.
func WithConcurrency(n int) Option {
	return func(o *options) { o.concurrency, o.adaptive = n, AdaptiveConcurrency{} }
}

// WithAdaptiveConcurrency makes the bound on operations in flight adapt as
// a says (zero fields take its defaults), overriding an earlier
// WithConcurrency.
func WithAdaptiveConcurrency(a AdaptiveConcurrency) Option {
	return func(o *options) { o.concurrency, o.adaptive = 0, a }
}

// WithPollPolicy sets the polling policy; zero fields take the defaults of
// DefaultPollPolicy (but Adaptive is taken as given).
func WithPollPolicy(p PollPolicy) Option { return func(o *options) { o.poll = p.withDefaults() } }

// WithOperationTimeout bounds each Apply and Resume, polling and re-runs
// included. d ≤ 0 means DefaultOperationTimeout.
func WithOperationTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithRateLimiter sets the limiter every HTTP request waits for. Share one
// between clients that draw on the same quota. The default is an
// [AIMDLimiter] that does not limit until the first throttle.
func WithRateLimiter(l RateLimiter) Option { return func(o *options) { o.limiter = l } }

// WithRequestRate limits the client to r requests per second at most,
// adapting below that on throttles (an [AIMDLimiter] starting and capped at
// r). r ≤ 0 leaves the default limiter.
func WithRequestRate(r float64) Option {
	return func(o *options) {
		if r > 0 {
			o.limiter = NewAIMDLimiter(AIMDOptions{InitialRate: r, MaxRate: r})
		}
	}
}

// WithLogger logs retries, throttles and re-runs at debug level.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithObserver calls fn with every [Event]; fn must be fast and safe for
// concurrent use. Stats counts the same events without an observer.
func WithObserver(fn func(Event)) Option { return func(o *options) { o.observe = fn } }

// WithMaxAttempts caps the SDK retryer's attempts per API call (first
// attempt included) on top of the retry budget. n ≤ 0, the default, means
// no cap: an API call is retried for as long as the [RetryPolicy] budget
// allows.
func WithMaxAttempts(n int) Option { return func(o *options) { o.maxAttempts = n } }

// WithRetryPolicy sets how failures that may pass are retried; zero fields
// take the defaults of [DefaultRetryPolicy].
func WithRetryPolicy(p RetryPolicy) Option { return func(o *options) { o.retry = p.withDefaults() } }

// WithReruns sets how many times at most a mutation that ended FAILED with
// a retryable handler error (see [RetryableHandlerError]) is sent again, and
// the exponential backoff between re-runs (base doubling up to max, with
// jitter). Re-runs stop anyway when the [RetryPolicy] budget is spent. n = 0,
// the default, means no count bound (the budget alone bounds them); n < 0
// disables re-runs; zero durations keep the defaults (1 s, 20 s).
func WithReruns(n int, base, max time.Duration) Option {
	return func(o *options) {
		o.maxReruns = n
		if base > 0 {
			o.rerunBase = base
		}
		if max > 0 {
			o.rerunMax = max
		}
	}
}

// WithSDKOptions adds functional options for the underlying SDK client
// (HTTP client, endpoint resolver, ...). They run after the client's own.
func WithSDKOptions(fns ...func(*cc.Options)) Option {
	return func(o *options) { o.sdkOptions = append(o.sdkOptions, fns...) }
}

// New returns a Client for cfg, which callers usually build with
// [LoadConfig] or config.LoadDefaultConfig. The endpoint comes from cfg or
// the SDK's variables (AWS_ENDPOINT_URL_CLOUDCONTROL, AWS_ENDPOINT_URL), and
// failing those from AWS_ENDPOINT_URL_CLOUDCONTROLAPI.
func New(cfg aws.Config, opts ...Option) *Client {
	o := options{
		poll:      DefaultPollPolicy(),
		timeout:   DefaultOperationTimeout,
		retry:     DefaultRetryPolicy(),
		rerunBase: time.Second,
		rerunMax:  20 * time.Second,
		clock:     realClock{},
	}
	for _, opt := range opts {
		opt(&o)
	}
	slots := newAdaptiveInflight(o.adaptive)
	if o.concurrency > 0 {
		slots = newFixedInflight(o.concurrency)
	}
	if o.timeout <= 0 {
		o.timeout = DefaultOperationTimeout
	}
	if o.maxAttempts < 0 {
		o.maxAttempts = 0
	}
	if o.limiter == nil {
		o.limiter = newAIMDLimiter(AIMDOptions{}, o.clock)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		slots:     slots,
		limiter:   o.limiter,
		poll:      o.poll,
		stats:     newCounters(),
		clock:     o.clock,
		log:       o.log,
		observe:   o.observe,
		timeout:   o.timeout,
		retry:     o.retry,
		maxReruns: o.maxReruns,
		rerunBase: o.rerunBase,
		rerunMax:  o.rerunMax,
	}
	if b, ok := c.limiter.(backlogger); ok {
		slots.backlog = b.Backlog
	}
	if s, ok := c.limiter.(saturater); ok {
		slots.saturated = s.Saturated
	}
	httpClient := tuneHTTPClient(cfg.HTTPClient, 2*slots.Max())
	sdkOpts := []func(*cc.Options){func(so *cc.Options) {
		if so.BaseEndpoint == nil {
			if u := os.Getenv(EnvEndpointCloudControlAPI); u != "" {
				so.BaseEndpoint = aws.String(u)
			}
		}
		if httpClient != nil {
			so.HTTPClient = httpClient
		}
		so.Retryer = c.newRetryer(o.maxAttempts, o.backoff)
		so.APIOptions = append(so.APIOptions, c.addMiddleware)
	}}
	c.sdk = cc.NewFromConfig(cfg, append(sdkOpts, o.sdkOptions...)...)
	return c
}

// tuneHTTPClient raises the idle connection pool of the SDK's buildable
// HTTP client to idle per host, so that concurrent operations reuse
// connections instead of churning through new ones. Other clients are kept
// as they are (nil means the SDK default).
func tuneHTTPClient(hc aws.HTTPClient, idle int) aws.HTTPClient {
	var bc *awshttp.BuildableClient
	switch v := hc.(type) {
	case nil:
		bc = awshttp.NewBuildableClient()
	case *awshttp.BuildableClient:
		bc = v
	default:
		return hc
	}
	return bc.WithTransportOptions(func(t *http.Transport) {
		if t.MaxIdleConnsPerHost < idle {
			t.MaxIdleConnsPerHost = idle
		}
		if t.MaxIdleConns < idle {
			t.MaxIdleConns = idle
		}
	})
}

// SDK returns the underlying aws-sdk-go-v2 client, with the rate limiter,
// retryer and counters of this Client installed.
func (c *Client) SDK() *cc.Client { return c.sdk }

// Concurrency returns the most operations that can be in flight: the value
// of [WithConcurrency], or the cap of the adaptive bound.
func (c *Client) Concurrency() int { return c.slots.Max() }

// ConcurrencyLimit returns the current bound on operations in flight (for an
// adaptive bound, where it has got to).
func (c *Client) ConcurrencyLimit() int { return c.slots.Limit() }

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() Stats {
	s := c.stats.snapshot()
	s.ConcurrencyLimit = c.slots.Limit()
	s.PeakInFlight = int64(c.slots.Peak())
	if r, ok := c.limiter.(interface{ Rate() float64 }); ok {
		s.RateLimit = r.Rate()
	}
	return s
}

// saturated reports whether the client's rate limiter says that its rate
// binds (see [RateLimiter]).
func (c *Client) saturated() bool {
	s, ok := c.limiter.(saturater)
	return ok && s.Saturated()
}

// target returns the learnt first-poll target to follow now: the one of
// PollPolicy.RateBoundQuantile while the rate binds.
func (c *Client) target() int {
	if c.saturated() {
		return targetRateBound
	}
	return targetQuantile
}

func (c *Client) emit(ev Event) {
	if c.observe != nil {
		c.observe(ev)
	}
}

// acquire takes a concurrency slot; release it with the returned func.
func (c *Client) acquire(ctx context.Context) (func(), error) {
	if err := c.slots.acquire(ctx); err != nil {
		return nil, err
	}
	c.stats.inFlight.Add(1)
	return func() {
		c.stats.inFlight.Add(-1)
		c.slots.release()
	}, nil
}

// fromSDK converts an SDK progress event.
func fromSDK(p *types.ProgressEvent) ProgressEvent {
	if p == nil {
		return ProgressEvent{}
	}
	ev := ProgressEvent{
		TypeName:        aws.ToString(p.TypeName),
		Identifier:      aws.ToString(p.Identifier),
		RequestToken:    aws.ToString(p.RequestToken),
		Operation:       Kind(p.Operation),
		OperationStatus: string(p.OperationStatus),
		EventTime:       aws.ToTime(p.EventTime),
		StatusMessage:   aws.ToString(p.StatusMessage),
		ErrorCode:       string(p.ErrorCode),
		RetryAfter:      aws.ToTime(p.RetryAfter),
	}
	if p.ResourceModel != nil {
		ev.ResourceModel = json.RawMessage(*p.ResourceModel)
	}
	return ev
}

package cloudcontrol

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// RetryPolicy says how long and how fast failures that may pass are retried:
// throttling (ThrottlingException, HTTP 429), 5xx answers, dropped or reset
// connections, ConcurrentOperationException, and the retryable asynchronous
// failures of [RetryableHandlerError].
//
// They are retried for a time, not a number of attempts: an API call is
// attempted again until Budget has passed since its first attempt, and a
// mutation that ended FAILED with a retryable handler error is re-run until
// Budget has passed since its first such failure; neither goes past the
// operation timeout (see [WithOperationTimeout]). Under throttling the
// client's [RateLimiter] slows every request down meanwhile (an asynchronous
// Throttling failure counts as a throttle too), so waiting it out converges
// instead of adding load. A failure that cannot pass (a validation error,
// AccessDenied, NotFound, AlreadyExists, ...) is returned at once.
//
// A call none of whose attempts could connect (connection refused, a name
// that does not resolve: nothing answers at the endpoint) gives up after
// ConnectBudget instead, so that a wrong or stopped endpoint is reported in
// seconds; a connection dropped after it was made counts under Budget.
//
// Between the attempts of an API call the client waits a random delay up to
// Base·2ⁿ after the n-th transient failure, or ThrottleBase·2ⁿ after a
// throttle, capped at Max ("full jitter").
type RetryPolicy struct {
	// Budget bounds the time spent retrying; default DefaultRetryBudget.
	Budget time.Duration
	// ConnectBudget bounds the retries of a call that never connected;
	// default 30 s (and never more than Budget).
	ConnectBudget time.Duration
	// Base is the backoff scale after a transient error; default 50 ms.
	Base time.Duration
	// ThrottleBase is the backoff scale after a throttle; default 1 s.
	ThrottleBase time.Duration
	// Max caps each backoff; default 10 s.
	Max time.Duration
}

// DefaultRetryPolicy returns the policy used when none is given.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		Budget:        DefaultRetryBudget,
		ConnectBudget: 30 * time.Second,
		Base:          50 * time.Millisecond,
		ThrottleBase:  time.Second,
		Max:           10 * time.Second,
	}
}

// withDefaults fills zero (or negative) fields from DefaultRetryPolicy.
func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.Budget <= 0 {
		p.Budget = d.Budget
	}
	if p.ConnectBudget <= 0 {
		p.ConnectBudget = d.ConnectBudget
	}
	p.ConnectBudget = min(p.ConnectBudget, p.Budget)
	if p.Base <= 0 {
		p.Base = d.Base
	}
	if p.ThrottleBase <= 0 {
		p.ThrottleBase = d.ThrottleBase
	}
	if p.Max <= 0 {
		p.Max = d.Max
	}
	return p
}

// backoff is the delay before retry number n (0-based) after err: full
// jitter of the policy's exponential scale.
func (p RetryPolicy) backoff(n int, err error, r float64) time.Duration {
	base := p.Base
	if isThrottle(err) {
		base = p.ThrottleBase
	}
	return time.Duration(r * float64(grow(base, 2, n, p.Max)))
}

// retryables are the errors the client's SDK retryer retries: the SDK's own
// (throttles, 5xx, connection errors, ...) and the Cloud Control exceptions
// that say a later attempt may pass.
func retryables() []retry.IsErrorRetryable {
	return append(append([]retry.IsErrorRetryable(nil), retry.DefaultRetryables...),
		retry.RetryableErrorCode{Codes: map[string]struct{}{
			// Another operation on the resource is in progress: it will
			// finish; the same ClientToken keeps the retry idempotent.
			"ConcurrentOperationException":  {},
			"ServiceInternalErrorException": {},
			"NetworkFailureException":       {},
		}})
}

// newRetryer returns the SDK retryer of c: the standard classification of
// errors, no attempt count unless maxAttempts > 0 (the time budget is
// enforced by attemptGate, which sees the call's start), no retry quota (the
// client's limiter paces requests instead; the quota would fail operations
// outright under sustained throttling), and the policy's backoff unless a
// test substitutes one.
func (c *Client) newRetryer(maxAttempts int, backoff retry.BackoffDelayer) aws.Retryer {
	list := retryables()
	c.retryable = retry.IsErrorRetryables(list)
	if backoff == nil {
		p := c.retry
		backoff = retry.BackoffDelayerFunc(func(attempt int, err error) (time.Duration, error) {
			return p.backoff(attempt-1, err, rand.Float64()), nil
		})
	}
	std := retry.NewStandard(func(ro *retry.StandardOptions) {
		ro.RateLimiter = ratelimit.None
		ro.Retryables = list
		ro.Backoff = backoff
		ro.MaxBackoff = c.retry.Max
	})
	return budgetRetryer{Standard: std, maxAttempts: maxAttempts}
}

// budgetRetryer is retry.Standard without its attempt count: MaxAttempts 0
// tells the SDK's retry loop not to count.
type budgetRetryer struct {
	*retry.Standard
	maxAttempts int
}

// MaxAttempts implements aws.Retryer.
func (r budgetRetryer) MaxAttempts() int { return r.maxAttempts }

// isDialError reports whether err says that no connection could be made.
func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// budgetSpent marks the error of an API call whose retry budget is spent.
// It tells the SDK's retryer not to retry (RetryableError false), and
// unwraps to the last attempt's error, so that the sentinels and the SDK's
// error types still match.
type budgetSpent struct {
	err      error
	attempts int
	elapsed  time.Duration
	budget   time.Duration
}

func (e *budgetSpent) Error() string {
	return fmt.Sprintf("%v (still failing after %d attempts in %s; retry budget %s)",
		e.err, e.attempts, e.elapsed.Round(time.Millisecond), e.budget)
}

func (e *budgetSpent) Unwrap() error { return e.err }

// RetryableError tells the SDK's retryer to stop.
func (e *budgetSpent) RetryableError() bool { return false }

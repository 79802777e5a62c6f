package cloudcontrol

import (
	"context"
	"time"

	"github.com/aws/smithy-go/middleware"
)

// attemptKey is the stack value holding the *attemptState of one API call.
type attemptKey struct{}

type attemptState struct {
	n       int
	lastErr error
	start   time.Time // of the first attempt
	// connected is set once an attempt reached a server (any answer, or
	// a connection that broke after it was made).
	connected bool
}

// sendTimeKey is the context key of the *time.Time in which attemptGate
// records when the request of each attempt leaves the rate limiter (see
// withSendTime).
type sendTimeKey struct{}

// withSendTime returns ctx with at to receive the time each attempt of the
// API call under it is sent.
func withSendTime(ctx context.Context, at *time.Time) context.Context {
	return context.WithValue(ctx, sendTimeKey{}, at)
}

// callStart is an Initialize-step middleware that gives each API call an
// attempt counter, read by attemptGate on every attempt.
type callStart struct{}

func (callStart) ID() string { return "athanor.CallStart" }

func (callStart) HandleInitialize(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	ctx = middleware.WithStackValue(ctx, attemptKey{}, &attemptState{})
	return next.HandleInitialize(ctx, in)
}

// attemptGate is a Finalize-step middleware placed right after the SDK's
// retry middleware, so it runs once per HTTP attempt, before signing: it
// waits for the rate limiter (at the priority the context carries), records
// when the attempt goes out (see withSendTime), counts the request, feeds
// throttles back to the limiter and each answer to the bound on operations
// in flight, and ends the retries of a call whose retry budget is spent (by
// marking its error, see budgetSpent).
type attemptGate struct{ c *Client }

func (attemptGate) ID() string { return "athanor.AttemptGate" }

func (g attemptGate) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	c := g.c
	api := middleware.GetOperationName(ctx)
	st, _ := middleware.GetStackValue(ctx, attemptKey{}).(*attemptState)
	if st == nil {
		st = &attemptState{}
	}
	st.n++
	if st.n == 1 {
		st.start = c.clock.Now()
	}
	if st.n > 1 {
		c.stats.retries.Add(1)
		c.emit(Event{Type: EventRetry, API: api, Attempt: st.n, Err: st.lastErr})
		c.log.DebugContext(ctx, "cloudcontrol: retrying request", "api", api, "attempt", st.n, "err", st.lastErr)
	}
	if err := c.limiter.Wait(ctx); err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, err
	}
	if at, ok := ctx.Value(sendTimeKey{}).(*time.Time); ok {
		*at = c.clock.Now()
	}
	c.stats.call(api)
	c.emit(Event{Type: EventRequest, API: api, Attempt: st.n})
	sent := c.clock.Now()
	out, md, err := next.HandleFinalize(ctx, in)
	st.lastErr = err
	throttled := isThrottle(err)
	if ctx.Err() == nil {
		c.limiter.Feedback(throttled)
		now := c.clock.Now()
		c.slots.feedback(now, api, now.Sub(sent), err == nil, throttled)
	}
	if throttled {
		c.stats.throttles.Add(1)
		c.emit(Event{Type: EventThrottle, API: api, Attempt: st.n, Err: err})
	}
	if err == nil || !isDialError(err) {
		st.connected = true
	}
	if err != nil && ctx.Err() == nil && c.retryable.IsErrorRetryable(err).Bool() {
		budget := c.retry.Budget
		if !st.connected {
			budget = c.retry.ConnectBudget
		}
		if elapsed := c.clock.Now().Sub(st.start); elapsed >= budget {
			err = &budgetSpent{err: err, attempts: st.n, elapsed: elapsed, budget: budget}
		}
	}
	return out, md, err
}

// addMiddleware installs callStart and attemptGate on an operation stack.
func (c *Client) addMiddleware(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(callStart{}, middleware.Before); err != nil {
		return err
	}
	return stack.Finalize.Insert(attemptGate{c}, "Retry", middleware.After)
}

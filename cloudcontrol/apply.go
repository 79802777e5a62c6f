package cloudcontrol

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
)

// Apply sends op with a fresh ClientToken and follows the request until it
// is final. It holds one of the client's concurrency slots throughout.
//
// hooks.BeforeSend receives the ClientToken before the mutating call, and
// hooks.Started the first ProgressEvent (with the RequestToken) right after
// it, so the caller can make both durable; both are called again for every
// re-run. The first poll is skipped when the first event is already final.
//
// A FAILED event with a retryable handler error code (see
// [RetryableHandlerError]) is re-run with a new ClientToken after a backoff,
// until the [RetryPolicy] budget is spent (or the re-run bound of
// [WithReruns], if one is set). A delete that ends FAILED with NotFound,
// or whose call fails with ResourceNotFoundException, succeeds: the event is
// returned with a nil error. Any other FAILED or CANCEL_COMPLETE end returns
// the final event and an *[OperationError]; synchronous API errors return an
// *[APIError]. Both match the package's sentinels with errors.Is. An
// operation still running when the operation timeout expires returns an
// error matching [ErrTimeout]; its RequestToken was reported to Started and
// can be resumed.
func (c *Client) Apply(ctx context.Context, op Operation, hooks Hooks) (ProgressEvent, error) {
	return c.ApplyWithToken(ctx, op, "", hooks)
}

// ApplyWithToken is Apply with a given ClientToken for the first call
// (Apply passes ""; a fresh token is drawn then). The engine uses it to
// repeat a call a crashed run recorded in BeforeSend but whose RequestToken
// it never learnt: Cloud Control answers the same ClientToken and the same
// request with the original request's progress, never a second resource, and
// a different request with ClientTokenConflictException (ErrClientTokenConflict).
// Re-runs after retryable failures still use fresh tokens.
func (c *Client) ApplyWithToken(ctx context.Context, op Operation, clientToken string, hooks Hooks) (ProgressEvent, error) {
	if err := op.validate(); err != nil {
		return ProgressEvent{}, err
	}
	if clientToken != "" && !clientTokenPattern.MatchString(clientToken) {
		return ProgressEvent{}, fmt.Errorf("cloudcontrol: %s %s: ClientToken %q must match %s: %w",
			op.Kind, op.TypeName, clientToken, clientTokenPattern, ErrInvalidRequest)
	}
	return c.operation(ctx, op.Kind, op.TypeName, func(ctx context.Context, start time.Time) (ProgressEvent, error) {
		return c.apply(ctx, op, clientToken, hooks, start)
	})
}

// Resume follows a request recorded by an earlier run to its end, with the
// same polling, timeout and error mapping as Apply (a delete ending
// FAILED/NotFound is success). It does not re-run a retryable failure, since
// it does not know the operation: the returned *OperationError then reports
// Retryable, and the caller may Apply the operation again. An unknown or
// expired token fails with ErrRequestNotFound; the caller may then repeat the
// call with its recorded ClientToken through ApplyWithToken.
func (c *Client) Resume(ctx context.Context, requestToken string) (ProgressEvent, error) {
	if requestToken == "" {
		return ProgressEvent{}, fmt.Errorf("cloudcontrol: Resume: empty RequestToken: %w", ErrInvalidRequest)
	}
	return c.operation(ctx, "", "", func(ctx context.Context, start time.Time) (ProgressEvent, error) {
		ev := ProgressEvent{RequestToken: requestToken}
		next, _, err := c.status(ctx, ev)
		if err != nil {
			return ev, err
		}
		ev, err = c.follow(ctx, next, start, start.Add(c.timeout), false)
		if err != nil {
			return ev, err
		}
		return ev, c.result(ev.Operation, ev)
	})
}

// operation runs fn under a concurrency slot and the operation timeout, on
// a deep stack (see onDeepStack), and keeps the counters.
func (c *Client) operation(ctx context.Context, kind Kind, typeName string, fn func(context.Context, time.Time) (ProgressEvent, error)) (ProgressEvent, error) {
	release, err := c.acquire(ctx)
	if err != nil {
		return ProgressEvent{}, fmt.Errorf("cloudcontrol: %s %s: waiting for a concurrency slot: %w", kind, typeName, err)
	}
	defer release()
	c.stats.operations.Add(1)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	start := c.clock.Now()
	var ev ProgressEvent
	onDeepStack(func() { ev, err = fn(ctx, start) })
	if err != nil {
		c.stats.failed.Add(1)
	}
	c.emit(Event{Type: EventDone, Kind: ev.Operation, TypeName: ev.TypeName, RequestToken: ev.RequestToken,
		ErrorCode: ev.ErrorCode, Delay: c.clock.Now().Sub(start), Err: err})
	return ev, err
}

func (c *Client) apply(ctx context.Context, op Operation, token string, hooks Hooks, start time.Time) (ProgressEvent, error) {
	var (
		unstable     *ProgressEvent // a create that ended NotStabilized/ServiceTimeout, re-run
		firstFailure time.Time      // of the re-runs' retry budget
	)
	for rerun := 0; ; rerun++ {
		if token == "" {
			token = NewClientToken()
		}
		if hooks.BeforeSend != nil {
			if err := hooks.BeforeSend(ctx, token); err != nil {
				return ProgressEvent{}, fmt.Errorf("cloudcontrol: %s %s: BeforeSend: %w", op.Kind, op.TypeName, err)
			}
		}
		ev, err := c.send(ctx, op, token)
		if err != nil {
			if op.Kind == Delete && errors.Is(err, ErrNotFound) {
				return ProgressEvent{TypeName: op.TypeName, Identifier: op.Identifier, Operation: Delete,
					OperationStatus: StatusFailed, ErrorCode: CodeNotFound, StatusMessage: err.Error()}, nil
			}
			return ProgressEvent{}, c.contextError(ctx, ProgressEvent{Operation: op.Kind, TypeName: op.TypeName, Identifier: op.Identifier}, start, err)
		}
		if hooks.Started != nil {
			if err := hooks.Started(ctx, ev); err != nil {
				return ev, fmt.Errorf("cloudcontrol: %s %s: Started: %w", op.Kind, op.TypeName, err)
			}
		}
		if ev, err = c.follow(ctx, ev, c.clock.Now(), start.Add(c.timeout), true); err != nil {
			return ev, err
		}
		if unstable != nil && ev.OperationStatus == StatusFailed && ev.ErrorCode == CodeAlreadyExists {
			// The create that did not stabilise did create the resource:
			// report that, not the re-run's collision with it.
			return *unstable, c.result(op.Kind, *unstable)
		}
		if ev.OperationStatus != StatusFailed || !rerunnable(op, ev) {
			return ev, c.result(op.Kind, ev)
		}
		if op.Kind == Create && !RetryableHandlerError(op.Kind, ev.ErrorCode) {
			failed := ev
			unstable = &failed
		}
		now := c.clock.Now()
		if ev.ErrorCode == CodeThrottling {
			c.stats.asyncThrottles.Add(1)
			// The service behind Cloud Control is throttling this
			// account: slow every request down, as a synchronous
			// throttle does.
			c.limiter.Feedback(true)
		}
		if firstFailure.IsZero() {
			firstFailure = now
		}
		if c.maxReruns < 0 || (c.maxReruns > 0 && rerun >= c.maxReruns) {
			return ev, c.result(op.Kind, ev)
		}
		d := c.rerunDelay(rerun, ev)
		if at := now.Add(d); at.Sub(firstFailure) > c.retry.Budget || at.Sub(start) > c.timeout {
			return ev, c.result(op.Kind, ev)
		}
		c.stats.reruns.Add(1)
		c.emit(Event{Type: EventRerun, Kind: op.Kind, TypeName: op.TypeName, RequestToken: ev.RequestToken, ErrorCode: ev.ErrorCode, Delay: d})
		c.log.DebugContext(ctx, "cloudcontrol: re-running after retryable failure",
			"kind", op.Kind, "type", op.TypeName, "identifier", ev.Identifier, "code", ev.ErrorCode,
			"message", ev.StatusMessage, "delay", d)
		if err := c.clock.Sleep(ctx, d); err != nil {
			return ev, c.contextError(ctx, ev, start, err)
		}
		token = ""
	}
}

// rerunnable reports whether a FAILED event of op is re-run: the codes of
// RetryableHandlerError, and for a create NotStabilized and ServiceTimeout
// too when the resource's identifier is one the user chose (it appears as a
// top-level property value of the desired state, as JobTemplateId does):
// then a re-run cannot create a second resource, it creates the missing one
// or collides with the existing one, which Apply reports as the original
// failure.
func rerunnable(op Operation, ev ProgressEvent) bool {
	if RetryableHandlerError(op.Kind, ev.ErrorCode) {
		return true
	}
	if op.Kind != Create || (ev.ErrorCode != CodeNotStabilized && ev.ErrorCode != CodeServiceTimeout) || ev.Identifier == "" {
		return false
	}
	var desired map[string]any
	if json.Unmarshal(op.Desired, &desired) != nil {
		return false
	}
	for _, v := range desired {
		if s, ok := v.(string); ok && s == ev.Identifier {
			return true
		}
	}
	return false
}

// rerunDelay is the backoff before re-run number rerun (0-based): base
// doubling up to max, with "equal jitter" (half fixed, half random), and no
// earlier than the event's RetryAfter.
func (c *Client) rerunDelay(rerun int, ev ProgressEvent) time.Duration {
	d := grow(c.rerunBase, 2, rerun, c.rerunMax)
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	if !ev.RetryAfter.IsZero() {
		if ra := ev.RetryAfter.Sub(c.clock.Now()); ra > d {
			d = min(ra, c.poll.MaxRetryAfter)
		}
	}
	return d
}

// send makes the mutating call.
func (c *Client) send(ctx context.Context, op Operation, token string) (ProgressEvent, error) {
	var (
		role = optString(op.RoleArn)
		api  string
		ev   ProgressEvent
		err  error
	)
	switch op.Kind {
	case Create:
		api = "CreateResource"
		var out *cc.CreateResourceOutput
		out, err = c.sdk.CreateResource(ctx, &cc.CreateResourceInput{
			TypeName: aws.String(op.TypeName), DesiredState: aws.String(string(op.Desired)),
			ClientToken: aws.String(token), RoleArn: role,
		})
		if err == nil {
			ev = fromSDK(out.ProgressEvent)
		}
	case Update:
		api = "UpdateResource"
		var out *cc.UpdateResourceOutput
		out, err = c.sdk.UpdateResource(ctx, &cc.UpdateResourceInput{
			TypeName: aws.String(op.TypeName), Identifier: aws.String(op.Identifier),
			PatchDocument: aws.String(string(op.Patch)), ClientToken: aws.String(token), RoleArn: role,
		})
		if err == nil {
			ev = fromSDK(out.ProgressEvent)
		}
	case Delete:
		api = "DeleteResource"
		var out *cc.DeleteResourceOutput
		out, err = c.sdk.DeleteResource(ctx, &cc.DeleteResourceInput{
			TypeName: aws.String(op.TypeName), Identifier: aws.String(op.Identifier),
			ClientToken: aws.String(token), RoleArn: role,
		})
		if err == nil {
			ev = fromSDK(out.ProgressEvent)
		}
	}
	if err != nil {
		return ProgressEvent{}, wrapAPIError(api, op.TypeName, op.Identifier, err)
	}
	if ev.RequestToken == "" {
		return ev, fmt.Errorf("cloudcontrol: %s %s: response has no ProgressEvent.RequestToken", api, op.TypeName)
	}
	// Fill what a terse server leaves out, so callers and errors can name
	// the resource.
	if ev.Operation == "" {
		ev.Operation = op.Kind
	}
	if ev.TypeName == "" {
		ev.TypeName = op.TypeName
	}
	if ev.Identifier == "" {
		ev.Identifier = op.Identifier
	}
	return ev, nil
}

// follow polls ev's request until it is final, the deadline passes or ctx
// expires. sent is when the request was sent; with learn set, the completion
// time is learnt for the type and kind, and used to schedule.
func (c *Client) follow(ctx context.Context, ev ProgressEvent, sent, deadline time.Time, learn bool) (ProgressEvent, error) {
	if ev.Final() {
		return ev, nil
	}
	var (
		est estimate
		ok  bool
		// which is the target the first poll follows: chosen when it is
		// scheduled, by whether the rate binds then.
		which = c.target()
	)
	learn = learn && c.poll.Adaptive
	if learn {
		est, ok = c.est.get(ev.TypeName, ev.Operation, which)
	}
	var (
		lastPending time.Duration // elapsed at the last unfinished answer
		used        = noTarget    // the target the first poll followed
		sched       = est.target  // its value then
		first       time.Duration // elapsed when the first poll went out
		k           int           // polls of the current schedule
	)
	if ok {
		used = which
	}
	// scouting, while set, ends this request's scouting (see PollPolicy).
	var scouting func()
	defer func() {
		if scouting != nil {
			scouting()
		}
	}()
	for n := 0; !ev.Final(); n, k = n+1, k+1 {
		step := k
		if learn && !ok {
			// Another request of the type and kind may have completed
			// meanwhile: follow its target from now on.
			if e, found := c.est.get(ev.TypeName, ev.Operation, c.target()); found {
				est, ok, k, step = e, true, 0, 0
			} else if scouting == nil {
				if scouting = c.est.scout(ev.TypeName, ev.Operation); scouting == nil {
					step = unscouted
				}
			}
		}
		now := c.clock.Now()
		var retryAfter time.Duration
		if !ev.RetryAfter.IsZero() {
			retryAfter = ev.RetryAfter.Sub(now)
		}
		coarse := coarseHint(ev.RetryAfter)
		d := c.poll.delay(step, now.Sub(sent), est, ok, retryAfter, coarse, rand.Float64())
		left := deadline.Sub(now)
		if left <= 0 {
			return ev, c.timeoutError(ev, sent, now)
		}
		d = min(d, left)
		var learnt <-chan struct{}
		if learn && !ok && (retryAfter == 0 || coarse) {
			learnt = c.est.watch(ev.TypeName, ev.Operation)
		}
		c.emit(Event{Type: EventPoll, Kind: ev.Operation, TypeName: ev.TypeName, RequestToken: ev.RequestToken, Delay: d})
		woken, err := c.sleepUntilLearnt(ctx, d, sent, ev, learnt)
		if err != nil {
			return ev, c.contextError(ctx, ev, sent, err)
		}
		if woken {
			// Poll now; if still running, on the schedule of a learnt
			// target (its first step after the target), not on the
			// longer steps without history.
			est, ok = c.est.get(ev.TypeName, ev.Operation, c.target())
			k = 0
		}
		next, at, err := c.status(ctx, ev)
		if n == 0 {
			first = at.Sub(sent)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ev, c.contextError(ctx, ev, sent, err)
			}
			if errors.Is(err, ErrThrottled) || retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err).Bool() {
				// The SDK's retries are spent but the request is alive:
				// keep polling, further apart.
				c.log.DebugContext(ctx, "cloudcontrol: status poll failed, polling on", "request", ev.RequestToken, "err", err)
				continue
			}
			return ev, err
		}
		elapsed := c.clock.Now().Sub(sent)
		if !next.Final() {
			lastPending = elapsed
		} else if learn {
			c.est.observe(c.poll, ev.TypeName, ev.Operation, used, sched, first, n == 0, lastPending, elapsed)
		}
		ev = next
	}
	return ev, nil
}

// sleepUntilLearnt sleeps d, or, when learnt is closed first (another
// request of ev's type and kind completed and seeded the estimate), until
// the target of that estimate after sent if that comes sooner; woken
// reports that there is an estimate now.
func (c *Client) sleepUntilLearnt(ctx context.Context, d time.Duration, sent time.Time, ev ProgressEvent, learnt <-chan struct{}) (woken bool, err error) {
	if learnt == nil {
		return false, c.clock.Sleep(ctx, d)
	}
	due := c.clock.Now().Add(d)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wake := make(chan struct{})
	go func() {
		select {
		case <-learnt:
			close(wake)
			cancel()
		case <-sctx.Done():
		}
	}()
	if err := c.clock.Sleep(sctx, d); err == nil || ctx.Err() != nil {
		return false, err
	}
	<-wake
	est, ok := c.est.get(ev.TypeName, ev.Operation, c.target())
	if !ok {
		return false, c.clock.Sleep(ctx, due.Sub(c.clock.Now()))
	}
	at := sent.Add(min(est.target, c.poll.MaxExpected))
	if due.Before(at) {
		at = due
	}
	return true, c.clock.Sleep(ctx, at.Sub(c.clock.Now()))
}

// status calls GetResourceRequestStatus for ev's request and fills the
// fields the answer leaves empty from ev. sent is when the request that was
// answered went out: a poll waits for the rate limiter behind every
// mutation queued (see [PriorityPoll]), so it may leave well after it was
// due.
func (c *Client) status(ctx context.Context, ev ProgressEvent) (next ProgressEvent, sent time.Time, err error) {
	c.stats.polls.Add(1)
	sent = c.clock.Now()
	ctx = withSendTime(WithPriority(ctx, PriorityPoll), &sent)
	out, err := c.sdk.GetResourceRequestStatus(ctx, &cc.GetResourceRequestStatusInput{RequestToken: aws.String(ev.RequestToken)})
	if err != nil {
		return ev, sent, wrapAPIError("GetResourceRequestStatus", ev.TypeName, ev.Identifier, err)
	}
	next = fromSDK(out.ProgressEvent)
	if next.RequestToken == "" {
		next.RequestToken = ev.RequestToken
	}
	if next.TypeName == "" {
		next.TypeName = ev.TypeName
	}
	if next.Identifier == "" {
		next.Identifier = ev.Identifier
	}
	if next.Operation == "" {
		next.Operation = ev.Operation
	}
	return next, sent, nil
}

// result maps a final event to the operation's error.
func (c *Client) result(kind Kind, ev ProgressEvent) error {
	switch ev.OperationStatus {
	case StatusSuccess:
		return nil
	case StatusFailed:
		if kind == Delete && ev.ErrorCode == CodeNotFound {
			return nil
		}
	}
	return &OperationError{
		Operation: ev.Operation, TypeName: ev.TypeName, Identifier: ev.Identifier,
		RequestToken: ev.RequestToken, ErrorCode: ev.ErrorCode, StatusMessage: ev.StatusMessage,
		Status: ev.OperationStatus,
	}
}

// contextError describes an operation cut short by ctx: the operation
// timeout (ErrTimeout and context.DeadlineExceeded) or the caller's
// cancellation.
func (c *Client) contextError(ctx context.Context, ev ProgressEvent, start time.Time, err error) error {
	if ctx.Err() == nil {
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return c.timeoutError(ev, start, c.clock.Now())
	}
	return fmt.Errorf("cloudcontrol: %s: %w", describe(ev), ctx.Err())
}

// timeoutError reports an operation still unfinished at its deadline.
func (c *Client) timeoutError(ev ProgressEvent, start, now time.Time) error {
	return fmt.Errorf("cloudcontrol: %s: not finished after %s (operation timeout %s): %w: %w",
		describe(ev), now.Sub(start).Round(time.Millisecond), c.timeout, ErrTimeout, context.DeadlineExceeded)
}

// describe names an operation's request for error messages.
func describe(ev ProgressEvent) string {
	what := fmt.Sprintf("%s %s", ev.Operation, ev.TypeName)
	if ev.Identifier != "" {
		what += fmt.Sprintf(" %q", ev.Identifier)
	}
	if ev.RequestToken != "" {
		what += " (request " + ev.RequestToken
		if ev.OperationStatus != "" {
			what += ", last status " + ev.OperationStatus
		}
		what += ")"
	}
	return what
}

// clientTokenPattern is the API model's ClientToken constraint.
var clientTokenPattern = regexp.MustCompile(`^[-A-Za-z0-9+/=]{1,128}$`)

// validate checks what the API would reject before any call.
func (op Operation) validate() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("cloudcontrol: %s %s: %s: %w", op.Kind, op.TypeName, fmt.Sprintf(format, args...), ErrInvalidRequest)
	}
	if op.TypeName == "" {
		return fail("TypeName is empty")
	}
	switch op.Kind {
	case Create:
		if len(op.Desired) == 0 || !json.Valid(op.Desired) {
			return fail("Desired must be a JSON object, got %q", op.Desired)
		}
	case Update:
		if op.Identifier == "" {
			return fail("Identifier is empty")
		}
		if len(op.Patch) == 0 || !json.Valid(op.Patch) {
			return fail("Patch must be a JSON Patch document, got %q", op.Patch)
		}
	case Delete:
		if op.Identifier == "" {
			return fail("Identifier is empty")
		}
	default:
		return fail("Kind %q is not CREATE, UPDATE or DELETE", op.Kind)
	}
	return nil
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

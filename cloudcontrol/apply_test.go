package cloudcontrol

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"
	"github.com/aws/smithy-go"
)

// recorder records hook calls.
type recorder struct {
	mu      sync.Mutex
	tokens  []string
	started []ProgressEvent
	// sentBefore[i] is how many mutating requests the server had seen when
	// BeforeSend was called the i-th time.
	sentBefore []int
}

func (r *recorder) hooks(f *fakeServer, api string) Hooks {
	return Hooks{
		BeforeSend: func(_ context.Context, token string) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.tokens = append(r.tokens, token)
			r.sentBefore = append(r.sentBefore, f.count(api))
			return nil
		},
		Started: func(_ context.Context, ev ProgressEvent) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.started = append(r.started, ev)
			return nil
		},
	}
}

func TestApplyFirstEventFinalSkipsPolling(t *testing.T) {
	f := newFakeServer(t)
	f.script("CreateResource", progress("SUCCESS", ev{"ResourceModel": `{"JobTemplateId":"tpl"}`}))
	clk := newFakeClock()
	c := newTestClient(t, f, clk)
	var rec recorder
	got, err := c.Apply(t.Context(), createOp(), rec.hooks(f, "CreateResource"))
	if err != nil {
		t.Fatal(err)
	}
	if got.OperationStatus != StatusSuccess || string(got.ResourceModel) != `{"JobTemplateId":"tpl"}` {
		t.Errorf("event = %+v", got)
	}
	if n := f.count("GetResourceRequestStatus"); n != 0 {
		t.Errorf("%d polls, want none", n)
	}
	if len(clk.Sleeps()) != 0 {
		t.Errorf("slept %v", clk.Sleeps())
	}
	if len(rec.tokens) != 1 || rec.sentBefore[0] != 0 {
		t.Fatalf("BeforeSend tokens %v, calls seen before %v; want one call before any request", rec.tokens, rec.sentBefore)
	}
	if sent := f.requests("CreateResource")[0].str("ClientToken"); sent != rec.tokens[0] {
		t.Errorf("server got ClientToken %q, BeforeSend %q", sent, rec.tokens[0])
	}
	if len(rec.started) != 1 || rec.started[0].RequestToken != "rt-1" {
		t.Errorf("Started = %+v", rec.started)
	}
	if s := c.Stats(); s.Operations != 1 || s.Calls["CreateResource"] != 1 || s.Polls != 0 || s.Requests != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestApplyPollingBackoff(t *testing.T) {
	f := newFakeServer(t)
	f.script("CreateResource", progress("PENDING"))
	inProgress := progress("IN_PROGRESS")
	f.script("GetResourceRequestStatus", inProgress, inProgress, inProgress, inProgress, inProgress, inProgress, progress("SUCCESS"))
	clk := newFakeClock()
	c := newTestClient(t, f, clk)
	if _, err := c.Apply(t.Context(), createOp(), Hooks{}); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 2000, 2000}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if got := clk.Sleeps(); !slices.Equal(got, want) {
		t.Errorf("poll delays = %v, want %v", got, want)
	}
	if n := f.count("GetResourceRequestStatus"); n != len(want) {
		t.Errorf("%d polls, want %d", n, len(want))
	}
	if s := c.Stats(); s.Polls != int64(len(want)) {
		t.Errorf("Stats.Polls = %d", s.Polls)
	}
}

func TestApplyHonoursRetryAfter(t *testing.T) {
	f := newFakeServer(t)
	clk := newFakeClock()
	retryAt := float64(clk.Now().Add(5*time.Second+250*time.Millisecond).UnixMilli()) / 1000 // precise: not on a whole second
	f.script("CreateResource", progress("IN_PROGRESS", ev{"RetryAfter": retryAt}))
	f.script("GetResourceRequestStatus", progress("SUCCESS"))
	c := newTestClient(t, f, clk)
	if _, err := c.Apply(t.Context(), createOp(), Hooks{}); err != nil {
		t.Fatal(err)
	}
	want := 5*time.Second + 250*time.Millisecond + DefaultPollPolicy().RetryAfterSlack
	if got := clk.Sleeps(); len(got) != 1 || got[0] != want {
		t.Errorf("poll delays = %v, want [%v] (RetryAfter and its slack)", got, want)
	}
}

// TestApplyPollsAtRetryAfter: a RetryAfter sets the next poll, also when
// it comes sooner than the policy's own schedule would.
func TestApplyPollsAtRetryAfter(t *testing.T) {
	f := newFakeServer(t)
	clk := newFakeClock()
	at := func(d time.Duration) float64 { return float64(clk.Now().Add(d).UnixMilli()) / 1000 }
	f.script("CreateResource", progress("IN_PROGRESS", ev{"RetryAfter": at(30 * time.Millisecond)}))
	f.script("GetResourceRequestStatus", progress("IN_PROGRESS", ev{"RetryAfter": at(time.Second + 250*time.Millisecond)}), progress("SUCCESS"))
	c := newTestClient(t, f, clk)
	if _, err := c.Apply(t.Context(), createOp(), Hooks{}); err != nil {
		t.Fatal(err)
	}
	slack := DefaultPollPolicy().RetryAfterSlack
	want := []time.Duration{30*time.Millisecond + slack, time.Second + 250*time.Millisecond - 30*time.Millisecond}
	if got := clk.Sleeps(); !slices.Equal(got, want) {
		t.Errorf("poll delays = %v, want %v", got, want)
	}
}

// TestApplyCoarseRetryAfter: a RetryAfter on a whole second is taken as
// rounded up: the polls come within the second before it, on the policy's
// own schedule, and none after it.
func TestApplyCoarseRetryAfter(t *testing.T) {
	f := newFakeServer(t)
	clk := newFakeClock()
	retryAt := float64(clk.Now().Add(3 * time.Second).Unix())
	f.script("CreateResource", progress("IN_PROGRESS", ev{"RetryAfter": retryAt}))
	f.script("GetResourceRequestStatus", progress("IN_PROGRESS", ev{"RetryAfter": retryAt}), progress("IN_PROGRESS", ev{"RetryAfter": retryAt}), progress("SUCCESS"))
	c := newTestClient(t, f, clk)
	if _, err := c.Apply(t.Context(), createOp(), Hooks{}); err != nil {
		t.Fatal(err)
	}
	// The first step (100 ms) waits for the second before the hint; then
	// the schedule's 200 ms and 400 ms steps (the unit test of the policy
	// checks the cap at the hint).
	want := []time.Duration{2 * time.Second, 200 * time.Millisecond, 400 * time.Millisecond}
	if got := clk.Sleeps(); !slices.Equal(got, want) {
		t.Errorf("poll delays = %v, want %v", got, want)
	}
}

func TestApplyRetriesSyncThrottlingAndServerErrors(t *testing.T) {
	f := newFakeServer(t)
	f.script("CreateResource", throttle(), apiError(http.StatusInternalServerError, "InternalFailure", "boom"),
		throttle(), progress("SUCCESS"))
	c := newTestClient(t, f, newFakeClock())
	if _, err := c.Apply(t.Context(), createOp(), Hooks{}); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests("CreateResource")
	if len(reqs) != 4 {
		t.Fatalf("%d CreateResource requests, want 4", len(reqs))
	}
	for _, r := range reqs[1:] {
		if r.str("ClientToken") != reqs[0].str("ClientToken") {
			t.Errorf("retry changed ClientToken: %q vs %q", r.str("ClientToken"), reqs[0].str("ClientToken"))
		}
	}
	s := c.Stats()
	if s.Throttles != 2 || s.Retries != 3 || s.Calls["CreateResource"] != 4 {
		t.Errorf("stats = %+v, want 2 throttles, 3 retries, 4 calls", s)
	}
}

func TestApplySyncThrottlingExhausted(t *testing.T) {
	f := newFakeServer(t)
	f.script("CreateResource", throttle())
	c := newTestClient(t, f, newFakeClock(), WithMaxAttempts(3))
	_, err := c.Apply(t.Context(), createOp(), Hooks{})
	if !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v, want ErrThrottled", err)
	}
	var te *types.ThrottlingException
	if !errors.As(err, &te) {
		t.Errorf("err %v does not wrap *types.ThrottlingException", err)
	}
	if n := f.count("CreateResource"); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestApplyRerunsRetryableAsyncFailure(t *testing.T) {
	f := newFakeServer(t)
	f.script("CreateResource", progress("IN_PROGRESS", ev{"RequestToken": "rt-1"}), progress("IN_PROGRESS", ev{"RequestToken": "rt-2"}))
	f.handle("GetResourceRequestStatus", func(r req) reply {
		if r.str("RequestToken") == "rt-1" {
			return progress("FAILED", ev{"ErrorCode": "Throttling", "StatusMessage": "Rate exceeded (Service: Iot)", "RequestToken": "rt-1"})
		}
		return progress("SUCCESS", ev{"RequestToken": "rt-2"})
	})
	clk := newFakeClock()
	var events []Event
	var mu sync.Mutex
	c := newTestClient(t, f, clk, WithObserver(func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	}))
	var rec recorder
	got, err := c.Apply(t.Context(), createOp(), rec.hooks(f, "CreateResource"))
	if err != nil {
		t.Fatal(err)
	}
	if got.RequestToken != "rt-2" || got.OperationStatus != StatusSuccess {
		t.Errorf("final event %+v", got)
	}
	if len(rec.tokens) != 2 || rec.tokens[0] == rec.tokens[1] {
		t.Fatalf("BeforeSend tokens = %v, want two different", rec.tokens)
	}
	if !slices.Equal(rec.sentBefore, []int{0, 1}) {
		t.Errorf("BeforeSend saw %v requests before each send, want [0 1]", rec.sentBefore)
	}
	reqs := f.requests("CreateResource")
	if len(reqs) != 2 || reqs[0].str("ClientToken") != rec.tokens[0] || reqs[1].str("ClientToken") != rec.tokens[1] {
		t.Errorf("server tokens differ from BeforeSend's %v", rec.tokens)
	}
	if len(rec.started) != 2 || rec.started[1].RequestToken != "rt-2" {
		t.Errorf("Started = %+v", rec.started)
	}
	var rerun *Event
	for i := range events {
		if events[i].Type == EventRerun {
			rerun = &events[i]
		}
	}
	if rerun == nil || rerun.ErrorCode != "Throttling" || rerun.Delay < 500*time.Millisecond || rerun.Delay > time.Second {
		t.Errorf("rerun event = %+v, want Throttling after 0.5–1 s", rerun)
	}
	if s := c.Stats(); s.Reruns != 1 || s.AsyncThrottles != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestApplyRerunsAreBounded(t *testing.T) {
	f := newFakeServer(t)
	f.script("CreateResource", progress("FAILED", ev{"ErrorCode": "ServiceInternalError"}))
	c := newTestClient(t, f, newFakeClock(), WithReruns(2, 0, 0))
	_, err := c.Apply(t.Context(), createOp(), Hooks{})
	var oe *OperationError
	if !errors.As(err, &oe) || oe.ErrorCode != "ServiceInternalError" || !oe.Retryable() {
		t.Fatalf("err = %v, want retryable *OperationError", err)
	}
	if n := f.count("CreateResource"); n != 3 {
		t.Errorf("%d sends, want 1 + 2 re-runs", n)
	}
}

func TestRetryableHandlerErrorByKind(t *testing.T) {
	tests := []struct {
		code                 string
		create, update, dele bool
	}{
		{"Throttling", true, true, true},
		{"ServiceInternalError", true, true, true},
		{"NetworkFailure", true, true, true},
		{"NotStabilized", false, false, true},
		{"ServiceTimeout", false, false, true},
		{"ResourceConflict", false, false, true},
		{"InternalFailure", false, false, false},
		{"GeneralServiceException", false, false, false},
		{"AlreadyExists", false, false, false},
		{"InvalidRequest", false, false, false},
	}
	for _, tt := range tests {
		for kind, want := range map[Kind]bool{Create: tt.create, Update: tt.update, Delete: tt.dele} {
			if got := RetryableHandlerError(kind, tt.code); got != want {
				t.Errorf("RetryableHandlerError(%s, %s) = %v, want %v", kind, tt.code, got, want)
			}
		}
	}
}

func TestApplyNotStabilizedRerun(t *testing.T) {
	generated := Operation{Kind: Create, TypeName: "AWS::Logs::LogGroup", Desired: []byte(`{"RetentionInDays":7}`)}
	update := Operation{Kind: Update, TypeName: "AWS::Logs::LogGroup", Identifier: "tpl", Patch: []byte(`[]`)}
	notStabilized := func(kind Kind) reply {
		return progress("FAILED", ev{"ErrorCode": "NotStabilized", "Operation": string(kind)})
	}
	tests := []struct {
		name    string
		op      Operation
		api     string
		second  reply
		sends   int
		wantErr error // nil: success
	}{
		{"create with generated identifier", generated, "CreateResource", progress("SUCCESS"), 1, errWantNotStabilized},
		{"create with user-chosen identifier", createOp(), "CreateResource", progress("SUCCESS"), 2, nil},
		{"create re-run collides", createOp(), "CreateResource", progress("FAILED", ev{"ErrorCode": "AlreadyExists"}), 2, errWantNotStabilized},
		{"update", update, "UpdateResource", progress("SUCCESS", ev{"Operation": "UPDATE"}), 1, errWantNotStabilized},
		{"delete", deleteOp(), "DeleteResource", progress("SUCCESS", ev{"Operation": "DELETE"}), 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.script(tt.api, notStabilized(tt.op.Kind), tt.second)
			c := newTestClient(t, f, newFakeClock())
			_, err := c.Apply(t.Context(), tt.op, Hooks{})
			if tt.wantErr == nil && err != nil {
				t.Errorf("err = %v, want success", err)
			}
			var oe *OperationError
			if tt.wantErr != nil && (!errors.As(err, &oe) || oe.ErrorCode != "NotStabilized") {
				t.Errorf("err = %v, want the NotStabilized failure", err)
			}
			if n := f.count(tt.api); n != tt.sends {
				t.Errorf("%d sends, want %d", n, tt.sends)
			}
		})
	}
}

// errWantNotStabilized marks cases expecting the NotStabilized failure.
var errWantNotStabilized = errors.New("NotStabilized expected")

func TestDeleteNotFoundIsSuccess(t *testing.T) {
	t.Run("async", func(t *testing.T) {
		f := newFakeServer(t)
		f.script("DeleteResource", progress("IN_PROGRESS", ev{"Operation": "DELETE"}))
		f.script("GetResourceRequestStatus", progress("FAILED", ev{"Operation": "DELETE", "ErrorCode": "NotFound"}))
		c := newTestClient(t, f, newFakeClock())
		got, err := c.Apply(t.Context(), deleteOp(), Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		if got.OperationStatus != StatusFailed || got.ErrorCode != CodeNotFound {
			t.Errorf("event %+v, want the FAILED/NotFound event", got)
		}
	})
	t.Run("sync", func(t *testing.T) {
		f := newFakeServer(t)
		f.script("DeleteResource", ccError(http.StatusNotFound, "ResourceNotFoundException"))
		c := newTestClient(t, f, newFakeClock())
		got, err := c.Apply(t.Context(), deleteOp(), Hooks{})
		if err != nil || got.ErrorCode != CodeNotFound {
			t.Fatalf("Apply = %+v, %v; want NotFound success", got, err)
		}
	})
	t.Run("create NotFound is an error", func(t *testing.T) {
		f := newFakeServer(t)
		f.script("CreateResource", progress("FAILED", ev{"ErrorCode": "NotFound"}))
		c := newTestClient(t, f, newFakeClock())
		if _, err := c.Apply(t.Context(), createOp(), Hooks{}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})
}

func TestAsyncErrorMapping(t *testing.T) {
	tests := []struct {
		code string
		want error
	}{
		{"AlreadyExists", ErrAlreadyExists},
		{"NotFound", ErrNotFound},
		{"NotUpdatable", ErrNotUpdatable},
		{"InvalidRequest", ErrInvalidRequest},
		{"ResourceConflict", ErrConcurrent},
		{"AccessDenied", ErrAccessDenied},
		{"ServiceLimitExceeded", ErrLimitExceeded},
		{"InternalFailure", nil},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			f := newFakeServer(t)
			f.script("CreateResource", progress("IN_PROGRESS"))
			f.script("GetResourceRequestStatus", progress("FAILED", ev{"ErrorCode": tt.code, "StatusMessage": "it failed"}))
			c := newTestClient(t, f, newFakeClock())
			got, err := c.Apply(t.Context(), createOp(), Hooks{})
			var oe *OperationError
			if !errors.As(err, &oe) {
				t.Fatalf("err = %v, want *OperationError", err)
			}
			if oe.ErrorCode != tt.code || oe.RequestToken != "rt-1" || oe.Identifier != "tpl" || oe.StatusMessage != "it failed" || oe.Operation != Create {
				t.Errorf("OperationError = %+v", oe)
			}
			if got.OperationStatus != StatusFailed {
				t.Errorf("event = %+v, want the FAILED event", got)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.want)
			}
			for _, other := range []error{ErrAlreadyExists, ErrNotFound, ErrNotUpdatable, ErrInvalidRequest, ErrThrottled} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("errors.Is(%v, %v) = true", err, other)
				}
			}
		})
	}
}

func TestSyncErrorMapping(t *testing.T) {
	tests := []struct {
		reply reply
		want  error
		as    any
	}{
		{ccError(400, "AlreadyExistsException"), ErrAlreadyExists, new(*types.AlreadyExistsException)},
		{ccError(404, "ResourceNotFoundException"), ErrNotFound, new(*types.ResourceNotFoundException)},
		{ccError(400, "NotUpdatableException"), ErrNotUpdatable, new(*types.NotUpdatableException)},
		{ccError(400, "InvalidRequestException"), ErrInvalidRequest, new(*types.InvalidRequestException)},
		{apiError(400, "com.amazon.coral.validate#ValidationException", "1 validation error"), ErrInvalidRequest, nil},
		{ccError(409, "ClientTokenConflictException"), ErrClientTokenConflict, new(*types.ClientTokenConflictException)},
		{ccError(404, "RequestTokenNotFoundException"), ErrRequestNotFound, nil}, // not modelled for CreateResource
		{ccError(405, "UnsupportedActionException"), ErrUnsupportedAction, new(*types.UnsupportedActionException)},
		{ccError(404, "TypeNotFoundException"), ErrTypeNotFound, new(*types.TypeNotFoundException)},
		{ccError(400, "ServiceLimitExceededException"), ErrLimitExceeded, new(*types.ServiceLimitExceededException)},
		{ccError(400, "InvalidCredentialsException"), ErrAccessDenied, new(*types.InvalidCredentialsException)},
	}
	for _, tt := range tests {
		name := tt.reply.body.(map[string]any)["__type"].(string)
		t.Run(name, func(t *testing.T) {
			f := newFakeServer(t)
			f.script("CreateResource", tt.reply)
			c := newTestClient(t, f, newFakeClock())
			_, err := c.Apply(t.Context(), createOp(), Hooks{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want errors.Is %v", err, tt.want)
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.API != "CreateResource" || ae.TypeName != "AWS::IoT::JobTemplate" {
				t.Errorf("err = %#v, want *APIError for CreateResource", err)
			}
			var se smithy.APIError
			if !errors.As(err, &se) {
				t.Errorf("err %v does not wrap a smithy.APIError", err)
			}
			if tt.as != nil && !errors.As(err, tt.as) {
				t.Errorf("errors.As(%v, %T) = false", err, tt.as)
			}
			if n := f.count("CreateResource"); n != 1 {
				t.Errorf("%d attempts, want 1 (not retryable)", n)
			}
		})
	}
}

func TestConcurrentOperationRetriedThenMapped(t *testing.T) {
	f := newFakeServer(t)
	f.script("UpdateResource", ccError(409, "ConcurrentOperationException"))
	c := newTestClient(t, f, newFakeClock(), WithMaxAttempts(4))
	op := Operation{Kind: Update, TypeName: "AWS::Logs::LogGroup", Identifier: "lg", Patch: []byte(`[{"op":"replace","path":"/RetentionInDays","value":7}]`)}
	_, err := c.Apply(t.Context(), op, Hooks{})
	if !errors.Is(err, ErrConcurrent) {
		t.Fatalf("err = %v, want ErrConcurrent", err)
	}
	if n := f.count("UpdateResource"); n != 4 {
		t.Errorf("%d attempts, want 4", n)
	}
	reqs := f.requests("UpdateResource")
	if reqs[0].str("PatchDocument") != string(op.Patch) || reqs[0].str("Identifier") != "lg" {
		t.Errorf("request body %v", reqs[0].Body)
	}
}

func TestHookErrorAborts(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f, newFakeClock())
	boom := errors.New("disk full")
	_, err := c.Apply(t.Context(), createOp(), Hooks{BeforeSend: func(context.Context, string) error { return boom }})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the hook's error", err)
	}
	if n := f.count("CreateResource"); n != 0 {
		t.Errorf("%d requests sent after BeforeSend failed", n)
	}
}

func TestApplyWithTokenSendsGivenToken(t *testing.T) {
	f := newFakeServer(t)
	f.script("CreateResource", progress("SUCCESS"))
	c := newTestClient(t, f, newFakeClock())
	var rec recorder
	const token = "0b7c1c0e-6c2e-4f0e-9d54-1a2b3c4d5e6f"
	if _, err := c.ApplyWithToken(t.Context(), createOp(), token, rec.hooks(f, "CreateResource")); err != nil {
		t.Fatal(err)
	}
	if got := f.requests("CreateResource")[0].str("ClientToken"); got != token {
		t.Errorf("ClientToken = %q, want %q", got, token)
	}
	if !slices.Equal(rec.tokens, []string{token}) {
		t.Errorf("BeforeSend tokens = %v", rec.tokens)
	}
	if _, err := c.ApplyWithToken(t.Context(), createOp(), "bad token!", Hooks{}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("bad token: err = %v, want ErrInvalidRequest", err)
	}
}

func TestOperationValidation(t *testing.T) {
	f := newFakeServer(t)
	c := newTestClient(t, f, newFakeClock())
	for _, op := range []Operation{
		{Kind: Create, TypeName: "AWS::IoT::JobTemplate"},
		{Kind: Create, TypeName: "AWS::IoT::JobTemplate", Desired: []byte(`{`)},
		{Kind: Update, TypeName: "AWS::IoT::JobTemplate", Patch: []byte(`[]`)},
		{Kind: Delete, TypeName: "AWS::IoT::JobTemplate"},
		{Kind: "PATCH", TypeName: "AWS::IoT::JobTemplate", Identifier: "x"},
		{Kind: Delete, Identifier: "x"},
	} {
		if _, err := c.Apply(t.Context(), op, Hooks{}); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("Apply(%+v) err = %v, want ErrInvalidRequest", op, err)
		}
	}
	if len(f.requests("CreateResource"))+len(f.requests("UpdateResource"))+len(f.requests("DeleteResource")) != 0 {
		t.Error("invalid operations reached the server")
	}
}

func TestApplyTimeout(t *testing.T) {
	f := newFakeServer(t)
	f.script("CreateResource", progress("IN_PROGRESS"))
	f.script("GetResourceRequestStatus", progress("IN_PROGRESS"))
	clk := newFakeClock()
	c := newTestClient(t, f, clk, WithOperationTimeout(10*time.Second))
	var started ProgressEvent
	_, err := c.Apply(t.Context(), createOp(), Hooks{Started: func(_ context.Context, ev ProgressEvent) error { started = ev; return nil }})
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout and DeadlineExceeded", err)
	}
	if started.RequestToken != "rt-1" {
		t.Errorf("Started not told the RequestToken before the timeout: %+v", started)
	}
	var total time.Duration
	for _, d := range clk.Sleeps() {
		total += d
	}
	if total != 10*time.Second {
		t.Errorf("polled for %v, want exactly the 10s timeout", total)
	}
	// 100+200+400+800+1600 = 3.1 s, then 2 s steps: 3 more, and the rest.
	if n := f.count("GetResourceRequestStatus"); n != 9 {
		t.Errorf("%d polls, want 9", n)
	}
}

func TestApplyCancelledContext(t *testing.T) {
	f := newFakeServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	f.script("CreateResource", progress("IN_PROGRESS"))
	f.handle("GetResourceRequestStatus", func(req) reply {
		cancel()
		return progress("IN_PROGRESS")
	})
	c := newTestClient(t, f, newFakeClock())
	_, err := c.Apply(ctx, createOp(), Hooks{})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestResume(t *testing.T) {
	t.Run("polls to success", func(t *testing.T) {
		f := newFakeServer(t)
		f.script("GetResourceRequestStatus", progress("IN_PROGRESS", ev{"RequestToken": "rt-9"}), progress("IN_PROGRESS", ev{"RequestToken": "rt-9"}),
			progress("SUCCESS", ev{"RequestToken": "rt-9", "ResourceModel": `{"Arn":"arn"}`}))
		clk := newFakeClock()
		c := newTestClient(t, f, clk)
		got, err := c.Resume(t.Context(), "rt-9")
		if err != nil {
			t.Fatal(err)
		}
		if got.OperationStatus != StatusSuccess || string(got.ResourceModel) != `{"Arn":"arn"}` {
			t.Errorf("event %+v", got)
		}
		for _, r := range f.requests("GetResourceRequestStatus") {
			if r.str("RequestToken") != "rt-9" {
				t.Errorf("polled %v", r.Body)
			}
		}
		if got := clk.Sleeps(); !slices.Equal(got, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}) {
			t.Errorf("delays %v", got)
		}
	})
	t.Run("unknown token", func(t *testing.T) {
		f := newFakeServer(t)
		f.script("GetResourceRequestStatus", ccError(404, "RequestTokenNotFoundException"))
		c := newTestClient(t, f, newFakeClock())
		if _, err := c.Resume(t.Context(), "rt-x"); !errors.Is(err, ErrRequestNotFound) {
			t.Fatalf("err = %v, want ErrRequestNotFound", err)
		}
	})
	t.Run("retryable failure is reported, not re-run", func(t *testing.T) {
		f := newFakeServer(t)
		f.script("GetResourceRequestStatus", progress("FAILED", ev{"ErrorCode": "Throttling"}))
		c := newTestClient(t, f, newFakeClock())
		_, err := c.Resume(t.Context(), "rt-1")
		var oe *OperationError
		if !errors.As(err, &oe) || !oe.Retryable() || !errors.Is(err, ErrThrottled) {
			t.Fatalf("err = %v, want retryable throttling OperationError", err)
		}
	})
	t.Run("delete NotFound", func(t *testing.T) {
		f := newFakeServer(t)
		f.script("GetResourceRequestStatus", progress("FAILED", ev{"ErrorCode": "NotFound", "Operation": "DELETE"}))
		c := newTestClient(t, f, newFakeClock())
		if _, err := c.Resume(t.Context(), "rt-1"); err != nil {
			t.Fatalf("err = %v, want success", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		f := newFakeServer(t)
		f.script("GetResourceRequestStatus", progress("CANCEL_COMPLETE"))
		c := newTestClient(t, f, newFakeClock())
		if _, err := c.Resume(t.Context(), "rt-1"); !errors.Is(err, ErrCancelled) {
			t.Fatalf("err = %v, want ErrCancelled", err)
		}
	})
}

func TestPollContinuesThroughThrottledPolls(t *testing.T) {
	f := newFakeServer(t)
	f.script("CreateResource", progress("IN_PROGRESS"))
	f.script("GetResourceRequestStatus", throttle(), throttle(), progress("SUCCESS"))
	c := newTestClient(t, f, newFakeClock(), WithMaxAttempts(1))
	if _, err := c.Apply(t.Context(), createOp(), Hooks{}); err != nil {
		t.Fatalf("err = %v; a throttled poll must not fail the operation", err)
	}
	if s := c.Stats(); s.Throttles != 2 || s.Polls != 3 {
		t.Errorf("stats = %+v", s)
	}
}

func TestConcurrencyBound(t *testing.T) {
	const bound, ops = 3, 12
	f := newFakeServer(t)
	var inFlight, peak atomic.Int64
	full := make(chan struct{})
	var once sync.Once
	f.handle("CreateResource", func(req) reply {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if n > bound {
			t.Errorf("%d operations in flight, bound %d", n, bound)
		}
		if n == bound {
			once.Do(func() { close(full) })
		}
		<-full // hold the first requests until the bound is reached
		return progress("SUCCESS")
	})
	c := newTestClient(t, f, newFakeClock(), WithConcurrency(bound))
	var wg sync.WaitGroup
	for range ops {
		wg.Go(func() {
			if _, err := c.Apply(t.Context(), createOp(), Hooks{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if peak.Load() != bound {
		t.Errorf("peak in flight %d, want %d", peak.Load(), bound)
	}
	if s := c.Stats(); s.Operations != ops || s.InFlight != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestAdaptivePollingLearnsDuration(t *testing.T) {
	const opDuration = 2 * time.Second
	f := newFakeServer(t)
	clk := newFakeClock()
	var mu sync.Mutex
	var startedAt time.Time
	f.handle("CreateResource", func(req) reply {
		mu.Lock()
		defer mu.Unlock()
		startedAt = clk.Now()
		return progress("IN_PROGRESS")
	})
	f.handle("GetResourceRequestStatus", func(req) reply {
		mu.Lock()
		defer mu.Unlock()
		if clk.Now().Sub(startedAt) >= opDuration {
			return progress("SUCCESS")
		}
		return progress("IN_PROGRESS")
	})
	p := DefaultPollPolicy()
	p.Jitter = 0
	c := New(testConfig(f.srv.URL), withClock(clk), withNoBackoff(), WithPollPolicy(p))

	polls := func() int64 {
		before := c.Stats().Polls
		if _, err := c.Apply(t.Context(), createOp(), Hooks{}); err != nil {
			t.Fatal(err)
		}
		return c.Stats().Polls - before
	}
	if n := polls(); n != 5 { // 0.1 0.3 0.7 1.5 3.1 s: found done at 3.1
		t.Errorf("first operation: %d polls, want 5 (no history)", n)
	}
	for range 10 {
		polls()
	}
	var total int64
	for range 10 {
		total += polls()
	}
	if avg := float64(total) / 10; avg > 2 {
		t.Errorf("after learning, %.1f polls per operation, want ≤ 2", avg)
	}
	// The target hovers about the duration: found done by 80% of first
	// polls, it is above the duration but for one step down at most.
	est, ok := c.est.get("AWS::IoT::JobTemplate", Create, targetQuantile)
	if lo := time.Duration(float64(opDuration) * (1 - p.Step*(1-p.Quantile))); !ok || est.target < lo || est.target > 2*opDuration {
		t.Errorf("estimate %+v, want a first-poll target within one step below %v or above it", est, opDuration)
	}
}

// spreadPolls runs sequential operations of 1–3 s, uniformly (the
// emulator's realistic profile), on a fake clock, and returns the polls per
// operation once learnt.
func spreadPolls(t *testing.T, opts ...Option) float64 {
	t.Helper()
	f := newFakeServer(t)
	clk := newFakeClock()
	var mu sync.Mutex
	var startedAt time.Time
	var dur time.Duration
	rng := rand.New(rand.NewPCG(1, 2))
	f.handle("CreateResource", func(req) reply {
		mu.Lock()
		defer mu.Unlock()
		startedAt = clk.Now()
		dur = time.Second + time.Duration(rng.Int64N(int64(2*time.Second)))
		return progress("IN_PROGRESS")
	})
	f.handle("GetResourceRequestStatus", func(req) reply {
		mu.Lock()
		defer mu.Unlock()
		if clk.Now().Sub(startedAt) >= dur {
			return progress("SUCCESS")
		}
		return progress("IN_PROGRESS")
	})
	c := New(testConfig(f.srv.URL), append([]Option{withClock(clk), withNoBackoff()}, opts...)...)
	for range 50 { // warm up
		if _, err := c.Apply(t.Context(), createOp(), Hooks{}); err != nil {
			t.Fatal(err)
		}
	}
	before := c.Stats().Polls
	const n = 200
	for range n {
		if _, err := c.Apply(t.Context(), createOp(), Hooks{}); err != nil {
			t.Fatal(err)
		}
	}
	return float64(c.Stats().Polls-before) / n
}

func TestAdaptivePollingSpreadDurations(t *testing.T) {
	perOp := spreadPolls(t)
	t.Logf("%.2f polls per operation", perOp)
	if perOp > 1.6 {
		t.Errorf("%.2f polls per operation, want ≤ 1.6 once learnt", perOp)
	}
}

// saturatedLimiter lets every request through at once and says that its
// rate binds, as an AIMDLimiter running at the service's limit does.
type saturatedLimiter struct{}

func (saturatedLimiter) Wait(ctx context.Context) error { return ctx.Err() }
func (saturatedLimiter) Feedback(bool)                  {}
func (saturatedLimiter) Saturated() bool                { return true }

func TestRateBoundPollingSpendsOnePollPerOperation(t *testing.T) {
	// While the rate binds, a poll that finds the operation running takes
	// a created resource's place: the first poll follows the 97th
	// percentile, not the 80th.
	free := spreadPolls(t)
	bound := spreadPolls(t, WithRateLimiter(saturatedLimiter{}))
	t.Logf("%.2f polls per operation at the Quantile, %.2f rate-bound", free, bound)
	if bound > 1.1 {
		t.Errorf("rate-bound: %.2f polls per operation, want ≤ 1.1 once learnt", bound)
	}
	if bound >= free {
		t.Errorf("rate-bound: %.2f polls per operation, want fewer than the %.2f without a binding rate", bound, free)
	}
}

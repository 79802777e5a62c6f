// Package cloudcontrol is Athanor's provider: it drives the AWS Cloud Control
// API through aws-sdk-go-v2 with fast adaptive polling, retries of throttling
// and retryable asynchronous failures, a bound on operations in flight, and
// hooks that let the engine persist every ClientToken and RequestToken.
//
// The contract with the engine is small: [Client.Apply] runs one mutation to
// completion and reports its ClientToken and RequestToken through [Hooks] so
// that they can be made durable; [Client.Resume] and [Client.ApplyWithToken]
// pick up an operation recorded by a run that died. Errors are matched with
// errors.Is against the sentinels below, whether they came back synchronously
// from the API or as a FAILED ProgressEvent.
package cloudcontrol

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors, matched with errors.Is on *OperationError and on
// synchronous API errors alike.
var (
	ErrNotFound            = errors.New("cloudcontrol: resource not found")
	ErrAlreadyExists       = errors.New("cloudcontrol: resource already exists")
	ErrNotUpdatable        = errors.New("cloudcontrol: not updatable")
	ErrConcurrent          = errors.New("cloudcontrol: concurrent operation")
	ErrInvalidRequest      = errors.New("cloudcontrol: invalid request")
	ErrRequestNotFound     = errors.New("cloudcontrol: request token not found")
	ErrClientTokenConflict = errors.New("cloudcontrol: client token conflict")

	// ErrUnsupportedAction: the type has no handler for the operation.
	ErrUnsupportedAction = errors.New("cloudcontrol: unsupported action")
	// ErrTypeNotFound: the registry type does not exist (or is private).
	ErrTypeNotFound = errors.New("cloudcontrol: type not found")
	// ErrThrottled: the request was still throttled when its retry budget
	// (see RetryPolicy) was spent.
	ErrThrottled = errors.New("cloudcontrol: throttled")
	// ErrAccessDenied: credentials missing, invalid or not allowed.
	ErrAccessDenied = errors.New("cloudcontrol: access denied")
	// ErrLimitExceeded: a service quota would be exceeded.
	ErrLimitExceeded = errors.New("cloudcontrol: service limit exceeded")
	// ErrCancelled: the request was cancelled (CANCEL_COMPLETE).
	ErrCancelled = errors.New("cloudcontrol: request cancelled")
	// ErrTimeout: the operation did not finish within the operation timeout.
	// The request may still be running; resume it with its RequestToken.
	ErrTimeout = errors.New("cloudcontrol: operation timed out")
)

// Kind is a mutation kind.
type Kind string

// Kinds, as Cloud Control names them.
const (
	Create Kind = "CREATE"
	Update Kind = "UPDATE"
	Delete Kind = "DELETE"
)

// Operation is one mutation to apply.
type Operation struct {
	Kind       Kind
	TypeName   string
	Identifier string          // Update, Delete
	Desired    json.RawMessage // Create
	Patch      json.RawMessage // Update: RFC 6902 document
	// RoleArn optionally names the IAM role Cloud Control assumes.
	RoleArn string
}

// Operation statuses of a ProgressEvent.
const (
	StatusPending          = "PENDING"
	StatusInProgress       = "IN_PROGRESS"
	StatusSuccess          = "SUCCESS"
	StatusFailed           = "FAILED"
	StatusCancelInProgress = "CANCEL_IN_PROGRESS"
	StatusCancelComplete   = "CANCEL_COMPLETE"
)

// ProgressEvent mirrors Cloud Control's ProgressEvent.
type ProgressEvent struct {
	TypeName        string
	Identifier      string
	RequestToken    string
	Operation       Kind
	OperationStatus string // PENDING IN_PROGRESS SUCCESS FAILED CANCEL_IN_PROGRESS CANCEL_COMPLETE
	EventTime       time.Time
	ResourceModel   json.RawMessage
	StatusMessage   string
	ErrorCode       string
	RetryAfter      time.Time
}

// Final reports whether the event is the last of its request: SUCCESS,
// FAILED or CANCEL_COMPLETE.
func (e ProgressEvent) Final() bool {
	switch e.OperationStatus {
	case StatusSuccess, StatusFailed, StatusCancelComplete:
		return true
	}
	return false
}

// Hooks let the caller persist progress. Errors returned by a hook abort the
// operation with that error.
type Hooks struct {
	// BeforeSend is called with the ClientToken before every mutating call
	// (the first, and each re-run after a retryable asynchronous failure).
	BeforeSend func(ctx context.Context, clientToken string) error
	// Started is called with the first event of each mutating call, which
	// carries the RequestToken.
	Started func(ctx context.Context, ev ProgressEvent) error
}

// OperationError is a mutation that ended FAILED (or was cancelled).
type OperationError struct {
	Operation     Kind
	TypeName      string
	Identifier    string
	RequestToken  string
	ErrorCode     string // HandlerErrorCode: AlreadyExists, NotFound, InvalidRequest, ...
	StatusMessage string
	// Status is the final OperationStatus: FAILED or CANCEL_COMPLETE.
	Status string
}

// Error implements error.
func (e *OperationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cloudcontrol: %s %s", e.Operation, e.TypeName)
	if e.Identifier != "" {
		fmt.Fprintf(&b, " %q", e.Identifier)
	}
	switch {
	case e.Status == StatusCancelComplete:
		b.WriteString(" cancelled")
	case e.ErrorCode == "":
		b.WriteString(" failed")
	default:
		fmt.Fprintf(&b, " failed (%s)", e.ErrorCode)
	}
	if e.StatusMessage != "" {
		fmt.Fprintf(&b, ": %s", e.StatusMessage)
	}
	if e.RequestToken != "" {
		fmt.Fprintf(&b, " [request %s]", e.RequestToken)
	}
	return b.String()
}

// Is reports whether the handler error code corresponds to target, one of
// the package's sentinel errors: errors.Is(err, ErrAlreadyExists) is true for
// a FAILED event with HandlerErrorCode AlreadyExists.
func (e *OperationError) Is(target error) bool {
	if e.Status == StatusCancelComplete && target == ErrCancelled {
		return true
	}
	s := handlerCodeSentinel(e.ErrorCode)
	return s != nil && s == target
}

// Retryable reports whether the failure is one that Apply re-runs with a new
// ClientToken (see [RetryableHandlerError]). An OperationError returned by
// Apply has exhausted its re-runs; one returned by Resume has not been re-run
// at all, so the caller may Apply the operation again.
func (e *OperationError) Retryable() bool {
	return RetryableHandlerError(e.Operation, e.ErrorCode)
}

// Package cloudcontrol is Athanor's provider: it drives the AWS Cloud Control
// API through aws-sdk-go-v2 with fast adaptive polling, retries of throttling
// and retryable asynchronous failures, a bound on operations in flight, and
// hooks that let the engine persist every ClientToken and RequestToken.
//
// CONTRACT FILE — the names below are the agreed API; the provider helper
// implements them and may add options and helpers without breaking these.
package cloudcontrol

import (
	"context"
	"encoding/json"
	"errors"
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
}

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
}

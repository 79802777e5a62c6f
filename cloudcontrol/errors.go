package cloudcontrol

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// Handler error codes of Cloud Control's HandlerErrorCode enumeration that
// this package gives a meaning to.
const (
	CodeNotUpdatable         = "NotUpdatable"
	CodeInvalidRequest       = "InvalidRequest"
	CodeAccessDenied         = "AccessDenied"
	CodeUnauthorizedTagging  = "UnauthorizedTaggingOperation"
	CodeInvalidCredentials   = "InvalidCredentials"
	CodeAlreadyExists        = "AlreadyExists"
	CodeNotFound             = "NotFound"
	CodeResourceConflict     = "ResourceConflict"
	CodeThrottling           = "Throttling"
	CodeServiceLimitExceeded = "ServiceLimitExceeded"
	CodeNotStabilized        = "NotStabilized"
	CodeGeneralService       = "GeneralServiceException"
	CodeServiceInternalError = "ServiceInternalError"
	CodeServiceTimeout       = "ServiceTimeout"
	CodeNetworkFailure       = "NetworkFailure"
	CodeInternalFailure      = "InternalFailure"
)

// handlerCodeSentinel maps a HandlerErrorCode to a sentinel error, or nil.
func handlerCodeSentinel(code string) error {
	switch code {
	case CodeAlreadyExists:
		return ErrAlreadyExists
	case CodeNotFound:
		return ErrNotFound
	case CodeNotUpdatable:
		return ErrNotUpdatable
	case CodeInvalidRequest:
		return ErrInvalidRequest
	case CodeResourceConflict:
		return ErrConcurrent
	case CodeThrottling:
		return ErrThrottled
	case CodeAccessDenied, CodeUnauthorizedTagging, CodeInvalidCredentials:
		return ErrAccessDenied
	case CodeServiceLimitExceeded:
		return ErrLimitExceeded
	}
	return nil
}

// RetryableHandlerError reports whether Apply re-runs an operation of kind
// whose asynchronous result was FAILED with the handler error code, with a
// new ClientToken, after a backoff.
//
// Transient failures of the service or the network between Cloud Control and
// the resource's service are retried for every kind: Throttling,
// ServiceInternalError and NetworkFailure. A handler reports them when a
// downstream call failed before it changed anything it cannot find again, so
// a new request converges: a create that did go through comes back as
// AlreadyExists (which the engine may adopt), never as a silent duplicate of a
// user-named resource.
//
// NotStabilized, ServiceTimeout and ResourceConflict are retried for DELETE.
// A delete is idempotent (a second delete of a deleted resource is
// FAILED/NotFound, which is success), whereas re-running a create whose
// resource exists but did not stabilise would create a second copy of a
// resource with a generated identifier, and re-applying an update's JSON
// Patch is not idempotent (an "add" to an array appends twice). Apply does
// re-run a CREATE that ended NotStabilized or ServiceTimeout when the
// identifier is user-chosen (it is a top-level value of the desired state),
// since a re-run then cannot duplicate the resource; this function, which
// knows only the kind, reports false for those.
//
// InternalFailure and GeneralServiceException are not retried: they are
// handler bugs or unclassified downstream errors, and repeating them only
// delays the report.
func RetryableHandlerError(kind Kind, code string) bool {
	switch code {
	case CodeThrottling, CodeServiceInternalError, CodeNetworkFailure:
		return true
	case CodeNotStabilized, CodeServiceTimeout, CodeResourceConflict:
		return kind == Delete
	}
	return false
}

// apiErrorSentinel maps the error code of a synchronous API error to a
// sentinel error, or nil.
func apiErrorSentinel(code string) error {
	switch code {
	case "ResourceNotFoundException":
		return ErrNotFound
	case "AlreadyExistsException":
		return ErrAlreadyExists
	case "NotUpdatableException":
		return ErrNotUpdatable
	case "InvalidRequestException", "ValidationException":
		return ErrInvalidRequest
	case "ConcurrentOperationException", "ConcurrentModificationException", "ResourceConflictException":
		return ErrConcurrent
	case "ClientTokenConflictException":
		return ErrClientTokenConflict
	case "RequestTokenNotFoundException":
		return ErrRequestNotFound
	case "UnsupportedActionException":
		return ErrUnsupportedAction
	case "TypeNotFoundException", "PrivateTypeException":
		return ErrTypeNotFound
	case "InvalidCredentialsException", "AccessDeniedException", "UnrecognizedClientException",
		"InvalidSignatureException", "IncompleteSignature", "MissingAuthenticationToken",
		"ExpiredTokenException", "SignatureDoesNotMatch":
		return ErrAccessDenied
	case "ServiceLimitExceededException":
		return ErrLimitExceeded
	}
	if _, ok := retry.DefaultThrottleErrorCodes[code]; ok {
		return ErrThrottled
	}
	return nil
}

// APIError is a synchronous error returned by a Cloud Control API call, after
// the SDK's retries. It wraps both the matching sentinel error (if any) and
// the SDK's error, so errors.Is(err, ErrNotFound) and
// errors.As(err, &*types.ResourceNotFoundException) both work.
type APIError struct {
	// API is the operation name, e.g. "CreateResource".
	API string
	// TypeName and Identifier name the resource, when the call had them.
	TypeName, Identifier string
	// Sentinel is the package error matching the API error code, or nil.
	Sentinel error
	// Err is the error returned by the SDK (usually a smithy.APIError).
	Err error
}

// Error implements error.
func (e *APIError) Error() string {
	what := e.API
	if e.TypeName != "" {
		what += " " + e.TypeName
	}
	if e.Identifier != "" {
		what += fmt.Sprintf(" %q", e.Identifier)
	}
	return fmt.Sprintf("cloudcontrol: %s: %v", what, e.Err)
}

// Unwrap returns the sentinel and the SDK error.
func (e *APIError) Unwrap() []error {
	if e.Sentinel == nil {
		return []error{e.Err}
	}
	return []error{e.Sentinel, e.Err}
}

// wrapAPIError turns an SDK error into an *APIError. Context errors stay
// matchable: errors.Is(err, context.Canceled) holds through the SDK's wrapping.
func wrapAPIError(api, typeName, identifier string, err error) error {
	if err == nil {
		return nil
	}
	e := &APIError{API: api, TypeName: typeName, Identifier: identifier, Err: err}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.Sentinel = apiErrorSentinel(ae.ErrorCode())
	}
	return e
}

// isThrottle reports whether err is a throttling error by the SDK's
// definition (ThrottlingException, HTTP 429, ...).
func isThrottle(err error) bool {
	if err == nil {
		return false
	}
	return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool()
}

package engine

import (
	"context"
	"encoding/json"

	"github.com/athanor-dev/athanor/cloudcontrol"
)

// Provider is what the engine needs from the Cloud Control client. The root
// package adapts *cloudcontrol.Client to it; tests may count or fault calls
// by wrapping it.
type Provider interface {
	// Apply runs op with a fresh ClientToken to a final event, calling hooks
	// before each mutating call and with each call's first event.
	Apply(ctx context.Context, op cloudcontrol.Operation, hooks cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error)
	// Repeat runs op again with the ClientToken of an earlier attempt whose
	// outcome is unknown, so that Cloud Control returns that attempt's
	// request instead of starting a second one.
	Repeat(ctx context.Context, op cloudcontrol.Operation, clientToken string, hooks cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error)
	// Resume polls the request of requestToken to its final event.
	Resume(ctx context.Context, requestToken string) (cloudcontrol.ProgressEvent, error)
	// Get reads a resource's current model; errors.Is(err,
	// cloudcontrol.ErrNotFound) when it does not exist.
	Get(ctx context.Context, typeName, identifier string) (json.RawMessage, error)
}

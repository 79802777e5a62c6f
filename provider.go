package athanor

import (
	"context"
	"encoding/json"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/internal/engine"
)

// provider adapts *cloudcontrol.Client to the engine.
type provider struct{ c *cloudcontrol.Client }

var _ engine.Concurrent = provider{}

func (p provider) Apply(ctx context.Context, op cloudcontrol.Operation, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
	return p.c.Apply(ctx, op, h)
}

func (p provider) Repeat(ctx context.Context, op cloudcontrol.Operation, token string, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
	return p.c.ApplyWithToken(ctx, op, token, h)
}

func (p provider) Resume(ctx context.Context, requestToken string) (cloudcontrol.ProgressEvent, error) {
	return p.c.Resume(ctx, requestToken)
}

func (p provider) Get(ctx context.Context, typeName, identifier string) (json.RawMessage, error) {
	return p.c.Get(ctx, typeName, identifier)
}

// Concurrency reports the most operations the client has in flight (its
// fixed bound, or the cap of its adaptive one), from which the engine sizes
// its admission (engine.Concurrent).
func (p provider) Concurrency() int { return p.c.Concurrency() }

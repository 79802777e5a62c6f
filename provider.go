package athanor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"

	"github.com/athanor-dev/athanor/cloudcontrol"
)

// provider adapts *cloudcontrol.Client to the engine.
type provider struct{ c *cloudcontrol.Client }

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
	out, err := p.c.SDK().GetResource(ctx, &cc.GetResourceInput{TypeName: &typeName, Identifier: &identifier})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("get %s %s: %w: %w", typeName, identifier, cloudcontrol.ErrNotFound, err)
		}
		return nil, fmt.Errorf("get %s %s: %w", typeName, identifier, err)
	}
	if out.ResourceDescription == nil || out.ResourceDescription.Properties == nil {
		return json.RawMessage("{}"), nil
	}
	return json.RawMessage(*out.ResourceDescription.Properties), nil
}

package cloudcontrol

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"

	"github.com/aws/aws-sdk-go-v2/aws"
	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"
)

// Resource is a resource as ListResources describes it.
type Resource struct {
	// Identifier is the primary identifier.
	Identifier string
	// Properties is the resource model (readable properties only).
	Properties json.RawMessage
}

// Get returns the current resource model of the resource (its readable
// properties, as a JSON object). A missing resource fails with ErrNotFound.
// Reads are paced by the rate limiter but take no concurrency slot.
func (c *Client) Get(ctx context.Context, typeName, identifier string) (json.RawMessage, error) {
	out, err := c.sdk.GetResource(ctx, &cc.GetResourceInput{TypeName: aws.String(typeName), Identifier: aws.String(identifier)})
	if err != nil {
		return nil, wrapAPIError("GetResource", typeName, identifier, err)
	}
	if out.ResourceDescription == nil || out.ResourceDescription.Properties == nil {
		return nil, fmt.Errorf("cloudcontrol: GetResource %s %q: response has no ResourceDescription.Properties", typeName, identifier)
	}
	return json.RawMessage(*out.ResourceDescription.Properties), nil
}

// List returns the resources of typeName, fetching pages as the loop
// advances. An error ends the sequence after it is yielded.
//
//	for r, err := range client.List(ctx, "AWS::IoT::JobTemplate") {
//		if err != nil { return err }
//		...
//	}
func (c *Client) List(ctx context.Context, typeName string) iter.Seq2[Resource, error] {
	return func(yield func(Resource, error) bool) {
		p := cc.NewListResourcesPaginator(c.sdk, &cc.ListResourcesInput{TypeName: aws.String(typeName)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(Resource{}, wrapAPIError("ListResources", typeName, "", err))
				return
			}
			for _, d := range page.ResourceDescriptions {
				if !yield(fromDescription(d), nil) {
					return
				}
			}
		}
	}
}

func fromDescription(d types.ResourceDescription) Resource {
	r := Resource{Identifier: aws.ToString(d.Identifier)}
	if d.Properties != nil {
		r.Properties = json.RawMessage(*d.Properties)
	}
	return r
}

// Cancel asks Cloud Control to cancel a request in progress and returns the
// event it answers (usually CANCEL_IN_PROGRESS). Only requests still
// IN_PROGRESS can be cancelled; follow the request with Resume to see it end.
func (c *Client) Cancel(ctx context.Context, requestToken string) (ProgressEvent, error) {
	out, err := c.sdk.CancelResourceRequest(ctx, &cc.CancelResourceRequestInput{RequestToken: aws.String(requestToken)})
	if err != nil {
		return ProgressEvent{}, wrapAPIError("CancelResourceRequest", "", "", err)
	}
	return fromSDK(out.ProgressEvent), nil
}

// RequestFilter selects requests for ListRequests; empty fields select all.
type RequestFilter struct {
	Operations []Kind
	Statuses   []string
}

// ListRequests returns the account's recent resource requests (Cloud Control
// keeps them for seven days), fetching pages as the loop advances.
func (c *Client) ListRequests(ctx context.Context, filter RequestFilter) iter.Seq2[ProgressEvent, error] {
	return func(yield func(ProgressEvent, error) bool) {
		in := &cc.ListResourceRequestsInput{}
		if len(filter.Operations) > 0 || len(filter.Statuses) > 0 {
			f := &types.ResourceRequestStatusFilter{}
			for _, k := range filter.Operations {
				f.Operations = append(f.Operations, types.Operation(k))
			}
			for _, s := range filter.Statuses {
				f.OperationStatuses = append(f.OperationStatuses, types.OperationStatus(s))
			}
			in.ResourceRequestStatusFilter = f
		}
		p := cc.NewListResourceRequestsPaginator(c.sdk, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(ProgressEvent{}, wrapAPIError("ListResourceRequests", "", "", err))
				return
			}
			for i := range page.ResourceRequestStatusSummaries {
				if !yield(fromSDK(&page.ResourceRequestStatusSummaries[i]), nil) {
					return
				}
			}
		}
	}
}

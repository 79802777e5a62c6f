package engine

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/athanor-dev/athanor/cloudcontrol"
)

// TestUnstableCreateLeftoverIsDeleted: a create that ends FAILED with
// NotStabilized after the service assigned an identifier left a resource
// behind. The record keeps that identifier as owed for deletion, so that the
// next successful run deletes it instead of leaking it, and creates the
// resource afresh.
func TestUnstableCreateLeftoverIsDeleted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const leftover = "arn:aws:sns:us-east-1:1:topic-leftover"
	var deleted []string
	p := &fakeProvider{apply: []func(cloudcontrol.Operation, cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error){
		func(op cloudcontrol.Operation, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
			if err := h.BeforeSend(ctx, "token-1"); err != nil {
				return cloudcontrol.ProgressEvent{}, err
			}
			if err := h.Started(ctx, cloudcontrol.ProgressEvent{RequestToken: "req-1", OperationStatus: "IN_PROGRESS"}); err != nil {
				return cloudcontrol.ProgressEvent{}, err
			}
			return cloudcontrol.ProgressEvent{}, &cloudcontrol.OperationError{Operation: cloudcontrol.Create, TypeName: op.TypeName,
				Identifier: leftover, ErrorCode: cloudcontrol.CodeNotStabilized, Status: cloudcontrol.StatusFailed}
		},
		func(op cloudcontrol.Operation, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
			if err := h.BeforeSend(ctx, "token-2"); err != nil {
				return cloudcontrol.ProgressEvent{}, err
			}
			return cloudcontrol.ProgressEvent{OperationStatus: "SUCCESS", Identifier: "arn:aws:sns:us-east-1:1:topic-2",
				ResourceModel: json.RawMessage(`{"TopicArn":"arn:aws:sns:us-east-1:1:topic-2","TopicName":"topic-2"}`)}, nil
		},
		func(op cloudcontrol.Operation, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
			if op.Kind != cloudcontrol.Delete {
				t.Errorf("third call is a %s, want the leftover's DELETE", op.Kind)
			}
			deleted = append(deleted, op.Identifier)
			if err := h.BeforeSend(ctx, "token-3"); err != nil {
				return cloudcontrol.ProgressEvent{}, err
			}
			return cloudcontrol.ProgressEvent{OperationStatus: "SUCCESS", Identifier: op.Identifier}, nil
		},
	}}
	decl := Declaration{LogicalID: "topic", Type: "AWS::SNS::Topic", Props: map[string]any{}}

	st := openState(t, dir)
	e, err := New(ctx, Options{App: "app", Stage: "dev", Mode: ModeDeploy, State: st, Provider: p})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Declare(ctx, decl); err == nil {
		t.Fatal("declare succeeded")
	}
	rec, err := st.Get(ctx, "topic")
	if err != nil {
		t.Fatalf("the unstable create's resource is not recorded: %v", err)
	}
	if rec.Pending != nil || rec.Identifier != "" || len(rec.Retired) != 1 || rec.Retired[0].Identifier != leftover {
		t.Fatalf("record after the unstable create: %+v", rec)
	}

	e2, err := New(ctx, Options{App: "app", Stage: "dev", Mode: ModeDeploy, State: st, Provider: p})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e2.Declare(ctx, decl); err != nil {
		t.Fatal(err)
	}
	if err := e2.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 1 || deleted[0] != leftover {
		t.Fatalf("deleted %v, want the leftover %s", deleted, leftover)
	}
	if rec, err = st.Get(ctx, "topic"); err != nil || len(rec.Retired) != 0 || rec.Identifier != "arn:aws:sns:us-east-1:1:topic-2" {
		t.Fatalf("record after the second run: %+v, %v", rec, err)
	}
}

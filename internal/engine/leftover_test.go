package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/state"
)

// unstableCreate is a scripted create that ends FAILED with NotStabilized
// after the service assigned the identifier id.
func unstableCreate(ctx context.Context, token, id string) func(cloudcontrol.Operation, cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
	return func(op cloudcontrol.Operation, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
		if err := h.BeforeSend(ctx, token); err != nil {
			return cloudcontrol.ProgressEvent{}, err
		}
		if err := h.Started(ctx, cloudcontrol.ProgressEvent{RequestToken: "req-" + token, OperationStatus: "IN_PROGRESS"}); err != nil {
			return cloudcontrol.ProgressEvent{}, err
		}
		return cloudcontrol.ProgressEvent{}, &cloudcontrol.OperationError{Operation: cloudcontrol.Create, TypeName: op.TypeName,
			Identifier: id, ErrorCode: cloudcontrol.CodeNotStabilized, Status: cloudcontrol.StatusFailed}
	}
}

// deleteCall is a scripted delete that succeeds, appending the identifier
// to *deleted.
func deleteCall(ctx context.Context, t *testing.T, deleted *[]string) func(cloudcontrol.Operation, cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
	return func(op cloudcontrol.Operation, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
		if op.Kind != cloudcontrol.Delete {
			t.Errorf("a %s where the leftover's DELETE was due", op.Kind)
		}
		*deleted = append(*deleted, op.Identifier)
		if err := h.BeforeSend(ctx, "token-delete-"+op.Identifier); err != nil {
			return cloudcontrol.ProgressEvent{}, err
		}
		return cloudcontrol.ProgressEvent{OperationStatus: "SUCCESS", Identifier: op.Identifier}, nil
	}
}

// TestUnstableCreateLeftoverIsDeleted: a create that ends FAILED with
// NotStabilized after the service assigned an identifier left a resource
// behind. The engine owes that resource for deletion, writing it to the
// record before it creates again with a new ClientToken in the same run;
// the run succeeds and deletes the leftover at its end.
func TestUnstableCreateLeftoverIsDeleted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const leftover = "arn:aws:sns:us-east-1:1:topic-leftover"
	var deleted []string
	st := openState(t, dir)
	p := &fakeProvider{apply: []func(cloudcontrol.Operation, cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error){
		unstableCreate(ctx, "token-1", leftover),
		func(op cloudcontrol.Operation, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
			if err := h.BeforeSend(ctx, "token-2"); err != nil {
				return cloudcontrol.ProgressEvent{}, err
			}
			// What a crash would leave at this point: the leftover owed
			// and the second create's ClientToken, both on disk.
			rec, err := st.Get(ctx, "topic")
			if err != nil || rec.Pending == nil || rec.Pending.ClientToken != "token-2" || len(rec.Retired) != 1 || rec.Retired[0].Identifier != leftover {
				t.Errorf("record as the second create is sent: %+v, %v; want the leftover owed and token-2 pending", rec, err)
			}
			return cloudcontrol.ProgressEvent{OperationStatus: "SUCCESS", Identifier: "arn:aws:sns:us-east-1:1:topic-2",
				ResourceModel: json.RawMessage(`{"TopicArn":"arn:aws:sns:us-east-1:1:topic-2","TopicName":"topic-2"}`)}, nil
		},
		deleteCall(ctx, t, &deleted),
	}}
	decl := Declaration{LogicalID: "topic", Type: "AWS::SNS::Topic", Props: map[string]any{}}

	e := deploying(t, ctx, Options{App: "app", Stage: "dev", State: st, Provider: p}, decl)
	if _, err := e.Declare(ctx, decl); err != nil {
		t.Fatalf("declare: %v; want the create to be made again within the run", err)
	}
	if err := e.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 1 || deleted[0] != leftover {
		t.Fatalf("deleted %v, want the leftover %s", deleted, leftover)
	}
	rec, err := st.Get(ctx, "topic")
	if err != nil || len(rec.Retired) != 0 || rec.Pending != nil || rec.Identifier != "arn:aws:sns:us-east-1:1:topic-2" {
		t.Fatalf("record after the run: %+v, %v", rec, err)
	}
	if s := e.Summary(); s.Created != 1 || s.Failed != 0 {
		t.Errorf("summary %+v, want one create", s)
	}
}

// TestUnstableCreatesAreBounded: a resource that never stabilises is
// created unstableAttempts times in a run, not forever; every leftover is
// owed, and the next run deletes them all.
func TestUnstableCreatesAreBounded(t *testing.T) {
	ctx := context.Background()
	st := openState(t, t.TempDir())
	var script []func(cloudcontrol.Operation, cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error)
	for i := range unstableAttempts {
		script = append(script, unstableCreate(ctx, fmt.Sprintf("token-%d", i), fmt.Sprintf("arn:leftover-%d", i)))
	}
	p := &fakeProvider{apply: script}
	decl := Declaration{LogicalID: "topic", Type: "AWS::SNS::Topic", Props: map[string]any{}}
	e := deploying(t, ctx, Options{App: "app", Stage: "dev", State: st, Provider: p}, decl)
	_, err := e.Declare(ctx, decl)
	var oe *cloudcontrol.OperationError
	if !errors.As(err, &oe) || oe.ErrorCode != cloudcontrol.CodeNotStabilized {
		t.Fatalf("declare: %v, want the last NotStabilized failure", err)
	}
	if p.applied != unstableAttempts {
		t.Fatalf("%d creates, want %d", p.applied, unstableAttempts)
	}
	rec, err := st.Get(ctx, "topic")
	if err != nil || rec.Pending != nil || rec.Identifier != "" || len(rec.Retired) != unstableAttempts {
		t.Fatalf("record: %+v, %v; want the %d leftovers owed", rec, err, unstableAttempts)
	}
	for i, rt := range rec.Retired {
		if want := fmt.Sprintf("arn:leftover-%d", i); rt.Identifier != want {
			t.Errorf("leftover %d is %q, want %q", i, rt.Identifier, want)
		}
	}
}

// readingProvider is a fakeProvider whose reads are scripted too.
type readingProvider struct {
	*fakeProvider
	get func(typeName, identifier string) (json.RawMessage, error)
}

func (r readingProvider) Get(_ context.Context, typeName, identifier string) (json.RawMessage, error) {
	return r.get(typeName, identifier)
}

// TestUnstableUpdateReapplied: an update that ended NotStabilized is not
// sent again as it was: the engine reads the resource and sends the patch
// from what it now is, or settles the update when the read shows it took
// effect.
func TestUnstableUpdateReapplied(t *testing.T) {
	const arn = "arn:aws:sns:us-east-1:1:t"
	for _, tt := range []struct {
		name    string
		live    string // the resource as read after the unstable update
		reapply string // the second update's patch; "" for none
	}{
		{"took effect", `{"TopicArn":"` + arn + `","DisplayName":"new","Tags":[{"Key":"a","Value":"1"},{"Key":"b","Value":"2"}]}`, ""},
		{"took effect in part", `{"TopicArn":"` + arn + `","DisplayName":"new","Tags":[{"Key":"a","Value":"1"}]}`,
			// DisplayName took effect and is not sent again.
			`[{"op":"replace","path":"/Tags","value":[{"Key":"a","Value":"1"},{"Key":"b","Value":"2"}]}]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := openState(t, t.TempDir())
			old := map[string]any{"DisplayName": "old", "Tags": []any{map[string]any{"Key": "a", "Value": "1"}}}
			raw, _ := json.Marshal(old)
			if err := st.Put(ctx, &state.Record{Key: "topic", Type: "AWS::SNS::Topic", LogicalID: "topic", Identifier: arn,
				Status: state.StatusCreated, Desired: raw}); err != nil {
				t.Fatal(err)
			}
			var patches []string
			update := func(fail bool) func(cloudcontrol.Operation, cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
				return func(op cloudcontrol.Operation, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
					patches = append(patches, string(op.Patch))
					if err := h.BeforeSend(ctx, fmt.Sprintf("token-%d", len(patches))); err != nil {
						return cloudcontrol.ProgressEvent{}, err
					}
					if fail {
						return cloudcontrol.ProgressEvent{}, &cloudcontrol.OperationError{Operation: cloudcontrol.Update, TypeName: op.TypeName,
							Identifier: arn, ErrorCode: cloudcontrol.CodeNotStabilized, Status: cloudcontrol.StatusFailed}
					}
					return cloudcontrol.ProgressEvent{OperationStatus: "SUCCESS", Identifier: arn}, nil
				}
			}
			p := readingProvider{
				fakeProvider: &fakeProvider{apply: []func(cloudcontrol.Operation, cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error){update(true), update(false)}},
				get: func(typeName, id string) (json.RawMessage, error) {
					if id != arn {
						return nil, cloudcontrol.ErrNotFound
					}
					return json.RawMessage(tt.live), nil
				},
			}
			props := map[string]any{"DisplayName": "new", "Tags": []any{map[string]any{"Key": "a", "Value": "1"}, map[string]any{"Key": "b", "Value": "2"}}}
			e := deploying(t, ctx, Options{App: "app", Stage: "dev", State: st, Provider: p}, Declaration{LogicalID: "topic", Type: "AWS::SNS::Topic", Props: props})
			if _, err := e.Declare(ctx, Declaration{LogicalID: "topic", Type: "AWS::SNS::Topic", Props: props}); err != nil {
				t.Fatalf("declare: %v", err)
			}
			want := 1
			if tt.reapply != "" {
				want = 2
			}
			if len(patches) != want || (tt.reapply != "" && patches[1] != tt.reapply) {
				t.Fatalf("patches sent %q, want %d (the second %s)", patches, want, tt.reapply)
			}
			rec, err := st.Get(ctx, "topic")
			if err != nil || rec.Pending != nil || rec.Status != state.StatusCreated {
				t.Fatalf("record: %+v, %v", rec, err)
			}
			var desired map[string]any
			if err := json.Unmarshal(rec.Desired, &desired); err != nil || desired["DisplayName"] != "new" || len(desired["Tags"].([]any)) != 2 {
				t.Errorf("recorded desired %s, want the declaration", rec.Desired)
			}
			if s := e.Summary(); s.Updated != 1 {
				t.Errorf("summary %+v, want one update", s)
			}
		})
	}
}

// TestUnstableUpdatesAreBounded: an update that never stabilises is sent
// unstableAttempts times in a run; the record then holds what the resource
// was last read as, so that the next run patches from there.
func TestUnstableUpdatesAreBounded(t *testing.T) {
	const arn = "arn:aws:sns:us-east-1:1:t"
	ctx := context.Background()
	st := openState(t, t.TempDir())
	raw, _ := json.Marshal(map[string]any{"DisplayName": "old", "Tags": []any{map[string]any{"Key": "a", "Value": "1"}}})
	if err := st.Put(ctx, &state.Record{Key: "topic", Type: "AWS::SNS::Topic", LogicalID: "topic", Identifier: arn,
		Status: state.StatusCreated, Desired: raw}); err != nil {
		t.Fatal(err)
	}
	var script []func(cloudcontrol.Operation, cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error)
	for i := range unstableAttempts {
		script = append(script, func(op cloudcontrol.Operation, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
			if err := h.BeforeSend(ctx, fmt.Sprintf("token-%d", i)); err != nil {
				return cloudcontrol.ProgressEvent{}, err
			}
			return cloudcontrol.ProgressEvent{}, &cloudcontrol.OperationError{Operation: cloudcontrol.Update, TypeName: op.TypeName,
				Identifier: arn, ErrorCode: cloudcontrol.CodeNotStabilized, Status: cloudcontrol.StatusFailed}
		})
	}
	p := readingProvider{fakeProvider: &fakeProvider{apply: script}, get: func(string, string) (json.RawMessage, error) {
		// DisplayName took effect, the second tag never does.
		return json.RawMessage(`{"TopicArn":"` + arn + `","DisplayName":"new","Tags":[{"Key":"a","Value":"1"}]}`), nil
	}}
	props := map[string]any{"DisplayName": "new", "Tags": []any{map[string]any{"Key": "a", "Value": "1"}, map[string]any{"Key": "b", "Value": "2"}}}
	e := deploying(t, ctx, Options{App: "app", Stage: "dev", State: st, Provider: p}, Declaration{LogicalID: "topic", Type: "AWS::SNS::Topic", Props: props})
	_, err := e.Declare(ctx, Declaration{LogicalID: "topic", Type: "AWS::SNS::Topic", Props: props})
	var oe *cloudcontrol.OperationError
	if !errors.As(err, &oe) || oe.ErrorCode != cloudcontrol.CodeNotStabilized {
		t.Fatalf("declare: %v, want the last NotStabilized failure", err)
	}
	if p.applied != unstableAttempts {
		t.Fatalf("%d updates, want %d", p.applied, unstableAttempts)
	}
	rec, err := st.Get(ctx, "topic")
	if err != nil || rec.Pending != nil {
		t.Fatalf("record: %+v, %v", rec, err)
	}
	var desired map[string]any
	if err := json.Unmarshal(rec.Desired, &desired); err != nil || desired["DisplayName"] != "new" || len(desired["Tags"].([]any)) != 1 {
		t.Errorf("recorded desired %s, want the resource as last read (DisplayName new, one tag)", rec.Desired)
	}
}

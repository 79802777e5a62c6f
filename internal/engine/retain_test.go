package engine

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/state"
)

// TestRetainedOrphanDeletesRetiredThenForgets: a retained resource that is
// no longer declared is forgotten, but the replaced resources its record
// still owes are deleted first; in a plan it is a forget.
func TestRetainedOrphanDeletesRetiredThenForgets(t *testing.T) {
	for _, mode := range []string{"deploy", "destroy"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			st := openState(t, t.TempDir())
			now := time.Now().UTC()
			rec := &state.Record{FormatVersion: state.FormatVersion, Key: "t", LogicalID: "t", Type: "AWS::IoT::JobTemplate",
				Seq: 1, Status: state.StatusCreated, Identifier: "new", Desired: []byte(`{"JobTemplateId":"new","Description":"d","Document":"{}"}`),
				Retired: []state.Retired{{Identifier: "old"}}, Retain: true, CreatedAt: now, UpdatedAt: now}
			if err := st.Put(ctx, rec); err != nil {
				t.Fatal(err)
			}

			// A plan: forget, and no call.
			p := &fakeProvider{}
			var out bytes.Buffer
			e, err := Load(ctx, Options{App: "app", Stage: "dev", State: st, Provider: p, Reporter: NewReporter(&out, false)})
			if err != nil {
				t.Fatal(err)
			}
			plan := e.PlanDestroy()
			if mode != "destroy" {
				plan = e.Preview("").Plan()
			}
			if ch := plan.Changes; len(ch) != 1 || ch[0].Action != ActionForget || plan.Counts().Forgotten != 1 || p.applied != 0 {
				t.Fatalf("plan: %+v, counts %+v, %d calls", ch, plan.Counts(), p.applied)
			}
			if text := FormatChange(plan.Changes[0]); !strings.Contains(text, ". forget   t (AWS::IoT::JobTemplate) new") {
				t.Fatalf("plan output:\n%s", text)
			}

			var deleted []string
			p = &fakeProvider{apply: []func(cloudcontrol.Operation, cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error){
				func(op cloudcontrol.Operation, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
					if op.Kind != cloudcontrol.Delete {
						return cloudcontrol.ProgressEvent{}, errors.New("unexpected " + string(op.Kind))
					}
					deleted = append(deleted, op.Identifier)
					if err := h.BeforeSend(ctx, "token"); err != nil {
						return cloudcontrol.ProgressEvent{}, err
					}
					return cloudcontrol.ProgressEvent{OperationStatus: "SUCCESS", Identifier: op.Identifier}, nil
				},
			}}
			out.Reset()
			o := Options{App: "app", Stage: "dev", State: st, Provider: p, Reporter: NewReporter(&out, false)}
			if mode == "destroy" {
				e = destroying(t, ctx, o)
				err = e.Destroy(ctx)
			} else {
				e = deploying(t, ctx, o)
				err = e.Finish(ctx, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(deleted) != 1 || deleted[0] != "old" {
				t.Fatalf("deleted %v, want only the replaced resource old", deleted)
			}
			if s := e.Summary(); s.Forgotten != 1 || s.Deleted != 0 {
				t.Fatalf("summary %+v, want 1 forgotten, 0 deleted", s)
			}
			if _, err := st.Get(ctx, "t"); !errors.Is(err, state.ErrNotFound) {
				t.Fatalf("record after forget: %v, want ErrNotFound", err)
			}
			if !strings.Contains(out.String(), "forgotten (retained) t (AWS::IoT::JobTemplate) new") {
				t.Fatalf("run output:\n%s", out.String())
			}
		})
	}
}

package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/state"
	"github.com/athanor-dev/athanor/state/file"
)

// fakeProvider scripts Cloud Control: each call is answered by the next
// function queued for its method.
type fakeProvider struct {
	mu      sync.Mutex
	apply   []func(cloudcontrol.Operation, cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error)
	repeats []string // ClientTokens passed to Repeat
	resumes []string // RequestTokens passed to Resume
	applied int
}

func (f *fakeProvider) Apply(ctx context.Context, op cloudcontrol.Operation, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
	f.mu.Lock()
	next := f.apply[0]
	f.apply = f.apply[1:]
	f.applied++
	f.mu.Unlock()
	return next(op, h)
}

func (f *fakeProvider) Repeat(ctx context.Context, op cloudcontrol.Operation, token string, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
	f.mu.Lock()
	f.repeats = append(f.repeats, token)
	f.mu.Unlock()
	if err := h.BeforeSend(ctx, token); err != nil {
		return cloudcontrol.ProgressEvent{}, err
	}
	return created(op), nil
}

func (f *fakeProvider) Resume(ctx context.Context, requestToken string) (cloudcontrol.ProgressEvent, error) {
	f.mu.Lock()
	f.resumes = append(f.resumes, requestToken)
	f.mu.Unlock()
	return cloudcontrol.ProgressEvent{OperationStatus: "SUCCESS", Identifier: "t1", RequestToken: requestToken,
		ResourceModel: json.RawMessage(`{"JobTemplateId":"t1","Description":"d","Arn":"arn:aws:iot:us-east-1:1:jobtemplate/t1"}`)}, nil
}

func (f *fakeProvider) Get(ctx context.Context, typeName, identifier string) (json.RawMessage, error) {
	return nil, cloudcontrol.ErrNotFound
}

func created(op cloudcontrol.Operation) cloudcontrol.ProgressEvent {
	return cloudcontrol.ProgressEvent{OperationStatus: "SUCCESS", Identifier: "t1",
		ResourceModel: json.RawMessage(`{"JobTemplateId":"t1","Description":"d","Arn":"arn:aws:iot:us-east-1:1:jobtemplate/t1"}`)}
}

var tplProps = map[string]any{"JobTemplateId": "t1", "Description": "d", "Document": "{}"}

func openState(t *testing.T, dir string) state.Backend {
	t.Helper()
	st, err := file.Open(dir, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestUnknownOutcomeIsResumed: a create whose outcome is unknown (the
// connection broke after the request was sent) keeps its pending record;
// the next run repeats it with the same ClientToken, or polls its request
// when the RequestToken was recorded, and never sends a second create.
func TestUnknownOutcomeIsResumed(t *testing.T) {
	for _, started := range []bool{false, true} {
		name := "no request token"
		if started {
			name = "request token recorded"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			p := &fakeProvider{apply: []func(cloudcontrol.Operation, cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error){
				func(op cloudcontrol.Operation, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
					if err := h.BeforeSend(ctx, "token-1"); err != nil {
						return cloudcontrol.ProgressEvent{}, err
					}
					if started {
						if err := h.Started(ctx, cloudcontrol.ProgressEvent{RequestToken: "req-1", Identifier: "t1"}); err != nil {
							return cloudcontrol.ProgressEvent{}, err
						}
					}
					return cloudcontrol.ProgressEvent{}, errors.New("connection reset by peer")
				},
			}}
			e := deploying(t, ctx, Options{App: "app", Stage: "dev", State: openState(t, dir), Provider: p},
				Declaration{LogicalID: "tpl", Type: "AWS::IoT::JobTemplate", Props: tplProps})
			if _, err := e.Declare(ctx, Declaration{LogicalID: "tpl", Type: "AWS::IoT::JobTemplate", Props: tplProps}); err == nil {
				t.Fatal("declare succeeded")
			}
			st := openState(t, dir)
			rec, err := st.Get(ctx, "tpl")
			if err != nil {
				t.Fatalf("the pending create left no record: %v", err)
			}
			if rec.Pending == nil || rec.Pending.ClientToken != "token-1" || rec.Status != state.StatusCreating {
				t.Fatalf("record after an unknown outcome: %+v", rec)
			}

			// The next run resumes before anything else.
			e2 := deploying(t, ctx, Options{App: "app", Stage: "dev", State: st, Provider: p},
				Declaration{LogicalID: "tpl", Type: "AWS::IoT::JobTemplate", Props: tplProps})
			if started && (len(p.resumes) != 1 || p.resumes[0] != "req-1" || len(p.repeats) != 0) {
				t.Fatalf("resumes %v, repeats %v; want the recorded request polled", p.resumes, p.repeats)
			}
			if !started && (len(p.repeats) != 1 || p.repeats[0] != "token-1") {
				t.Fatalf("repeats %v; want the call repeated with token-1", p.repeats)
			}
			res, err := e2.Declare(ctx, Declaration{LogicalID: "tpl", Type: "AWS::IoT::JobTemplate", Props: tplProps})
			if err != nil {
				t.Fatal(err)
			}
			if p.applied != 1 {
				t.Fatalf("%d creates sent, want 1", p.applied)
			}
			if res.Identifier != "t1" || res.Outputs["Arn"] != "arn:aws:iot:us-east-1:1:jobtemplate/t1" {
				t.Fatalf("declared %+v", res)
			}
			if s := e2.Summary(); s.Resumed != 1 || s.Created != 1 || s.Unchanged != 0 {
				t.Fatalf("summary %+v", s)
			}
		})
	}
}

// TestDefiniteFailureClearsPending: a create that certainly failed leaves
// no record behind.
func TestDefiniteFailureClearsPending(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := &fakeProvider{apply: []func(cloudcontrol.Operation, cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error){
		func(op cloudcontrol.Operation, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
			if err := h.BeforeSend(ctx, "token-1"); err != nil {
				return cloudcontrol.ProgressEvent{}, err
			}
			return cloudcontrol.ProgressEvent{}, &cloudcontrol.OperationError{Operation: cloudcontrol.Create, ErrorCode: "InvalidRequest", Status: "FAILED"}
		},
	}}
	st := openState(t, dir)
	e := deploying(t, ctx, Options{App: "app", Stage: "dev", State: st, Provider: p},
		Declaration{LogicalID: "tpl", Type: "AWS::IoT::JobTemplate", Props: tplProps})
	_, err := e.Declare(ctx, Declaration{LogicalID: "tpl", Type: "AWS::IoT::JobTemplate", Props: tplProps})
	var re *ResourceError
	if !errors.As(err, &re) || re.Key != "tpl" || !errors.Is(err, cloudcontrol.ErrInvalidRequest) {
		t.Fatalf("error %v", err)
	}
	if _, err := st.Get(ctx, "tpl"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("record after a failed create: %v", err)
	}
}

// deploying loads the stage, previews decls (a program declaring them)
// and applies the plan: the engine then runs the same declarations.
func deploying(t *testing.T, ctx context.Context, o Options, decls ...Declaration) *Engine {
	t.Helper()
	e, err := Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	p := e.Preview("")
	for _, d := range decls {
		p.Declare(ctx, d)
	}
	if errs := p.Errors(); len(errs) > 0 {
		t.Fatalf("preview: %v", errors.Join(errs...))
	}
	if err := e.Apply(ctx, p.Plan()); err != nil {
		t.Fatal(err)
	}
	return e
}

// destroying loads the stage and applies the plan of its destroy.
func destroying(t *testing.T, ctx context.Context, o Options) *Engine {
	t.Helper()
	e, err := Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(ctx, e.PlanDestroy()); err != nil {
		t.Fatal(err)
	}
	return e
}

// tplDecl declares the job template id.
func tplDecl(id string) Declaration {
	return Declaration{LogicalID: id, Type: "AWS::IoT::JobTemplate",
		Props: map[string]any{"JobTemplateId": id, "Description": "d", "Document": "{}"}}
}

// TestStateDigestIsTheEncodingsInKeyOrder checks that the digest, whose
// records are encoded on several goroutines, is the SHA-256 of every
// record's JSON line in key order followed by the metadata's: the digest
// saved plans carry, whichever release computed it.
func TestStateDigestIsTheEncodingsInKeyOrder(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var recs []*state.Record
	for i := range 3*loadChunk + 17 {
		recs = append(recs, &state.Record{
			FormatVersion: state.FormatVersion, Key: fmt.Sprintf("r%05d", (i*7919)%100000), Type: "AWS::IoT::JobTemplate",
			Seq: int64(i), Status: state.StatusCreated, Identifier: fmt.Sprintf("id-%d", i),
			Desired: json.RawMessage(fmt.Sprintf(`{"JobTemplateId":"id-%d","Description":"<%d>"}`, i, i)),
			Outputs: json.RawMessage(`{"Arn":"arn:aws:iot:us-east-1:123456789012:jobtemplate/x"}`), CreatedAt: created, UpdatedAt: created,
		})
	}
	meta := &state.Meta{FormatVersion: state.FormatVersion, NextSeq: int64(len(recs))}
	sorted := append([]*state.Record(nil), recs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, r := range sorted {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Encode(meta); err != nil {
		t.Fatal(err)
	}
	want := "sha256:" + hex.EncodeToString(h.Sum(nil))
	got, err := stateDigest(recs, meta)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("stateDigest = %s, want %s (the encodings in key order)", got, want)
	}
	recs[len(recs)/2].Status = state.StatusUpdating
	if changed, _ := stateDigest(recs, meta); changed == got {
		t.Error("the digest did not change with a record's status")
	}
}

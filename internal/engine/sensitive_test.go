package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/schema"
	"github.com/athanor-dev/athanor/state"
)

// echoProvider fails every operation as a handler that quotes the desired
// state in its message would.
type echoProvider struct{ resumed []string }

func (p *echoProvider) fail(op cloudcontrol.Operation) error {
	return &cloudcontrol.OperationError{Operation: op.Kind, TypeName: op.TypeName, ErrorCode: cloudcontrol.CodeInvalidRequest,
		Status: cloudcontrol.StatusFailed, StatusMessage: "Invalid request provided: " + string(op.Desired) + " " + string(op.Patch)}
}

func (p *echoProvider) Apply(ctx context.Context, op cloudcontrol.Operation, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
	if err := h.BeforeSend(ctx, "token-1"); err != nil {
		return cloudcontrol.ProgressEvent{}, err
	}
	return cloudcontrol.ProgressEvent{}, p.fail(op)
}

func (p *echoProvider) Repeat(ctx context.Context, op cloudcontrol.Operation, token string, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
	return cloudcontrol.ProgressEvent{}, p.fail(op)
}

func (p *echoProvider) Resume(ctx context.Context, requestToken string) (cloudcontrol.ProgressEvent, error) {
	p.resumed = append(p.resumed, requestToken)
	// An outcome that is not definite, so that the error is reported.
	return cloudcontrol.ProgressEvent{}, errors.New(`poll: handler echoed {"Password":"old-pass\u003cword"} and the connection broke`)
}

func (p *echoProvider) Get(ctx context.Context, typeName, identifier string) (json.RawMessage, error) {
	return nil, cloudcontrol.ErrNotFound
}

// TestProviderErrorsConcealWriteOnlyValues: a service error quoting the
// desired state (raw or JSON-escaped) is printed, in text and in JSON
// events, and returned with every write-only value replaced; the error still
// matches what it wraps.
func TestProviderErrorsConcealWriteOnlyValues(t *testing.T) {
	const secret = `hunter2 "quoted" <tag>`
	for _, jsonLines := range []bool{false, true} {
		ctx := context.Background()
		var out bytes.Buffer
		decl := Declaration{LogicalID: "secret", Type: "AWS::SecretsManager::Secret",
			Props: map[string]any{"Name": "s", "SecretString": secret}}
		e := deploying(t, ctx, Options{App: "app", Stage: "dev", State: openState(t, t.TempDir()),
			Provider: &echoProvider{}, Reporter: NewReporter(&out, jsonLines)}, decl)
		_, err := e.Declare(ctx, decl)
		var oe *cloudcontrol.OperationError
		var re *ResourceError
		if !errors.As(err, &re) || re.Key != "secret" || !errors.As(err, &oe) || !errors.Is(err, cloudcontrol.ErrInvalidRequest) {
			t.Fatalf("error %v does not wrap the ResourceError and the OperationError", err)
		}
		for what, text := range map[string]string{"error": err.Error(), "output": out.String()} {
			for _, leak := range []string{"hunter2", "quoted", "tag"} {
				if strings.Contains(text, leak) {
					t.Errorf("the %s prints %q:\n%s", what, leak, text)
				}
			}
			if !strings.Contains(text, `"SecretString":"(sensitive)"`) && !strings.Contains(text, `\"SecretString\":\"(sensitive)\"`) {
				t.Errorf("the %s does not show the concealed value:\n%s", what, text)
			}
		}
		if !strings.Contains(err.Error(), `"Name":"s"`) {
			t.Errorf("the error lost what is not write-only: %v", err)
		}
	}
}

// TestResumedOperationErrorsConcealWriteOnlyValues: the desired state of an
// operation a previous run left pending is concealed in the errors of its
// resumption.
func TestResumedOperationErrorsConcealWriteOnlyValues(t *testing.T) {
	ctx := context.Background()
	st := openState(t, t.TempDir())
	now := time.Now().UTC()
	desired := `{"UserName":"u","LoginProfile":{"Password":"old-pass<word"}}`
	rec := &state.Record{FormatVersion: state.FormatVersion, Key: "user", LogicalID: "user", Type: "AWS::IAM::User",
		Seq: 1, Status: state.StatusCreating, CreatedAt: now, UpdatedAt: now,
		Pending: &state.Pending{Operation: string(cloudcontrol.Create), ClientToken: "token-0", RequestToken: "req-0",
			Desired: json.RawMessage(desired), StartedAt: now}}
	if err := st.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p := &echoProvider{}
	e, err := Load(ctx, Options{App: "app", Stage: "dev", State: st, Provider: p, Reporter: NewReporter(&out, false)})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Apply(ctx, e.Preview("").Plan())
	if len(p.resumed) != 1 {
		t.Fatalf("resumed %v, want req-0", p.resumed)
	}
	if err == nil {
		t.Fatal("New succeeded although the resumption failed")
	}
	for what, text := range map[string]string{"error": err.Error(), "output": out.String()} {
		if !strings.Contains(text, `{"Password":"(sensitive)"} and the connection broke`) || strings.Contains(text, "old-pass") {
			t.Errorf("the resumption's %s is not concealed:\n%s", what, text)
		}
	}
}

// TestPatchLongerThanCloudControlAcceptsRefused: an update's patch is bound
// by the same limit as a desired state (PatchDocument), and shown masked.
func TestPatchLongerThanCloudControlAcceptsRefused(t *testing.T) {
	s, err := schema.Lookup("AWS::SecretsManager::Secret")
	if err != nil {
		t.Fatal(err)
	}
	ops := []schema.PatchOp{{Op: "replace", Path: "/SecretString", Value: "hunter2"}}
	sent, shown, err := planPatch(s, ops)
	if err != nil || !strings.Contains(string(sent), `"hunter2"`) || string(shown) != `[{"op":"replace","path":"/SecretString","value":"(sensitive)"}]` {
		t.Fatalf("planPatch = %s, %s, %v", sent, shown, err)
	}
	for i := range 6000 {
		ops = append(ops, schema.PatchOp{Op: "replace", Path: fmt.Sprintf("/Tags/%d/Value", i), Value: "a-tag-value"})
	}
	if _, _, err := planPatch(s, ops); err == nil || !strings.Contains(err.Error(), "more than the 262144 Cloud Control accepts") {
		t.Fatalf("a %d-operation patch: %v", len(ops), err)
	}
}

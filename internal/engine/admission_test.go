package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/athanor-dev/athanor/cloudcontrol"
)

// gatedProvider holds every Apply until the gate opens and records how many
// were in flight at once. It bounds nothing itself, so the engine's
// admission is the only bound.
type gatedProvider struct {
	gate    chan struct{} // closed to let every Apply finish
	arrived chan struct{} // one value per Apply that started

	mu              sync.Mutex
	inFlight, peak  int
	creates, delets int
}

func newGatedProvider(n int) *gatedProvider {
	return &gatedProvider{gate: make(chan struct{}), arrived: make(chan struct{}, n)}
}

func (g *gatedProvider) Apply(ctx context.Context, op cloudcontrol.Operation, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
	g.mu.Lock()
	g.inFlight++
	g.peak = max(g.peak, g.inFlight)
	if op.Kind == cloudcontrol.Delete {
		g.delets++
	} else {
		g.creates++
	}
	g.mu.Unlock()
	g.arrived <- struct{}{}
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	select {
	case <-g.gate:
	case <-ctx.Done():
		return cloudcontrol.ProgressEvent{}, ctx.Err()
	}
	if err := h.BeforeSend(ctx, "token-"+op.Identifier); err != nil {
		return cloudcontrol.ProgressEvent{}, err
	}
	if op.Kind == cloudcontrol.Delete {
		return cloudcontrol.ProgressEvent{OperationStatus: "SUCCESS", Operation: op.Kind, Identifier: op.Identifier}, nil
	}
	var desired map[string]any
	if err := json.Unmarshal(op.Desired, &desired); err != nil {
		return cloudcontrol.ProgressEvent{}, err
	}
	id, _ := desired["JobTemplateId"].(string)
	model := fmt.Sprintf(`{"JobTemplateId":%q,"Arn":"arn:aws:iot:us-east-1:1:jobtemplate/%s"}`, id, id)
	return cloudcontrol.ProgressEvent{OperationStatus: "SUCCESS", Operation: op.Kind, Identifier: id, ResourceModel: json.RawMessage(model)}, nil
}

func (g *gatedProvider) Repeat(ctx context.Context, op cloudcontrol.Operation, token string, h cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
	return cloudcontrol.ProgressEvent{}, errors.New("unexpected Repeat")
}

func (g *gatedProvider) Resume(ctx context.Context, requestToken string) (cloudcontrol.ProgressEvent, error) {
	return cloudcontrol.ProgressEvent{}, errors.New("unexpected Resume")
}

func (g *gatedProvider) Get(ctx context.Context, typeName, identifier string) (json.RawMessage, error) {
	return nil, cloudcontrol.ErrNotFound
}

// Concurrency makes the provider a Concurrent, for the default admission.
func (g *gatedProvider) Concurrency() int { return 3 }

// peakAfter waits for limit Applys to be in flight, opens the gate, waits
// for run to end and returns the most Applys ever in flight at once.
func (g *gatedProvider) peakAfter(t *testing.T, limit int, run func() error) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- run() }()
	for range limit {
		<-g.arrived
	}
	close(g.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peak
}

func declareTemplates(ctx context.Context, e *Engine, n int) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("tpl-%03d", i)
			_, err := e.Declare(ctx, Declaration{LogicalID: id, Type: "AWS::IoT::JobTemplate",
				Props: map[string]any{"JobTemplateId": id, "Description": "d", "Document": "{}"}})
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// TestAdmissionBoundsWork: however many goroutines declare or delete at
// once, no more than the admission limit do work at once — here, are
// inside the provider, which bounds nothing itself — and the limit is
// reached, not undershot.
func TestAdmissionBoundsWork(t *testing.T) {
	const n = 60
	tests := []struct {
		name      string
		admission int
		want      int
	}{
		{"explicit", 4, 4},
		{"from the provider's concurrency", 0, AdmissionPerSlot * 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := openState(t, t.TempDir())
			g := newGatedProvider(n)
			var decls []Declaration
			for i := range n {
				decls = append(decls, tplDecl(fmt.Sprintf("tpl-%03d", i)))
			}
			e := deploying(t, ctx, Options{App: "app", Stage: "dev", State: st, Provider: g, Admission: tt.admission}, decls...)
			if peak := g.peakAfter(t, tt.want, func() error { return declareTemplates(ctx, e, n) }); peak != tt.want {
				t.Errorf("deploy: %d declarations in the provider at once, want %d", peak, tt.want)
			}
			if s := e.Summary(); s.Created != n {
				t.Fatalf("created %d, want %d", s.Created, n)
			}

			// Destroy's parallel deletions are admitted alike.
			d := newGatedProvider(n)
			e2 := destroying(t, ctx, Options{App: "app", Stage: "dev", State: st, Provider: d, Admission: tt.admission})
			if peak := d.peakAfter(t, tt.want, func() error { return e2.Destroy(ctx) }); peak != tt.want {
				t.Errorf("destroy: %d deletions in the provider at once, want %d", peak, tt.want)
			}
			if d.delets != n {
				t.Errorf("%d deletes, want %d", d.delets, n)
			}
		})
	}
}

// TestAdmissionWaitEndsWithContext: a declaration waiting for admission
// gives up when its context ends, and no admission is lost.
func TestAdmissionWaitEndsWithContext(t *testing.T) {
	ctx := context.Background()
	st := openState(t, t.TempDir())
	g := newGatedProvider(2)
	e := deploying(t, ctx, Options{App: "app", Stage: "dev", State: st, Provider: g, Admission: 1}, tplDecl("a"), tplDecl("b"), tplDecl("c"))
	first := make(chan error, 1)
	go func() {
		_, err := e.Declare(ctx, Declaration{LogicalID: "a", Type: "AWS::IoT::JobTemplate",
			Props: map[string]any{"JobTemplateId": "a", "Description": "d", "Document": "{}"}})
		first <- err
	}()
	<-g.arrived // a holds the only admission, inside the provider

	waiting, cancel := context.WithCancel(ctx)
	cancel()
	_, err := e.Declare(waiting, Declaration{LogicalID: "b", Type: "AWS::IoT::JobTemplate",
		Props: map[string]any{"JobTemplateId": "b", "Description": "d", "Document": "{}"}})
	var re *ResourceError
	if !errors.As(err, &re) || re.Key != "b" || !errors.Is(err, context.Canceled) {
		t.Fatalf("declare while not admitted: %v, want a ResourceError for b wrapping context.Canceled", err)
	}

	close(g.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// The admission came back: another declaration goes through.
	if _, err := e.Declare(ctx, Declaration{LogicalID: "c", Type: "AWS::IoT::JobTemplate",
		Props: map[string]any{"JobTemplateId": "c", "Description": "d", "Document": "{}"}}); err != nil {
		t.Fatal(err)
	}
	// A declaration its cancelled context never started is not a failure.
	if s := e.Summary(); s.Created != 2 || s.Failed != 0 || s.NotStarted != 1 {
		t.Errorf("summary %+v, want 2 created and 1 not started", s)
	}
}

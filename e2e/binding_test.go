package e2e

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/emulator"
	"github.com/athanor-dev/athanor/state"
)

// boundTemplates declares two job templates.
func boundTemplates(app *athanor.App) error {
	for _, id := range []string{"bound-a", "bound-b"} {
		if _, err := app.Declare(jobTemplate, id, map[string]any{
			"JobTemplateId": id, "Description": "bound", "Document": `{"operation":"update"}`,
		}); err != nil {
			return err
		}
	}
	return nil
}

// meta reads the stage's metadata from the state directory dir.
func meta(t *testing.T, dir, stage string) *state.Meta {
	t.Helper()
	st, err := state.Open(context.Background(), dir, "e2e", stage)
	if err != nil {
		t.Fatalf("open state: %v", err)
	}
	defer st.Close()
	m, err := st.GetMeta(context.Background())
	if err != nil {
		t.Fatalf("read meta: %v", err)
	}
	return m
}

// unbind removes the stage's binding, as state written before bindings
// existed has none.
func unbind(t *testing.T, dir, stage string) {
	t.Helper()
	st, err := state.Open(context.Background(), dir, "e2e", stage)
	if err != nil {
		t.Fatalf("open state: %v", err)
	}
	defer st.Close()
	m, err := st.GetMeta(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m.Target = nil
	if err := st.PutMeta(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

// sameRecords fails the test unless before and after hold the same records.
func sameRecords(t *testing.T, before, after []*state.Record) {
	t.Helper()
	if len(before) != len(after) {
		t.Fatalf("state held %d records, now %d", len(before), len(after))
	}
	for i := range before {
		if !state.Equal(before[i], after[i]) {
			t.Errorf("record %s changed:\n%+v\n%+v", before[i].Key, before[i], after[i])
		}
	}
}

// TestBindingRecorded: the first deploy records the identity of its
// target (the region is the one the client is configured for, as AWS
// endpoints are regional; a user sets AWS_REGION to the emulator's); a
// redeploy checks it at the cost of one STS call and still makes no Cloud
// Control call.
func TestBindingRecorded(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	opts := emulator.Instant()
	opts.Account, opts.Region = "111111111111", "eu-west-1"
	e := newEnv(t, opts)
	e.run(boundTemplates)
	m := meta(t, e.state, "test")
	want := state.Target{Kind: state.TargetURL, Endpoint: state.NormalizeEndpoint(e.url), Partition: "aws", Account: "111111111111", Region: "eu-west-1"}
	if m.Target == nil || !m.Target.Same(want) || m.Target.BoundAt.IsZero() {
		t.Fatalf("binding after the first deploy = %+v, want %+v", m.Target, want)
	}
	boundAt := m.Target.BoundAt

	mark := e.rec.mark()
	res := e.run(boundTemplates)
	if res.Unchanged != 2 || res.Stats.Requests != 0 {
		t.Errorf("redeploy: %d unchanged, %d Cloud Control requests counted; want 2 and 0", res.Unchanged, res.Stats.Requests)
	}
	if calls := e.rec.since(mark); len(calls) != 0 {
		t.Errorf("redeploy sent %d Cloud Control requests (%+v), want 0", len(calls), calls)
	}
	if m := meta(t, e.state, "test"); m.Target == nil || !m.Target.Same(want) || !m.Target.BoundAt.Equal(boundAt) {
		t.Errorf("binding after the redeploy = %+v, want it unchanged", m.Target)
	}
}

// TestBindingRefusesAnotherTarget: a stage deployed to one emulator is
// refused by another with a different account, and by one with a different
// region, in deploy, plan and destroy, before any Cloud Control request;
// the error names both sides; nothing changes. Rebind lets the run
// proceed.
func TestBindingRefusesAnotherTarget(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	home := newEnv(t, emulator.Instant()) // account 123456789012, us-east-1
	home.run(boundTemplates)
	before := home.records("test")
	metaBefore := meta(t, home.state, "test")

	otherAccount := emulator.Instant()
	otherAccount.Account = "222222222222"
	otherRegion := emulator.Instant()
	otherRegion.Region = "eu-west-1"
	for _, c := range []struct {
		name, region string
		opts         emulator.Options
		bound, got   string
	}{
		{"account", "us-east-1", otherAccount, "account 123456789012", "account 222222222222"},
		{"region", "eu-west-1", otherRegion, "in us-east-1", "in eu-west-1"},
	} {
		t.Setenv("AWS_REGION", c.region) // as the emulator's banner says
		other := newEnv(t, c.opts)
		for mode, tweak := range map[string]func(*athanor.Config){
			"deploy": func(*athanor.Config) {}, "plan": plan, "destroy": destroy, "refresh": refresh,
		} {
			res, err := home.try(boundTemplates, tweak, func(cfg *athanor.Config) { cfg.Target = other.url })
			var mm *athanor.TargetMismatchError
			if !errors.As(err, &mm) || !errors.Is(err, athanor.ErrTargetMismatch) || res != nil {
				t.Fatalf("%s, other %s: result %+v, error %v; want a *TargetMismatchError and no result", mode, c.name, res, err)
			}
			msg := err.Error()
			for _, want := range []string{c.bound, home.url, c.got, other.url, "--stage", "athanor state rebind --app e2e --stage test"} {
				if !strings.Contains(msg, want) {
					t.Errorf("%s, other %s: error lacks %q: %s", mode, c.name, want, msg)
				}
			}
			if n := other.rec.mark(); n != 0 {
				t.Errorf("%s, other %s: the other emulator received %d Cloud Control requests, want 0", mode, c.name, n)
			}
		}
		if ids := other.list(jobTemplate); len(ids) != 0 {
			t.Errorf("other %s holds job templates %v, want none", c.name, ids)
		}
	}
	sameRecords(t, before, home.records("test"))
	if m := meta(t, home.state, "test"); !m.Target.Same(*metaBefore.Target) || !m.Target.BoundAt.Equal(metaBefore.Target.BoundAt) || m.NextSeq != metaBefore.NextSeq {
		t.Errorf("meta changed: %+v, was %+v", m, metaBefore)
	}

	// A deliberate move: rebind, then a refreshing deploy recreates the
	// templates the new target lacks.
	t.Setenv("AWS_REGION", "us-east-1")
	moved := newEnv(t, otherAccount)
	cfg := home.config()
	cfg.Target = moved.url
	old, now, err := athanor.Rebind(context.Background(), cfg)
	if err != nil {
		t.Fatalf("rebind: %v", err)
	}
	if old == nil || old.Account != "123456789012" || now.Account != "222222222222" || now.Endpoint != state.NormalizeEndpoint(moved.url) {
		t.Fatalf("rebind: %+v → %+v", old, now)
	}
	if n := moved.rec.mark(); n != 0 {
		t.Errorf("rebind sent %d Cloud Control requests, want 0", n)
	}
	res, err := home.try(boundTemplates, refresh, func(c *athanor.Config) { c.Target = moved.url })
	if err != nil || res.Created != 2 {
		t.Fatalf("deploy after rebind: %+v, %v", res, err)
	}
	if ids := moved.list(jobTemplate); len(ids) != 2 {
		t.Errorf("the new target holds %v, want the two templates", ids)
	}
	if _, err := home.try(boundTemplates); !errors.Is(err, athanor.ErrTargetMismatch) {
		t.Errorf("the old target after the rebind: %v, want a mismatch", err)
	}
}

// TestBindingLocalAndURL: a stage bound to the local emulator is refused
// at a URL (even one answering the same account and region), and a stage
// bound to a URL is refused by the local target.
func TestBindingLocalAndURL(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	e := newEnv(t, emulator.Instant()) // the same account and region as the local emulator
	local := func(c *athanor.Config) { c.Target = athanor.TargetLocal }
	if _, err := e.try(boundTemplates, local, func(c *athanor.Config) { c.Stage = "loc" }); err != nil {
		t.Fatalf("local deploy: %v", err)
	}
	if m := meta(t, e.state, "loc"); m.Target == nil || m.Target.Kind != state.TargetLocal || m.Target.Account != "123456789012" || m.Target.Endpoint != "" {
		t.Fatalf("local binding = %+v", m.Target)
	}
	before := e.records("loc")
	for _, tweak := range []func(*athanor.Config){func(*athanor.Config) {}, plan, destroy} {
		_, err := e.try(boundTemplates, tweak, func(c *athanor.Config) { c.Stage = "loc" })
		if !errors.Is(err, athanor.ErrTargetMismatch) || !strings.Contains(err.Error(), "on the local emulator") || !strings.Contains(err.Error(), "at "+e.url) {
			t.Fatalf("local stage at a URL: %v, want a mismatch naming both", err)
		}
	}
	if n := e.rec.mark(); n != 0 {
		t.Errorf("the URL target received %d Cloud Control requests, want 0", n)
	}
	sameRecords(t, before, e.records("loc"))

	e.run(boundTemplates) // stage "test" at the URL
	before = e.records("test")
	mark := e.rec.mark()
	for _, tweak := range []func(*athanor.Config){func(*athanor.Config) {}, plan, destroy} {
		_, err := e.try(boundTemplates, tweak, local)
		if !errors.Is(err, athanor.ErrTargetMismatch) || !strings.Contains(err.Error(), "at "+e.url) || !strings.Contains(err.Error(), "on the local emulator") {
			t.Fatalf("URL stage on the local target: %v, want a mismatch naming both", err)
		}
	}
	if n := e.rec.mark(); n != mark {
		t.Errorf("the URL target received %d Cloud Control requests, want 0", n-mark)
	}
	sameRecords(t, before, e.records("test"))
}

// TestBindingUnreachable: a target where nothing listens is an error, not
// "unchanged".
func TestBindingUnreachable(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	e.run(boundTemplates)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	for _, tweak := range []func(*athanor.Config){func(*athanor.Config) {}, plan, destroy} {
		res, err := e.try(boundTemplates, tweak, func(c *athanor.Config) { c.Target = dead })
		if err == nil || res != nil || !strings.Contains(err.Error(), dead+" is unreachable") {
			t.Fatalf("unreachable target: %+v, %v; want an error naming it", res, err)
		}
	}
}

// TestBindingFirstMutation: a stage is bound by its first record write, even
// when the run then fails; a run that writes nothing does not bind it, nor
// does a plan; a stage written before bindings existed is bound by its next
// successful run, with no Cloud Control call.
func TestBindingFirstMutation(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	boom := errors.New("boom")
	if _, err := e.try(func(*athanor.App) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failing program: %v", err)
	}
	if m := meta(t, e.state, "test"); m.Target != nil {
		t.Fatalf("a run that wrote nothing bound the stage: %+v", m.Target)
	}
	if _, err := e.try(boundTemplates, plan); err != nil {
		t.Fatal(err)
	}
	if m := meta(t, e.state, "test"); m.Target != nil {
		t.Fatalf("a plan bound the stage: %+v", m.Target)
	}
	_, err := e.try(func(app *athanor.App) error {
		if err := boundTemplates(app); err != nil || app.Previewing() {
			return err
		}
		return boom // when the plan is applied: after its declarations
	})
	if !errors.Is(err, boom) {
		t.Fatalf("program failing after its declarations: %v", err)
	}
	if m := meta(t, e.state, "test"); m.Target == nil || m.Target.Endpoint != state.NormalizeEndpoint(e.url) {
		t.Fatalf("binding after a failed run that created resources = %+v", m.Target)
	}

	e.run(boundTemplates)
	unbind(t, e.state, "test")
	if _, err := e.try(boundTemplates, plan); err != nil {
		t.Fatal(err)
	}
	if m := meta(t, e.state, "test"); m.Target != nil {
		t.Fatalf("a plan bound an unbound stage: %+v", m.Target)
	}
	mark := e.rec.mark()
	res := e.run(boundTemplates)
	if res.Unchanged != 2 || res.Stats.Requests != 0 || e.rec.mark() != mark {
		t.Errorf("no-op run of an unbound stage: %d unchanged, %d requests; want 2 and 0", res.Unchanged, res.Stats.Requests)
	}
	m := meta(t, e.state, "test")
	if m.Target == nil || m.Target.Kind != state.TargetURL || m.Target.Account != "123456789012" {
		t.Fatalf("an unbound stage after a successful run: binding %+v", m.Target)
	}
	if len(m.Exports) != 0 || m.NextSeq < 2 {
		t.Errorf("meta after binding: %+v", m)
	}
	if _, err := e.try(boundTemplates, func(c *athanor.Config) {
		c.Target = athanor.TargetLocal
		c.LocalDir = filepath.Join(t.TempDir(), "local")
	}); !errors.Is(err, athanor.ErrTargetMismatch) {
		t.Errorf("the newly bound stage on the local target: %v, want a mismatch", err)
	}
}

// TestBindingLegacyStage: a stage written before bindings is refused by a
// target whose account (or region) none of its records' ARNs names, before
// any Cloud Control request; a target they agree with binds it.
func TestBindingLegacyStage(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	home := newEnv(t, emulator.Instant())
	home.run(boundTemplates)
	unbind(t, home.state, "test")
	before := home.records("test")

	opts := emulator.Instant()
	opts.Account = "222222222222"
	other := newEnv(t, opts)
	for _, tweak := range []func(*athanor.Config){func(*athanor.Config) {}, plan, destroy} {
		_, err := home.try(boundTemplates, tweak, func(c *athanor.Config) { c.Target = other.url })
		var mm *athanor.TargetMismatchError
		if !errors.As(err, &mm) {
			t.Fatalf("unbound stage at another account: %v, want a *TargetMismatchError", err)
		}
		for _, want := range []string{"has no recorded target", "account 123456789012 (e.g. arn:aws:iot:us-east-1:123456789012:jobtemplate/bound-", "account 222222222222 in us-east-1 at " + other.url, "state rebind"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the refusal lacks %q: %v", want, err)
			}
		}
	}
	t.Setenv("AWS_REGION", "eu-west-1")
	_, err := home.try(boundTemplates, plan)
	if !errors.Is(err, athanor.ErrTargetMismatch) || !strings.Contains(err.Error(), "records name region us-east-1") {
		t.Errorf("unbound stage in another region: %v, want a mismatch naming the region", err)
	}
	if n := other.rec.mark(); n != 0 {
		t.Errorf("the other emulator received %d Cloud Control requests, want 0", n)
	}
	sameRecords(t, before, home.records("test"))
	if m := meta(t, home.state, "test"); m.Target != nil {
		t.Fatalf("a refused run bound the stage: %+v", m.Target)
	}

	t.Setenv("AWS_REGION", "us-east-1")
	if res := home.run(boundTemplates); res.Unchanged != 2 {
		t.Errorf("unbound stage at its own target: %+v", res)
	}
	if m := meta(t, home.state, "test"); m.Target == nil || m.Target.Account != "123456789012" {
		t.Errorf("binding after the run = %+v", m.Target)
	}
}

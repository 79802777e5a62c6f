package athanor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/state"
)

// ErrTargetMismatch is wrapped by the *TargetMismatchError of a run whose
// target is not the cloud its stage is bound to.
var ErrTargetMismatch = errors.New("the target is not the one the stage is bound to")

// TargetMismatchError refuses a run, plan or destroy whose target is not
// the cloud the stage's resources live in (state.Meta.Target). Nothing was
// read from or sent to Cloud Control.
type TargetMismatchError struct {
	App, Stage string
	// Bound is the target the stage is bound to; Actual the identity of the
	// target the run was given.
	Bound, Actual state.Target
	// Recorded, for a stage written before stages were bound (Bound is
	// then zero), says which accounts and regions its records' ARNs name,
	// none of which is Actual's.
	Recorded string
	// Rebind is the command that binds the stage to Actual.
	Rebind string
}

func (e *TargetMismatchError) Error() string {
	bound := "is bound to " + e.Bound.String()
	if e.Bound.Kind == "" {
		bound = "has no recorded target (it was written before stages were bound to targets), but its records name " + e.Recorded
	}
	return fmt.Sprintf("stage %s/%s %s, and the target is %s: the resources the stage records live at the former, "+
		"so this run would not find them; nothing was read or changed. Use another --stage for this target, or, after a deliberate move "+
		"(an account restored, the resources moved), rebind the stage: %s",
		e.App, e.Stage, bound, e.Actual, e.Rebind)
}

// Unwrap returns ErrTargetMismatch.
func (e *TargetMismatchError) Unwrap() error { return ErrTargetMismatch }

// checkTarget runs before anything else of a run touches the target: it
// asks the target who it is (one STS GetCallerIdentity, no Cloud Control
// call) and refuses a stage bound elsewhere with a *TargetMismatchError, as
// it refuses an unbound stage whose records' ARNs name other accounts or
// regions. It returns the target's identity and the state to run with: for
// a stage not yet bound (new, or written before bindings existed), st
// wrapped so that the stage is bound to the target on its first record
// write or on the metadata write of a successful run; a plan never binds.
func (cfg *Config) checkTarget(ctx context.Context, st state.Backend, client *cloudcontrol.Client, planOnly bool) (state.Target, state.Backend, error) {
	meta, err := st.GetMeta(ctx)
	if err != nil {
		return state.Target{}, nil, fmt.Errorf("read state: %w", err)
	}
	actual, err := cfg.identify(ctx, client)
	if err != nil {
		return actual, nil, err
	}
	if meta != nil && meta.Target != nil {
		if !meta.Target.Same(actual) {
			return actual, nil, &TargetMismatchError{App: cfg.App, Stage: cfg.Stage, Bound: *meta.Target, Actual: actual, Rebind: cfg.rebindCommand()}
		}
		return actual, st, nil
	}
	// Not bound yet: new, or written before bindings. The ARNs its records
	// hold still tell where it lives.
	recs, err := st.List(ctx)
	if err != nil {
		return actual, nil, fmt.Errorf("read state: %w", err)
	}
	if recorded := elsewhere(recs, actual); recorded != "" {
		return actual, nil, &TargetMismatchError{App: cfg.App, Stage: cfg.Stage, Actual: actual, Recorded: recorded, Rebind: cfg.rebindCommand()}
	}
	if planOnly {
		return actual, st, nil
	}
	return actual, &binder{Backend: st, target: actual}, nil
}

// elsewhere looks at the ARNs of records (identifiers and top-level string
// outputs): when they name accounts and none is t's, or regions and none is
// t's, it describes them with an example; otherwise it returns "".
func elsewhere(recs []*state.Record, t state.Target) string {
	accounts, regions := map[string]string{}, map[string]string{}
	note := func(s string) {
		a, err := arn.Parse(s)
		if err != nil {
			return
		}
		if len(a.AccountID) == 12 && strings.Trim(a.AccountID, "0123456789") == "" {
			accounts[a.AccountID] = s
		}
		if a.Region != "" {
			regions[a.Region] = s
		}
	}
	for _, r := range recs {
		note(r.Identifier)
		var outputs map[string]any
		if json.Unmarshal(r.Outputs, &outputs) == nil {
			for _, v := range outputs {
				if s, ok := v.(string); ok {
					note(s)
				}
			}
		}
	}
	describe := func(what string, seen map[string]string) string {
		names := make([]string, 0, len(seen))
		for k := range seen {
			names = append(names, k)
		}
		sort.Strings(names)
		if len(names) > 1 {
			what += "s"
		}
		return fmt.Sprintf("%s %s (e.g. %s)", what, strings.Join(names, ", "), seen[names[0]])
	}
	if _, ok := accounts[t.Account]; len(accounts) > 0 && !ok {
		return describe("account", accounts)
	}
	if _, ok := regions[t.Region]; len(regions) > 0 && !ok {
		return describe("region", regions)
	}
	return ""
}

// withIdentity adds the account and region to the description of a target
// in a run's header, so that a person sees where the run goes.
func withIdentity(desc string, t state.Target) string {
	desc += ", account " + t.Account + " in " + t.Region
	if t.Partition != "aws" {
		desc += " (partition " + t.Partition + ")"
	}
	return desc
}

// local reports whether the run's target is the embedded emulator it
// starts itself.
func (cfg *Config) local() bool {
	o := cfg.options()
	return cfg.Target == TargetLocal && o.client == nil && o.awsConfig == nil
}

// rebindCommand is the `athanor state rebind` command line for cfg.
func (cfg *Config) rebindCommand() string {
	args := []string{"athanor", "state", "rebind", "--app", shellQuote(cfg.App), "--stage", shellQuote(cfg.Stage)}
	if cfg.State != state.DefaultURL {
		args = append(args, "--state", shellQuote(state.Redact(cfg.State)))
	}
	target := cfg.Target
	if o := cfg.options(); o.client != nil || o.awsConfig != nil {
		target = "TARGET"
	}
	return strings.Join(append(args, "--target", shellQuote(target)), " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// identify returns the identity of the target client reaches: its kind
// (local when Athanor started the embedded emulator, a URL when the client
// has an explicit endpoint, AWS otherwise), and the partition, account and
// region STS GetCallerIdentity answers with the client's configuration,
// credentials and endpoint. STS counts in no Cloud Control statistics.
func (cfg *Config) identify(ctx context.Context, client *cloudcontrol.Client) (state.Target, error) {
	o := client.SDK().Options()
	t := state.Target{Kind: state.TargetAWS, Region: o.Region}
	where := "AWS (region " + o.Region + ")"
	switch {
	case cfg.local():
		t.Kind, where = state.TargetLocal, "the local emulator"
	case o.BaseEndpoint != nil && *o.BaseEndpoint != "":
		t.Kind, t.Endpoint = state.TargetURL, state.NormalizeEndpoint(*o.BaseEndpoint)
		where = *o.BaseEndpoint
	}
	if t.Region == "" {
		return t, fmt.Errorf("target %s: no region configured (set AWS_REGION or a profile's region)", where)
	}
	so := sts.Options{
		Region: o.Region, Credentials: o.Credentials, BaseEndpoint: o.BaseEndpoint, HTTPClient: o.HTTPClient,
		AppID: o.AppID, Logger: o.Logger, ClientLogMode: o.ClientLogMode, Retryer: o.Retryer,
	}
	if r, ok := o.Retryer.(aws.RetryerV2); ok {
		so.Retryer = refusedIsFinal{r}
	}
	out, err := sts.New(so).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return t, fmt.Errorf("target %s is unreachable (connection refused): cannot tell which account and region it is, so nothing was read or changed: %w", where, err)
		}
		return t, fmt.Errorf("target %s: cannot tell which account and region it is (STS GetCallerIdentity failed), so nothing was read or changed: %w", where, err)
	}
	t.Account = aws.ToString(out.Account)
	a, err := arn.Parse(aws.ToString(out.Arn))
	if err != nil {
		return t, fmt.Errorf("target %s: STS GetCallerIdentity answered the caller ARN %q: %w", where, aws.ToString(out.Arn), err)
	}
	t.Partition = a.Partition
	if t.Account == "" {
		t.Account = a.AccountID
	}
	if err := t.Validate(); err != nil {
		return t, fmt.Errorf("target %s: STS GetCallerIdentity answered an identity Athanor cannot bind to: %w", where, err)
	}
	return t, nil
}

// refusedIsFinal is the Cloud Control client's retryer, except that a
// refused connection is not retried: nothing listens at the endpoint, and
// the run should say so at once rather than after the retryer's backoff.
type refusedIsFinal struct{ aws.RetryerV2 }

func (r refusedIsFinal) IsErrorRetryable(err error) bool {
	return !errors.Is(err, syscall.ECONNREFUSED) && r.RetryerV2.IsErrorRetryable(err)
}

// binder is the state of a stage not yet bound to its target: the first
// record write (Put or Delete) first records the target in the metadata,
// and a metadata write that carries no target (the engine's at the end of
// a successful run) gets it added.
type binder struct {
	state.Backend
	target state.Target

	mu    sync.Mutex
	bound bool
}

// bind records the target in the stage metadata unless already done. A
// failure is returned to the write that needed it and retried by the next.
func (b *binder) bind(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bound {
		return nil
	}
	m, err := b.Backend.GetMeta(ctx)
	if err != nil {
		return fmt.Errorf("bind the stage to its target: %w", err)
	}
	if m == nil {
		m = state.NewMeta()
	}
	if m.Target == nil {
		t := b.target
		t.BoundAt = time.Now().UTC()
		m.Target = &t
		if err := b.Backend.PutMeta(ctx, m); err != nil {
			return fmt.Errorf("bind the stage to its target: %w", err)
		}
	}
	b.bound = true
	return nil
}

// Put binds the stage, then writes r.
func (b *binder) Put(ctx context.Context, r *state.Record) error {
	if err := b.bind(ctx); err != nil {
		return err
	}
	return b.Backend.Put(ctx, r)
}

// Delete binds the stage, then deletes the record of key.
func (b *binder) Delete(ctx context.Context, key string) error {
	if err := b.bind(ctx); err != nil {
		return err
	}
	return b.Backend.Delete(ctx, key)
}

// PutMeta writes m, with the target added when m has none.
func (b *binder) PutMeta(ctx context.Context, m *state.Meta) error {
	if m != nil && m.Target == nil {
		b.mu.Lock()
		t := b.target
		t.BoundAt = time.Now().UTC()
		b.mu.Unlock()
		c := *m
		c.Target = &t
		m = &c
	}
	if err := b.Backend.PutMeta(ctx, m); err != nil {
		return err
	}
	b.mu.Lock()
	b.bound = true
	b.mu.Unlock()
	return nil
}

// Identify returns the identity of cfg's target (cfg as given to Run): one
// STS GetCallerIdentity through the configuration, credentials and
// endpoint the run's Cloud Control client would use. For the local target
// it starts the embedded emulator of the stage for the call.
func Identify(ctx context.Context, cfg Config) (state.Target, error) {
	cfg.defaults()
	client, _, stop, err := cfg.client(ctx)
	if err != nil {
		return state.Target{}, fmt.Errorf("athanor: %w", err)
	}
	defer stop()
	t, err := cfg.identify(ctx, client)
	if err != nil {
		return t, fmt.Errorf("athanor: %w", err)
	}
	return t, nil
}

// Rebind binds the stage cfg names (cfg.App, cfg.Stage, cfg.State) to the
// current identity of cfg.Target, holding the stage lock (waiting up to
// cfg.LockTimeout), after a deliberate move: the resources the state
// records must exist at the new target, since runs will trust them there.
// It returns the previous binding (nil when the stage had none) and the new
// one; when they are the same cloud nothing is written.
func Rebind(ctx context.Context, cfg Config) (old *state.Target, now state.Target, err error) {
	cfg.defaults()
	if err := state.ValidateName("app", cfg.App); err != nil {
		return nil, now, fmt.Errorf("athanor: %w", err)
	}
	if err := state.ValidateName("stage", cfg.Stage); err != nil {
		return nil, now, fmt.Errorf("athanor: %w", err)
	}
	st, err := state.Open(ctx, cfg.State, cfg.App, cfg.Stage, state.WithLockTimeout(cfg.LockTimeout), state.WithLease(cfg.LockLease))
	if err != nil {
		return nil, now, fmt.Errorf("athanor: open state: %w", err)
	}
	defer st.Close()
	lock, err := st.Lock(ctx, state.NewLockInfo("state rebind"))
	if err != nil {
		return nil, now, fmt.Errorf("athanor: %w", err)
	}
	defer func() {
		if uerr := lock.Unlock(context.WithoutCancel(ctx)); uerr != nil && err == nil {
			err = fmt.Errorf("athanor: release stage lock: %w", uerr)
		}
	}()
	if now, err = Identify(ctx, cfg); err != nil {
		return nil, now, err
	}
	meta, err := st.GetMeta(ctx)
	if err != nil {
		return nil, now, fmt.Errorf("athanor: read state: %w", err)
	}
	if meta == nil {
		meta = state.NewMeta()
	}
	old = meta.Target
	if old != nil && old.Same(now) {
		return old, *old, nil
	}
	now.BoundAt = time.Now().UTC()
	meta.Target = &now
	if err := st.PutMeta(ctx, meta); err != nil {
		return old, now, fmt.Errorf("athanor: write state: %w", err)
	}
	return old, now, nil
}

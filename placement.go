package athanor

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/internal/engine"
	"github.com/athanor-dev/athanor/state"
)

// Provider places the resources of a scope (App.In) in another region
// and/or account than the run's: a region, credentials from a
// shared-config profile, and an IAM role to assume, resolved through the
// standard AWS configuration chain. Empty fields keep the enclosing
// scope's.
//
// Each resource's record keeps where it lives (state.Placement): updates,
// deletes, refreshes, resumes and destroys go there, also once the program
// no longer declares the provider. The account a provider's credentials
// resolve to (STS GetCallerIdentity) is recorded with each resource, and a
// later run whose credentials for it resolve to another account is refused
// for that resource, as the stage's own target is.
//
// On the local target the embedded emulator serves every region and
// account: a role is assumed through its STS (the account is the role
// ARN's), and a profile stands for an account of its own, derived from the
// profile's name (the role arn:aws:iam::ACCOUNT:role/athanor-profile-NAME
// is assumed), so that a multi-region, multi-account program runs with no
// AWS account.
type Provider struct {
	// Region is the region ("" the enclosing scope's).
	Region string
	// Profile names a shared-config profile whose credentials (and, unless
	// Region is set, region) are used.
	Profile string
	// RoleARN is an IAM role to assume with the profile's (or the run's)
	// credentials; ExternalID and SessionName (default "athanor") go with
	// the AssumeRole call.
	RoleARN, ExternalID, SessionName string
}

// In returns a scope named name (see Scope) whose resources live where p
// says. Nested scopes inherit the placement, and another In refines it.
func (a *App) In(name string, p Provider) (*App, error) {
	s, err := a.Scope(name)
	if err != nil {
		return nil, err
	}
	pl := &state.Placement{}
	if a.placement != nil {
		*pl = *a.placement
		pl.Account = ""
	}
	if p.Region != "" {
		pl.Region = p.Region
	}
	if p.Profile != "" {
		pl.Profile = p.Profile
	}
	if p.RoleARN != "" {
		pl.RoleARN, pl.ExternalID, pl.SessionName = p.RoleARN, p.ExternalID, p.SessionName
	}
	if pl.IsZero() {
		return s, nil
	}
	if a.run.placer == nil {
		return nil, fmt.Errorf("athanor: In(%q): this run cannot place resources in other regions or accounts", name)
	}
	acct, err := a.run.placer.account(a.run.ctx, pl)
	if err != nil {
		return nil, fmt.Errorf("athanor: In(%q): %w", name, err)
	}
	pl.Account = acct
	s.placement = pl
	return s, nil
}

// placer builds the Cloud Control clients of placements, from the run's
// own client: its region, credentials and endpoint. It is safe for
// concurrent use.
type placer struct {
	cfg   *Config
	base  *cloudcontrol.Client
	local bool // the embedded emulator

	mu      sync.Mutex
	clients map[state.Placement]*placed
}

// placed is a placement's client and the account it reaches, set before
// ready is closed.
type placed struct {
	ready   chan struct{}
	client  *cloudcontrol.Client
	account string
	err     error
}

// placedProvider is a placement's engine provider.
type placedProvider struct {
	provider
	account string
}

// Account returns the account the placement's credentials resolve to.
func (p placedProvider) Account() string { return p.account }

var _ engine.Accounted = placedProvider{}

func newPlacer(cfg *Config, base *cloudcontrol.Client) *placer {
	return &placer{cfg: cfg, base: base, local: cfg.local(), clients: map[state.Placement]*placed{}}
}

// place is the engine's Options.Place.
func (p *placer) place(ctx context.Context, pl *state.Placement) (engine.Provider, error) {
	c, err := p.get(ctx, pl)
	if err != nil {
		return nil, err
	}
	return placedProvider{provider: provider{c.client}, account: c.account}, nil
}

// account returns the account pl's credentials resolve to.
func (p *placer) account(ctx context.Context, pl *state.Placement) (string, error) {
	c, err := p.get(ctx, pl)
	if err != nil {
		return "", err
	}
	return c.account, nil
}

// stats adds the calls of every placement's client to s.
func (p *placer) stats(s cloudcontrol.Stats) cloudcontrol.Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.clients {
		select {
		case <-c.ready:
		default:
			continue // still being built: no calls yet
		}
		if c.client == nil {
			continue
		}
		o := c.client.Stats()
		if s.Calls == nil {
			s.Calls = map[string]int64{}
		}
		for k, v := range o.Calls {
			s.Calls[k] += v
		}
		s.Requests += o.Requests
		s.Retries += o.Retries
		s.Throttles += o.Throttles
		s.Polls += o.Polls
		s.Operations += o.Operations
		s.Failed += o.Failed
		s.Reruns += o.Reruns
		s.AsyncThrottles += o.AsyncThrottles
	}
	return s
}

func (p *placer) get(ctx context.Context, pl *state.Placement) (*placed, error) {
	k := *pl
	k.Account = ""
	p.mu.Lock()
	c, ok := p.clients[k]
	if !ok {
		c = &placed{ready: make(chan struct{})}
		p.clients[k] = c
	}
	p.mu.Unlock()
	if ok {
		// Another caller builds it (its STS call is not made under the
		// lock, so placements resolve side by side).
		select {
		case <-c.ready:
			return c, c.err
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", &k, ctx.Err())
		}
	}
	defer close(c.ready)
	c.client, c.err = p.build(ctx, &k)
	if c.err == nil {
		var t state.Target
		t, c.err = p.cfg.identify(ctx, c.client)
		c.account = t.Account
	}
	if c.err != nil {
		c.err = fmt.Errorf("%s: %w", &k, c.err)
	}
	return c, c.err
}

// build returns the Cloud Control client of placement pl.
func (p *placer) build(ctx context.Context, pl *state.Placement) (*cloudcontrol.Client, error) {
	o := p.base.SDK().Options()
	endpoint := aws.ToString(o.BaseEndpoint)
	region := o.Region
	creds := o.Credentials
	role, external, session := pl.RoleARN, pl.ExternalID, pl.SessionName
	if pl.Profile != "" && !p.local {
		loaded, err := config.LoadDefaultConfig(ctx, config.WithSharedConfigProfile(pl.Profile))
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", pl.Profile, err)
		}
		creds = loaded.Credentials
		if loaded.Region != "" {
			region = loaded.Region
		}
	}
	if pl.Profile != "" && p.local {
		// The embedded emulator has no shared-config profiles: a profile
		// is an account of its own, reached by assuming a role in it.
		if role == "" {
			role = fmt.Sprintf("arn:aws:iam::%s:role/athanor-profile-%s", profileAccount(pl.Profile), pl.Profile)
		}
		creds = credentials.NewStaticCredentialsProvider(cloudcontrol.DummyAccessKeyID, cloudcontrol.DummySecretAccessKey, "")
	}
	if pl.Region != "" {
		region = pl.Region
	}
	if role != "" {
		so := sts.Options{Region: region, Credentials: creds, HTTPClient: o.HTTPClient}
		if endpoint != "" {
			so.BaseEndpoint = aws.String(endpoint)
		}
		if session == "" {
			session = "athanor"
		}
		creds = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.New(so), role, func(ao *stscreds.AssumeRoleOptions) {
			ao.RoleSessionName = session
			if external != "" {
				ao.ExternalID = aws.String(external)
			}
		}))
	}
	opts := append([]cloudcontrol.Option{cloudcontrol.WithConcurrency(p.cfg.Concurrency)}, p.cfg.options().clientOptions...)
	if endpoint != "" {
		opts = append(opts, withEndpoint(endpoint))
	}
	return cloudcontrol.New(aws.Config{Region: region, Credentials: creds, HTTPClient: o.HTTPClient}, opts...), nil
}

// profileAccount is the account a profile stands for on the local target:
// twelve digits derived from its name.
func profileAccount(profile string) string {
	sum := sha256.Sum256([]byte("athanor-profile:" + profile))
	n := binary.BigEndian.Uint64(sum[:8]) % 1_000_000_000_000
	return fmt.Sprintf("%012d", n)
}

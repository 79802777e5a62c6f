package athanor

import (
	"context"
	"fmt"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/schema"
	"github.com/athanor-dev/athanor/schema/services"
	"github.com/athanor-dev/athanor/state"
)

// Connection is a stage's state and the Cloud Control client of its
// target, opened as a run of the same Config opens them, for tools that
// work on a stage outside a run (`athanor import`).
type Connection struct {
	// Client reaches the target (for the local target, the embedded
	// emulator Connect started, which Close stops).
	Client *cloudcontrol.Client
	// State is the stage's state. The stage is bound to Target by the
	// first record or metadata write, when it is not bound yet.
	State state.Backend
	// Target is the identity of the target (STS GetCallerIdentity).
	Target state.Target
	// Registry holds the schemas a run validates against.
	Registry *schema.Registry

	stop func()
}

// Connect opens the state of the stage cfg names and the Cloud Control
// client of cfg.Target, and checks the target's identity as a run does: a
// stage bound to another target is refused with a *TargetMismatchError,
// before anything is read from Cloud Control. It takes no lock; a tool that
// writes records takes the stage lock (Connection.State.Lock) first. Close
// releases what Connect opened.
func Connect(ctx context.Context, cfg Config) (*Connection, error) {
	cfg.defaults()
	if err := state.ValidateName("app", cfg.App); err != nil {
		return nil, fmt.Errorf("athanor: %w", err)
	}
	if err := state.ValidateName("stage", cfg.Stage); err != nil {
		return nil, fmt.Errorf("athanor: %w", err)
	}
	st, err := state.Open(ctx, cfg.State, cfg.App, cfg.Stage, state.WithLockTimeout(cfg.LockTimeout), state.WithLease(cfg.LockLease))
	if err != nil {
		return nil, fmt.Errorf("athanor: open state: %w", err)
	}
	client, _, stop, err := cfg.client(ctx)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("athanor: %w", err)
	}
	identity, bound, err := cfg.checkTarget(ctx, st, client, false)
	if err != nil {
		stop()
		st.Close()
		return nil, fmt.Errorf("athanor: %w", err)
	}
	reg := cfg.options().registry
	if reg == nil {
		reg = services.Default()
	}
	return &Connection{Client: client, State: bound, Target: identity, Registry: reg, stop: stop}, nil
}

// Close closes the state and stops what Connect started.
func (c *Connection) Close() error {
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
	if c.State == nil {
		return nil
	}
	err := c.State.Close()
	c.State = nil
	if err != nil {
		return fmt.Errorf("athanor: close state: %w", err)
	}
	return nil
}

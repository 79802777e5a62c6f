package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/athanor-dev/athanor/state"
)

// placedProvider is a placement's provider, or why there is none.
type placedProvider struct {
	p   Provider
	err error
}

// provider returns the provider of placement pl: the run's for none. ctx
// bounds the resolution of a placement met for the first time.
func (e *Engine) provider(ctx context.Context, pl *state.Placement) (Provider, error) {
	if pl.IsZero() {
		return e.o.Provider, nil
	}
	if e.o.Place == nil {
		return nil, fmt.Errorf("the resource lives in %s, and this run cannot reach other regions or accounts", pl)
	}
	k := *pl
	k.Account = ""
	e.placedMu.Lock()
	defer e.placedMu.Unlock()
	if pp, ok := e.placed[k]; ok && pp.err == nil {
		return pp.p, e.checkAccount(pl, pp.p)
	} else if ok {
		return nil, pp.err
	}
	p, err := e.o.Place(ctx, pl)
	if err != nil {
		err = fmt.Errorf("reach %s: %w", pl, err)
		e.placed[k] = placedProvider{err: err}
		return nil, err
	}
	p = concealing{Provider: p, c: &e.secrets}
	e.placed[k] = placedProvider{p: p}
	return p, e.checkAccount(pl, p)
}

// Accounted is implemented by a placement's provider that knows the account
// its credentials resolve to.
type Accounted interface {
	Account() string
}

// checkAccount refuses a placement whose credentials now resolve to another
// account than the one recorded: the resources recorded there are not in
// the account the credentials reach.
func (e *Engine) checkAccount(pl *state.Placement, p Provider) error {
	c, ok := p.(concealing)
	if !ok {
		return nil
	}
	a, ok := c.Provider.(Accounted)
	if !ok || pl.Account == "" || a.Account() == "" || a.Account() == pl.Account {
		return nil
	}
	return fmt.Errorf("%w: resources recorded in account %s (%s) are now reached as account %s; nothing is sent there",
		ErrPlacementMismatch, pl.Account, pl, a.Account())
}

// ErrPlacementMismatch is wrapped by the error of an operation on a
// resource whose placement's credentials resolve to another account than
// the one recorded.
var ErrPlacementMismatch = errors.New("placement resolves to another account")

// get reads a resource where pl says.
func (e *Engine) get(ctx context.Context, pl *state.Placement, typeName, identifier string) (json.RawMessage, error) {
	p, err := e.provider(ctx, pl)
	if err != nil {
		return nil, err
	}
	return p.Get(ctx, typeName, identifier)
}

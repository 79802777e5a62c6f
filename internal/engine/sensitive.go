package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/schema"
)

// Write-only values (a schema's writeOnlyProperties) are never printed. The
// values Athanor prints itself are masked where they are built, by the
// schema: a plan's patch (planPatch, used for every Change) and the
// violations of a desired state (schema.Schema.MaskWriteOnly). Texts that
// come from the service, whose error messages may quote the desired state,
// go through the run's concealer: the provider's errors carry their text
// with every write-only string of the run's desired states replaced by
// schema.Sensitive.

// planPatch renders a diff's patch twice: as sent to Cloud Control and as
// shown in a Change, with write-only values masked. A patch longer than
// Cloud Control accepts is refused.
func planPatch(s *schema.Schema, ops []schema.PatchOp) (sent, shown json.RawMessage, err error) {
	if sent, err = json.Marshal(ops); err != nil {
		return nil, nil, err
	}
	if n := utf8.RuneCount(sent); n > MaxDesiredState {
		return nil, nil, fmt.Errorf("the update's patch is %d characters of JSON, more than the %d Cloud Control accepts", n, MaxDesiredState)
	}
	if shown, err = json.Marshal(s.MaskPatch(ops)); err != nil {
		return nil, nil, err
	}
	return sent, shown, nil
}

// concealer holds the write-only strings of the desired states a run sends
// and removes them from texts. The strings are collected only when a text
// is concealed, so that declarations that never fail pay nothing but an
// append. It is safe for concurrent use.
type concealer struct {
	mu       sync.Mutex
	pending  []typedModel // added since the last text
	secrets  map[string]bool
	replacer *strings.Replacer // nil until needed after a change
}

// typedModel is a desired state and the schema of its type.
type typedModel struct {
	s     *schema.Schema
	model map[string]any
}

// add records model, a desired state of type s, whose write-only strings
// are to be concealed. The model must not change afterwards.
func (c *concealer) add(s *schema.Schema, model map[string]any) {
	if len(s.WriteOnly) == 0 {
		return
	}
	c.mu.Lock()
	c.pending = append(c.pending, typedModel{s, model})
	c.mu.Unlock()
}

// collect moves the write-only strings of the pending models into the set.
// The caller holds c.mu.
func (c *concealer) collect() {
	for _, p := range c.pending {
		for _, str := range p.s.WriteOnlyStrings(p.model) {
			for _, form := range quotedForms(str) {
				if c.secrets == nil {
					c.secrets = map[string]bool{}
				}
				if !c.secrets[form] {
					c.secrets[form] = true
					c.replacer = nil
				}
			}
		}
	}
	c.pending = nil
}

// addRecorded records the write-only strings of a recorded desired state.
func (c *concealer) addRecorded(reg *schema.Registry, typeName string, desired json.RawMessage) {
	if len(desired) == 0 {
		return
	}
	s, err := reg.Lookup(typeName)
	if err != nil || len(s.WriteOnly) == 0 {
		return
	}
	if m, err := decodeModel(desired); err == nil {
		c.add(s, m)
	}
}

// quotedForms returns a string as it may appear in a text: as it is, and
// inside a JSON string (escaped, with and without HTML escaping).
func quotedForms(s string) []string {
	forms := []string{s}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for _, html := range []bool{true, false} {
		b.Reset()
		enc.SetEscapeHTML(html)
		if enc.Encode(s) == nil {
			q := strings.TrimSuffix(b.String(), "\n")
			if q = q[1 : len(q)-1]; q != s {
				forms = append(forms, q)
			}
		}
	}
	return forms
}

// text returns t with every recorded secret replaced by schema.Sensitive.
func (c *concealer) text(t string) string {
	c.mu.Lock()
	c.collect()
	if len(c.secrets) == 0 {
		c.mu.Unlock()
		return t
	}
	if c.replacer == nil {
		all := make([]string, 0, len(c.secrets))
		for s := range c.secrets {
			all = append(all, s)
		}
		// Longest first: a secret containing another is replaced whole.
		sort.Slice(all, func(i, j int) bool {
			if len(all[i]) != len(all[j]) {
				return len(all[i]) > len(all[j])
			}
			return all[i] < all[j]
		})
		pairs := make([]string, 0, 2*len(all))
		for _, s := range all {
			pairs = append(pairs, s, schema.Sensitive)
		}
		c.replacer = strings.NewReplacer(pairs...)
	}
	r := c.replacer
	c.mu.Unlock()
	return r.Replace(t)
}

// conceal returns err with its text concealed; errors.Is and errors.As see
// through it to err.
func (c *concealer) conceal(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if t := c.text(msg); t != msg {
		return &concealedError{err: err, text: t}
	}
	return err
}

// concealedError is an error whose text had write-only values removed.
type concealedError struct {
	err  error
	text string
}

func (e *concealedError) Error() string { return e.text }
func (e *concealedError) Unwrap() error { return e.err }

// concealing is the engine's provider: the caller's, whose errors are
// concealed.
type concealing struct {
	Provider
	c *concealer
}

func (p concealing) Apply(ctx context.Context, op cloudcontrol.Operation, hooks cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
	ev, err := p.Provider.Apply(ctx, op, hooks)
	return ev, p.c.conceal(err)
}

func (p concealing) Repeat(ctx context.Context, op cloudcontrol.Operation, clientToken string, hooks cloudcontrol.Hooks) (cloudcontrol.ProgressEvent, error) {
	ev, err := p.Provider.Repeat(ctx, op, clientToken, hooks)
	return ev, p.c.conceal(err)
}

func (p concealing) Resume(ctx context.Context, requestToken string) (cloudcontrol.ProgressEvent, error) {
	ev, err := p.Provider.Resume(ctx, requestToken)
	return ev, p.c.conceal(err)
}

func (p concealing) Get(ctx context.Context, typeName, identifier string) (json.RawMessage, error) {
	raw, err := p.Provider.Get(ctx, typeName, identifier)
	return raw, p.c.conceal(err)
}

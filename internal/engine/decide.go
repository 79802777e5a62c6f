package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/athanor-dev/athanor/schema"
	"github.com/athanor-dev/athanor/state"
)

// decision is what a declaration needs, worked out from it and its record
// without any call or write: the same in the preview and when the plan is
// applied.
type decision struct {
	s     *schema.Schema
	model map[string]any
	deps  []string
	// change is the change the declaration needs.
	change Change
	// patch is the update's JSON Patch as sent (change.Patch is masked).
	patch         json.RawMessage
	retainChanged bool
	// unknown tells whether the model holds values not known yet.
	unknown bool
	// rec is the record the decision was made from; explicit, adopt and
	// placement the declaration's DependsOn, Adopt and Placement.
	rec       *state.Record
	explicit  []string
	adopt     bool
	placement *state.Placement
	// raw is the JSON the model was decoded from (see propsJSON).
	raw []byte
	// recorded and diff are the recorded model and its diff with model,
	// from classify to complete, for an update or a replacement that
	// changes properties.
	recorded map[string]any
	diff     *schema.Change
	// declared is the preview's answer for a kept resource: its recorded
	// identifier and outputs, which a no-op leaves as they are.
	declared *Declared
	// salt is the salt of the preview that made it (reused decisions
	// conform to that preview's plan only).
	salt string
}

// previewed returns the preview's decision for key when applying the plan
// can reuse it: it held no value not known yet, the record is the one it
// was made from (no resumed operation changed it), and the declaration's
// model is the one the preview validated. It saves the validation, the
// dependency search and the diff of a declaration the preview already
// worked out.
func (e *Engine) previewed(key string, rec *state.Record, d Declaration) (*decision, bool) {
	e.mu.Lock()
	dec, ok := e.decisions[key]
	e.mu.Unlock()
	if !ok || dec.rec != rec || (rec != nil && rec.Pending != nil) || dec.s.TypeName != d.Type {
		return nil, false
	}
	// The encodings are compared, not the Go values: a program may change
	// a value it declared (a map it reuses) after the declaration. Equal
	// encodings give equal models; otherwise the models are compared.
	if raw, ok := propsJSON(d.Props); !ok || dec.raw == nil || !bytes.Equal(raw, dec.raw) {
		model, err := toModel(d.Props)
		if err != nil || !schema.Equal(map[string]any(model), map[string]any(dec.model)) {
			return nil, false
		}
	}
	if (rec != nil && rec.Retain != d.Retain) != dec.retainChanged || !slices.Equal(dec.explicit, d.DependsOn) ||
		dec.adopt != d.Adopt || !dec.placement.Same(d.Placement) {
		return nil, false
	}
	return dec, true
}

// decide works out the change declaration d needs, given the record of its
// key (nil when the stage has none). With u set (a preview), strings of
// the model may hold values not known yet: their value checks are deferred
// and the resources they come from are dependencies.
func (e *Engine) decide(key string, rec *state.Record, d Declaration, u *unknowns) (*decision, error) {
	dec, err := e.classify(key, rec, d, u)
	if err != nil {
		return nil, err
	}
	if err := e.complete(dec, u); err != nil {
		return nil, err
	}
	return dec, nil
}

// classify is the first half of decide: the model and the action, which is
// what the preview's answer to the declaration depends on. complete does
// the rest: validation, dependencies and what the plan shows. An error of
// classify that an invalid model may cause is the validation's error when
// the model is invalid, as when decide validated first.
func (e *Engine) classify(key string, rec *state.Record, d Declaration, u *unknowns) (*decision, error) {
	s, err := e.o.Registry.Lookup(d.Type)
	if err != nil {
		return nil, err
	}
	model, raw, err := toModelData(d.Props)
	if err != nil {
		return nil, err
	}
	e.secrets.add(s, model)
	// A copy: raw JSON properties are the program's own slice.
	dec := &decision{s: s, model: model, rec: rec, explicit: d.DependsOn, adopt: d.Adopt, placement: d.Placement, raw: bytes.Clone(raw)}
	if u != nil {
		dec.unknown = u.holds(model)
	}
	c := Change{Key: key, Type: s.TypeName, Unknown: dec.unknown}
	if !d.Placement.IsZero() {
		c.Placement = d.Placement.String()
	}
	if rec != nil {
		c.Identifier = rec.Identifier
		dec.retainChanged = rec.Retain != d.Retain
	}
	switch {
	case rec != nil && rec.Pending != nil:
		// Only a preview meets a pending operation: applying a plan
		// finishes them first.
		c.Action = ActionResume
		c.Reason = fmt.Sprintf("the %s an earlier run left in flight is finished first", rec.Pending.Operation)
	case rec == nil || rec.Identifier == "":
		c.Action = ActionCreate
		if d.Adopt {
			c.Reason = "adopts the existing resource if the identifier is taken"
		}
	case !rec.Placement.Same(d.Placement):
		c.Action, c.Order = ActionReplace, CreateFirst
		c.Reason = fmt.Sprintf("moves from %s to %s", rec.Placement, d.Placement)
		c.ReplacePaths = []string{"/"}
	case rec.Type != s.TypeName:
		c.Action, c.Order = ActionReplace, DeleteFirst
		c.Reason = fmt.Sprintf("type changed from %s", rec.Type)
		c.ReplacePaths = []string{"/"}
	case bytes.Equal(encodeModel(model), rec.Desired):
		// The declaration is the recorded desired state to the byte (the
		// engine records what it encoded): nothing to diff.
		c.Action = ActionNoop
	default:
		recorded, err := decodeModel(rec.Desired)
		if err != nil {
			return nil, e.validated(dec, u, fmt.Errorf("recorded state: %w", err))
		}
		ch, err := s.Diff(recorded, model)
		if err != nil {
			return nil, e.validated(dec, u, err)
		}
		dec.recorded, dec.diff = recorded, &ch
		switch ch.Action {
		case schema.NoChange:
			c.Action = ActionNoop
		case schema.Update:
			c.Action, c.Paths = ActionUpdate, ch.Paths
		default:
			c.Action, c.Paths, c.ReplacePaths = ActionReplace, ch.Paths, ch.ReplacePaths
			c.Order, c.Reason = replaceOrder(s, rec.Identifier, model)
		}
	}
	dec.change = c
	return dec, nil
}

// validate validates dec's model, deferring the checks of values not known
// yet.
func (e *Engine) validate(dec *decision, u *unknowns) error {
	if dec.unknown {
		return dec.s.ValidateDeferring(dec.model, u.count)
	}
	return dec.s.ValidateDesired(dec.model)
}

// validated returns the validation's error of dec when its model is
// invalid, else err.
func (e *Engine) validated(dec *decision, u *unknowns, err error) error {
	if verr := e.validate(dec, u); verr != nil {
		return verr
	}
	return err
}

// complete is the second half of decide (see classify): it validates the
// model and finds its dependencies, then adds to the change what the plan
// shows of it.
func (e *Engine) complete(dec *decision, u *unknowns) error {
	if err := e.validate(dec, u); err != nil {
		return err
	}
	s, model, c := dec.s, dec.model, &dec.change
	dec.deps = e.dependencies(c.Key, model, dec.explicit, u)
	c.DependsOn = dec.deps
	switch {
	case c.Action == ActionResume || c.Action == ActionCreate || c.Action == ActionReplace && dec.diff == nil:
		c.Properties = masked(s, model)
	case c.Action == ActionUpdate:
		patch, shown, err := planPatch(s, dec.diff.Patch)
		if err != nil {
			return err
		}
		c.Patch, dec.patch = shown, patch
		c.Diffs = diffs(s, dec.recorded, model, dec.diff.Paths, nil)
	case c.Action == ActionReplace:
		_, shown, _ := planPatch(s, dec.diff.Patch) // shown only: a replacement sends the whole desired state
		c.Patch = shown
		c.Diffs = diffs(s, dec.recorded, model, dec.diff.Paths, dec.diff.ReplacePaths)
	}
	// The recorded model and the diff served the plan's view only.
	dec.recorded, dec.diff = nil, nil
	return nil
}

// masked returns model with its write-only values replaced by
// schema.Sensitive: the properties a create sends, as a plan shows them.
func masked(s *schema.Schema, model map[string]any) map[string]any {
	m, _ := s.MaskWriteOnly("", model).(map[string]any)
	return m
}

// diffs lists, for each changed path, the recorded and the declared value,
// masked; forcing lists the paths that force a replacement.
func diffs(s *schema.Schema, recorded, model map[string]any, paths, forcing []string) []PropertyChange {
	out := make([]PropertyChange, 0, len(paths))
	for _, p := range paths {
		pc := PropertyChange{Path: p}
		for _, f := range forcing {
			if f == "/" || p == f || strings.HasPrefix(p, f+"/") || strings.HasPrefix(f, p+"/") {
				pc.ForcesReplacement = true
			}
		}
		if s.IsWriteOnly(p) {
			pc.Sensitive = true
		}
		if v, ok := lookup(recorded, p); ok {
			pc.Old = s.MaskWriteOnly(p, v)
			pc.HadOld = true
		}
		if v, ok := lookup(model, p); ok {
			pc.New = s.MaskWriteOnly(p, v)
			pc.HasNew = true
		}
		out = append(out, pc)
	}
	return out
}

// dependencies lists the keys of resources this model depends on: those
// whose identifier or output values occur in one of its strings (whole, or
// inside a longer string such as a policy document or an ARN with a
// suffix), those whose values not known yet it holds (u), and the explicit
// ones.
func (e *Engine) dependencies(key string, model map[string]any, explicit []string, u *unknowns) []string {
	set := map[string]bool{}
	for _, k := range explicit {
		if k != key {
			set[k] = true
		}
	}
	stringLeaves(model, func(s string) {
		e.values.find(s, func(k string) {
			if k != key {
				set[k] = true
			}
		})
		if u != nil {
			u.keys(s, func(k string) {
				if k != key {
					set[k] = true
				}
			})
		}
	})
	if len(set) == 0 {
		return nil
	}
	deps := make([]string, 0, len(set))
	for k := range set {
		deps = append(deps, k)
	}
	sort.Strings(deps)
	return deps
}

// minIndexed is the shortest value found inside a longer string: shorter
// identifiers ("a", "dev") occur by chance in unrelated strings.
const minIndexed = 6

// valueIndex maps the identifier and output values of resources to their
// keys. It finds a value equal to a string, or inside it between word
// boundaries. It is safe for concurrent use.
type valueIndex struct {
	mu    sync.RWMutex
	exact map[string]string
	// maxLen is the length of the longest value.
	maxLen int
}

// add indexes value as one of key's; the first key to have a value keeps it.
func (x *valueIndex) add(key, value string) {
	if value == "" || IsUnknown(value) {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.exact == nil {
		x.exact = map[string]string{}
	}
	if _, taken := x.exact[value]; taken {
		return
	}
	x.exact[value] = key
	x.maxLen = max(x.maxLen, len(value))
}

// addDeclared indexes a declared resource's identifier and outputs.
func (x *valueIndex) addDeclared(d *Declared) {
	x.add(d.Key, d.Identifier)
	for _, v := range d.Outputs {
		stringLeaves(v, func(s string) { x.add(d.Key, s) })
	}
}

// find calls fn with the key of every indexed value s equals or holds
// between word boundaries. Every substring of s that starts and ends at a
// boundary, of minIndexed to maxLen bytes, is looked up: the cost grows
// with the length of s, not with the number of values indexed.
func (x *valueIndex) find(s string, fn func(key string)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if k, ok := x.exact[s]; ok {
		fn(k)
	}
	if len(s) <= minIndexed || x.maxLen < minIndexed {
		return
	}
	for i := 0; i+minIndexed <= len(s); i++ {
		if i > 0 && wordByte(s[i-1]) {
			continue
		}
		for j := i + minIndexed; j <= len(s) && j-i <= x.maxLen; j++ {
			if j < len(s) && wordByte(s[j]) || i == 0 && j == len(s) {
				continue
			}
			if k, ok := x.exact[s[i:j]]; ok {
				fn(k)
			}
		}
	}
}

// wordByte reports whether b continues a name: a value found inside a
// string must not be part of a longer name ("tpl-a" is not in "tpl-ab").
func wordByte(b byte) bool {
	return b == '-' || b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

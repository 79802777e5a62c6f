package main

import (
	"encoding/json"

	"github.com/athanor-dev/athanor/schema"
	"github.com/athanor-dev/athanor/state"
)

// masked returns r as `state show` and `state list --json` print it: a copy
// whose recorded and pending desired states and pending patch have their
// write-only values replaced by schema.Sensitive, as every other output of
// Athanor does. `state export` keeps them: it is a backup.
func masked(r *state.Record) *state.Record {
	s, err := schema.Default().Lookup(r.Type)
	if err != nil || len(s.WriteOnly) == 0 {
		return r
	}
	c := *r
	c.Desired = maskModel(s, r.Desired)
	if r.Pending != nil {
		p := *r.Pending
		p.Desired = maskModel(s, p.Desired)
		p.Patch = maskPatch(s, p.Patch)
		c.Pending = &p
	}
	return &c
}

// maskModel masks a JSON desired state; what does not decode is withheld.
func maskModel(s *schema.Schema, raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return raw
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return json.RawMessage(`"` + schema.Sensitive + `"`)
	}
	out, err := json.Marshal(s.MaskWriteOnly("", m))
	if err != nil {
		return json.RawMessage(`"` + schema.Sensitive + `"`)
	}
	return out
}

// maskPatch masks a JSON Patch document; what does not decode is withheld.
func maskPatch(s *schema.Schema, raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return raw
	}
	var ops []schema.PatchOp
	if json.Unmarshal(raw, &ops) != nil {
		return json.RawMessage(`"` + schema.Sensitive + `"`)
	}
	out, err := json.Marshal(s.MaskPatch(ops))
	if err != nil {
		return json.RawMessage(`"` + schema.Sensitive + `"`)
	}
	return out
}

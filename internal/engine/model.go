package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/athanor-dev/athanor/schema"
)

// toModel converts declared properties (a typed Args struct, a map or raw
// JSON) to a normalized model.
func toModel(props any) (map[string]any, error) {
	var data []byte
	switch p := props.(type) {
	case nil:
		return map[string]any{}, nil
	case json.RawMessage:
		data = p
	case []byte:
		data = p
	default:
		var err error
		if data, err = json.Marshal(props); err != nil {
			return nil, fmt.Errorf("encode properties: %w", err)
		}
	}
	m, err := decodeModel(data)
	if err != nil {
		return nil, fmt.Errorf("properties must be a JSON object: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// decodeModel decodes a JSON object into a normalized model; empty input
// and JSON null give nil.
func decodeModel(data []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return schema.NormalizeModel(m), nil
}

// encodeModel encodes a model; map keys are sorted, so equal models encode
// to equal bytes.
func encodeModel(m map[string]any) json.RawMessage {
	if m == nil {
		return nil
	}
	data, err := json.Marshal(m)
	if err != nil {
		// Normalized models hold only JSON values.
		panic(fmt.Sprintf("engine: encode model: %v", err))
	}
	return data
}

// splitPointer splits a JSON pointer ("/A/0/B") into unescaped tokens.
func splitPointer(p string) []string {
	if p == "" || p == "/" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}

// lookup returns the value at pointer p in v.
func lookup(v any, p string) (any, bool) {
	for _, tok := range splitPointer(p) {
		switch x := v.(type) {
		case map[string]any:
			e, ok := x[tok]
			if !ok {
				return nil, false
			}
			v = e
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// setPath sets (or, when remove is true, removes) the value at pointer p in
// the model m, creating intermediate objects. It reports whether it could.
func setPath(m map[string]any, p string, val any, remove bool) bool {
	toks := splitPointer(p)
	if len(toks) == 0 {
		return false
	}
	var cur any = m
	for i, tok := range toks {
		last := i == len(toks)-1
		switch x := cur.(type) {
		case map[string]any:
			if last {
				if remove {
					delete(x, tok)
				} else {
					x[tok] = val
				}
				return true
			}
			next, ok := x[tok]
			if !ok {
				if remove {
					return true
				}
				next = map[string]any{}
				x[tok] = next
			}
			cur = next
		case []any:
			idx, err := strconv.Atoi(tok)
			if err != nil || idx < 0 || idx >= len(x) {
				return false
			}
			if last {
				if remove {
					return false // removing from an array would need its parent
				}
				x[idx] = val
				return true
			}
			cur = x[idx]
		default:
			return false
		}
	}
	return false
}

// outputsOf extracts the read-only properties of s from a model.
func outputsOf(s *schema.Schema, model map[string]any) map[string]any {
	out := map[string]any{}
	for _, ro := range s.ReadOnly {
		p := strings.TrimPrefix(ro, "/properties")
		if strings.Contains(p, "*") {
			top := splitPointer(p)
			if len(top) > 0 {
				if v, ok := model[top[0]]; ok {
					out[top[0]] = v
				}
			}
			continue
		}
		if v, ok := lookup(model, p); ok {
			setPath(out, p, v, false)
		}
	}
	return out
}

// missingOutputs reports whether model lacks any top-level read-only
// property of s, so that a read is needed to learn the outputs.
func missingOutputs(s *schema.Schema, model map[string]any) bool {
	if model == nil {
		return true
	}
	for _, ro := range s.ReadOnly {
		toks := splitPointer(strings.TrimPrefix(ro, "/properties"))
		if len(toks) != 1 {
			continue
		}
		if _, ok := model[toks[0]]; !ok {
			return true
		}
	}
	return false
}

// unknownOutputs gives every top-level read-only property of s the value
// unknown.
func unknownOutputs(s *schema.Schema, unknown string) map[string]any {
	out := map[string]any{}
	for _, ro := range s.ReadOnly {
		toks := splitPointer(strings.TrimPrefix(ro, "/properties"))
		if len(toks) > 0 {
			out[toks[0]] = unknown
		}
	}
	return out
}

// stringLeaves calls fn for every string value in v.
func stringLeaves(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case map[string]any:
		for _, e := range x {
			stringLeaves(e, fn)
		}
	case []any:
		for _, e := range x {
			stringLeaves(e, fn)
		}
	}
}

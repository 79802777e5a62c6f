package schema

import (
	"sort"
	"strconv"
)

// Sensitive is what Athanor prints in place of a write-only value: in plans
// (text, JSON and the Changes a program gets), in events and in errors.
// Write-only properties (a schema's writeOnlyProperties) are the ones a
// read never returns, passwords and secret strings among them; a change to
// one is shown as a change, never with its value.
const Sensitive = "(sensitive)"

// MaskWriteOnly returns v, the value at the model path (a JSON pointer such
// as "/LoginProfile" or "/Users/0"; "" for the whole model), with every
// write-only value in it replaced by Sensitive: Sensitive itself when the
// path or one of its ancestors is write-only, else v with the write-only
// values below the path replaced. v is never modified: the result shares
// what it does not replace. A nil *Schema masks nothing.
func (s *Schema) MaskWriteOnly(path string, v any) any {
	if s == nil || len(s.WriteOnly) == 0 {
		return v
	}
	toks := pathTokens(path)
	for _, ptr := range s.WriteOnly {
		ptoks := pointerTokens(ptr)
		if covers(ptoks, toks) {
			return Sensitive
		}
		if below, ok := under(ptoks, toks); ok {
			v = maskAt(v, below)
		}
	}
	return v
}

// under reports whether the registry pointer tokens ptr name values below
// the model path tokens path, and returns the rest of ptr below it; "*"
// matches any index, "-" (an append in a patch) included.
func under(ptr, path []string) ([]string, bool) {
	if len(ptr) <= len(path) {
		return nil, false
	}
	for i, t := range path {
		if ptr[i] != t && ptr[i] != "*" {
			return nil, false
		}
	}
	return ptr[len(path):], true
}

// maskAt returns v with the values the registry pointer tokens name
// replaced by Sensitive, copying only the containers on the way.
func maskAt(v any, toks []string) any {
	if len(toks) == 0 {
		return Sensitive
	}
	switch x := v.(type) {
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			if toks[0] != "*" && toks[0] != k {
				continue
			}
			if out == nil {
				out = make(map[string]any, len(x))
				for k2, e2 := range x {
					out[k2] = e2
				}
			}
			out[k] = maskAt(e, toks[1:])
		}
		if out == nil {
			return v
		}
		return out
	case []any:
		out := make([]any, len(x))
		copy(out, x)
		for i, e := range x {
			if toks[0] == "*" || toks[0] == strconv.Itoa(i) {
				out[i] = maskAt(e, toks[1:])
			}
		}
		return out
	}
	return v
}

// MaskPatch returns ops with every value masked by MaskWriteOnly at its
// op's path; ops itself is not modified.
func (s *Schema) MaskPatch(ops []PatchOp) []PatchOp {
	if s == nil || len(s.WriteOnly) == 0 {
		return ops
	}
	out := make([]PatchOp, len(ops))
	for i, op := range ops {
		out[i] = op
		if op.Value != nil {
			out[i].Value = s.MaskWriteOnly(op.Path, op.Value)
		}
	}
	return out
}

// WriteOnlyStrings returns the distinct non-empty strings held by the
// write-only values of model (the values themselves, or within them),
// longest first: what a text quoting the model, such as a service's error
// message, must not print.
func (s *Schema) WriteOnlyStrings(model map[string]any) []string {
	if s == nil || len(s.WriteOnly) == 0 || len(model) == 0 {
		return nil
	}
	set := map[string]bool{}
	for _, ptr := range s.WriteOnly {
		for _, p := range presentPaths(model, pointerTokens(ptr)) {
			stringsIn(valueAtPath(model, p), set)
		}
	}
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for str := range set {
		out = append(out, str)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// stringsIn adds the non-empty strings within v to set.
func stringsIn(v any, set map[string]bool) {
	switch x := v.(type) {
	case string:
		if x != "" {
			set[x] = true
		}
	case map[string]any:
		for _, e := range x {
			stringsIn(e, set)
		}
	case []any:
		for _, e := range x {
			stringsIn(e, set)
		}
	}
}

// show renders the value v at the model path for a message, masked by
// MaskWriteOnly: Sensitive, unquoted, for a write-only value.
func (s *Schema) show(path string, v any) string {
	if s == nil || len(s.WriteOnly) == 0 {
		return formatValue(v)
	}
	if s.IsWriteOnly(path) {
		return Sensitive
	}
	return formatValue(s.MaskWriteOnly(path, v))
}

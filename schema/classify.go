package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalidIdentifier is wrapped by the errors of Identifier and
// ParseIdentifier when a model or identifier does not identify a resource.
var ErrInvalidIdentifier = errors.New("invalid identifier")

// pointerTokens turns a registry property pointer ("/properties/A/B",
// "/properties/A/properties/B", "/properties/A/*/B") into model path
// tokens (["A", "B"], ["A", "B"], ["A", "*", "B"]).
func pointerTokens(ptr string) []string {
	raw := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	toks := make([]string, 0, len(raw))
	for i, t := range raw {
		// "properties" is a schema keyword in the pointer except as the
		// last token, where it can only name a property.
		if t == "properties" && i < len(raw)-1 {
			continue
		}
		toks = append(toks, unescapePointer(t))
	}
	return toks
}

// TopLevelNames returns the top-level property names the registry pointers
// of the lists name ("/properties/A/B" names A), sorted and without
// duplicates: e.g. the outputs a type has, from ReadOnly and
// PrimaryIdentifier.
func TopLevelNames(lists ...[]string) []string {
	var names []string
	for _, list := range lists {
		for _, ptr := range list {
			if toks := pointerTokens(ptr); len(toks) > 0 && toks[0] != "" {
				names = append(names, toks[0])
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// PropertyNames returns the names of s's top-level properties, sorted.
func (s *Schema) PropertyNames() []string {
	names := make([]string, 0, len(s.Root.Properties))
	for n := range s.Root.Properties {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// pathTokens splits a model JSON pointer ("/Tags/0/Key") into its unescaped
// tokens; "" and "/" are the model itself.
func pathTokens(path string) []string {
	if path == "" || path == "/" {
		return nil
	}
	raw := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i, t := range raw {
		raw[i] = unescapePointer(t)
	}
	return raw
}

// covers reports whether the registry pointer tokens ptr name path or one of
// its ancestors; "*" matches any array index.
func covers(ptr, path []string) bool {
	if len(ptr) == 0 || len(ptr) > len(path) {
		return false
	}
	for i, t := range ptr {
		if t != path[i] && t != "*" {
			return false
		}
	}
	return true
}

// listed reports whether any of the registry pointers covers path.
func listed(ptrs []string, path string) bool {
	toks := pathTokens(path)
	for _, p := range ptrs {
		if covers(pointerTokens(p), toks) {
			return true
		}
	}
	return false
}

// IsCreateOnly reports whether a change at the model path (a JSON pointer
// such as "/Tags/0/Key") forces replacement: the path or one of its
// ancestors is listed create-only ("*" matches any array index).
func (s *Schema) IsCreateOnly(path string) bool { return listed(s.CreateOnly, path) }

// IsReadOnly reports whether the model path is read-only: the path or one
// of its ancestors is listed read-only.
func (s *Schema) IsReadOnly(path string) bool { return listed(s.ReadOnly, path) }

// IsWriteOnly reports whether the model path is write-only: the path or one
// of its ancestors is listed write-only.
func (s *Schema) IsWriteOnly(path string) bool { return listed(s.WriteOnly, path) }

// IsConditionalCreateOnly reports whether a change at the model path may
// force replacement, depending on the service.
func (s *Schema) IsConditionalCreateOnly(path string) bool {
	return listed(s.ConditionalCreateOnly, path)
}

// presentPaths returns the JSON pointers of the values in model that the
// registry pointer tokens name, expanding "*" over array elements.
func presentPaths(model any, toks []string) []string {
	var out []string
	var walk func(v any, toks []string, path string)
	walk = func(v any, toks []string, path string) {
		if len(toks) == 0 {
			out = append(out, path)
			return
		}
		switch x := v.(type) {
		case map[string]any:
			if toks[0] == "*" {
				for _, k := range sortedKeys(x) {
					walk(x[k], toks[1:], childPath(path, k))
				}
			} else if c, ok := x[toks[0]]; ok {
				walk(c, toks[1:], childPath(path, toks[0]))
			}
		case []any:
			if toks[0] == "*" {
				for i, e := range x {
					walk(e, toks[1:], indexPath(path, i))
				}
			} else if i, err := strconv.Atoi(toks[0]); err == nil && i >= 0 && i < len(x) {
				walk(x[i], toks[1:], indexPath(path, i))
			}
		}
	}
	walk(model, toks, "")
	return out
}

// removeAt deletes from v every value the registry pointer tokens name.
func removeAt(v any, toks []string) {
	if len(toks) == 0 {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if len(toks) == 1 {
			delete(x, toks[0])
			return
		}
		if toks[0] == "*" {
			for _, c := range x {
				removeAt(c, toks[1:])
			}
		} else if c, ok := x[toks[0]]; ok {
			removeAt(c, toks[1:])
		}
	case []any:
		if len(toks) == 1 {
			return // array elements are not removed by name
		}
		for _, e := range x {
			if toks[0] == "*" {
				removeAt(e, toks[1:])
			}
		}
	}
}

// without returns a normalized deep copy of model with the values the
// registry pointers name removed.
func without(model map[string]any, ptrs []string) map[string]any {
	if model == nil {
		return nil
	}
	out := NormalizeModel(model)
	for _, p := range ptrs {
		removeAt(out, pointerTokens(p))
	}
	return out
}

// WithoutWriteOnly returns a deep copy of model (normalized as Normalize
// does) with write-only properties removed: what a read can return.
func (s *Schema) WithoutWriteOnly(model map[string]any) map[string]any {
	return without(model, s.WriteOnly)
}

// WithoutReadOnly returns a deep copy of model (normalized as Normalize
// does) with read-only properties removed: what a desired state may hold.
func (s *Schema) WithoutReadOnly(model map[string]any) map[string]any {
	return without(model, s.ReadOnly)
}

// valueAt returns the value at the registry pointer tokens in model.
func valueAt(model map[string]any, toks []string) (any, bool) {
	var cur any = model
	for _, t := range toks {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[t]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// setAt stores v at the registry pointer tokens in model, creating the
// intermediate objects.
func setAt(model map[string]any, toks []string, v any) {
	cur := model
	for _, t := range toks[:len(toks)-1] {
		next, ok := cur[t].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[t] = next
		}
		cur = next
	}
	cur[toks[len(toks)-1]] = v
}

// identifierString renders one identifier value as Cloud Control does.
func identifierString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	if f, ok := toFloat(v); ok {
		return formatNumber(f), nil
	}
	return "", fmt.Errorf("%w: value %s is not a string or number", ErrInvalidIdentifier, formatValue(v))
}

// Identifier builds the Cloud Control identifier of a model from its primary
// identifier: the single value, or the values joined with "|".
func (s *Schema) Identifier(model map[string]any) (string, error) {
	if len(s.PrimaryIdentifier) == 0 {
		return "", fmt.Errorf("%s: %w: the type has no primary identifier", s.TypeName, ErrInvalidIdentifier)
	}
	parts := make([]string, len(s.PrimaryIdentifier))
	for i, ptr := range s.PrimaryIdentifier {
		toks := pointerTokens(ptr)
		v, ok := valueAt(model, toks)
		if !ok || v == nil {
			return "", fmt.Errorf("%s: %w: %s is missing", s.TypeName, ErrInvalidIdentifier, "/"+strings.Join(toks, "/"))
		}
		str, err := identifierString(v)
		if err != nil {
			return "", fmt.Errorf("%s: /%s: %w", s.TypeName, strings.Join(toks, "/"), err)
		}
		if str == "" {
			return "", fmt.Errorf("%s: %w: %s is empty", s.TypeName, ErrInvalidIdentifier, "/"+strings.Join(toks, "/"))
		}
		parts[i] = str
	}
	return strings.Join(parts, "|"), nil
}

// ParseIdentifier turns an identifier (the plain value, "a|b" for compound
// identifiers, or a JSON object of the identifying properties, which may
// name the primary identifier or one of the additional identifiers) into
// the identifying properties.
func (s *Schema) ParseIdentifier(id string) (map[string]any, error) {
	if len(s.PrimaryIdentifier) == 0 {
		return nil, fmt.Errorf("%s: %w: the type has no primary identifier", s.TypeName, ErrInvalidIdentifier)
	}
	if strings.HasPrefix(strings.TrimSpace(id), "{") {
		return s.parseIdentifierObject(id)
	}
	if id == "" {
		return nil, fmt.Errorf("%s: %w: empty identifier", s.TypeName, ErrInvalidIdentifier)
	}
	var parts []string
	if len(s.PrimaryIdentifier) == 1 {
		parts = []string{id}
	} else {
		parts = strings.Split(id, "|")
		if len(parts) != len(s.PrimaryIdentifier) {
			return nil, fmt.Errorf("%s: %w: %q has %d parts, want %d separated by \"|\" (%s)",
				s.TypeName, ErrInvalidIdentifier, id, len(parts), len(s.PrimaryIdentifier), strings.Join(s.identifierNames(s.PrimaryIdentifier), "|"))
		}
	}
	out := make(map[string]any, len(parts))
	for i, ptr := range s.PrimaryIdentifier {
		if parts[i] == "" {
			return nil, fmt.Errorf("%s: %w: %q has an empty part %d", s.TypeName, ErrInvalidIdentifier, id, i)
		}
		setAt(out, pointerTokens(ptr), parts[i])
	}
	return out, nil
}

func (s *Schema) parseIdentifierObject(id string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(id))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", s.TypeName, ErrInvalidIdentifier, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: %w: trailing data after the JSON object", s.TypeName, ErrInvalidIdentifier)
	}
	obj = NormalizeModel(obj)
	sets := append([][]string{s.PrimaryIdentifier}, s.AdditionalIdentifiers...)
	var want []string
	for _, set := range sets {
		if len(set) == 0 {
			continue
		}
		if matchesIdentifierSet(obj, set) {
			for _, ptr := range set {
				v, _ := valueAt(obj, pointerTokens(ptr))
				if _, err := identifierString(v); err != nil {
					return nil, fmt.Errorf("%s: %w", s.TypeName, err)
				}
			}
			return obj, nil
		}
		want = append(want, "{"+strings.Join(s.identifierNames(set), ", ")+"}")
	}
	return nil, fmt.Errorf("%s: %w: %s names none of the identifier sets %s", s.TypeName, ErrInvalidIdentifier, compactJSON(id), strings.Join(want, " or "))
}

// matchesIdentifierSet reports whether obj holds exactly the properties of
// one identifier set, each with a value.
func matchesIdentifierSet(obj map[string]any, set []string) bool {
	top := map[string]bool{}
	for _, ptr := range set {
		toks := pointerTokens(ptr)
		if v, ok := valueAt(obj, toks); !ok || v == nil {
			return false
		}
		top[toks[0]] = true
	}
	return len(top) == len(obj)
}

func (s *Schema) identifierNames(set []string) []string {
	names := make([]string, len(set))
	for i, ptr := range set {
		names[i] = strings.Join(pointerTokens(ptr), "/")
	}
	return names
}

func compactJSON(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}

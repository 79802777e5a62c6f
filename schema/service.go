package schema

import (
	"fmt"
	"strconv"
	"sync"
)

// Service rules are facts a service enforces beyond its registry schema.
// The engine checks them before any call (ValidateDesired) and the emulator
// answers as the service would. This file is the generic layer: the Rule
// type, the checks rules are built from, and Registry.WithRules, which
// gives a registry's types their rules. The rules of each service live
// beside it, in package schema/services.

// Rule is one service fact about the values at a registry pointer.
type Rule struct {
	// Shape cites the API model shape the rule comes from, e.g.
	// "iot-2015-05-28#JobTemplateId".
	Shape string
	// Pointer is the registry pointer of the values checked ("*" for any
	// array element); "" for the model itself.
	Pointer string
	// Check returns the violations of one value at model path path of a
	// model of s, which renders values for messages (masking write-only
	// values, see Schema.show).
	Check func(v any, path string, s *Schema) []Violation
}

// Rules holds service rules by resource type name.
type Rules map[string][]Rule

// WithRules returns a registry of r's types in which each type named in
// rules also enforces those rules (Schema.ServiceViolations, and so
// ValidateDesired). r itself is unchanged.
func (r *Registry) WithRules(rules Rules) *Registry {
	return &Registry{names: r.names, base: r, rules: rules, ruled: &sync.Map{}}
}

// withRules returns the copy of s that enforces rs, made once per
// registry.
func (r *Registry) withRules(s *Schema) *Schema {
	rs := r.rules[s.TypeName]
	if len(rs) == 0 {
		return s
	}
	if c, ok := r.ruled.Load(s.TypeName); ok {
		return c.(*Schema)
	}
	c := *s
	c.rules = rs
	got, _ := r.ruled.LoadOrStore(s.TypeName, &c)
	return got.(*Schema)
}

// ServiceViolations returns the violations of the type's service rules:
// what the service itself rejects beyond the registry schema, sorted by
// path. It checks values of the right JSON type only; type errors are the
// schema's to report.
func (s *Schema) ServiceViolations(model map[string]any) []Violation {
	if len(s.rules) == 0 {
		return nil
	}
	var out []Violation
	for _, r := range s.rules {
		if r.Pointer == "" {
			out = append(out, r.Check(model, "", s)...)
			continue
		}
		for _, p := range presentPaths(model, pointerTokens(r.Pointer)) {
			out = append(out, r.Check(valueAtPath(model, p), p, s)...)
		}
	}
	return sortViolations(out)
}

// ServiceRuleShapes lists the API model shapes the type's service rules
// come from, in table order.
func (s *Schema) ServiceRuleShapes() []string {
	var out []string
	for _, r := range s.rules {
		out = append(out, r.Shape)
	}
	return out
}

// valueAtPath returns the value at a model JSON pointer, through objects and
// arrays.
func valueAtPath(model map[string]any, path string) any {
	var cur any = model
	for _, t := range pathTokens(path) {
		switch x := cur.(type) {
		case map[string]any:
			cur = x[t]
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			cur = x[i]
		default:
			return nil
		}
	}
	return cur
}

// WholePattern is a Rule check: strings must match pattern, which the
// service applies to the whole value (so it should be anchored).
func WholePattern(pattern string) func(any, string, *Schema) []Violation {
	return func(v any, path string, sch *Schema) []Violation {
		s, ok := v.(string)
		if !ok {
			return nil
		}
		if ok, err := compilePattern(pattern).match(s); err != nil || !ok {
			return []Violation{{Path: displayPath(path), Message: fmt.Sprintf("%s does not match pattern %s", sch.show(path, s), pattern)}}
		}
		return nil
	}
}

// Minimum is a Rule check: numbers must be at least min.
func Minimum(min float64) func(any, string, *Schema) []Violation {
	return func(v any, path string, sch *Schema) []Violation {
		if f, ok := toFloat(v); ok && f < min {
			return []Violation{{Path: displayPath(path), Message: fmt.Sprintf("%s is less than the minimum %s", sch.show(path, f), formatNumber(min))}}
		}
		return nil
	}
}

// Maximum is a Rule check: numbers must be at most max.
func Maximum(max float64) func(any, string, *Schema) []Violation {
	return func(v any, path string, sch *Schema) []Violation {
		if f, ok := toFloat(v); ok && f > max {
			return []Violation{{Path: displayPath(path), Message: fmt.Sprintf("%s is greater than the maximum %s", sch.show(path, f), formatNumber(max))}}
		}
		return nil
	}
}

// Required is a Rule check: objects must have the named members.
func Required(names ...string) func(any, string, *Schema) []Violation {
	return func(v any, path string, _ *Schema) []Violation {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		var out []Violation
		for _, n := range names {
			if _, ok := m[n]; !ok {
				out = append(out, Violation{Path: childPath(path, n), Message: "required property is missing"})
			}
		}
		return out
	}
}

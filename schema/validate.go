package schema

// Validation walks the parsed Node graph directly rather than handing the
// document to a general JSON Schema library (santhosh-tekuri/jsonschema
// was considered). The Node graph already has every $ref resolved, including
// recursive definitions, so validation needs no compile step, no second copy
// of the schema and no marshalling of the model; it reports violations in
// this package's exact wording (the JSON pointer of the offending value and
// what is allowed), including a readable account of failed oneOf/anyOf
// alternatives, which a general library's error tree does not give without
// reshaping. Patterns compile once per process (see pattern.go).
//
// "format" is an annotation in draft-07 and the registry uses it loosely
// ("int64", "double", "string", even a regular expression), so it is not
// asserted.

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Violation is one way a model breaks its schema.
type Violation struct {
	// Path is the JSON pointer of the offending value, e.g.
	// "/AbortConfig/CriteriaList/0/Action"; "/" for the model itself.
	Path string `json:"path"`
	// Message says what is wrong and what is allowed, e.g.
	// `"ABORT" is not one of [CANCEL]`.
	Message string `json:"message"`
}

// String renders "path: message".
func (v Violation) String() string { return v.Path + ": " + v.Message }

// ValidationError lists every violation found in a model.
type ValidationError struct {
	// TypeName is the resource type the model was checked against.
	TypeName string
	// Violations lists every violation, sorted by path.
	Violations []Violation
}

// Error lists every violation on its own line, each prefixed by the type
// name: "AWS::IoT::JobTemplate: /Path: message".
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.TypeName)
		b.WriteString(": ")
		b.WriteString(v.String())
	}
	return b.String()
}

// Validate checks model against the whole schema and returns a
// *ValidationError listing every violation, or nil.
func (s *Schema) Validate(model map[string]any) error {
	return s.errorOf(s.Violations(model))
}

// Unknowns tells which strings of a model hold values not known yet (the
// outputs of resources a plan has not created): for s it returns how many
// such values it holds and the number of characters of s outside them; a
// string without one gives 0 and len.
type Unknowns func(s string) (count, knownChars int)

// ValidateDeferring is ValidateDesired for a model some of whose strings
// hold values not known yet (unknown says which, and how much of the string
// is known). The checks of such a string that depend on the unknown part
// are deferred: enum, const, pattern, minLength and the service's rules at
// it. Everything else is still checked: its type, a maxLength the known
// characters already exceed (a value not known yet counts as at least one
// character), and every other property of the model.
func (s *Schema) ValidateDeferring(model map[string]any, unknown Unknowns) error {
	if unknown == nil {
		return s.ValidateDesired(model)
	}
	c := *s
	c.unknown = unknown
	return c.errorOf(c.DesiredViolations(model))
}

// unknownIn reports whether v is a string holding a value not known yet
// and, if so, the least number of characters it can have.
func (s *Schema) unknownIn(v any) (least int, ok bool) {
	str, isString := v.(string)
	if s == nil || s.unknown == nil || !isString {
		return 0, false
	}
	n, known := s.unknown(str)
	return known + n, n > 0
}

// ValidateDesired is Validate plus the rules a desired state must also
// follow: read-only properties must not be set, and the service's own rules
// (ServiceViolations) hold.
func (s *Schema) ValidateDesired(model map[string]any) error {
	return s.errorOf(s.DesiredViolations(model))
}

// Violations returns every way model breaks the schema, sorted by path.
func (s *Schema) Violations(model map[string]any) []Violation {
	var out []Violation
	if model == nil {
		model = map[string]any{}
	}
	validateNode(s, s.Root, model, "", nil, &out)
	return sortViolations(out)
}

// DesiredViolations returns the violations ValidateDesired reports: the
// schema's, read-only properties that are set, and the service rules not
// already reported at the same path, sorted by path.
func (s *Schema) DesiredViolations(model map[string]any) []Violation {
	var out []Violation
	if model == nil {
		model = map[string]any{}
	}
	validateNode(s, s.Root, model, "", nil, &out)
	for _, ptr := range s.ReadOnly {
		for _, p := range presentPaths(model, pointerTokens(ptr)) {
			out = append(out, Violation{Path: displayPath(p), Message: "read-only property cannot be set"})
		}
	}
	reported := make(map[string]bool, len(out))
	for _, v := range out {
		reported[v.Path] = true
	}
	for _, v := range s.ServiceViolations(model) {
		if reported[v.Path] {
			continue
		}
		if _, unknown := s.unknownIn(valueAtPath(model, v.Path)); unknown {
			continue // a rule on a value not known yet: deferred
		}
		out = append(out, v)
	}
	return sortViolations(out)
}

func (s *Schema) errorOf(vs []Violation) error {
	if len(vs) == 0 {
		return nil
	}
	return &ValidationError{TypeName: s.TypeName, Violations: vs}
}

// sortViolations orders violations by path, comparing pointers token by
// token (array indexes numerically), then by message.
func sortViolations(vs []Violation) []Violation {
	slices.SortStableFunc(vs, func(a, b Violation) int {
		if c := comparePaths(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
	// Drop exact duplicates (the same rule reached twice through allOf).
	return slices.Compact(vs)
}

// comparePaths orders JSON pointers token by token; numeric tokens compare
// as numbers, so /Tags/2 sorts before /Tags/10.
func comparePaths(a, b string) int {
	for a != "" || b != "" {
		var ta, tb string
		ta, a = nextToken(a)
		tb, b = nextToken(b)
		if ta == tb {
			continue
		}
		na, errA := strconv.Atoi(ta)
		nb, errB := strconv.Atoi(tb)
		if errA == nil && errB == nil {
			if na < nb {
				return -1
			}
			return 1
		}
		return strings.Compare(ta, tb)
	}
	return 0
}

func nextToken(p string) (tok, rest string) {
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

// validateNode appends to out every violation of node n by value v at path.
// chain lists the nodes already being applied to v itself through
// allOf/anyOf/oneOf/dependencies: a node met again in its own chain adds
// nothing (its constraints are being checked already), which ends schemas
// whose combinators refer back to themselves. Values are quoted through
// s.show, so that write-only values are never printed; s may be nil.
func validateNode(s *Schema, n *Node, v any, path string, chain []*Node, out *[]Violation) {
	if slices.Contains(chain, n) {
		return
	}
	add := func(format string, args ...any) {
		*out = append(*out, Violation{Path: displayPath(path), Message: fmt.Sprintf(format, args...)})
	}
	t, num := jsonType(v)
	if t == "" {
		add("%T is not a JSON value", v)
		return
	}
	if len(n.Types) > 0 && !n.HasType(t) {
		add("expected %s, got %s", strings.Join(n.Types, " or "), describe(t, s.show(path, v)))
		return
	}
	least, unknown := s.unknownIn(v)
	if unknown {
		// Only what the known characters already decide: the type (a
		// string) and a length the string cannot stay within.
		if n.MaxLength != nil && least > *n.MaxLength {
			add("at least %d characters (with values not known yet), at most %d allowed", least, *n.MaxLength)
		}
		return
	}
	if n.Enum != nil && !slices.ContainsFunc(n.Enum, func(e any) bool { return Equal(e, v) }) {
		if len(n.Enum) == 0 {
			add("no value is allowed here")
		} else {
			add("%s is not one of %s", s.show(path, v), formatEnum(n.Enum))
		}
	}
	if n.HasConst && !Equal(n.Const, v) {
		add("%s is not the allowed value %s", s.show(path, v), formatValue(n.Const))
	}
	if len(n.AllOf)+len(n.AnyOf)+len(n.OneOf)+len(n.DependentSchemas) > 0 {
		chain = append(chain[:len(chain):len(chain)], n)
	}
	switch t {
	case "string":
		validateString(s, n, v.(string), path, add)
	case "integer", "number":
		validateNumber(s, n, num, path, add)
	case "object":
		validateObject(s, n, v.(map[string]any), path, chain, out)
	case "array":
		validateArray(s, n, v.([]any), path, out)
	}
	for _, alt := range n.AllOf {
		validateNode(s, alt, v, path, chain, out)
	}
	if len(n.AnyOf) > 0 {
		if tried, ok := alternatives(s, n.AnyOf, v, path, chain); !ok {
			add("matches none of the %d anyOf alternatives; %s", len(n.AnyOf), tried.closest())
		}
	}
	if len(n.OneOf) > 0 {
		tried, _ := alternatives(s, n.OneOf, v, path, chain)
		switch matched := tried.matched(); len(matched) {
		case 1:
		case 0:
			add("matches none of the %d oneOf alternatives; %s", len(n.OneOf), tried.closest())
		default:
			add("matches %d oneOf alternatives (%s); exactly one must match", len(matched), tried.names(matched))
		}
	}
}

// describe renders a value, shown as the message shows it, with its JSON
// type for a type mismatch.
func describe(t, shown string) string {
	switch t {
	case "object", "array", "null":
		return t
	}
	return t + " " + shown
}

// validateString checks the string s at path; sch renders it for a
// message.
func validateString(sch *Schema, n *Node, s string, path string, add func(string, ...any)) {
	if n.MinLength != nil || n.MaxLength != nil {
		l := utf8.RuneCountInString(s)
		if n.MinLength != nil && l < *n.MinLength {
			add("%d characters, at least %d required", l, *n.MinLength)
		}
		if n.MaxLength != nil && l > *n.MaxLength {
			add("%d characters, at most %d allowed", l, *n.MaxLength)
		}
	}
	if n.Pattern != "" {
		ok, err := compilePattern(n.Pattern).match(s)
		switch {
		case err != nil:
			add("cannot check pattern %s: %v", n.Pattern, err)
		case !ok:
			add("%s does not match pattern %s", sch.show(path, s), n.Pattern)
		}
	}
}

// validateNumber checks the number f at path; s renders it for a message
// (only then: rendering masks write-only values, which costs a lookup).
func validateNumber(s *Schema, n *Node, f float64, path string, add func(string, ...any)) {
	if n.Minimum != nil && f < *n.Minimum {
		add("%s is less than the minimum %s", s.show(path, f), formatNumber(*n.Minimum))
	}
	if n.Maximum != nil && f > *n.Maximum {
		add("%s is greater than the maximum %s", s.show(path, f), formatNumber(*n.Maximum))
	}
	if n.ExclusiveMinimum != nil && f <= *n.ExclusiveMinimum {
		add("%s must be greater than %s", s.show(path, f), formatNumber(*n.ExclusiveMinimum))
	}
	if n.ExclusiveMaximum != nil && f >= *n.ExclusiveMaximum {
		add("%s must be less than %s", s.show(path, f), formatNumber(*n.ExclusiveMaximum))
	}
	if n.MultipleOf != nil && *n.MultipleOf > 0 {
		q := f / *n.MultipleOf
		if math.Abs(q-math.Round(q)) > 1e-9 {
			add("%s is not a multiple of %s", s.show(path, f), formatNumber(*n.MultipleOf))
		}
	}
}

func validateObject(s *Schema, n *Node, obj map[string]any, path string, chain []*Node, out *[]Violation) {
	for _, name := range n.Required {
		if _, ok := obj[name]; !ok {
			*out = append(*out, Violation{Path: childPath(path, name), Message: "required property is missing"})
		}
	}
	for _, name := range sortedKeys(n.Dependencies) {
		if _, ok := obj[name]; !ok {
			continue
		}
		for _, dep := range n.Dependencies[name] {
			if _, ok := obj[dep]; !ok {
				*out = append(*out, Violation{Path: childPath(path, dep), Message: fmt.Sprintf("required property is missing (%s is set)", name)})
			}
		}
	}
	for _, name := range sortedKeys(n.DependentSchemas) {
		if _, ok := obj[name]; ok {
			validateNode(s, n.DependentSchemas[name], obj, path, chain, out)
		}
	}
	if n.MinProperties != nil && len(obj) < *n.MinProperties {
		*out = append(*out, Violation{Path: displayPath(path), Message: fmt.Sprintf("%d properties, at least %d required", len(obj), *n.MinProperties)})
	}
	if n.MaxProperties != nil && len(obj) > *n.MaxProperties {
		*out = append(*out, Violation{Path: displayPath(path), Message: fmt.Sprintf("%d properties, at most %d allowed", len(obj), *n.MaxProperties)})
	}
	for name, val := range obj {
		p := childPath(path, name)
		known := false
		if c, ok := n.Properties[name]; ok {
			known = true
			validateNode(s, c, val, p, nil, out)
		}
		for pat, c := range n.PatternProperties {
			ok, err := compilePattern(pat).match(name)
			if err != nil {
				*out = append(*out, Violation{Path: p, Message: fmt.Sprintf("cannot check property name pattern %s: %v", pat, err)})
				continue
			}
			if ok {
				known = true
				validateNode(s, c, val, p, nil, out)
			}
		}
		if !known && !n.AdditionalProperties {
			*out = append(*out, Violation{Path: displayPath(path), Message: fmt.Sprintf("unknown property %q (%s)", name, allowedProperties(n))})
		}
	}
}

// allowedProperties says which property names an object node accepts.
func allowedProperties(n *Node) string {
	var parts []string
	if names := n.PropertyNames(); len(names) > 0 {
		parts = append(parts, strings.Join(names, ", "))
	}
	if len(n.PatternProperties) > 0 {
		parts = append(parts, "names matching "+strings.Join(sortedKeys(n.PatternProperties), " or "))
	}
	if len(parts) == 0 {
		return "no properties allowed"
	}
	return "allowed: " + strings.Join(parts, ", and ")
}

func validateArray(s *Schema, n *Node, arr []any, path string, out *[]Violation) {
	if n.MinItems != nil && len(arr) < *n.MinItems {
		*out = append(*out, Violation{Path: displayPath(path), Message: fmt.Sprintf("%d items, at least %d required", len(arr), *n.MinItems)})
	}
	if n.MaxItems != nil && len(arr) > *n.MaxItems {
		// An array over its bound is refused as it is: checking the
		// uniqueness and the items of a hostile array of a million
		// elements would cost time for nothing.
		*out = append(*out, Violation{Path: displayPath(path), Message: fmt.Sprintf("%d items, at most %d allowed", len(arr), *n.MaxItems)})
		return
	}
	if n.UniqueItems {
		if i, j, dup := firstDuplicate(arr); dup {
			*out = append(*out, Violation{Path: displayPath(path), Message: fmt.Sprintf("items %d and %d are equal; items must be unique", i, j)})
		}
	}
	if n.Items != nil {
		for i, e := range arr {
			validateNode(s, n.Items, e, indexPath(path, i), nil, out)
		}
	}
}

// smallArray is the length up to which comparing every pair is cheaper
// than hashing.
const smallArray = 16

// firstDuplicate finds the equal items (by Equal) with the smallest first
// index i, and the smallest j > i equal to it, in expected linear time:
// beyond smallArray items, items are bucketed by a hash of their canonical encoding (see
// hashCanonical) and compared with Equal only within a bucket.
func firstDuplicate(arr []any) (i, j int, found bool) {
	if len(arr) <= smallArray {
		for i := range arr {
			for j := i + 1; j < len(arr); j++ {
				if Equal(arr[i], arr[j]) {
					return i, j, true
				}
			}
		}
		return 0, 0, false
	}
	var h maphash.Hash // seeded at random on first use; Reset keeps the seed
	// buckets holds, per hash, the indexes of the distinct values met so
	// far (their first occurrences); second[k] is the first later index
	// equal to arr[k].
	buckets := make(map[uint64][]int, len(arr))
	var second map[int]int
	for k, v := range arr {
		h.Reset()
		hashCanonical(&h, v)
		sum := h.Sum64()
		matched := false
		for _, first := range buckets[sum] {
			if Equal(arr[first], v) {
				if second == nil {
					second = map[int]int{}
				}
				if _, ok := second[first]; !ok {
					second[first] = k
				}
				matched = true
				break
			}
		}
		if !matched {
			buckets[sum] = append(buckets[sum], k)
		}
	}
	for first, later := range second {
		if !found || first < i {
			i, j, found = first, later, true
		}
	}
	return i, j, found
}

// hashCanonical writes a canonical encoding of the model value v to h, such
// that values Equal reports equal write the same bytes: numbers by value
// whatever their Go type (1, 1.0 and json.Number("1") alike, -0 as 0),
// objects with their members in key order, arrays in order.
func hashCanonical(h *maphash.Hash, v any) {
	v = canonical(v)
	if f, ok := toFloat(v); ok {
		if f == 0 {
			f = 0 // -0 equals 0
		}
		h.WriteByte('n')
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(f))
		h.Write(b[:])
		return
	}
	switch x := v.(type) {
	case nil:
		h.WriteByte('z')
	case bool:
		if x {
			h.WriteByte('t')
		} else {
			h.WriteByte('f')
		}
	case string:
		writeString(h, 's', x)
	case map[string]any:
		h.WriteByte('{')
		for _, k := range sortedKeys(x) {
			writeString(h, 'k', k)
			hashCanonical(h, x[k])
		}
		h.WriteByte('}')
	case []any:
		h.WriteByte('[')
		for _, e := range x {
			hashCanonical(h, e)
		}
		h.WriteByte(']')
	default:
		// Not a model value: Equal compares such values deeply; they all
		// share one bucket.
		h.WriteByte('?')
	}
}

// writeString writes a tagged, length-prefixed string, so that no two
// sequences of strings encode alike.
func writeString(h *maphash.Hash, tag byte, s string) {
	var b [9]byte
	b[0] = tag
	binary.LittleEndian.PutUint64(b[1:], uint64(len(s)))
	h.Write(b[:])
	h.WriteString(s)
}

// attempt is one alternative of a oneOf or anyOf and what it found.
type attempt struct {
	index      int
	node       *Node
	violations []Violation
	wrongType  bool // failed on the type of the value itself
}

type attempts []attempt

// alternatives checks v against every alternative; ok reports whether at
// least one matched.
func alternatives(s *Schema, alts []*Node, v any, path string, chain []*Node) (tried attempts, ok bool) {
	tried = make(attempts, len(alts))
	for i, alt := range alts {
		var vs []Violation
		validateNode(s, alt, v, path, chain, &vs)
		vs = sortViolations(vs)
		wrong := len(vs) > 0 && vs[0].Path == displayPath(path) && strings.HasPrefix(vs[0].Message, "expected ")
		tried[i] = attempt{index: i, node: alt, violations: vs, wrongType: wrong}
		ok = ok || len(vs) == 0
	}
	return tried, ok
}

func (a attempt) name() string {
	if a.node.Name != "" {
		return fmt.Sprintf("%d (%s)", a.index, a.node.Name)
	}
	return strconv.Itoa(a.index)
}

func (t attempts) matched() []int {
	var m []int
	for i, a := range t {
		if len(a.violations) == 0 {
			m = append(m, i)
		}
	}
	return m
}

func (t attempts) names(idx []int) string {
	parts := make([]string, len(idx))
	for i, j := range idx {
		parts[i] = t[j].name()
	}
	return strings.Join(parts, ", ")
}

// closest explains the failure of the alternative that came nearest: the
// fewest violations, an alternative of the right type before one that
// failed on type, the first among equals.
func (t attempts) closest() string {
	best := 0
	for i, a := range t {
		b := t[best]
		if a.wrongType != b.wrongType {
			if b.wrongType {
				best = i
			}
			continue
		}
		if len(a.violations) < len(b.violations) {
			best = i
		}
	}
	a := t[best]
	const show = 3
	parts := make([]string, 0, show)
	for i, v := range a.violations {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(a.violations)-show))
			break
		}
		parts = append(parts, v.String())
	}
	all := make([]int, len(t))
	for i := range all {
		all[i] = i
	}
	return fmt.Sprintf("tried %s; closest is %s: %s", t.names(all), a.name(), strings.Join(parts, "; "))
}

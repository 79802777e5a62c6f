package gen

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/athanor-dev/athanor/schema"
	"github.com/dlclark/regexp2"
)

// kind is the shape of a Go type in generated code.
type kind int

const (
	kindBasic kind = iota // string, int, float64 or bool
	kindAny               // any: a JSON value of several possible types
	kindNamed             // a generated struct or enum type
	kindSlice             // []elem
	kindMap               // map[string]elem
)

// goType is the Go type of a field.
type goType struct {
	kind  kind
	basic string
	named *namedType
	elem  *goType
	// jsonTypes are the JSON types of a kindAny type that came from a type
	// list, for its doc comment.
	jsonTypes []string
}

func (t *goType) String() string {
	switch t.kind {
	case kindBasic:
		return t.basic
	case kindNamed:
		return t.named.name
	case kindSlice:
		return "[]" + t.elem.String()
	case kindMap:
		return "map[string]" + t.elem.String()
	}
	return "any"
}

// namedType is a generated struct (an object with properties) or enum.
type namedType struct {
	preferred string // name before collisions are resolved
	name      string // final Go name
	node      *schema.Node
	docName   string    // definition or property name, for the doc URL
	owner     *resource // the resource it belongs to; its file holds it
	seq       int       // creation order in the resource, for deterministic tie-breaks

	isEnum    bool
	enumBase  string // "string" or "int"
	values    []enumValue
	ofName    string // the escape-hatch constructor, e.g. JobTemplateActionOf
	listName  string // the function listing the known values, e.g. JobTemplateActionValues
	valueType string // the unexported type of the values, e.g. jobTemplateAction

	fields      []*field
	building    bool
	zeroIllegal bool
}

// enumValue is one known value of an enum type.
type enumValue struct {
	name    string // Go name, e.g. JobTemplateActionCancel
	literal string // Go literal, e.g. "CANCEL"
	raw     string // the value as the registry spells it
}

// field is one field of a generated struct.
type field struct {
	goName   string
	jsonName string
	typ      *goType
	pointer  bool
	omitzero bool
	required bool
	output   bool // a field of an outputs struct
	node     *schema.Node
	// flags are fact sentences about the field beyond its constraints
	// (create-only, write-only, ...).
	flags []string
	// anchor is the fragment of the field's documentation URL.
	anchor string
}

// resource is one registry type being generated.
type resource struct {
	s         *schema.Schema
	service   string // "IoT"
	short     string // "JobTemplate"
	goName    string // "JobTemplate"
	file      string // "jobtemplate.go"
	argsName  string // "JobTemplateArgs"
	newName   string // "NewJobTemplate"
	constName string // "JobTemplateType"
	args      []*field
	outputs   []*field
	// ids are the output fields copied from args: the primary identifier.
	ids       []idCopy
	exclusive []*exclusive
	// ns holds every package-level identifier of the resource: its names,
	// its nested types' and their values'. Names are chosen in it alone,
	// so that other resources cannot move them.
	ns namespace
	// types and order are the resource's named types, by preferred name
	// and shape, and in creation order.
	types map[string]*namedType
	order []*namedType
}

// claim reserves name (or its override, see nameOverrides) in the
// resource's namespace and returns the identifier it gets.
func (r *resource) claim(name string) string {
	if o, ok := nameOverrides[r.s.TypeName][name]; ok {
		name = o
	}
	return r.ns.claim(name)
}

// idCopy copies a primary identifier field from the args to the outputs.
type idCopy struct {
	field   string
	pointer bool
}

// exclusive is an exclusiveGroup resolved against a schema.
type exclusive struct {
	group     exclusiveGroup
	field     *field
	members   []*field // the registry properties, with their types
	jsonAlias string   // unexported name of the Args type without methods
}

// pkgBuilder builds the model of one Go package (one service).
type pkgBuilder struct {
	name      string
	dir       string
	namespace string // registry namespace, "AWS"
	service   string
	resources []*resource
	fps       map[*schema.Node]string
	fpStack   map[*schema.Node]bool
	merged    map[*schema.Node]*schema.Node
	byNode    map[*schema.Node]*namedType
	// expanding holds the list and map nodes whose Go type is being
	// built, to end recursion through them.
	expanding map[*schema.Node]bool
	// decodeOutputs is set when a resource decodes outputs, so that the
	// package's helper is emitted; decodeOutputsAs, convertList and
	// convertMap likewise for the helpers of enum conversions, and
	// decodeProperties for that of typed lookups.
	decodeOutputs, decodeOutputsAs, decodeProperties, convertList, convertMap bool
}

func newPkgBuilder(namespaceName, service string, schemas []*schema.Schema) (*pkgBuilder, error) {
	b := &pkgBuilder{
		name:      packageName(service),
		namespace: namespaceName,
		service:   service,
		fps:       map[*schema.Node]string{},
		fpStack:   map[*schema.Node]bool{},
		merged:    map[*schema.Node]*schema.Node{},
		byNode:    map[*schema.Node]*namedType{},
		expanding: map[*schema.Node]bool{},
	}
	b.dir = b.name
	if namespaceName != "AWS" {
		b.dir = packageName(namespaceName) + "/" + b.name
	}
	files := namespace{"doc": true}
	for _, s := range schemas {
		parts := strings.Split(s.TypeName, "::")
		r := &resource{s: s, service: parts[1], short: parts[2], ns: namespace{}, types: map[string]*namedType{}}
		r.goName = r.claim(exportedName(r.short))
		r.file = files.claim(strings.ToLower(r.goName)) + ".go"
		r.argsName = r.claim(r.goName + "Args")
		r.newName = r.claim("New" + r.goName)
		r.constName = r.claim(r.goName + "Type")
		for _, g := range exclusiveGroupsOf(r.s.TypeName) {
			x := &exclusive{group: g}
			x.group.Interface = r.claim(g.Interface)
			x.group.Members = append([]exclusiveMember(nil), g.Members...)
			for i := range x.group.Members {
				x.group.Members[i].GoType = r.claim(g.Members[i].GoType)
			}
			x.jsonAlias = r.claim(strings.ToLower(r.argsName[:1]) + r.argsName[1:] + "JSON")
			r.exclusive = append(r.exclusive, x)
		}
		b.resources = append(b.resources, r)
	}
	for _, r := range b.resources {
		if err := b.buildResource(r); err != nil {
			return nil, err
		}
	}
	for _, r := range b.resources {
		b.assignNames(r)
	}
	if err := b.checkNames(); err != nil {
		return nil, err
	}
	return b, nil
}

// packageHelpers are the unexported helpers doc.go may declare.
var packageHelpers = []string{"decodeOutput", "decodeOutputAs", "convertList", "convertMap"}

// checkNames fails when two resources of the package chose the same
// identifier. Names are chosen per resource so that no resource can rename
// another's; a clash (AWS::IoT::Thing's constant ThingType against the type
// AWS::IoT::ThingType) is settled once, by hand, in nameOverrides, never by
// renaming whichever came second.
func (b *pkgBuilder) checkNames() error {
	owner := map[string]string{}
	for _, h := range packageHelpers {
		owner[h] = "the package's helpers"
	}
	var errs []string
	for _, r := range b.resources {
		names := make([]string, 0, len(r.ns))
		for n := range r.ns {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if prev, dup := owner[n]; dup {
				errs = append(errs, fmt.Sprintf("identifier %s of %s is also an identifier of %s: add an entry for one of them to nameOverrides in internal/gen/overlay.go", n, r.s.TypeName, prev))
				continue
			}
			owner[n] = r.s.TypeName
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("package %s: %s", b.name, strings.Join(errs, "; "))
	}
	return nil
}

// buildResource builds the args and outputs of one resource.
func (b *pkgBuilder) buildResource(r *resource) error {
	s := r.s
	root := s.Root
	readOnly := topLevel(s.ReadOnly)
	createOnly := topLevel(s.CreateOnly)
	writeOnly := topLevel(s.WriteOnly)
	condCreateOnly := topLevel(s.ConditionalCreateOnly)
	deprecated := topLevel(s.Deprecated)
	primary := topLevel(s.PrimaryIdentifier)

	inGroup := map[string]*exclusive{}
	for _, x := range r.exclusive {
		for _, m := range x.group.Members {
			n, ok := root.Properties[m.Property]
			if !ok {
				return fmt.Errorf("%s: overlay group %s names unknown property %q", s.TypeName, x.group.Field, m.Property)
			}
			if readOnly[m.Property] {
				return fmt.Errorf("%s: overlay group %s names read-only property %q", s.TypeName, x.group.Field, m.Property)
			}
			if _, dup := inGroup[m.Property]; dup {
				return fmt.Errorf("%s: property %q is in two overlay groups", s.TypeName, m.Property)
			}
			inGroup[m.Property] = x
			_ = n
		}
	}

	argNS := namespace{}
	var writable, outs []string
	for _, name := range orderedProperties(root) {
		if readOnly[name] {
			outs = append(outs, name)
			continue
		}
		if _, ok := inGroup[name]; ok {
			continue
		}
		writable = append(writable, name)
	}
	for _, name := range writable {
		n := root.Properties[name]
		gt := b.typeOf(n, exportedName(name), name, r)
		f := b.newField(name, n, gt, root.IsRequired(name), argNS)
		f.anchor = anchor(r, "", name)
		f.flags = propertyFlags(s, name, createOnly, writeOnly, condCreateOnly, deprecated, primary, false)
		r.args = append(r.args, f)
	}
	for _, x := range r.exclusive {
		x.field = &field{goName: argNS.claim(x.group.Field), typ: &goType{kind: kindAny}}
		for _, m := range x.group.Members {
			n := root.Properties[m.Property]
			gt := b.typeOf(n, exportedName(m.Property), m.Property, r)
			if gt.kind != kindBasic {
				return fmt.Errorf("%s: overlay group %s: property %q is not a string, number or boolean", s.TypeName, x.group.Field, m.Property)
			}
			mf := &field{goName: m.GoType, jsonName: m.Property, typ: gt, node: n, required: root.IsRequired(m.Property)}
			mf.anchor = anchor(r, "", m.Property)
			mf.flags = propertyFlags(s, m.Property, createOnly, writeOnly, condCreateOnly, deprecated, primary, false)
			x.members = append(x.members, mf)
		}
	}

	outNS := namespace{"Resource": true}
	seen := map[string]bool{}
	for _, name := range outs {
		n := root.Properties[name]
		gt := b.typeOf(n, exportedName(name), name, r)
		f := &field{goName: outNS.claim(exportedName(name)), jsonName: name, typ: gt, node: n, omitzero: true, output: true}
		f.anchor = anchor(r, "", name)
		f.flags = propertyFlags(s, name, createOnly, writeOnly, condCreateOnly, deprecated, primary, true)
		r.outputs = append(r.outputs, f)
		seen[name] = true
	}
	// The primary identifier is an output too, copied from the args when
	// the program chose it.
	for _, p := range s.PrimaryIdentifier {
		name, ok := strings.CutPrefix(p, "/properties/")
		if !ok || strings.Contains(name, "/") || seen[name] {
			continue
		}
		for _, af := range r.args {
			if af.jsonName != name {
				continue
			}
			f := &field{goName: outNS.claim(af.goName), jsonName: name, typ: af.typ, node: af.node, omitzero: true, output: true, anchor: af.anchor}
			f.flags = []string{"Primary identifier, as declared."}
			r.outputs = append(r.outputs, f)
			r.ids = append(r.ids, idCopy{field: f.goName, pointer: af.pointer})
			seen[name] = true
		}
	}
	if len(r.outputs) > 0 {
		b.decodeOutputs = true
	}
	return nil
}

// orderedProperties returns an object's property names: required ones
// first, then the others, each group sorted.
func orderedProperties(n *schema.Node) []string {
	names := n.PropertyNames()
	sort.SliceStable(names, func(i, j int) bool {
		ri, rj := n.IsRequired(names[i]), n.IsRequired(names[j])
		return ri && !rj
	})
	return names
}

// topLevel returns the top-level property names of a list of registry
// property pointers ("/properties/X").
func topLevel(pointers []string) map[string]bool {
	out := map[string]bool{}
	for _, p := range pointers {
		if name, ok := strings.CutPrefix(p, "/properties/"); ok && !strings.Contains(name, "/") {
			out[name] = true
		}
	}
	return out
}

// nested returns the members of property name that pointers list, as
// paths relative to the property ("CriteriaList/*/Action").
func nested(pointers []string, name string) []string {
	var out []string
	for _, p := range pointers {
		if rest, ok := strings.CutPrefix(p, "/properties/"+name+"/"); ok {
			out = append(out, strings.ReplaceAll(rest, "properties/", ""))
		}
	}
	sort.Strings(out)
	return out
}

// propertyFlags states what the registry says about a top-level property
// beyond its value constraints.
func propertyFlags(s *schema.Schema, name string, createOnly, writeOnly, condCreateOnly, deprecated, primary map[string]bool, output bool) []string {
	var out []string
	if primary[name] {
		out = append(out, "Primary identifier.")
	}
	if output {
		out = append(out, "Read-only: set by the service.")
	}
	if createOnly[name] {
		out = append(out, "Create-only: changing it replaces the resource.")
	} else if m := nested(s.CreateOnly, name); len(m) > 0 {
		out = append(out, "Create-only members (changing them replaces the resource): "+strings.Join(m, ", ")+".")
	}
	if condCreateOnly[name] {
		out = append(out, "Conditionally create-only: changing it may replace the resource.")
	}
	if writeOnly[name] {
		out = append(out, "Write-only: never returned by reads; kept in state.")
	} else if m := nested(s.WriteOnly, name); len(m) > 0 {
		out = append(out, "Write-only members (never returned by reads; kept in state): "+strings.Join(m, ", ")+".")
	}
	if m := nested(s.ReadOnly, name); len(m) > 0 && !output {
		out = append(out, "Read-only members (set by the service; leave them unset): "+strings.Join(m, ", ")+".")
	}
	if deprecated[name] {
		out = append(out, "Deprecated: the registry schema marks this property deprecated.")
	}
	return out
}

// newField decides how a property is held: a value, a value that is
// omitted when zero, or a pointer.
func (b *pkgBuilder) newField(name string, n *schema.Node, gt *goType, required bool, ns namespace) *field {
	f := &field{goName: ns.claim(exportedName(name)), jsonName: name, typ: gt, node: n, required: required}
	switch {
	case gt.kind == kindNamed && gt.named.building:
		// A reference back into a type being built: a pointer breaks the
		// recursion.
		f.pointer, f.omitzero = true, true
	case gt.kind == kindSlice || gt.kind == kindMap || gt.kind == kindAny:
		// nil means unset; an empty non-nil value is sent as given.
		f.omitzero = true
	case gt.kind == kindNamed && gt.named.isEnum:
		// An enum is an interface: nil means unset, and every value,
		// the empty one included, is sent.
		f.omitzero = true
	case required:
		f.omitzero = b.zeroIllegal(n, gt)
	case b.zeroIllegal(n, gt):
		f.omitzero = true
	default:
		f.pointer, f.omitzero = true, true
	}
	return f
}

// reaches reports whether the object type of node from holds, as a
// member or a member's member (not through lists or maps, whose elements
// Go allocates apart), an object of node to's type.
func (b *pkgBuilder) reaches(from, to *schema.Node, seen map[*schema.Node]bool) bool {
	from = b.effective(from)
	if seen[from] || jsonType(from) != "object" || len(from.Properties) == 0 {
		return false
	}
	if from == b.effective(to) {
		return true
	}
	seen[from] = true
	for _, name := range from.PropertyNames() {
		if b.reaches(from.Properties[name], to, seen) {
			return true
		}
	}
	return false
}

// zeroIllegal reports whether the schema rejects the zero value of the Go
// type a node maps to, so that zero can stand for "unset".
func (b *pkgBuilder) zeroIllegal(n *schema.Node, gt *goType) bool {
	switch gt.kind {
	case kindNamed:
		t := gt.named
		if t.isEnum {
			// The zero value, nil, is never sent.
			return true
		}
		return !t.building && t.zeroIllegal
	case kindBasic:
		switch gt.basic {
		case "string":
			if n.MinLength != nil && *n.MinLength >= 1 {
				return true
			}
			if n.HasConst {
				if s, ok := n.Const.(string); ok && s != "" {
					return true
				}
			}
			if len(n.Enum) > 0 && !containsValue(n.Enum, "") {
				return true
			}
			return n.Pattern != "" && patternRejectsEmpty(n.Pattern)
		case "int", "float64":
			if len(n.Enum) > 0 && !containsValue(n.Enum, 0.0) {
				return true
			}
			return (n.Minimum != nil && *n.Minimum > 0) ||
				(n.Maximum != nil && *n.Maximum < 0) ||
				(n.ExclusiveMinimum != nil && *n.ExclusiveMinimum >= 0) ||
				(n.ExclusiveMaximum != nil && *n.ExclusiveMaximum <= 0)
		}
	}
	return false
}

func containsValue(list []any, v any) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// patternRejectsEmpty reports whether a registry pattern (ECMAScript,
// unanchored) fails to match the empty string. A pattern that no engine
// compiles is taken to accept it.
func patternRejectsEmpty(p string) bool {
	if re, err := regexp.Compile(p); err == nil {
		return !re.MatchString("")
	}
	for _, opt := range []regexp2.RegexOptions{regexp2.ECMAScript, regexp2.None} {
		if re, err := regexp2.Compile(p, opt); err == nil {
			ok, err := re.MatchString("")
			return err == nil && !ok
		}
	}
	return false
}

// jsonType is the single JSON type a node's Go type is built from:
// "string", "integer", "number", "boolean", "array", "object", or "any".
func jsonType(n *schema.Node) string {
	var types []string
	for _, t := range n.Types {
		if t != "null" {
			types = append(types, t)
		}
	}
	switch {
	case len(types) == 1:
		return types[0]
	case len(types) == 2 && (types[0] == "integer" && types[1] == "number" || types[0] == "number" && types[1] == "integer"):
		return "number"
	case len(types) > 1:
		return "any"
	case len(n.Properties) > 0 || len(n.PatternProperties) > 0:
		return "object"
	case n.Items != nil:
		return "array"
	case len(n.Enum) > 0 && allStrings(n.Enum):
		return "string"
	}
	return "any"
}

func allStrings(list []any) bool {
	for _, v := range list {
		if _, ok := v.(string); !ok {
			return false
		}
	}
	return true
}

func allIntegers(list []any) bool {
	for _, v := range list {
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return false
		}
	}
	return true
}

// maxContainerDepth bounds how many list and map levels one field's Go
// type nests before its elements become any. Registry schemas nest at most
// a few; without a bound, a chain of array definitions referencing each
// other makes every field that uses it spell out the whole chain, so the
// generated code grows with the product of the chain's length and the
// number of its uses.
const maxContainerDepth = 8

// maxPreferredName bounds the preferred name of a nested type. Such a name
// is its parent's name followed by the property name, so a chain of
// objects that are not named definitions (reached through references such
// as "#/properties/A") would otherwise give names, and generated code,
// quadratic in the chain's length. Past the bound, a nested type is
// preferably named after its property alone; collisions are resolved as
// for any name.
const maxPreferredName = 128

// nestedName is the preferred name of the type of property name of a type
// preferably named pref.
func nestedName(pref, name string) string {
	if n := pref + exportedName(name); len(n) <= maxPreferredName {
		return n
	}
	return exportedName(name)
}

// typeOf maps a schema node to a Go type, creating named types for
// objects with properties and for enums. pref is the name a new type
// takes when the node is not a named definition; prop is the property
// name, for documentation links.
func (b *pkgBuilder) typeOf(n *schema.Node, pref, prop string, r *resource) *goType {
	return b.containerType(n, pref, prop, r, 0)
}

// containerType is typeOf for a node found depth list or map levels deep
// in a field's type. A list or map that contains itself (an array whose
// items are a reference to the array, a map whose values are) has no Go
// type but any, as has one nested deeper than maxContainerDepth.
func (b *pkgBuilder) containerType(n *schema.Node, pref, prop string, r *resource, depth int) *goType {
	if n == nil {
		return &goType{kind: kindAny}
	}
	n = b.effective(n)
	switch jt := jsonType(n); {
	case jt == "array" || (jt == "object" && len(n.Properties) == 0):
		if b.expanding[n] || depth >= maxContainerDepth {
			return &goType{kind: kindAny}
		}
		b.expanding[n] = true
		defer delete(b.expanding, n)
	}
	switch jsonType(n) {
	case "string":
		if len(n.Enum) > 0 && allStrings(n.Enum) {
			return &goType{kind: kindNamed, named: b.named(n, pref, prop, r, "string")}
		}
		return &goType{kind: kindBasic, basic: "string"}
	case "integer":
		if len(n.Enum) > 0 && allIntegers(n.Enum) {
			return &goType{kind: kindNamed, named: b.named(n, pref, prop, r, "int")}
		}
		return &goType{kind: kindBasic, basic: "int"}
	case "number":
		return &goType{kind: kindBasic, basic: "float64"}
	case "boolean":
		return &goType{kind: kindBasic, basic: "bool"}
	case "array":
		return &goType{kind: kindSlice, elem: b.containerType(n.Items, pref, prop, r, depth+1)}
	case "object":
		if len(n.Properties) > 0 {
			return &goType{kind: kindNamed, named: b.named(n, pref, prop, r, "")}
		}
		return &goType{kind: kindMap, elem: b.mapValue(n, pref, prop, r, depth)}
	}
	t := &goType{kind: kindAny}
	for _, x := range n.Types {
		if x != "null" {
			t.jsonTypes = append(t.jsonTypes, x)
		}
	}
	return t
}

// mapValue is the element type of a free-form object: the type of its
// pattern properties when they agree, else any.
func (b *pkgBuilder) mapValue(n *schema.Node, pref, prop string, r *resource, depth int) *goType {
	if len(n.PatternProperties) == 0 {
		return &goType{kind: kindAny}
	}
	pats := make([]string, 0, len(n.PatternProperties))
	for p := range n.PatternProperties {
		pats = append(pats, p)
	}
	sort.Strings(pats)
	first := n.PatternProperties[pats[0]]
	for _, p := range pats[1:] {
		if b.fingerprint(n.PatternProperties[p]) != b.fingerprint(first) {
			return &goType{kind: kindAny}
		}
	}
	return b.containerType(first, pref, prop, r, depth+1)
}

// named returns the named type for a node, creating it on first sight. A
// type is identified by its resource, its preferred name and its shape, so
// identical definitions reached by several paths of one resource become
// one type; resources never share types, so that each one's names are its
// own.
func (b *pkgBuilder) named(n *schema.Node, pref, prop string, r *resource, enumBase string) *namedType {
	// A node seen before is the same type, whatever path reached it: this
	// also ends recursion through nodes that are not named definitions.
	if t, ok := b.byNode[n]; ok && t.owner == r {
		return t
	}
	docName := prop
	if n.Name != "" {
		pref, docName = exportedName(n.Name), n.Name
	}
	key := pref + "\x00" + b.fingerprint(n)
	if t, ok := r.types[key]; ok {
		b.byNode[n] = t
		return t
	}
	t := &namedType{
		preferred: pref,
		node:      n,
		docName:   docName,
		owner:     r,
		seq:       len(r.order),
	}
	r.types[key] = t
	b.byNode[n] = t
	r.order = append(r.order, t)
	if enumBase != "" {
		t.isEnum, t.enumBase = true, enumBase
		seen := map[string]bool{}
		for _, v := range n.Enum {
			raw := fmt.Sprint(v)
			lit := strconv.Quote(raw)
			if enumBase == "int" {
				raw = strconv.FormatInt(int64(v.(float64)), 10)
				lit = raw
			}
			if seen[raw] {
				continue
			}
			seen[raw] = true
			t.values = append(t.values, enumValue{raw: raw, literal: lit})
		}
		return t
	}
	t.building = true
	ns := namespace{}
	for _, name := range orderedProperties(n) {
		c := n.Properties[name]
		gt := b.typeOf(c, nestedName(pref, name), name, r)
		f := b.newField(name, c, gt, n.IsRequired(name), ns)
		if gt.kind == kindNamed && !gt.named.isEnum && b.reaches(c, n, map[*schema.Node]bool{}) {
			// The member's type holds this one: a pointer ends the
			// recursion, whichever of the two was reached first.
			f.pointer, f.omitzero = true, true
		}
		f.anchor = anchor(r, docName, name)
		t.fields = append(t.fields, f)
	}
	t.building = false
	marshalled := 0
	for _, f := range t.fields {
		if f.required && f.omitzero {
			t.zeroIllegal = true
		}
		if !f.omitzero {
			marshalled++
		}
	}
	if n.MinProperties != nil && marshalled < *n.MinProperties {
		t.zeroIllegal = true
	}
	return t
}

// fingerprint hashes everything about a node that shapes its generated
// code, so that equal fingerprints mean interchangeable types.
func (b *pkgBuilder) fingerprint(n *schema.Node) string {
	if n == nil {
		return "nil"
	}
	if f, ok := b.fps[n]; ok {
		return f
	}
	if b.fpStack[n] {
		return "cycle:" + n.Name
	}
	b.fpStack[n] = true
	h := sha256.New()
	w := func(label string, v ...any) {
		fmt.Fprintf(h, "%s=%v;", label, fmt.Sprint(v...))
	}
	w("name", n.Name)
	w("types", strings.Join(n.Types, ","))
	w("ap", n.AdditionalProperties)
	req := append([]string(nil), n.Required...)
	sort.Strings(req)
	w("req", strings.Join(req, ","))
	w("minp", ip(n.MinProperties), "maxp", ip(n.MaxProperties))
	w("mini", ip(n.MinItems), "maxi", ip(n.MaxItems), "uniq", n.UniqueItems, "io", n.InsertionOrder)
	w("enum", fmt.Sprintf("%#v", n.Enum))
	w("const", n.HasConst, fmt.Sprintf("%#v", n.Const))
	w("default", n.HasDefault, fmt.Sprintf("%#v", n.Default))
	w("pattern", n.Pattern, "format", n.Format)
	w("len", ip(n.MinLength), ip(n.MaxLength))
	w("num", fp(n.Minimum), fp(n.Maximum), fp(n.ExclusiveMinimum), fp(n.ExclusiveMaximum), fp(n.MultipleOf))
	for _, name := range n.PropertyNames() {
		w("prop", name, b.fingerprint(n.Properties[name]))
	}
	pats := make([]string, 0, len(n.PatternProperties))
	for p := range n.PatternProperties {
		pats = append(pats, p)
	}
	sort.Strings(pats)
	for _, p := range pats {
		w("pat", p, b.fingerprint(n.PatternProperties[p]))
	}
	w("items", b.fingerprint(n.Items))
	delete(b.fpStack, n)
	f := hex.EncodeToString(h.Sum(nil))
	b.fps[n] = f
	return f
}

func ip(p *int) string {
	if p == nil {
		return "-"
	}
	return strconv.Itoa(*p)
}

func fp(p *float64) string {
	if p == nil {
		return "-"
	}
	return formatNumber(*p)
}

func formatNumber(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// assignNames gives every named type of a resource its final Go name: the
// resource's name followed by the preferred name (JobTemplate +
// AbortConfig), or the preferred name alone when it already starts with
// the resource's name as a word (LogGroup's LogGroupClass). Names are
// claimed in the resource's own namespace, in the order of preferred name
// then creation; a name of the resource itself takes the suffix Property,
// and any other collision inside the resource the smallest free numeric
// suffix. Enum values and helpers are named after their
// types.
func (b *pkgBuilder) assignNames(r *resource) {
	ts := append([]*namedType(nil), r.order...)
	sort.SliceStable(ts, func(i, j int) bool {
		if ts[i].preferred != ts[j].preferred {
			return ts[i].preferred < ts[j].preferred
		}
		return ts[i].seq < ts[j].seq
	})
	// Names taken so far are the resource's own (R, RArgs, NewR, RType,
	// overlay names): a nested type named like one takes the suffix
	// Property (the property Type of AWS::IoT::Dimension is
	// DimensionTypeProperty).
	own := map[string]bool{}
	for n := range r.ns {
		own[n] = true
	}
	for _, t := range ts {
		name := scopedName(r.goName, t.preferred)
		if own[name] {
			name += "Property"
		}
		t.name = r.claim(name)
	}
	var enums []*namedType
	for _, t := range ts {
		if t.isEnum {
			enums = append(enums, t)
		}
	}
	sort.Slice(enums, func(i, j int) bool { return enums[i].name < enums[j].name })
	for _, t := range enums {
		t.ofName = r.claim(t.name + "Of")
		t.listName = r.claim(t.name + "Values")
		t.valueType = r.claim(strings.ToLower(t.name[:1]) + t.name[1:])
	}
	for _, t := range enums {
		for i := range t.values {
			suffix := enumValueName(t.values[i].raw)
			switch {
			case t.values[i].raw == "":
				suffix = "Empty"
			case suffix == "":
				suffix = "Value" + strconv.Itoa(i+1)
			}
			t.values[i].name = r.claim(t.name + suffix)
		}
	}
}

// scopedName is the name of a nested type preferably named pref in the
// resource named res.
func scopedName(res, pref string) string {
	if rest, ok := strings.CutPrefix(pref, res); ok && rest != "" && (unicode.IsUpper(rune(rest[0])) || unicode.IsDigit(rune(rest[0]))) {
		return pref
	}
	return res + pref
}

// anchor returns the fragment of a property's documentation URL:
// "#cfn-iot-jobtemplate-jobtemplateid" for a resource property,
// "#cfn-iot-jobtemplate-abortcriteria-action" for a property type's member.
func anchor(r *resource, docName, prop string) string {
	parts := []string{"cfn", r.service, r.short}
	if docName != "" {
		parts = append(parts, docName)
	}
	parts = append(parts, prop)
	return "#" + strings.ToLower(strings.Join(parts, "-"))
}

// resourceURL is the documentation page of a resource type.
func resourceURL(r *resource) string {
	return docBase + strings.ToLower("aws-resource-"+r.service+"-"+r.short) + ".html"
}

// propertyTypeURL is the documentation page of a property type.
func propertyTypeURL(r *resource, docName string) string {
	return docBase + strings.ToLower("aws-properties-"+r.service+"-"+r.short+"-"+docName) + ".html"
}

const docBase = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"

// effective returns the node a Go type is built from. An object whose
// members are spread over oneOf, anyOf or allOf alternatives (or a node
// without a type whose alternatives are all objects) becomes one object
// holding the members of every alternative; members required by every
// allOf alternative stay required. Which combinations are valid is left to
// validation; the struct's doc comment lists the alternatives.
func (b *pkgBuilder) effective(n *schema.Node) *schema.Node {
	if m, ok := b.merged[n]; ok {
		return m
	}
	b.merged[n] = n // until proven otherwise; also stops recursion
	branches := append(append(append([]*schema.Node(nil), n.OneOf...), n.AnyOf...), n.AllOf...)
	if len(branches) == 0 {
		return n
	}
	jt := jsonType(n)
	if jt != "object" && !(jt == "any" && len(n.Types) == 0) {
		return n
	}
	if len(n.PatternProperties) > 0 {
		return n
	}
	for _, br := range branches {
		if br == n || jsonType(br) != "object" || len(br.PatternProperties) > 0 {
			return n
		}
	}
	m := *n
	m.Types = []string{"object"}
	m.Properties = map[string]*schema.Node{}
	for k, v := range n.Properties {
		m.Properties[k] = v
	}
	added := false
	for _, br := range branches {
		for k, v := range br.Properties {
			if _, ok := m.Properties[k]; !ok {
				m.Properties[k] = v
				added = true
			}
		}
	}
	if !added {
		return n
	}
	m.Required = append([]string(nil), n.Required...)
	for _, br := range n.AllOf {
		m.Required = append(m.Required, br.Required...)
	}
	b.merged[n] = &m
	b.merged[&m] = &m
	return &m
}

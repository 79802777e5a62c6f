// Package schema models CloudFormation registry resource schemas: the
// documents that describe every resource type Cloud Control can manage.
//
// A Schema knows a type's properties and their constraints (JSON Schema
// draft-07 with "definitions" and "$ref"), which properties are create-only,
// read-only or write-only, how a resource is identified, which handlers the
// type has and how it is tagged. On top of that model the package validates
// desired states, classifies property paths, computes the change between two
// desired states (none, an in-place RFC 6902 patch, or a replacement) and
// compares a live read with a recorded state (drift).
//
// Models are the values encoding/json produces when decoding into any:
// map[string]any, []any, string, float64, bool and nil. json.Number and Go
// integer types are accepted too.
package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Schema is one parsed registry resource schema.
type Schema struct {
	// TypeName is the resource type, for example "AWS::IoT::JobTemplate".
	TypeName string
	// DocumentationURL links the type's documentation, where the schema has one.
	DocumentationURL string
	// Root is the resource's top-level object node.
	Root *Node
	// Definitions holds the schema's named definitions, by name.
	Definitions map[string]*Node

	// PrimaryIdentifier lists the property pointers ("/properties/X") whose
	// values identify a resource, in order.
	PrimaryIdentifier []string
	// AdditionalIdentifiers lists other sets of identifying properties.
	AdditionalIdentifiers [][]string
	// CreateOnly, ReadOnly and WriteOnly list property pointers in the
	// registry's form: "/properties/A/B", with "*" for any array element.
	CreateOnly []string
	ReadOnly   []string
	WriteOnly  []string
	// ConditionalCreateOnly lists properties whose change may force a
	// replacement depending on the service.
	ConditionalCreateOnly []string
	// Deprecated lists deprecated property pointers.
	Deprecated []string
	// ReplacementStrategy is "create_then_delete" (the default when empty) or
	// "delete_then_create".
	ReplacementStrategy string

	// Handlers tells which operations the type supports.
	Handlers Handlers
	// Tagging describes how the type is tagged.
	Tagging Tagging
}

// Handlers tells which resource handlers a type has.
type Handlers struct {
	Create, Read, Update, Delete, List bool
}

// Tagging describes a type's tagging support.
type Tagging struct {
	Taggable                 bool
	TagOnCreate              bool
	TagUpdatable             bool
	CloudFormationSystemTags bool
	// TagProperty is the pointer of the tag property, e.g. "/properties/Tags".
	TagProperty string
}

// Node is one JSON Schema node with its $ref resolved: a node that was a
// reference is the referenced definition's node itself, so recursive
// definitions form a graph of shared pointers.
type Node struct {
	// Name is the definition name when the node is a named definition.
	Name string
	// Types lists the JSON types allowed ("string", "integer", "number",
	// "boolean", "object", "array", "null"); empty means any.
	Types []string

	Properties        map[string]*Node
	PatternProperties map[string]*Node
	// AdditionalProperties is false when the schema says
	// "additionalProperties": false.
	AdditionalProperties bool
	Required             []string
	MinProperties        *int
	MaxProperties        *int

	Items       *Node
	MinItems    *int
	MaxItems    *int
	UniqueItems bool
	// InsertionOrder is false when the array's order carries no meaning
	// ("insertionOrder": false): such arrays compare as multisets.
	InsertionOrder bool

	Enum             []any
	Const            any
	HasConst         bool
	Pattern          string
	Format           string
	MinLength        *int
	MaxLength        *int
	Minimum          *float64
	Maximum          *float64
	ExclusiveMinimum *float64
	ExclusiveMaximum *float64
	MultipleOf       *float64

	OneOf []*Node
	AnyOf []*Node
	AllOf []*Node

	Default    any
	HasDefault bool
}

// HasType reports whether the node allows the JSON type t. A node that names
// no type allows every type; "number" allows integers too.
func (n *Node) HasType(t string) bool {
	if len(n.Types) == 0 {
		return true
	}
	for _, x := range n.Types {
		if x == t || (x == "number" && t == "integer") {
			return true
		}
	}
	return false
}

// PropertyNames returns the node's property names, sorted.
func (n *Node) PropertyNames() []string {
	names := make([]string, 0, len(n.Properties))
	for k := range n.Properties {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// IsRequired reports whether the object node requires property name.
func (n *Node) IsRequired(name string) bool {
	for _, r := range n.Required {
		if r == name {
			return true
		}
	}
	return false
}

// Parse reads one registry resource schema document.
func Parse(data []byte) (*Schema, error) {
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("schema: decode: %w", err)
	}
	typeName, _ := raw["typeName"].(string)
	if typeName == "" {
		return nil, fmt.Errorf("schema: document has no typeName")
	}
	p := &parser{raw: raw, byPointer: map[string]*Node{}}
	s := &Schema{
		TypeName:              typeName,
		DocumentationURL:      str(raw["documentationUrl"]),
		Definitions:           map[string]*Node{},
		PrimaryIdentifier:     strList(raw["primaryIdentifier"]),
		CreateOnly:            strList(raw["createOnlyProperties"]),
		ReadOnly:              strList(raw["readOnlyProperties"]),
		WriteOnly:             strList(raw["writeOnlyProperties"]),
		ConditionalCreateOnly: strList(raw["conditionalCreateOnlyProperties"]),
		Deprecated:            strList(raw["deprecatedProperties"]),
		ReplacementStrategy:   str(raw["replacementStrategy"]),
	}
	if ai, ok := raw["additionalIdentifiers"].([]any); ok {
		for _, set := range ai {
			s.AdditionalIdentifiers = append(s.AdditionalIdentifiers, strList(set))
		}
	}
	if h, ok := raw["handlers"].(map[string]any); ok {
		_, s.Handlers.Create = h["create"]
		_, s.Handlers.Read = h["read"]
		_, s.Handlers.Update = h["update"]
		_, s.Handlers.Delete = h["delete"]
		_, s.Handlers.List = h["list"]
	}
	if t, ok := raw["tagging"].(map[string]any); ok {
		s.Tagging = Tagging{
			Taggable:                 boolOr(t["taggable"], true),
			TagOnCreate:              boolOr(t["tagOnCreate"], true),
			TagUpdatable:             boolOr(t["tagUpdatable"], true),
			CloudFormationSystemTags: boolOr(t["cloudFormationSystemTags"], true),
			TagProperty:              str(t["tagProperty"]),
		}
		if s.Tagging.TagProperty == "" && s.Tagging.Taggable {
			s.Tagging.TagProperty = "/properties/Tags"
		}
	} else if v, ok := raw["taggable"].(bool); ok && v {
		s.Tagging = Tagging{Taggable: true, TagOnCreate: true, TagUpdatable: true, TagProperty: "/properties/Tags"}
	}
	if defs, ok := raw["definitions"].(map[string]any); ok {
		for name := range defs {
			n, err := p.resolve("#/definitions/" + escapePointer(name))
			if err != nil {
				return nil, fmt.Errorf("schema %s: %w", typeName, err)
			}
			s.Definitions[name] = n
		}
	}
	root, err := p.node(raw, "#")
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", typeName, err)
	}
	s.Root = root
	return s, nil
}

type parser struct {
	raw       map[string]any
	byPointer map[string]*Node
}

// resolve returns the node at a local JSON pointer reference ("#/a/b"),
// allocating it before filling it so that recursive references terminate.
func (p *parser) resolve(ref string) (*Node, error) {
	if n, ok := p.byPointer[ref]; ok {
		return n, nil
	}
	if !strings.HasPrefix(ref, "#") {
		return nil, fmt.Errorf("unsupported $ref %q: only local references are allowed", ref)
	}
	var cur any = p.raw
	if ptr := strings.TrimPrefix(ref, "#"); ptr != "" {
		for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
			tok = unescapePointer(tok)
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("unresolvable $ref %q", ref)
			}
			if cur, ok = m[tok]; !ok {
				return nil, fmt.Errorf("unresolvable $ref %q", ref)
			}
		}
	}
	obj, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %q does not point at a schema object", ref)
	}
	n := &Node{}
	p.byPointer[ref] = n
	if strings.HasPrefix(ref, "#/definitions/") && strings.Count(ref, "/") == 2 {
		n.Name = unescapePointer(strings.TrimPrefix(ref, "#/definitions/"))
	}
	if err := p.fill(n, obj, ref); err != nil {
		return nil, err
	}
	return n, nil
}

// node parses a schema object found inline at location loc.
func (p *parser) node(v any, loc string) (*Node, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		if b, isBool := v.(bool); isBool {
			// Boolean schemas: true allows anything, false nothing.
			if b {
				return &Node{AdditionalProperties: true, InsertionOrder: true}, nil
			}
			return &Node{Types: []string{}, Enum: []any{}, AdditionalProperties: true, InsertionOrder: true}, nil
		}
		return nil, fmt.Errorf("%s: schema must be an object", loc)
	}
	if ref, ok := obj["$ref"].(string); ok {
		// draft-07: keywords beside $ref are ignored.
		return p.resolve(ref)
	}
	if loc == "#" {
		if n, ok := p.byPointer["#"]; ok {
			return n, nil
		}
	}
	n := &Node{}
	if loc == "#" {
		p.byPointer["#"] = n
	}
	if err := p.fill(n, obj, loc); err != nil {
		return nil, err
	}
	return n, nil
}

func (p *parser) fill(n *Node, obj map[string]any, loc string) error {
	if ref, ok := obj["$ref"].(string); ok {
		target, err := p.resolve(ref)
		if err != nil {
			return err
		}
		name := n.Name
		*n = *target
		if name != "" {
			n.Name = name
		}
		return nil
	}
	n.AdditionalProperties = true
	n.InsertionOrder = true
	switch t := obj["type"].(type) {
	case string:
		n.Types = []string{t}
	case []any:
		n.Types = strList(t)
	}
	if ap, ok := obj["additionalProperties"].(bool); ok {
		n.AdditionalProperties = ap
	}
	if io, ok := obj["insertionOrder"].(bool); ok {
		n.InsertionOrder = io
	}
	if u, ok := obj["uniqueItems"].(bool); ok {
		n.UniqueItems = u
	}
	n.Required = strList(obj["required"])
	n.Pattern = str(obj["pattern"])
	n.Format = str(obj["format"])
	n.MinLength = intPtr(obj["minLength"])
	n.MaxLength = intPtr(obj["maxLength"])
	n.MinItems = intPtr(obj["minItems"])
	n.MaxItems = intPtr(obj["maxItems"])
	n.MinProperties = intPtr(obj["minProperties"])
	n.MaxProperties = intPtr(obj["maxProperties"])
	n.Minimum = floatPtr(obj["minimum"])
	n.Maximum = floatPtr(obj["maximum"])
	n.ExclusiveMinimum = floatPtr(obj["exclusiveMinimum"])
	n.ExclusiveMaximum = floatPtr(obj["exclusiveMaximum"])
	n.MultipleOf = floatPtr(obj["multipleOf"])
	if e, ok := obj["enum"].([]any); ok {
		n.Enum = make([]any, len(e))
		for i, v := range e {
			n.Enum[i] = normalize(v)
		}
	}
	if c, ok := obj["const"]; ok {
		n.Const, n.HasConst = normalize(c), true
	}
	if d, ok := obj["default"]; ok {
		n.Default, n.HasDefault = normalize(d), true
	}
	if props, ok := obj["properties"].(map[string]any); ok {
		n.Properties = make(map[string]*Node, len(props))
		for name, v := range props {
			c, err := p.node(v, loc+"/properties/"+escapePointer(name))
			if err != nil {
				return err
			}
			n.Properties[name] = c
		}
	}
	if pp, ok := obj["patternProperties"].(map[string]any); ok {
		n.PatternProperties = make(map[string]*Node, len(pp))
		for pat, v := range pp {
			c, err := p.node(v, loc+"/patternProperties/"+escapePointer(pat))
			if err != nil {
				return err
			}
			n.PatternProperties[pat] = c
		}
	}
	if it, ok := obj["items"]; ok {
		if arr, isArr := it.([]any); isArr {
			// Tuple form: treat the first schema as the element schema.
			if len(arr) > 0 {
				c, err := p.node(arr[0], loc+"/items/0")
				if err != nil {
					return err
				}
				n.Items = c
			}
		} else {
			c, err := p.node(it, loc+"/items")
			if err != nil {
				return err
			}
			n.Items = c
		}
	}
	for _, kw := range []struct {
		key string
		dst *[]*Node
	}{{"oneOf", &n.OneOf}, {"anyOf", &n.AnyOf}, {"allOf", &n.AllOf}} {
		list, ok := obj[kw.key].([]any)
		if !ok {
			continue
		}
		for i, v := range list {
			c, err := p.node(v, fmt.Sprintf("%s/%s/%d", loc, kw.key, i))
			if err != nil {
				return err
			}
			*kw.dst = append(*kw.dst, c)
		}
	}
	return nil
}

// normalize turns json.Number values into float64 so that parsed schema
// constants compare with decoded models.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strList(v any) []string {
	list, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func boolOr(v any, def bool) bool {
	if b, ok := v.(bool); ok {
		return b
	}
	return def
}

func intPtr(v any) *int {
	f := floatPtr(v)
	if f == nil {
		return nil
	}
	i := int(*f)
	return &i
}

func floatPtr(v any) *float64 {
	n, ok := v.(json.Number)
	if !ok {
		return nil
	}
	f, err := n.Float64()
	if err != nil {
		return nil
	}
	return &f
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unescapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

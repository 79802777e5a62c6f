package gen

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/athanor-dev/athanor/schema"
)

// Declaration is one resource of a program that Program writes: a typed
// constructor call of the resource's package declaring Props.
type Declaration struct {
	// LogicalID is the resource's logical id in the program.
	LogicalID string
	// Schema is the resource's registry schema.
	Schema *schema.Schema
	// Props is the desired state to declare: the resource's writable
	// properties as a model (JSON values: string, float64, bool, []any,
	// map[string]any).
	Props map[string]any
	// Comment, when set, is written above the declaration.
	Comment string
	// Missing names write-only properties (model paths, "/JobArn") whose
	// values could not be recovered: the program says so at the field and
	// declares no value for them.
	Missing map[string]string
}

// Program is the source of a program declaring resources.
type Program struct {
	// Source is the gofmt-formatted Go file.
	Source []byte
	// Declared holds, per declaration in order, the model the program's
	// declaration sends (what the engine sees): Props as the typed
	// packages encode it. A value the typed field cannot carry (a zero
	// value of a field that omits zero) is absent from it, with a note in
	// the source.
	Declared []map[string]any
}

// ProgramOptions shape a program.
type ProgramOptions struct {
	// App is the name passed to athanor.Main.
	App string
	// Header holds comment paragraphs written above the package clause.
	Header []string
	// Packages is the import path under which the typed packages are
	// (default "github.com/athanor-dev/athanor/aws").
	Packages string
}

func (o ProgramOptions) packages() string {
	if o.Packages != "" {
		return o.Packages
	}
	return athanorImport + "/aws"
}

// WriteProgram returns a package main that declares decls with the typed
// packages (aws/<service>) inside athanor.Main(app, ...), in order. Type,
// field and enum names are the generator's own (see Generate), so the
// program compiles against the generated packages; enum values are their
// constants, or the type's Of function for a value the registry does not
// list.
func WriteProgram(opts ProgramOptions, decls []Declaration) (*Program, error) {
	e := &emitter{imports: map[string]bool{athanorImport: true}}
	prog := &Program{}
	builders := map[string]*programType{}
	var errs []error
	for _, d := range decls {
		c, err := declare(builders, d, opts.packages())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e.imports[c.importPath] = true
		if d.Comment != "" {
			e.comment("\t\t", d.Comment)
		}
		for _, n := range c.notes {
			e.comment("\t\t", n)
		}
		e.line("\t\tif _, err := %s.%s(app, %s, %s); err != nil {", c.pkg, c.newName, strconv.Quote(d.LogicalID), c.args)
		e.line("\t\t\treturn err")
		e.line("\t\t}")
		prog.Declared = append(prog.Declared, c.declared)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	body := e.buf.String()
	e.buf.Reset()
	for i, p := range opts.Header {
		if i > 0 {
			e.line("//")
		}
		for _, l := range wrap(p, 76) {
			e.line("// %s", l)
		}
	}
	header := strings.TrimSuffix(e.buf.String(), "\n")
	e.buf.Reset()
	e.line("func main() {")
	e.line("\tathanor.Main(%s, func(app *athanor.App) error {", strconv.Quote(opts.App))
	e.buf.WriteString(body)
	e.line("\t\treturn nil")
	e.line("\t})")
	e.line("}")
	src, err := e.source(header, "", "main")
	if err != nil {
		return nil, err
	}
	prog.Source = src
	return prog, nil
}

// call is one declaration's constructor call, worked out.
type call struct {
	pkg, importPath, newName string
	// args is the Args composite literal.
	args     string
	declared map[string]any
	notes    []string
}

// declare works out the constructor call of d, whose package is under the
// import path root.
func declare(builders map[string]*programType, d Declaration, root string) (*call, error) {
	r, err := programResource(builders, d.Schema)
	if err != nil {
		return nil, err
	}
	w := &literalWriter{pkg: r.pkg.name}
	args, declared := w.args(r.r, d.Props, d.Missing)
	return &call{pkg: r.pkg.name, importPath: root + "/" + r.dir, newName: r.r.newName, args: args, declared: declared, notes: w.notes}, nil
}

// Typed returns nil when the committed typed packages declare s (an AWS::
// type with a create handler, see aws/generate.go), else an error saying
// why not.
func Typed(s *schema.Schema) error {
	if !validTypeName(s.TypeName) {
		return fmt.Errorf("type name %q is not of the form Namespace::Service::Resource", s.TypeName)
	}
	if !strings.HasPrefix(s.TypeName, "AWS::") {
		return fmt.Errorf("%s is not an AWS:: type, so it has no typed package to declare it with", s.TypeName)
	}
	if !s.Handlers.Create {
		return fmt.Errorf("%s has no create handler, so it has no typed package to declare it with", s.TypeName)
	}
	return nil
}

// programType is a resource's model, built as Generate builds it.
type programType struct {
	pkg *pkgBuilder
	r   *resource
	dir string
}

// programResource builds the model of s alone: names are chosen per
// resource (see assignNames), so they are the ones Generate gives s among
// all the types of its package.
func programResource(cache map[string]*programType, s *schema.Schema) (*programType, error) {
	if s == nil {
		return nil, errors.New("declaration without a schema")
	}
	if t, ok := cache[s.TypeName]; ok {
		return t, nil
	}
	if err := Typed(s); err != nil {
		return nil, err
	}
	parts := strings.Split(s.TypeName, "::")
	b, err := newPkgBuilder(parts[0], parts[1], []*schema.Schema{s})
	if err != nil {
		return nil, err
	}
	t := &programType{pkg: b, r: b.resources[0], dir: b.dir}
	cache[s.TypeName] = t
	return t, nil
}

// literalWriter writes Go expressions for model values of one package.
type literalWriter struct {
	pkg   string
	notes []string
}

func (w *literalWriter) note(format string, args ...any) {
	w.notes = append(w.notes, fmt.Sprintf(format, args...))
}

func (w *literalWriter) qualified(name string) string { return w.pkg + "." + name }

// args writes the Args literal of r for model and returns it with the
// model it encodes to.
func (w *literalWriter) args(r *resource, model map[string]any, missing map[string]string) (string, map[string]any) {
	var b strings.Builder
	declared := map[string]any{}
	b.WriteString(w.qualified(r.argsName) + "{\n")
	known := map[string]bool{}
	missingAt := map[string][]string{}
	for p, why := range missing {
		top := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 2)[0]
		missingAt[top] = append(missingAt[top], fmt.Sprintf("%s: %s", p, why))
	}
	writeMissing := func(prop string) {
		notes := missingAt[prop]
		sort.Strings(notes)
		for _, n := range notes {
			for _, l := range wrap(n, 70) {
				b.WriteString("// " + l + "\n")
			}
		}
		delete(missingAt, prop)
	}
	for _, f := range r.args {
		known[f.jsonName] = true
		writeMissing(f.jsonName)
		w.field(&b, f, model, declared, "/"+f.jsonName)
	}
	for _, x := range r.exclusive {
		var chosen *field
		for _, m := range x.members {
			known[m.jsonName] = true
			writeMissing(m.jsonName)
			if _, ok := model[m.jsonName]; !ok {
				continue
			}
			if chosen != nil {
				w.note("/%s and /%s are both set, but a program gives at most one of them: /%s is not declared", chosen.jsonName, m.jsonName, m.jsonName)
				continue
			}
			code, v, err := w.value(m.typ, false, model[m.jsonName], "/"+m.jsonName)
			if err != nil {
				w.note("%v: not declared", err)
				continue
			}
			if s, ok := v.(string); ok && s == "" {
				// The Args type omits an empty member.
				w.note("/%s is empty, which %s.%s cannot declare: not declared", m.jsonName, r.argsName, x.field.goName)
				continue
			}
			chosen = m
			fmt.Fprintf(&b, "%s: %s(%s),\n", x.field.goName, w.qualified(m.goName), code)
			declared[m.jsonName] = v
		}
	}
	rest := make([]string, 0, len(missingAt))
	for p := range missingAt {
		rest = append(rest, p)
	}
	sort.Strings(rest)
	for _, p := range rest {
		writeMissing(p)
	}
	w.unknown(model, known, "")
	b.WriteString("}")
	return b.String(), declared
}

// unknown notes the members of model that are not fields.
func (w *literalWriter) unknown(model map[string]any, known map[string]bool, path string) {
	var names []string
	for k := range model {
		if !known[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		w.note("%s/%s is in the read but not in the type's schema: not declared", path, k)
	}
}

// field writes the field f of a struct literal for the value model holds
// at f.jsonName, and adds what it encodes to declared.
func (w *literalWriter) field(b *strings.Builder, f *field, model, declared map[string]any, path string) {
	v, present := model[f.jsonName]
	if present && v == nil {
		present = false
	}
	if !present {
		if f.pointer || f.omitzero {
			return
		}
		// A field that is always sent: its zero value is declared.
		code, zero, err := w.value(f.typ, false, zeroModel(f.typ), path)
		if err != nil {
			w.note("%v: not declared", err)
			return
		}
		fmt.Fprintf(b, "%s: %s,\n", f.goName, code)
		declared[f.jsonName] = zero
		return
	}
	code, dv, err := w.value(f.typ, f.pointer, v, path)
	if err != nil {
		w.note("%v: not declared", err)
		return
	}
	if f.omitzero && !f.pointer && isZeroValue(f.typ, dv) {
		if !isEmptyModel(v) {
			w.note("%s holds the zero value of its field, which the field cannot send: not declared", path)
		}
		return
	}
	fmt.Fprintf(b, "%s: %s,\n", f.goName, code)
	declared[f.jsonName] = dv
}

// zeroModel is the model value whose literal is t's zero value.
func zeroModel(t *goType) any {
	switch t.kind {
	case kindBasic:
		switch t.basic {
		case "string":
			return ""
		case "bool":
			return false
		}
		return 0.0
	case kindNamed:
		if !t.named.isEnum {
			return map[string]any{}
		}
	}
	return nil
}

// isEmptyModel reports whether v is an empty object: the read returned
// {} for an object whose field omits its zero value, which declares
// nothing either way.
func isEmptyModel(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 0
}

// isZeroValue reports whether the Go value of t encoding to v is its zero
// value (which an omitzero field leaves out).
func isZeroValue(t *goType, v any) bool {
	switch t.kind {
	case kindBasic:
		switch x := v.(type) {
		case string:
			return x == ""
		case bool:
			return !x
		case float64:
			return x == 0
		}
	case kindNamed:
		if t.named.isEnum {
			return v == nil
		}
		m, _ := v.(map[string]any)
		for _, f := range t.named.fields {
			fv, ok := m[f.jsonName]
			if ok && (f.pointer || !isZeroValue(f.typ, fv)) {
				return false
			}
		}
		return true
	}
	return v == nil
}

// value returns the Go expression of t (a pointer to it with ptr) for the
// model value v at path, and the model value it encodes to.
func (w *literalWriter) value(t *goType, ptr bool, v any, path string) (string, any, error) {
	switch t.kind {
	case kindBasic:
		code, dv, err := basicLiteral(t.basic, v, path)
		if err != nil {
			return "", nil, err
		}
		if ptr {
			if t.basic == "float64" {
				code = "float64(" + code + ")"
			}
			code = "new(" + code + ")"
		}
		return code, dv, nil
	case kindNamed:
		if t.named.isEnum {
			return w.enum(t.named, v, path)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return "", nil, fmt.Errorf("%s: expected an object, got %s", path, describeValue(v))
		}
		var b strings.Builder
		if ptr {
			b.WriteString("&")
		}
		declared := w.structBody(&b, t.named, m, path)
		return b.String(), declared, nil
	case kindSlice:
		list, ok := v.([]any)
		if !ok {
			return "", nil, fmt.Errorf("%s: expected an array, got %s", path, describeValue(v))
		}
		var b strings.Builder
		b.WriteString(t.String() + "{")
		out := make([]any, 0, len(list))
		for i, x := range list {
			code, dv, err := w.element(t.elem, x, fmt.Sprintf("%s/%d", path, i))
			if err != nil {
				return "", nil, err
			}
			if len(list) > 1 {
				b.WriteString("\n")
			}
			b.WriteString(code)
			if len(list) > 1 {
				b.WriteString(",")
			}
			out = append(out, dv)
		}
		if len(list) > 1 {
			b.WriteString("\n")
		}
		b.WriteString("}")
		return w.typeName(t, b.String()), out, nil
	case kindMap:
		m, ok := v.(map[string]any)
		if !ok {
			return "", nil, fmt.Errorf("%s: expected an object, got %s", path, describeValue(v))
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteString(t.String() + "{")
		out := make(map[string]any, len(m))
		for _, k := range keys {
			code, dv, err := w.element(t.elem, m[k], path+"/"+escapePointer(k))
			if err != nil {
				return "", nil, err
			}
			fmt.Fprintf(&b, "\n%s: %s,", strconv.Quote(k), code)
			out[k] = dv
		}
		if len(keys) > 0 {
			b.WriteString("\n")
		}
		b.WriteString("}")
		return w.typeName(t, b.String()), out, nil
	}
	code, err := anyLiteral(v, path)
	return code, v, err
}

// element writes an element of a list or map: a struct element's type is
// implied by the composite literal.
func (w *literalWriter) element(t *goType, v any, path string) (string, any, error) {
	code, dv, err := w.value(t, false, v, path)
	if err != nil {
		return "", nil, err
	}
	if t.kind == kindNamed && !t.named.isEnum {
		code = strings.TrimPrefix(code, w.qualified(t.named.name))
	}
	return code, dv, nil
}

// typeName qualifies the named types in the type prefix of a list or map
// literal (t.String() names them unqualified).
func (w *literalWriter) typeName(t *goType, code string) string {
	plain := t.String()
	return w.qualifiedType(t) + strings.TrimPrefix(code, plain)
}

func (w *literalWriter) qualifiedType(t *goType) string {
	switch t.kind {
	case kindNamed:
		return w.qualified(t.named.name)
	case kindSlice:
		return "[]" + w.qualifiedType(t.elem)
	case kindMap:
		return "map[string]" + w.qualifiedType(t.elem)
	}
	return t.String()
}

// structBody writes the composite literal of the struct type t for m and
// returns the model it encodes to.
func (w *literalWriter) structBody(b *strings.Builder, t *namedType, m map[string]any, path string) map[string]any {
	b.WriteString(w.qualified(t.name) + "{")
	var inner strings.Builder
	known := map[string]bool{}
	scratch := map[string]any{}
	for _, f := range t.fields {
		known[f.jsonName] = true
		w.field(&inner, f, m, scratch, path+"/"+f.jsonName)
	}
	w.unknown(m, known, path)
	if inner.Len() > 0 {
		b.WriteString("\n" + inner.String())
	}
	b.WriteString("}")
	return scratch
}

// enum writes an enum value: its constant, or the Of function for a value
// the registry does not list.
func (w *literalWriter) enum(t *namedType, v any, path string) (string, any, error) {
	var raw, lit string
	switch t.enumBase {
	case "int":
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return "", nil, fmt.Errorf("%s: expected an integer, got %s", path, describeValue(v))
		}
		raw = strconv.FormatInt(int64(f), 10)
		lit = raw
	default:
		s, ok := v.(string)
		if !ok {
			return "", nil, fmt.Errorf("%s: expected a string, got %s", path, describeValue(v))
		}
		raw, lit = s, stringLiteral(s)
	}
	for _, ev := range t.values {
		if ev.raw == raw {
			return w.qualified(ev.name), v, nil
		}
	}
	return fmt.Sprintf("%s(%s)", w.qualified(t.ofName), lit), v, nil
}

// basicLiteral writes a string, int, float64 or bool.
func basicLiteral(basic string, v any, path string) (string, any, error) {
	switch basic {
	case "string":
		s, ok := v.(string)
		if !ok {
			return "", nil, fmt.Errorf("%s: expected a string, got %s", path, describeValue(v))
		}
		return stringLiteral(s), s, nil
	case "bool":
		x, ok := v.(bool)
		if !ok {
			return "", nil, fmt.Errorf("%s: expected a boolean, got %s", path, describeValue(v))
		}
		return strconv.FormatBool(x), x, nil
	case "int":
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return "", nil, fmt.Errorf("%s: expected an integer, got %s", path, describeValue(v))
		}
		return strconv.FormatInt(int64(f), 10), f, nil
	default:
		f, ok := v.(float64)
		if !ok || math.IsInf(f, 0) || math.IsNaN(f) {
			return "", nil, fmt.Errorf("%s: expected a number, got %s", path, describeValue(v))
		}
		return formatNumber(f), f, nil
	}
}

// anyLiteral writes a JSON value held by an any.
func anyLiteral(v any, path string) (string, error) {
	switch x := v.(type) {
	case nil:
		return "nil", nil
	case string:
		return stringLiteral(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return "", fmt.Errorf("%s: %v is not a JSON number", path, x)
		}
		// An untyped integer constant in an any is an int, which encodes
		// as the same JSON; one beyond an int's range is written as a
		// floating-point constant.
		if x == math.Trunc(x) && math.Abs(x) > 1<<53 {
			return strconv.FormatFloat(x, 'e', -1, 64), nil
		}
		return formatNumber(x), nil
	case []any:
		var b strings.Builder
		b.WriteString("[]any{")
		for i, e := range x {
			c, err := anyLiteral(e, fmt.Sprintf("%s/%d", path, i))
			if err != nil {
				return "", err
			}
			b.WriteString("\n" + c + ",")
		}
		if len(x) > 0 {
			b.WriteString("\n")
		}
		b.WriteString("}")
		return b.String(), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteString("map[string]any{")
		for _, k := range keys {
			c, err := anyLiteral(x[k], path+"/"+escapePointer(k))
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "\n%s: %s,", strconv.Quote(k), c)
		}
		if len(keys) > 0 {
			b.WriteString("\n")
		}
		b.WriteString("}")
		return b.String(), nil
	}
	return "", fmt.Errorf("%s: %s is not a JSON value", path, describeValue(v))
}

// stringLiteral quotes s, as a raw string when that reads better (a JSON
// document holds quotes) and is exact.
func stringLiteral(s string) string {
	if strings.Contains(s, `"`) && !strings.ContainsAny(s, "`\r") && utf8.ValidString(s) && printableRaw(s) {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

// printableRaw reports whether s can stand in a raw string literal as
// written: printable characters, newlines and tabs only.
func printableRaw(s string) bool {
	for _, r := range s {
		if r == '\n' || r == '\t' {
			continue
		}
		if !strconv.IsPrint(r) || r == '\uFEFF' {
			return false
		}
	}
	return true
}

func escapePointer(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func describeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + strconv.Quote(x)
	case float64:
		return "number " + formatNumber(x)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

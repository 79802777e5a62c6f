package engine

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/athanor-dev/athanor/schema"
)

// MaxDesiredState is the longest desired state, in characters of its JSON
// encoding, that Cloud Control accepts: the length bound of the
// DesiredState member (shape Properties) in the Cloud Control API model.
const MaxDesiredState = 262144

// toModel converts declared properties (a typed Args struct, a map or raw
// JSON) to a normalized model. It refuses, naming the property path, what
// would otherwise be dropped or changed silently on the way to JSON: data
// after the JSON object, NaN and infinite numbers, strings and property
// names that are not valid UTF-8; and a model whose JSON encoding is longer
// than Cloud Control accepts.
func toModel(props any) (map[string]any, error) {
	m, _, err := toModelData(props)
	return m, err
}

// propsJSON returns the JSON encoding of declared properties as toModel
// decodes it, and whether there is one: equal encodings give equal models,
// which lets a declaration the preview converted skip the conversion. A
// value whose encoding replaced invalid UTF-8 (toModel refuses those) has
// none.
func propsJSON(props any) ([]byte, bool) {
	var data []byte
	switch p := props.(type) {
	case nil:
		return nil, false
	case json.RawMessage:
		data = p
	case []byte:
		data = p
	default:
		var err error
		if data, err = marshalProps(props); err != nil {
			return nil, false
		}
	}
	if bytes.Contains(data, []byte("\uFFFD")) || bytes.Contains(data, []byte("\ufffd")) || !utf8.Valid(data) || bytes.ContainsRune(data, utf8.RuneError) {
		return nil, false
	}
	return data, true
}

// marshalProps encodes declared properties. Properties with their own
// encoding (the typed Args structs) are encoded by it directly:
// encoding/json would call it and then compact and validate what it
// returned, which decoding the model validates anyway, at a third of the
// cost of the encoding itself.
func marshalProps(props any) ([]byte, error) {
	m, ok := props.(json.Marshaler)
	if !ok {
		return json.Marshal(props)
	}
	if v := reflect.ValueOf(props); v.Kind() == reflect.Pointer && v.IsNil() {
		return json.Marshal(props) // "null", as encoding/json has it
	}
	data, err := m.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("json: error calling MarshalJSON for type %T: %w", props, err)
	}
	return data, nil
}

// toModelData is toModel, also returning the JSON the model was decoded
// from (see propsJSON).
func toModelData(props any) (map[string]any, []byte, error) {
	var data []byte
	switch p := props.(type) {
	case nil:
		return map[string]any{}, nil, nil
	case json.RawMessage:
		data = p
	case []byte:
		data = p
	default:
		if err := newGoWalk().check(reflect.ValueOf(props)); err != nil {
			return nil, nil, err
		}
		var err error
		if data, err = marshalProps(props); err != nil {
			return nil, nil, fmt.Errorf("encode properties: %w", err)
		}
	}
	if !utf8.Valid(data) {
		if err := invalidUTF8(data); err != nil {
			return nil, nil, err
		}
	}
	m, err := decodeModel(data)
	if err != nil {
		return nil, nil, fmt.Errorf("properties must be a JSON object: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	if err := checkNumbers(m, ""); err != nil {
		return nil, nil, err
	}
	// Encoding the model again turns no character of data into more than
	// six ("<" becomes "\u003c"; a number such as 1e20 becomes
	// 100000000000000000000), so only a large input needs measuring.
	if len(data) > MaxDesiredState/6 {
		if n := utf8.RuneCount(encodeModel(m)); n > MaxDesiredState {
			return nil, nil, fmt.Errorf("the desired state is %d characters of JSON, more than the %d Cloud Control accepts", n, MaxDesiredState)
		}
	}
	return m, data, nil
}

// decodeModel decodes a JSON object into a normalized model; empty input
// and JSON null give nil. Anything after the object is an error.
func decodeModel(data []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	// A JSON object whose numbers all fit a float64 decodes to a
	// normalized model as it is: encoding/json parses numbers as
	// json.Number.Float64 does, and gives only maps, slices, strings,
	// float64, bool and nil. Anything else (a number out of range, data
	// after the object, not an object) is decoded below, which says what
	// is wrong and keeps an out-of-range number for checkNumbers to name.
	var m map[string]any
	if json.Unmarshal(data, &m) == nil {
		return m, nil
	}
	return decodeModelNumbers(data)
}

// decodeModelNumbers is decodeModel keeping numbers as json.Number until
// normalized.
func decodeModelNumbers(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	end := int(dec.InputOffset())
	if rest := bytes.TrimLeft(data[end:], " \t\r\n"); len(rest) > 0 {
		return nil, fmt.Errorf("trailing data after the JSON object, at byte %d of %d", len(data)-len(rest), len(data))
	}
	return schema.NormalizeModel(m), nil
}

// invalidUTF8 names the string of the JSON document data that is not valid
// UTF-8 (decoding would turn its bytes into U+FFFD): the property path of a
// value, or the object holding a property name. It returns nil when the
// invalid bytes are outside any string, which decoding then refuses.
func invalidUTF8(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	// stack holds one frame per open object or array: the path of the
	// container, whether it is an object, the key awaiting its value and
	// the next array index.
	type frame struct {
		path   string
		object bool
		key    string
		keyed  bool
		index  int
	}
	var stack []frame
	// valuePath is the path of the next value in the innermost container.
	valuePath := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := &stack[len(stack)-1]
		if f.object {
			return f.path + "/" + escapeToken(f.key)
		}
		return f.path + "/" + strconv.Itoa(f.index)
	}
	// consumed marks the innermost container's pending value as read.
	consumed := func() {
		if len(stack) == 0 {
			return
		}
		f := &stack[len(stack)-1]
		if f.object {
			f.keyed = false
		} else {
			f.index++
		}
	}
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, frame{path: valuePath(), object: t == '{'})
			default:
				stack = stack[:len(stack)-1]
				consumed()
			}
		case string:
			raw := data[start:dec.InputOffset()]
			isKey := len(stack) > 0 && stack[len(stack)-1].object && !stack[len(stack)-1].keyed
			if !utf8.Valid(raw) {
				if isKey {
					return fmt.Errorf("%s: a property name is not valid UTF-8", displayPath(stack[len(stack)-1].path))
				}
				return fmt.Errorf("%s: string is not valid UTF-8", displayPath(valuePath()))
			}
			if isKey {
				f := &stack[len(stack)-1]
				f.key, f.keyed = t, true
				continue
			}
			consumed()
		default:
			consumed()
		}
	}
}

// checkNumbers refuses a number of v that no float64 holds (such as 1e400,
// which decodes to infinity), naming its path below path.
func checkNumbers(v any, path string) error {
	if toks, bad := outOfRange(v); bad {
		for i := len(toks) - 1; i >= 0; i-- {
			path += "/" + escapeToken(toks[i])
		}
		// The value is not quoted: it may be write-only.
		return fmt.Errorf("%s: a number beyond the range of a float64 (±1.8e308)", displayPath(path))
	}
	return nil
}

// outOfRange finds a json.Number left in v (normalization turns every
// number a float64 holds into one) and returns its path tokens, innermost
// first.
func outOfRange(v any) ([]string, bool) {
	switch x := v.(type) {
	case json.Number:
		return nil, true
	case map[string]any:
		for k, e := range x {
			if toks, bad := outOfRange(e); bad {
				return append(toks, k), true
			}
		}
	case []any:
		for i, e := range x {
			if toks, bad := outOfRange(e); bad {
				return append(toks, strconv.Itoa(i)), true
			}
		}
	}
	return nil, false
}

// maxGoDepth bounds goWalk's walk; deeper values (cycles included) are
// left to encoding/json, which refuses cycles.
const maxGoDepth = 1000

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	numberType        = reflect.TypeFor[json.Number]()
)

// goWalk walks a Go value as encoding/json would encode it and refuses,
// with the property path, what encoding would reject without a path (NaN
// and infinite floats, malformed json.Number) or change silently (strings
// and map keys that are not valid UTF-8). Values with their own JSON
// encoding (json.Marshaler) are not walked into. The path is kept as a
// stack of tokens and joined only for an error.
type goWalk struct {
	toks []string
}

// newGoWalk returns a walk with room for a usual depth.
func newGoWalk() *goWalk { return &goWalk{toks: make([]string, 0, 16)} }

func (w *goWalk) check(v reflect.Value) error {
	if !v.IsValid() || len(w.toks) > maxGoDepth {
		return nil
	}
	t := v.Type()
	if t != numberType && (t.Implements(marshalerType) || (v.CanAddr() && reflect.PointerTo(t).Implements(marshalerType))) {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return w.check(v.Elem())
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return w.errorf("%v is not a JSON number", f)
		}
	case reflect.String:
		s := v.String()
		if t == numberType {
			if s != "" && !isNumber(s) { // "" encodes as 0
				return w.errorf("a json.Number that is not a JSON number") // not quoted: it may be write-only
			}
			return nil
		}
		if !utf8.ValidString(s) {
			return w.errorf("string is not valid UTF-8")
		}
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		named := t.Key().Kind() == reflect.String && !t.Key().Implements(textMarshalerType)
		it := v.MapRange()
		for it.Next() {
			var name string
			if named {
				name = it.Key().String()
				if !utf8.ValidString(name) {
					return w.errorf("a property name is not valid UTF-8")
				}
			} else {
				name = fmt.Sprint(it.Key().Interface())
			}
			if err := w.child(name, it.Value()); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && v.Kind() == reflect.Slice {
			return nil // []byte encodes as base64
		}
		for i := range v.Len() {
			if err := w.child(strconv.Itoa(i), v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		return w.fields(v)
	}
	return nil
}

// child checks v under the path token tok.
func (w *goWalk) child(tok string, v reflect.Value) error {
	w.toks = append(w.toks, tok)
	err := w.check(v)
	w.toks = w.toks[:len(w.toks)-1]
	return err
}

// fields checks the fields of a struct that encoding/json encodes, under
// their JSON names; embedded structs without a name contribute their
// fields to the same object.
func (w *goWalk) fields(v reflect.Value) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		fv := v.Field(i)
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if fv.Kind() == reflect.Pointer {
					if fv.IsNil() {
						continue
					}
					fv = fv.Elem()
				}
				if err := w.fields(fv); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if err := w.child(name, fv); err != nil {
			return err
		}
	}
	return nil
}

// errorf returns an error at the current path.
func (w *goWalk) errorf(format string, args ...any) error {
	var b strings.Builder
	for _, t := range w.toks {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return fmt.Errorf("%s: %s", displayPath(b.String()), fmt.Sprintf(format, args...))
}

// isNumber reports whether s is a JSON number literal: a JSON value
// starting with a digit or a minus sign.
func isNumber(s string) bool {
	return s != "" && (s[0] == '-' || '0' <= s[0] && s[0] <= '9') && json.Valid([]byte(s))
}

// escapeToken escapes a property name as a JSON pointer token.
func escapeToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// displayPath renders a pointer for a message: "/" for the model itself.
func displayPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
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

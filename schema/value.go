package schema

import (
	"encoding/json"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Normalize returns a deep copy of v in the canonical form models take in
// this package: json.Number and Go integer and float types become float64,
// maps become map[string]any and slices []any. Strings, booleans and nil are
// kept; any other value is kept as is. A json.Number that does not parse as
// a float64 is kept as its string form.
//
// The engine and the emulator normalize every model they store so that
// values compare and print consistently.
func Normalize(v any) any {
	switch x := v.(type) {
	case nil, string, bool, float64:
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = Normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Normalize(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Normalize(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	}
	if f, ok := toFloat(v); ok {
		return f
	}
	return v
}

// NormalizeModel is Normalize for a model object: it returns a deep copy of
// m with canonical values, or nil when m is nil.
func NormalizeModel(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return Normalize(m).(map[string]any)
}

// toFloat converts the numeric forms a model may hold to float64.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// Equal reports whether a and b are the same JSON value: numbers compare by
// value whatever their Go type (1 == 1.0 == json.Number("1")), objects by
// their members and arrays element by element, in order.
func Equal(a, b any) bool {
	a, b = canonical(a), canonical(b)
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !Equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// canonical converts the non-canonical containers Normalize accepts
// ([]string, []map[string]any) to []any, leaving other values alone.
func canonical(v any) any {
	switch v.(type) {
	case []string, []map[string]any:
		return Normalize(v)
	}
	return v
}

// jsonType names the JSON type of a model value: "object", "array",
// "string", "boolean", "null", "integer" (a number with no fraction) or
// "number"; "" for a value that is not JSON. It returns the number's value
// for numbers.
func jsonType(v any) (string, float64) {
	switch v.(type) {
	case nil:
		return "null", 0
	case string:
		return "string", 0
	case bool:
		return "boolean", 0
	case map[string]any:
		return "object", 0
	case []any:
		return "array", 0
	}
	if f, ok := toFloat(v); ok {
		if f == math.Trunc(f) && !math.IsInf(f, 0) {
			return "integer", f
		}
		return "number", f
	}
	return "", 0
}

// formatValue renders a model value for a message: JSON, with long strings
// and documents shortened.
func formatValue(v any) string {
	const limit = 64
	if s, ok := v.(string); ok {
		if r := []rune(s); len(r) > limit {
			s = string(r[:limit]) + "…"
		}
		return strconv.Quote(s)
	}
	if f, ok := toFloat(v); ok {
		return formatNumber(f)
	}
	b, err := json.Marshal(Normalize(v))
	if err != nil {
		return "<invalid JSON value>"
	}
	if len(b) > limit {
		return string(b[:limit]) + "…"
	}
	return string(b)
}

func formatNumber(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// formatEnum renders allowed values as [A, B, 3]: strings unquoted.
func formatEnum(values []any) string {
	parts := make([]string, len(values))
	for i, v := range values {
		if s, ok := v.(string); ok {
			parts[i] = s
		} else {
			parts[i] = formatValue(v)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// childPath appends a reference token to a JSON pointer, escaping it. The
// model's own pointer is "".
func childPath(path, token string) string {
	if strings.ContainsAny(token, "~/") {
		token = escapePointer(token)
	}
	return path + "/" + token
}

// indexPath appends an array index to a JSON pointer.
func indexPath(path string, i int) string {
	return path + "/" + strconv.Itoa(i)
}

// displayPath renders a pointer for a message: "/" for the model itself.
func displayPath(path string) string {
	if path == "" {
		return "/"
	}
	return path
}

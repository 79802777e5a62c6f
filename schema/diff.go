package schema

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/wI2L/jsondiff"
)

// Action is the kind of change Diff finds.
type Action int

const (
	// NoChange: the desired state equals the recorded one.
	NoChange Action = iota
	// Update: the change can be applied in place with Change.Patch.
	Update
	// Replace: the resource must be replaced; Change.ReplacePaths says why.
	Replace
)

// String names the action: "no change", "update" or "replace".
func (a Action) String() string {
	switch a {
	case NoChange:
		return "no change"
	case Update:
		return "update"
	case Replace:
		return "replace"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// PatchOp is one RFC 6902 operation.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	From  string `json:"from,omitempty"`
	Value any    `json:"value,omitempty"` // MarshalJSON keeps null values for add/replace/test
}

// MarshalJSON renders the operation as RFC 6902 requires: "value" is always
// present for add, replace and test (null included) and absent otherwise;
// "from" is present for move and copy only.
func (op PatchOp) MarshalJSON() ([]byte, error) {
	type withValue struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	type withFrom struct {
		Op   string `json:"op"`
		From string `json:"from"`
		Path string `json:"path"`
	}
	type plain struct {
		Op   string `json:"op"`
		Path string `json:"path"`
	}
	switch op.Op {
	case "add", "replace", "test":
		return json.Marshal(withValue{op.Op, op.Path, op.Value})
	case "move", "copy":
		return json.Marshal(withFrom{op.Op, op.From, op.Path})
	default:
		return json.Marshal(plain{op.Op, op.Path})
	}
}

// Change is the difference between a recorded and a desired state.
type Change struct {
	Action Action
	// Patch turns the recorded state into the desired one (Update and Replace).
	Patch []PatchOp
	// Paths lists every changed JSON pointer, sorted.
	Paths []string
	// ReplacePaths lists the changed paths that force replacement; for a type
	// without an update handler it is every changed top-level path.
	ReplacePaths []string
}

// PatchJSON renders Patch as an RFC 6902 document ("[]" when empty), the
// form Cloud Control's UpdateResource takes as PatchDocument.
func (c Change) PatchJSON() []byte {
	if len(c.Patch) == 0 {
		return []byte("[]")
	}
	b, err := json.Marshal(c.Patch)
	if err != nil {
		// Patch values come from normalized models and always marshal.
		panic(fmt.Sprintf("schema: marshal patch: %v", err))
	}
	return b
}

// Diff compares the recorded desired state with the new desired state.
//
// Read-only properties are left out of the comparison (a desired state
// cannot set them). Values compare by JSON semantics, and arrays with
// insertionOrder false compare as multisets: a reordering is no change, and
// a real change to such an array is patched by replacing the whole array,
// since index operations would depend on an order that carries no meaning.
// A change forces replacement when it touches a create-only property, a tag
// of a type whose tags are not updatable, or any property of a type without
// an update handler.
func (s *Schema) Diff(recorded, desired map[string]any) (Change, error) {
	rec := s.WithoutReadOnly(recorded)
	des := s.WithoutReadOnly(desired)
	if rec == nil {
		rec = map[string]any{}
	}
	if des == nil {
		des = map[string]any{}
	}
	d := differ{}
	aligned := d.compare(s.Root, rec, des, "")
	if len(d.paths) == 0 {
		return Change{Action: NoChange}, nil
	}
	ops, err := jsondiff.CompareWithoutMarshal(rec, aligned)
	if err != nil {
		return Change{}, fmt.Errorf("schema: %s: diff: %w", s.TypeName, err)
	}
	ch := Change{
		Action: Update,
		Patch:  buildPatch(ops, d.wholeArrays, aligned.(map[string]any)),
		Paths:  sortPaths(d.paths),
	}
	ch.ReplacePaths = s.replacePaths(ch.Paths, rec, des)
	if len(ch.ReplacePaths) > 0 {
		ch.Action = Replace
	}
	return ch, nil
}

// replacePaths returns the changed paths that force a replacement.
func (s *Schema) replacePaths(paths []string, rec, des map[string]any) []string {
	var out []string
	if !s.Handlers.Update {
		for _, p := range paths {
			if toks := pathTokens(p); len(toks) > 0 {
				p = childPath("", toks[0])
			}
			out = append(out, p)
		}
		return slices.Compact(sortPaths(out))
	}
	tagsFixed := s.Tagging.Taggable && !s.Tagging.TagUpdatable && s.Tagging.TagProperty != ""
	for _, p := range paths {
		switch {
		case s.IsCreateOnly(p),
			tagsFixed && covers(pointerTokens(s.Tagging.TagProperty), pathTokens(p)),
			s.createOnlyBelow(p, rec, des):
			out = append(out, p)
		}
	}
	return out
}

// createOnlyBelow reports whether a create-only property nested below the
// changed path p has a different value on the two sides (p was added,
// removed or changed type as a whole).
func (s *Schema) createOnlyBelow(p string, rec, des map[string]any) bool {
	ptoks := pathTokens(p)
	for _, c := range s.CreateOnly {
		ctoks := pointerTokens(c)
		if len(ctoks) <= len(ptoks) || !covers(ctoks[:len(ptoks)], ptoks) {
			continue
		}
		concrete := append(slices.Clone(ptoks), ctoks[len(ptoks):]...)
		if !Equal(collect(rec, concrete), collect(des, concrete)) {
			return true
		}
	}
	return false
}

// collect returns the values the pointer tokens name in model, in order.
func collect(model map[string]any, toks []string) []any {
	var out []any
	for _, p := range presentPaths(model, toks) {
		out = append(out, valueAtPath(model, p))
	}
	return out
}

// differ finds the changed paths between two normalized models.
type differ struct {
	paths []string
	// wholeArrays holds the multiset arrays that changed: their patch is a
	// replacement of the whole array.
	wholeArrays []string
}

// compare records the changed paths between a and b under node n and
// returns b aligned to a: multiset arrays that hold the same elements take
// a's order, so that a patch computed from a to the result has no
// operations for them.
func (d *differ) compare(n *Node, a, b any, path string) any {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			break
		}
		for _, k := range unionKeys(x, y) {
			av, inA := x[k]
			bv, inB := y[k]
			p := childPath(path, k)
			if inA != inB {
				d.paths = append(d.paths, p)
				continue
			}
			y[k] = d.compare(n.child(k), av, bv, p)
		}
		return y
	case []any:
		y, ok := b.([]any)
		if !ok {
			break
		}
		items := n.items()
		if n != nil && !n.InsertionOrder {
			if sameMultiset(items, x, y) {
				return x
			}
			d.paths = append(d.paths, path)
			d.wholeArrays = append(d.wholeArrays, path)
			return y
		}
		for i := range max(len(x), len(y)) {
			p := indexPath(path, i)
			if i >= len(x) || i >= len(y) {
				d.paths = append(d.paths, p)
				continue
			}
			y[i] = d.compare(items, x[i], y[i], p)
		}
		return y
	}
	if !Equal(a, b) {
		d.paths = append(d.paths, displayPath(path))
	}
	return b
}

// same reports whether a and b are equal under node n, comparing arrays
// with insertionOrder false as multisets at any depth.
func same(n *Node, a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !same(n.child(k), v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		if n != nil && !n.InsertionOrder {
			return sameMultiset(n.items(), x, y)
		}
		for i := range x {
			if !same(n.items(), x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return Equal(a, b)
}

// sameMultiset reports whether a and b hold the same elements, counting
// duplicates, in any order.
func sameMultiset(items *Node, a, b []any) bool {
	return matchMultiset(a, b, func(x, y any) bool { return same(items, x, y) })
}

// matchMultiset reports whether each element of a matches a distinct
// element of b and b has no other: a one-for-one pairing, in any order,
// taking for each element of a the first unpaired match in b.
func matchMultiset(a, b []any, match func(x, y any) bool) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
next:
	for _, x := range a {
		for j, y := range b {
			if !used[j] && match(x, y) {
				used[j] = true
				continue next
			}
		}
		return false
	}
	return true
}

// child returns the node that describes property name of an object node,
// or nil when the schema does not describe it.
func (n *Node) child(name string) *Node {
	if n == nil {
		return nil
	}
	if c, ok := n.Properties[name]; ok {
		return c
	}
	for pat, c := range n.PatternProperties {
		if ok, err := compilePattern(pat).match(name); err == nil && ok {
			return c
		}
	}
	return nil
}

// items returns the element node of an array node, or nil.
func (n *Node) items() *Node {
	if n == nil {
		return nil
	}
	return n.Items
}

// buildPatch converts jsondiff's operations to PatchOps, turning the
// operations inside each changed multiset array into one replacement of the
// whole array.
func buildPatch(ops jsondiff.Patch, wholeArrays []string, desired map[string]any) []PatchOp {
	out := make([]PatchOp, 0, len(ops))
	replaced := map[string]bool{}
	for _, op := range ops {
		if arr := enclosing(wholeArrays, op.Path); arr != "" {
			if !replaced[arr] {
				replaced[arr] = true
				v, _ := valueAt(desired, pathTokens(arr))
				out = append(out, PatchOp{Op: "replace", Path: arr, Value: Normalize(v)})
			}
			continue
		}
		out = append(out, PatchOp{Op: op.Type, Path: op.Path, From: op.From, Value: patchValue(op.Value)})
	}
	return out
}

// enclosing returns the array path among arrays that is path or contains it.
func enclosing(arrays []string, path string) string {
	for _, a := range arrays {
		if path == a || strings.HasPrefix(path, a+"/") {
			return a
		}
	}
	return ""
}

// patchValue deep-copies an operation value; jsondiff's own null marker
// becomes nil.
func patchValue(v any) any {
	if t, _ := jsonType(v); t != "" {
		return Normalize(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return v
	}
	return out
}

// unionKeys returns the keys of a and b, sorted.
func unionKeys(a, b map[string]any) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// sortPaths sorts JSON pointers token by token (see comparePaths).
func sortPaths(paths []string) []string {
	slices.SortFunc(paths, comparePaths)
	return paths
}

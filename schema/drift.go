package schema

// DriftEntry is one readable property whose live value differs from the record.
type DriftEntry struct {
	// Path is the JSON pointer of the property.
	Path string
	// Recorded is the recorded value, nil when absent.
	Recorded any
	// Live is the live value, nil when absent.
	Live any
}

// Drift compares a live read with the recorded state on readable properties
// only: write-only properties are ignored, and properties the live read adds
// that the record never set (service defaults) are not drift, at any depth.
// Arrays with insertionOrder false compare as multisets. The result is
// sorted by path.
func (s *Schema) Drift(recorded, live map[string]any) []DriftEntry {
	rec := s.WithoutWriteOnly(recorded)
	lv := s.WithoutWriteOnly(live)
	if lv == nil {
		lv = map[string]any{}
	}
	var out []DriftEntry
	for _, k := range sortedKeys(rec) {
		p := childPath("", k)
		lvv, ok := lv[k]
		if !ok {
			out = append(out, DriftEntry{Path: p, Recorded: rec[k]})
			continue
		}
		drift(s.Root.child(k), rec[k], lvv, p, &out)
	}
	return out
}

// drift appends the differences between recorded value a and live value b
// under node n; members only b has are not differences.
func drift(n *Node, a, b any, path string, out *[]DriftEntry) {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			break
		}
		for _, k := range sortedKeys(x) {
			p := childPath(path, k)
			yv, ok := y[k]
			if !ok {
				*out = append(*out, DriftEntry{Path: p, Recorded: x[k]})
				continue
			}
			drift(n.child(k), x[k], yv, p, out)
		}
		return
	case []any:
		y, ok := b.([]any)
		if !ok {
			break
		}
		if n != nil && !n.InsertionOrder {
			if !coveredMultiset(n.items(), x, y) {
				*out = append(*out, DriftEntry{Path: path, Recorded: x, Live: y})
			}
			return
		}
		if len(x) != len(y) {
			*out = append(*out, DriftEntry{Path: path, Recorded: x, Live: y})
			return
		}
		for i := range x {
			drift(n.items(), x[i], y[i], indexPath(path, i), out)
		}
		return
	}
	if !Equal(a, b) {
		*out = append(*out, DriftEntry{Path: path, Recorded: a, Live: b})
	}
}

// covered reports whether live value b holds recorded value a: equal, except
// that objects in b may have members a lacks (service defaults).
func covered(n *Node, a, b any) bool {
	var d []DriftEntry
	drift(n, a, b, "", &d)
	return len(d) == 0
}

// coveredMultiset reports whether the live array b holds the recorded
// array a's elements, one for one, in any order.
func coveredMultiset(items *Node, a, b []any) bool {
	return matchMultiset(a, b, func(x, y any) bool { return covered(items, x, y) })
}

package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrFormat is wrapped by errors about records or metadata that cannot be
// read: malformed JSON, or a format version this code does not know.
var ErrFormat = errors.New("state: unreadable record format")

// Key returns the key of the resource logicalID declared in scope: the scope
// path and the logical id joined by "/", or the logical id alone at the root.
func Key(scope, logicalID string) string {
	if scope == "" {
		return logicalID
	}
	return scope + "/" + logicalID
}

// SplitKey is the inverse of Key: it splits key at its last "/" into the
// scope path and the logical id.
func SplitKey(key string) (scope, logicalID string) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", key
	}
	return key[:i], key[i+1:]
}

// InScope reports whether a record belongs to scope: declared in it or in a
// scope nested below it. Every record is in the root scope "".
func InScope(r *Record, scope string) bool {
	if scope == "" {
		return true
	}
	return r.Scope == scope || strings.HasPrefix(r.Scope, scope+"/")
}

// FilterScope returns the records of recs that are in scope (see InScope),
// keeping their order.
func FilterScope(recs []*Record, scope string) []*Record {
	var out []*Record
	for _, r := range recs {
		if InScope(r, scope) {
			out = append(out, r)
		}
	}
	return out
}

// ValidateKey reports whether key can be stored by every backend: non-empty,
// valid UTF-8, no NUL byte, at most 1024 bytes, and no empty path element.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return errors.New("state: empty record key")
	case len(key) > 1024:
		return fmt.Errorf("state: record key %.40q… is %d bytes long; at most 1024 are allowed", key, len(key))
	case !utf8.ValidString(key):
		return fmt.Errorf("state: record key %q is not valid UTF-8", key)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("state: record key %q contains a NUL byte", key)
	}
	for _, el := range strings.Split(key, "/") {
		if el == "" {
			return fmt.Errorf("state: record key %q has an empty path element", key)
		}
	}
	return nil
}

// ValidateName reports whether s is usable as an app or stage name: 1 to 128
// characters from [A-Za-z0-9._-], starting with a letter or digit. The
// restriction keeps names safe as directory names on every file system.
func ValidateName(kind, s string) error {
	if s == "" {
		return fmt.Errorf("state: empty %s name", kind)
	}
	if len(s) > 128 {
		return fmt.Errorf("state: %s name %.40q… is longer than 128 characters", kind, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("state: %s name %q must start with a letter or digit", kind, s)
		}
		if !alnum && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("state: %s name %q contains %q; allowed are letters, digits, '.', '_' and '-'", kind, s, c)
		}
	}
	return nil
}

// EncodeRecord validates r and returns its JSON encoding in the current
// format. r is not modified: the encoding carries FormatVersion whatever
// r.FormatVersion holds.
func EncodeRecord(r *Record) ([]byte, error) {
	if r == nil {
		return nil, errors.New("state: nil record")
	}
	if err := ValidateKey(r.Key); err != nil {
		return nil, err
	}
	c := *r
	c.FormatVersion = FormatVersion
	if !placed(r) {
		c.FormatVersion = formatVersionUnplaced
	}
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("state: encode record %q: %w", r.Key, err)
	}
	return b, nil
}

// placed reports whether r or one of its replaced resources has a
// placement: such a record needs format version 2.
func placed(r *Record) bool {
	if !r.Placement.IsZero() || r.Pending != nil && !r.Pending.Placement.IsZero() {
		return true
	}
	for _, rt := range r.Retired {
		if !rt.Placement.IsZero() || rt.Pending != nil && !rt.Pending.Placement.IsZero() {
			return true
		}
	}
	return false
}

// EqualJSON reports whether a and b encode the same JSON value, whatever
// their spacing and member order. A document that does not parse equals
// nothing.
func EqualJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// DecodeRecord parses a record written by any released format version,
// upgrading it to the current one (see UpgradeRecord).
func DecodeRecord(data []byte) (*Record, error) {
	// A record whose version upgrades without a change to its JSON (the
	// current one, or one whose every later version only added optional
	// fields) decodes as it is, in one pass; any other (version 0, which
	// has no formatVersion, a newer one, or one that does not decode) takes
	// the upgrade path, which reads the version first and says what is
	// wrong.
	var r Record
	if json.Unmarshal(data, &r) == nil && decodesAsIs(r.FormatVersion) {
		if err := ValidateKey(r.Key); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		r.FormatVersion = FormatVersion
		return &r, nil
	}
	return decodeUpgraded(data)
}

// decodeUpgraded is DecodeRecord through UpgradeRecord.
func decodeUpgraded(data []byte) (*Record, error) {
	up, err := UpgradeRecord(data)
	if err != nil {
		return nil, err
	}
	var r Record
	dec := json.NewDecoder(bytes.NewReader(up))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if err := ValidateKey(r.Key); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	r.FormatVersion = FormatVersion
	return &r, nil
}

// recordV0 is the pre-release record layout (format version 0, written
// without a formatVersion field): desired properties under "properties" and
// the in-flight operation's tokens flat on the record.
type recordV0 struct {
	Key          string          `json:"key"`
	Scope        string          `json:"scope"`
	LogicalID    string          `json:"logicalId"`
	Type         string          `json:"type"`
	Seq          int64           `json:"seq"`
	Status       Status          `json:"status"`
	Identifier   string          `json:"identifier"`
	Properties   json.RawMessage `json:"properties"`
	Outputs      json.RawMessage `json:"outputs"`
	Operation    string          `json:"operation"`
	ClientToken  string          `json:"clientToken"`
	RequestToken string          `json:"requestToken"`
	CreatedAt    json.RawMessage `json:"createdAt"`
	UpdatedAt    json.RawMessage `json:"updatedAt"`
}

// UpgradeRecord returns the JSON of a record in the current format, given
// the JSON of a record in any known format version. Each step upgrades one
// version to the next, so a record written by any older release is read by
// applying the steps in order. A version newer than FormatVersion is an
// error naming both versions: it was written by a newer Athanor.
func UpgradeRecord(data []byte) ([]byte, error) {
	v, err := versionOf(data)
	if err != nil {
		return nil, err
	}
	if v > FormatVersion {
		return nil, fmt.Errorf("%w: record format version %d was written by a newer Athanor; this one reads up to version %d", ErrFormat, v, FormatVersion)
	}
	for ; v < FormatVersion; v++ {
		u, ok := recordUpgrades[v]
		if !ok {
			return nil, fmt.Errorf("%w: no upgrade from record format version %d", ErrFormat, v)
		}
		if u.step == nil {
			continue // the JSON reads as it is
		}
		if data, err = u.step(data); err != nil {
			return nil, fmt.Errorf("%w: upgrade record from format version %d: %v", ErrFormat, v, err)
		}
	}
	return data, nil
}

// recordUpgrade upgrades a record from one format version to the next:
// step rewrites its JSON, or is nil when the next version only added
// optional fields, so that the JSON is read as it is (and DecodeRecord
// sets the version), without the cost of re-encoding every record of a
// stage on every load.
type recordUpgrade struct {
	step func([]byte) ([]byte, error)
}

// recordUpgrades maps a format version to the upgrade of a record in it to
// the next version.
var recordUpgrades = map[int]recordUpgrade{
	0: {step: upgradeRecordV0},
	1: {}, // version 2 added the optional Placement
}

// decodesAsIs reports whether a record of format version v reads as the
// current version without a change to its JSON: v is the current version,
// or every upgrade from it to the current one has no step.
func decodesAsIs(v int) bool {
	if v < 0 || v > FormatVersion {
		return false
	}
	for ; v < FormatVersion; v++ {
		if u, ok := recordUpgrades[v]; !ok || u.step != nil {
			return false
		}
	}
	return true
}

func upgradeRecordV0(data []byte) ([]byte, error) {
	var o recordV0
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, err
	}
	scope, id := SplitKey(o.Key)
	if o.Scope == "" {
		o.Scope = scope
	}
	if o.LogicalID == "" {
		o.LogicalID = id
	}
	out := map[string]any{
		"formatVersion": 1,
		"key":           o.Key,
		"scope":         o.Scope,
		"logicalId":     o.LogicalID,
		"type":          o.Type,
		"seq":           o.Seq,
		"status":        o.Status,
	}
	if o.Identifier != "" {
		out["identifier"] = o.Identifier
	}
	if len(o.Properties) > 0 && string(o.Properties) != "null" {
		out["desired"] = o.Properties
	}
	if len(o.Outputs) > 0 && string(o.Outputs) != "null" {
		out["outputs"] = o.Outputs
	}
	if o.ClientToken != "" {
		out["pending"] = map[string]any{
			"operation":    o.Operation,
			"clientToken":  o.ClientToken,
			"requestToken": o.RequestToken,
			"identifier":   o.Identifier,
			"desired":      o.Properties,
			"startedAt":    o.UpdatedAt,
		}
	}
	if o.CreatedAt != nil {
		out["createdAt"] = o.CreatedAt
	}
	if o.UpdatedAt != nil {
		out["updatedAt"] = o.UpdatedAt
	}
	return json.Marshal(out)
}

// versionOf returns the formatVersion field of a JSON object (0 when absent).
func versionOf(data []byte) (int, error) {
	var probe struct {
		FormatVersion *int `json:"formatVersion"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if probe.FormatVersion == nil {
		return 0, nil
	}
	if *probe.FormatVersion < 0 {
		return 0, fmt.Errorf("%w: negative format version %d", ErrFormat, *probe.FormatVersion)
	}
	return *probe.FormatVersion, nil
}

// EncodeMeta returns the JSON encoding of m in the current format.
func EncodeMeta(m *Meta) ([]byte, error) {
	if m == nil {
		return nil, errors.New("state: nil meta")
	}
	c := *m
	// Metadata gained only optional fields (Target, Reads): version 1 keeps
	// older releases reading it.
	c.FormatVersion = formatVersionUnplaced
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("state: encode meta: %w", err)
	}
	return b, nil
}

// DecodeMeta parses stage metadata of any known format version. Metadata
// gained only optional fields since version 0 (Target), so older versions
// read unchanged.
func DecodeMeta(data []byte) (*Meta, error) {
	v, err := versionOf(data)
	if err != nil {
		return nil, err
	}
	if v > FormatVersion {
		return nil, fmt.Errorf("%w: meta format version %d was written by a newer Athanor; this one reads up to version %d", ErrFormat, v, FormatVersion)
	}
	var m Meta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	m.FormatVersion = FormatVersion
	return &m, nil
}

// NewMeta returns the metadata of a stage that has none yet.
func NewMeta() *Meta { return &Meta{FormatVersion: FormatVersion} }

// Equal reports whether two records hold the same data. JSON values
// (Desired, Outputs, Pending.Desired, Pending.Patch) compare by meaning, not
// by bytes, since a backend may store JSON normalised (PostgreSQL's jsonb
// reorders object keys and drops insignificant white space).
func Equal(a, b *Record) bool {
	if a == nil || b == nil {
		return a == b
	}
	ca, err1 := canonical(a)
	cb, err2 := canonical(b)
	return err1 == nil && err2 == nil && bytes.Equal(ca, cb)
}

// canonical encodes r with every JSON value re-encoded through any, which
// sorts object keys and removes white space; times compare as instants.
func canonical(r *Record) ([]byte, error) {
	b, err := EncodeRecord(r)
	if err != nil {
		return nil, err
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	normaliseTimes(v, r)
	return json.Marshal(v)
}

// normaliseTimes rewrites the record's time fields in v as UTC so that
// equal instants in different zones compare equal.
func normaliseTimes(v any, r *Record) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	m["createdAt"] = r.CreatedAt.UTC()
	m["updatedAt"] = r.UpdatedAt.UTC()
	if p, ok := m["pending"].(map[string]any); ok && r.Pending != nil {
		p["startedAt"] = r.Pending.StartedAt.UTC()
	}
	if rs, ok := m["retired"].([]any); ok {
		for i, x := range rs {
			if p, ok := x.(map[string]any)["pending"].(map[string]any); ok && r.Retired[i].Pending != nil {
				p["startedAt"] = r.Retired[i].Pending.StartedAt.UTC()
			}
		}
	}
}

package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/athanor-dev/athanor/internal/par"
	"github.com/athanor-dev/athanor/schema"
	"github.com/athanor-dev/athanor/state"
)

// PlanFormatVersion is the version of a saved plan's JSON.
const PlanFormatVersion = 1

// Plan is what a run will do: every declared resource's change, in
// declaration order, then the removals of what is no longer declared. A
// plan is computed without any change (Preview, PlanDestroy) and applied
// exactly (Apply): a declaration whose change differs from its planned one
// is refused.
type Plan struct {
	FormatVersion int    `json:"formatVersion"`
	App           string `json:"app"`
	Stage         string `json:"stage"`
	// Destroy marks the plan of a destroy: every resource removed.
	Destroy bool `json:"destroy,omitempty"`
	// Refresh tells that the plan was computed after a refresh.
	Refresh bool `json:"refresh,omitempty"`
	// StateDigest identifies the state the plan was computed from (every
	// record and the metadata): a plan applies only to that state.
	StateDigest string `json:"stateDigest"`
	// Target is the cloud the plan was computed for, when known.
	Target    *state.Target `json:"target,omitempty"`
	CreatedAt time.Time     `json:"createdAt"`
	Changes   []Change      `json:"changes"`
	// Salt and Expect let the plan be checked without holding write-only
	// values: Expect has each declared key's desired state with write-only
	// values replaced by salted digests.
	Salt   string                     `json:"salt"`
	Expect map[string]json.RawMessage `json:"expect,omitempty"`

	index sync.Once
	byKey map[string]int
	// lazy computes the Expect entries of a preview's plan when first
	// needed (a saved plan, a declaration whose decision is not reused).
	lazyMu sync.Mutex
	lazy   map[string]*decision
}

// expect returns key's entry of Expect, computing it if need be.
func (p *Plan) expect(key string) (json.RawMessage, bool) {
	p.lazyMu.Lock()
	defer p.lazyMu.Unlock()
	if exp, ok := p.Expect[key]; ok {
		return exp, true
	}
	dec, ok := p.lazy[key]
	if !ok {
		return nil, false
	}
	data, err := json.Marshal(fingerprint(dec.s, dec.model, p.Salt))
	if err != nil {
		return nil, false
	}
	if p.Expect == nil {
		p.Expect = map[string]json.RawMessage{}
	}
	p.Expect[key] = data
	delete(p.lazy, key)
	return data, true
}

// Complete computes every entry of Expect: before the plan is saved.
func (p *Plan) Complete() {
	p.lazyMu.Lock()
	keys := make([]string, 0, len(p.lazy))
	for k := range p.lazy {
		keys = append(keys, k)
	}
	p.lazyMu.Unlock()
	for _, k := range keys {
		p.expect(k)
	}
}

// Change is one resource's change in a plan.
type Change struct {
	Key        string `json:"key"`
	Type       string `json:"type"`
	Action     Action `json:"action"`
	Identifier string `json:"identifier,omitempty"`
	// Properties are the properties a create (or a replacement's create)
	// sends, write-only values masked.
	Properties map[string]any `json:"properties,omitempty"`
	// Diffs are an update's or replacement's changed paths, old → new.
	Diffs []PropertyChange `json:"diffs,omitempty"`
	// Patch is the update's JSON Patch, write-only values masked.
	Patch json.RawMessage `json:"patch,omitempty"`
	// Paths lists the changed properties; ReplacePaths those that force a
	// replacement.
	Paths        []string `json:"paths,omitempty"`
	ReplacePaths []string `json:"replacePaths,omitempty"`
	Order        Order    `json:"order,omitempty"`
	Reason       string   `json:"reason,omitempty"`
	// DependsOn lists the keys the resource depends on.
	DependsOn []string `json:"dependsOn,omitempty"`
	// Unknown tells that the declaration holds values known only once
	// resources it depends on are created or replaced.
	Unknown bool `json:"unknown,omitempty"`
	// Placement says where the resource is to live when a provider of the
	// program puts it in another region or account.
	Placement string `json:"placement,omitempty"`
}

// PropertyChange is one changed path of an update or replacement.
type PropertyChange struct {
	Path string `json:"path"`
	// Old and New are the recorded and declared values (write-only ones
	// masked); HadOld and HasNew tell whether there is one.
	Old    any  `json:"old,omitempty"`
	New    any  `json:"new,omitempty"`
	HadOld bool `json:"hadOld,omitempty"`
	HasNew bool `json:"hasNew,omitempty"`
	// Sensitive marks a write-only value: compared from state, never shown.
	Sensitive bool `json:"sensitive,omitempty"`
	// ForcesReplacement marks a path that forces the replacement.
	ForcesReplacement bool `json:"forcesReplacement,omitempty"`
}

// Change returns the planned change of key.
func (p *Plan) Change(key string) (Change, bool) {
	p.index.Do(func() {
		p.byKey = make(map[string]int, len(p.Changes))
		for i, c := range p.Changes {
			p.byKey[c.Key] = i
		}
	})
	i, ok := p.byKey[key]
	if !ok {
		return Change{}, false
	}
	return p.Changes[i], true
}

// Counts returns how many resources each action applies to.
func (p *Plan) Counts() Summary {
	var s Summary
	for _, c := range p.Changes {
		switch c.Action {
		case ActionCreate:
			s.Created++
		case ActionUpdate:
			s.Updated++
		case ActionReplace:
			s.Replaced++
		case ActionDelete:
			s.Deleted++
		case ActionForget:
			s.Forgotten++
		case ActionNoop:
			s.Unchanged++
		case ActionResume:
			s.Resumed++
		}
	}
	return s
}

// Empty reports whether applying the plan changes nothing.
func (p *Plan) Empty() bool {
	for _, c := range p.Changes {
		if c.Action != ActionNoop {
			return false
		}
	}
	return true
}

// ReadPlan decodes a saved plan.
func ReadPlan(data []byte) (*Plan, error) {
	var probe struct {
		FormatVersion int `json:"formatVersion"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("not a saved plan: %w", err)
	}
	if probe.FormatVersion != PlanFormatVersion {
		return nil, fmt.Errorf("saved plan format version %d; this Athanor reads version %d", probe.FormatVersion, PlanFormatVersion)
	}
	var p Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("not a saved plan: %w", err)
	}
	return &p, nil
}

// SamePlan checks that fresh, a plan just computed, has the changes of
// saved, computed earlier from the same state with the same salt: the same
// keys in the same order, each with the same action and desired state. It
// returns a *DeviationError for the first difference.
func SamePlan(saved, fresh *Plan) error {
	for _, c := range fresh.Changes {
		s, ok := saved.Change(c.Key)
		switch {
		case !ok:
			return &DeviationError{Key: c.Key, Type: c.Type, Detail: fmt.Sprintf("the program now needs %s, and the saved plan has no change for it", c.Action)}
		case s.Action != c.Action || s.Type != c.Type:
			return &DeviationError{Key: c.Key, Type: c.Type, Detail: fmt.Sprintf("the saved plan has %s %s, the program now needs %s %s", s.Action, s.Type, c.Action, c.Type)}
		case s.Placement != c.Placement:
			return &DeviationError{Key: c.Key, Type: c.Type, Detail: fmt.Sprintf("the saved plan places it in %s, the program now in %s", placementText(s.Placement), placementText(c.Placement))}
		}
		var want, got any
		sexp, sok := saved.expect(c.Key)
		fexp, fok := fresh.expect(c.Key)
		if !sok && !fok {
			continue // a lookup: no desired state
		}
		werr := json.Unmarshal(sexp, &want)
		gerr := json.Unmarshal(fexp, &got)
		if werr != nil || gerr != nil {
			return &DeviationError{Key: c.Key, Type: c.Type, Detail: "the saved plan's record of it is unreadable"}
		}
		if path := mismatch(schema.Normalize(want), schema.Normalize(got), ""); path != "" {
			return &DeviationError{Key: c.Key, Type: c.Type, Detail: fmt.Sprintf("%s is not the value in the saved plan", path)}
		}
	}
	for _, c := range saved.Changes {
		if _, ok := fresh.Change(c.Key); !ok {
			return &DeviationError{Key: c.Key, Type: c.Type, Detail: fmt.Sprintf("the saved plan has %s, and the program no longer declares it", c.Action)}
		}
	}
	return nil
}

// DeviationError is the error of a declaration whose change, when the plan
// is applied, is not its planned one: a resource not in the plan, another
// action, or other values than those planned (values that were not known
// when the plan was made excepted). Nothing is sent for it, and the run
// starts nothing new.
type DeviationError struct {
	Key, Type string
	// Detail says how the change differs.
	Detail string
}

func (e *DeviationError) Error() string {
	return fmt.Sprintf("%s (%s): the change differs from the plan: %s; nothing was sent for it, and the run stopped", e.Key, e.Type, e.Detail)
}

// ErrDeviation is matched (errors.Is) by every *DeviationError.
var ErrDeviation = errors.New("the change differs from the plan")

// Is makes errors.Is(err, ErrDeviation) hold.
func (e *DeviationError) Is(target error) bool { return target == ErrDeviation }

// conformed is conform, except that a decision the preview made for this
// very plan (reused) conforms by construction when the plan is the
// preview's own and has its change.
func (e *Engine) conformed(dec *decision, reused bool) error {
	if reused && e.plan.Salt == dec.salt {
		if planned, ok := e.plan.Change(dec.change.Key); ok && planned.Action == dec.change.Action {
			return nil
		}
	}
	return e.conform(dec)
}

// conform checks a declaration's decision against the plan being applied.
func (e *Engine) conform(dec *decision) error {
	c := dec.change
	planned, ok := e.plan.Change(c.Key)
	deviation := func(format string, args ...any) error {
		return &DeviationError{Key: c.Key, Type: c.Type, Detail: fmt.Sprintf(format, args...)}
	}
	if !ok {
		return deviation("the plan has no change for it (planned: %s)", planSummary(e.plan))
	}
	if planned.Type != c.Type {
		return deviation("the plan has type %s", planned.Type)
	}
	if planned.Placement != c.Placement && planned.Action != ActionResume {
		return deviation("the plan places it in %s, the program now in %s", placementText(planned.Placement), placementText(c.Placement))
	}
	if exp, ok := e.plan.expect(c.Key); ok {
		var want any
		if err := json.Unmarshal(exp, &want); err != nil {
			return deviation("the plan's record of it is unreadable: %v", err)
		}
		got := fingerprint(dec.s, dec.model, e.plan.Salt)
		if path := mismatch(schema.Normalize(want), got, ""); path != "" {
			return deviation("%s is not the planned value", path)
		}
	}
	if planned.Action != c.Action && planned.Action != ActionResume && !planned.Unknown {
		return deviation("the plan has %s, the program now needs %s", planned.Action, c.Action)
	}
	return nil
}

// placementText renders a Change's Placement for a message.
func placementText(p string) string {
	if p == "" {
		return (*state.Placement)(nil).String()
	}
	return p
}

// planSummary describes a plan's counts for an error.
func planSummary(p *Plan) string {
	s := p.Counts()
	return fmt.Sprintf("%d to create, %d to update, %d to replace, %d to delete, %d unchanged", s.Created, s.Updated, s.Replaced, s.Deleted, s.Unchanged)
}

// fingerprint returns model with every write-only value replaced by a
// salted digest of it (a value not known yet by unknownMark), to check a
// declaration against its plan without keeping secrets in the plan.
func fingerprint(s *schema.Schema, model map[string]any, salt string) any {
	return fingerprintAt(s, model, "", salt)
}

// unknownMark stands for a write-only value that held values not known
// yet: it matches any value.
const unknownMark = UnknownPrefix + ")"

func fingerprintAt(s *schema.Schema, v any, path, salt string) any {
	if path != "" && s.IsWriteOnly(path) {
		held := false
		stringLeaves(v, func(str string) { held = held || IsUnknown(str) })
		if held {
			return unknownMark
		}
		data, _ := json.Marshal(v)
		sum := sha256.Sum256(append([]byte(salt), data...))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = fingerprintAt(s, e, path+"/"+escapeToken(k), salt)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fingerprintAt(s, e, fmt.Sprintf("%s/%d", path, i), salt)
		}
		return out
	}
	return v
}

// mismatch returns the path of the first difference between a planned
// fingerprint and a declared one ("" when they match); planned strings
// holding values not known yet match anything.
func mismatch(want, got any, path string) string {
	if s, ok := want.(string); ok && IsUnknown(s) {
		return ""
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return displayPath(path)
		}
		keys := make([]string, 0, len(w)+len(g))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			wv, wok := w[k]
			gv, gok := g[k]
			p := path + "/" + escapeToken(k)
			if wok != gok {
				return p
			}
			if m := mismatch(wv, gv, p); m != "" {
				return m
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return displayPath(path)
		}
		for i := range w {
			if m := mismatch(w[i], g[i], fmt.Sprintf("%s/%d", path, i)); m != "" {
				return m
			}
		}
		return ""
	}
	if !schema.Equal(want, got) {
		return displayPath(path)
	}
	return ""
}

// stateDigest identifies a stage's state: its records and metadata. It is
// the SHA-256 of their JSON encodings, one a line (as a json.Encoder
// writes them), the records in key order and the metadata last. The
// records are encoded on every CPU, in contiguous runs of that order, and
// hashed in it.
func stateDigest(recs []*state.Record, meta *state.Meta) (string, error) {
	sorted := append([]*state.Record(nil), recs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	// encoded[lo] holds the encodings of the range that starts at lo.
	encoded := make([][]byte, len(sorted))
	errs := make([]error, len(sorted))
	par.For(len(sorted), loadChunk, func(lo, hi int) {
		var buf bytes.Buffer
		size := 0
		for _, r := range sorted[lo:hi] {
			size += digestOverhead + 2*len(r.Key) + len(r.Scope) + len(r.Type) + len(r.Identifier) + len(r.Desired) + len(r.Outputs)
		}
		buf.Grow(size)
		enc := json.NewEncoder(&buf)
		for _, r := range sorted[lo:hi] {
			if err := enc.Encode(r); err != nil {
				errs[lo] = err
				return
			}
		}
		encoded[lo] = buf.Bytes()
	})
	for _, err := range errs {
		if err != nil {
			return "", fmt.Errorf("digest state: %w", err)
		}
	}
	h := sha256.New()
	for _, b := range encoded {
		h.Write(b)
	}
	if err := json.NewEncoder(h).Encode(meta); err != nil {
		return "", fmt.Errorf("digest state: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// digestOverhead is about what a record's JSON line holds besides its
// strings and JSON values: field names, numbers and times.
const digestOverhead = 256

// short abbreviates a digest for a message.
func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}

// UnknownPrefix starts every value not known yet in a preview: an output
// of a resource the plan creates or replaces is "(known after apply:
// KEY.OUTPUT)", its identifier "(known after apply: KEY)".
const UnknownPrefix = "(known after apply"

// IsUnknown reports whether s holds a value not known yet in a preview.
func IsUnknown(s string) bool { return strings.Contains(s, UnknownPrefix) }

// unknowns are the placeholders a preview handed out, each naming the key
// whose value it stands for. It is safe for concurrent use.
type unknowns struct {
	mu    sync.RWMutex
	owner map[string]string // placeholder → key
}

// placeholder returns (and registers) the placeholder of key's output name,
// or of its identifier when name is "".
func (u *unknowns) placeholder(key, name string) string {
	p := UnknownPrefix + ": " + key + ")"
	if name != "" {
		p = UnknownPrefix + ": " + key + "." + name + ")"
	}
	u.mu.Lock()
	if u.owner == nil {
		u.owner = map[string]string{}
	}
	u.owner[p] = key
	u.mu.Unlock()
	return p
}

// scan calls fn with the start and end of every placeholder in s.
func (u *unknowns) scan(s string, fn func(key string, start, end int)) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	for i := 0; ; {
		j := strings.Index(s[i:], UnknownPrefix)
		if j < 0 {
			return
		}
		start := i + j
		end := -1
		for k := start; k < len(s); k++ {
			if s[k] != ')' {
				continue
			}
			if key, ok := u.owner[s[start:k+1]]; ok {
				fn(key, start, k+1)
				end = k + 1
				break
			}
		}
		if end < 0 {
			i = start + len(UnknownPrefix)
			continue
		}
		i = end
	}
}

// count is a schema.Unknowns: the placeholders in s and its other
// characters.
func (u *unknowns) count(s string) (n, known int) {
	known = len([]rune(s))
	u.scan(s, func(_ string, start, end int) {
		n++
		known -= len([]rune(s[start:end]))
	})
	return n, known
}

// keys calls fn with the key of every placeholder in s.
func (u *unknowns) keys(s string, fn func(key string)) {
	u.scan(s, func(key string, _, _ int) { fn(key) })
}

// holds reports whether a string of v holds a placeholder.
func (u *unknowns) holds(v any) bool {
	found := false
	stringLeaves(v, func(s string) {
		if !found && IsUnknown(s) {
			u.scan(s, func(string, int, int) { found = true })
		}
	})
	return found
}

// Preview computes a deploy's plan: the program declares its resources on
// it as on the engine, nothing is sent or written, and every declaration is
// validated (all errors collected: Declare never fails, see Errors).
// Outputs of resources to be created or replaced are placeholders, distinct
// per resource and output, that later declarations carry.
//
// Declare answers once it knows the declaration's action (the answer
// depends on it); the validation, the dependency search and what the plan
// shows of the change run meanwhile on other goroutines (see complete).
// Errors, Valid, Dependencies and Plan wait for that work and give its
// results in declaration order, so the plan is the same on every run.
type Preview struct {
	e    *Engine
	u    unknowns
	salt string

	mu sync.Mutex
	// entries are the declarations and lookups in the order they were
	// made; the first settled of them have been moved to the fields below
	// (see settle).
	entries  []*entry
	settled  int
	changes  []Change
	expect   map[string]*decision
	declared map[string]bool
	errs     []error

	// settleMu serialises settle.
	settleMu sync.Mutex
	// queue holds the entries whose complete is yet to run, on up to
	// GOMAXPROCS goroutines (workers of them running).
	qmu     sync.Mutex
	queue   []*entry
	workers int
}

// entry is one declaration or lookup of a preview.
type entry struct {
	key, typ string
	// dec is a declaration's decision; read a lookup's change. err, when
	// set, makes the entry an error instead.
	dec  *decision
	read *Change
	err  error
	// done is closed once the entry is final: a failure or a lookup at
	// once, a declaration once complete has run on dec (and set err if it
	// failed).
	done chan struct{}
}

// Preview starts the preview of a deploy of the loaded stage. salt salts
// the digests of write-only values in the plan's Expect ("" for a new
// salt; a saved plan's to compare a preview with it, see SamePlan).
func (e *Engine) Preview(salt string) *Preview {
	if salt == "" {
		salt = newSalt()
	}
	// A redeploy declares about what the stage records.
	e.mu.Lock()
	n := len(e.slots)
	e.mu.Unlock()
	return &Preview{e: e, salt: salt, expect: make(map[string]*decision, n), declared: make(map[string]bool, n)}
}

func newSalt() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// begin appends the entry of a declaration or lookup of key, which its
// caller makes final (closing done) without waiting for another entry.
func (p *Preview) begin(key, typ string) *entry {
	en := &entry{key: key, typ: typ, done: make(chan struct{})}
	p.mu.Lock()
	p.entries = append(p.entries, en)
	p.mu.Unlock()
	return en
}

// completeLater has complete run on en's decision on another goroutine.
func (p *Preview) completeLater(en *entry) {
	p.qmu.Lock()
	p.queue = append(p.queue, en)
	start := p.workers < runtime.GOMAXPROCS(0)
	if start {
		p.workers++
	}
	p.qmu.Unlock()
	if start {
		go p.work()
	}
}

// work runs complete on queued entries until the queue is empty.
func (p *Preview) work() {
	for {
		p.qmu.Lock()
		if len(p.queue) == 0 {
			p.queue = nil
			p.workers--
			p.qmu.Unlock()
			return
		}
		en := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.qmu.Unlock()
		if err := p.e.complete(en.dec, &p.u); err != nil {
			en.err = resourceError(en.key, en.typ, err)
		}
		close(en.done)
	}
}

// settle waits for the work on the entries so far and moves them, in their
// order, to the preview's changes and errors; it reports each error.
func (p *Preview) settle() {
	p.settleMu.Lock()
	defer p.settleMu.Unlock()
	for {
		p.mu.Lock()
		if p.settled == len(p.entries) {
			p.mu.Unlock()
			return
		}
		en := p.entries[p.settled]
		p.changes = slices.Grow(p.changes, len(p.entries)-p.settled)
		p.mu.Unlock()
		<-en.done
		p.mu.Lock()
		p.entries[p.settled] = nil
		p.settled++
		switch {
		case en.err != nil:
			p.errs = append(p.errs, en.err)
		case en.read != nil:
			p.changes = append(p.changes, *en.read)
		default:
			dec := en.dec
			p.changes = append(p.changes, dec.change)
			p.expect[en.key] = dec
			if !dec.unknown && dec.change.Action != ActionResume {
				dec.salt = p.salt
				p.e.mu.Lock()
				p.e.decisions[en.key] = dec
				p.e.mu.Unlock()
			}
		}
		p.mu.Unlock()
		if en.err != nil {
			p.e.o.Reporter.Failed(en.key, en.typ, en.err)
		}
	}
}

// resourceError wraps err as key's, unless it is a *ResourceError.
func resourceError(key, typ string, err error) error {
	var re *ResourceError
	if !errors.As(err, &re) {
		err = &ResourceError{Key: key, Type: typ, Err: err}
	}
	return err
}

// Declare works out the change of one declaration and returns what the
// resource will be: its recorded identifier and outputs when it is kept or
// updated, placeholders for what is not known yet when it is created or
// replaced. A declaration whose model cannot be made is recorded (Errors)
// and answered with placeholders, so that the program goes on and every
// error is found; one whose model is made is answered by its action,
// while it is validated (a validation error is recorded as well).
func (p *Preview) Declare(ctx context.Context, d Declaration) (*Declared, error) {
	key := d.LogicalID
	if d.Scope != "" {
		key = d.Scope + "/" + d.LogicalID
	}
	placeholders := func(s *schema.Schema) *Declared {
		out := &Declared{Key: key, Identifier: p.u.placeholder(key, ""), Outputs: map[string]any{}}
		if s == nil {
			return out
		}
		for _, name := range schema.TopLevelNames(s.ReadOnly) {
			out.Outputs[name] = p.u.placeholder(key, name)
		}
		if len(s.PrimaryIdentifier) == 1 {
			// An identifier the service assigns is also an output.
			if v, ok := out.Outputs[strings.TrimPrefix(trimProperties(s.PrimaryIdentifier[0]), "/")]; ok {
				out.Identifier = v.(string)
			}
		}
		return out
	}
	en := p.begin(key, d.Type)
	fail := func(err error) (*Declared, error) {
		en.err = resourceError(key, d.Type, err)
		close(en.done)
		s, _ := p.e.o.Registry.Lookup(d.Type)
		return placeholders(s), nil
	}
	if d.LogicalID == "" || strings.Contains(d.LogicalID, "/") {
		return fail(fmt.Errorf("logical id %q must be non-empty and contain no '/'", d.LogicalID))
	}
	p.mu.Lock()
	dup := p.declared[key]
	p.declared[key] = true
	p.mu.Unlock()
	if dup {
		scope := d.Scope
		if scope == "" {
			scope = "(root)"
		}
		return fail(fmt.Errorf("logical id %q in scope %s: %w", d.LogicalID, scope, ErrDuplicate))
	}
	p.e.mu.Lock()
	sl := p.e.slots[key]
	p.e.mu.Unlock()
	var rec *state.Record
	if sl != nil {
		sl.mu.Lock()
		rec = sl.rec
		sl.mu.Unlock()
	}
	dec, err := p.e.classify(key, rec, d, &p.u)
	if err != nil {
		return fail(err)
	}
	var res *Declared
	switch dec.change.Action {
	case ActionNoop, ActionUpdate:
		sl.mu.Lock()
		res, err = sl.takeDeclared(rec)
		sl.mu.Unlock()
		if err != nil {
			return fail(p.e.validated(dec, &p.u, err))
		}
		dec.declared = res
	default:
		res = placeholders(dec.s)
		if id, err := dec.s.Identifier(dec.model); err == nil && id != "" && !IsUnknown(id) {
			res.Identifier = id
		}
	}
	en.dec = dec
	p.completeLater(en)
	return res, nil
}

// Errors returns the errors of the declarations so far, in declaration
// order.
func (p *Preview) Errors() []error {
	p.settle()
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.errs...)
}

// Valid returns the changes of the valid declarations so far, in
// declaration order.
func (p *Preview) Valid() []Change {
	p.settle()
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Change(nil), p.changes...)
}

// Dependencies returns each declared key's dependencies.
func (p *Preview) Dependencies() map[string][]string {
	p.settle()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string][]string, len(p.expect))
	for k, dec := range p.expect {
		out[k] = append([]string(nil), dec.deps...)
	}
	return out
}

// Plan ends the preview once the program returned nil: the declared
// changes, in declaration order, then the removal of every recorded
// resource no longer declared (the last created first).
func (p *Preview) Plan() *Plan {
	p.settle()
	p.mu.Lock()
	plan := p.e.newPlan(false, p.salt)
	plan.Changes = append(plan.Changes, p.changes...)
	plan.lazy = make(map[string]*decision, len(p.expect))
	for k, v := range p.expect {
		plan.lazy[k] = v
	}
	declared := p.declared
	p.mu.Unlock()
	plan.Changes = append(plan.Changes, p.e.removals(func(sl *slot) bool { return !declared[sl.key] })...)
	return plan
}

// PlanDestroy computes the plan of a destroy: the removal of every recorded
// resource, the last created first.
func (e *Engine) PlanDestroy() *Plan {
	plan := e.newPlan(true, newSalt())
	plan.Changes = e.removals(func(*slot) bool { return true })
	return plan
}

func (e *Engine) newPlan(destroy bool, salt string) *Plan {
	return &Plan{FormatVersion: PlanFormatVersion, App: e.o.App, Stage: e.o.Stage, Destroy: destroy, Refresh: e.o.Refresh,
		StateDigest: e.digest, CreatedAt: time.Now().UTC(), Salt: salt, Expect: map[string]json.RawMessage{}}
}

// removals returns the removal of every record pick selects, the last
// created first.
func (e *Engine) removals(pick func(*slot) bool) []Change {
	e.mu.Lock()
	var recs []*state.Record
	for _, sl := range e.slots {
		if sl.rec != nil && pick(sl) {
			recs = append(recs, sl.rec)
		}
	}
	e.mu.Unlock()
	sort.Slice(recs, func(i, j int) bool {
		if recs[i].Seq != recs[j].Seq {
			return recs[i].Seq > recs[j].Seq
		}
		return recs[i].Key < recs[j].Key
	})
	out := make([]Change, 0, len(recs))
	for _, r := range recs {
		out = append(out, removal(r))
	}
	return out
}

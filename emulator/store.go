package emulator

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Operation statuses of the Cloud Control model.
const (
	statusPending        = "PENDING"
	statusInProgress     = "IN_PROGRESS"
	statusSuccess        = "SUCCESS"
	statusFailed         = "FAILED"
	statusCancelProgress = "CANCEL_IN_PROGRESS"
	statusCancelComplete = "CANCEL_COMPLETE"
)

// Operations of the Cloud Control model.
const (
	opCreate = "CREATE"
	opUpdate = "UPDATE"
	opDelete = "DELETE"
)

// resourceKey identifies a resource: its type and canonical identifier.
type resourceKey struct {
	TypeName, ID string
}

func (k resourceKey) String() string { return k.TypeName + "\x00" + k.ID }

// resource is one stored resource. Its Model is the full model, write-only
// properties included; a stored Model is never modified in place (changes
// install a new map), so readers may use it after releasing the lock.
type resource struct {
	TypeName   string         `json:"typeName"`
	Identifier string         `json:"identifier"`
	Model      map[string]any `json:"model"`
	Created    time.Time      `json:"created"`
	Updated    time.Time      `json:"updated"`
}

// request is one asynchronous resource operation request.
type request struct {
	Seq         uint64 `json:"seq"`
	Token       string `json:"token"`
	ClientToken string `json:"clientToken,omitempty"`
	// Fingerprint identifies the request's content for ClientToken
	// idempotency.
	Fingerprint string `json:"fingerprint,omitempty"`
	TypeName    string `json:"typeName"`
	Operation   string `json:"operation"`
	Identifier  string `json:"identifier"`
	// HideIdentifier keeps a generated identifier out of the events until the
	// request succeeds, as the service does.
	HideIdentifier bool      `json:"hideIdentifier,omitempty"`
	Submitted      time.Time `json:"submitted"`
	CompleteAt     time.Time `json:"completeAt"`
	Status         string    `json:"status"`
	EventTime      time.Time `json:"eventTime"`
	ErrorCode      string    `json:"errorCode,omitempty"`
	StatusMessage  string    `json:"statusMessage,omitempty"`
	// Model is the full model the request installs (CREATE, UPDATE).
	Model map[string]any `json:"model,omitempty"`
	// FailCode and FailMessage, when set, are the failure decided at
	// submission (model validation, an injected fault).
	FailCode    string `json:"failCode,omitempty"`
	FailMessage string `json:"failMessage,omitempty"`
	// FailAfterEffect makes the request take effect before it ends FAILED
	// with FailCode: a resource that did not stabilise.
	FailAfterEffect bool `json:"failAfterEffect,omitempty"`
	heapIndex       int  // position in the pending heap
	// expired marks a request forgotten after the retention period whose
	// entry in store.order has not been reclaimed yet.
	expired bool
}

func (r *request) final() bool {
	switch r.Status {
	case statusSuccess, statusFailed, statusCancelComplete:
		return true
	}
	return false
}

// store holds resources and requests in memory, indexed for O(1) lookups by
// type and identifier and by request token, and mirrors every change to the
// journal when one is configured.
//
// Final requests are forgotten once their EventTime is retention old, as
// Cloud Control forgets resource operation requests after 7 days. A request
// joins the expiry queue when it becomes final, so the queue is in the order
// of EventTime (completions and cancellations are applied in time order,
// because every mutation settles what is due first); requests in flight are
// never in it and so never hold back the expiry of later ones. Expiry pops
// the front of the queue while it is old enough: O(1) per request. In
// s.order (by Seq) an expired request becomes a tombstone; tombstones at the
// front are dropped at once and the others when they outnumber the live
// entries, so reclaiming them is also amortised O(1). Should the clock step
// backwards, a request stamped before the step is forgotten at most that
// step late, and it holds back only the requests queued behind it.
type store struct {
	mu           sync.RWMutex
	resources    map[resourceKey]*resource
	sorted       map[string][]string // per type: sorted identifiers, nil when stale
	count        map[string]int      // per type: number of resources
	requests     map[string]*request
	order        []*request // by Seq
	clientTokens map[string]*request
	inflight     map[resourceKey]*request
	pending      requestHeap
	nextDue      atomic.Int64 // UnixNano of the earliest pending completion
	seq          uint64
	j            *journal

	retention  time.Duration
	expiry     []*request   // final requests in the order they became final
	nextExpiry atomic.Int64 // UnixNano when the front of expiry expires
	dead       int          // tombstones (expired requests) in order

	// sc is the account and region the store holds; the journal keeps its
	// records under keys prefixed with them.
	sc scope
}

func newStore(j *journal, retention time.Duration, sc scope) *store {
	s := &store{
		sc:           sc,
		resources:    map[resourceKey]*resource{},
		sorted:       map[string][]string{},
		count:        map[string]int{},
		requests:     map[string]*request{},
		clientTokens: map[string]*request{},
		inflight:     map[resourceKey]*request{},
		j:            j,
		retention:    retention,
	}
	s.nextDue.Store(math.MaxInt64)
	s.nextExpiry.Store(math.MaxInt64)
	return s
}

// loadResource adds a resource read from the journal.
func (s *store) loadResource(val []byte) error {
	var r resource
	if err := json.Unmarshal(val, &r); err != nil {
		return fmt.Errorf("emulator: stored resource of %s: %w", s.sc, err)
	}
	s.resources[resourceKey{r.TypeName, r.Identifier}] = &r
	s.count[r.TypeName]++
	return nil
}

// loadRequest adds a request read from the journal.
func (s *store) loadRequest(val []byte) error {
	var r request
	if err := json.Unmarshal(val, &r); err != nil {
		return fmt.Errorf("emulator: stored request of %s: %w", s.sc, err)
	}
	s.addRequestLocked(&r)
	return nil
}

// loaded orders the requests read from the journal and queues the final
// ones for expiry.
func (s *store) loaded() {
	slices.SortFunc(s.order, func(a, b *request) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	if n := len(s.order); n > 0 {
		s.seq = s.order[n-1].Seq
	}
	for _, r := range s.order {
		if r.final() {
			s.expiry = append(s.expiry, r)
		}
	}
	slices.SortStableFunc(s.expiry, func(a, b *request) int { return a.EventTime.Compare(b.EventTime) })
	s.setNextExpiryLocked()
}

// addRequestLocked indexes r; s.mu must be held for writing.
func (s *store) addRequestLocked(r *request) {
	s.requests[r.Token] = r
	s.order = append(s.order, r)
	if r.ClientToken != "" {
		s.clientTokens[r.ClientToken] = r
	}
	if !r.final() {
		if r.Identifier != "" {
			s.inflight[resourceKey{r.TypeName, r.Identifier}] = r
		}
		heap.Push(&s.pending, r)
		s.nextDue.Store(s.pending[0].CompleteAt.UnixNano())
	}
}

// persistLocked queues r and the resource under k (or its deletion) for the
// journal and returns the sequence to wait for; 0 without a journal.
func (s *store) persistLocked(r *request, k *resourceKey) uint64 {
	if s.j == nil {
		return 0
	}
	var ops []journalOp
	if r != nil {
		b, err := json.Marshal(r)
		if err != nil {
			panic(fmt.Sprintf("emulator: encode request: %v", err)) // maps of JSON values always encode
		}
		ops = append(ops, journalOp{bucket: bucketRequests, key: s.sc.journalKey(r.Token), val: b})
	}
	if k != nil {
		op := journalOp{bucket: bucketResources, key: s.sc.journalKey(k.String())}
		if res := s.resources[*k]; res != nil {
			b, err := json.Marshal(res)
			if err != nil {
				panic(fmt.Sprintf("emulator: encode resource: %v", err))
			}
			op.val = b
		}
		ops = append(ops, op)
	}
	return s.j.add(ops...)
}

// durable waits until the journal holds the writes up to seq.
func (s *store) durable(seq uint64) error {
	if s.j == nil || seq == 0 {
		return nil
	}
	return s.j.wait(seq)
}

// settle completes every pending request due at now and forgets the final
// requests older than the retention period. It is cheap when nothing is due:
// two atomic loads.
func (s *store) settle(now time.Time) uint64 {
	if n := now.UnixNano(); n < s.nextDue.Load() && n < s.nextExpiry.Load() {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settleLocked(now)
}

func (s *store) settleLocked(now time.Time) uint64 {
	var seq uint64
	for len(s.pending) > 0 && !s.pending[0].CompleteAt.After(now) {
		r := heap.Pop(&s.pending).(*request)
		seq = s.completeLocked(r)
		s.retireLocked(r)
	}
	if len(s.pending) > 0 {
		s.nextDue.Store(s.pending[0].CompleteAt.UnixNano())
	} else {
		s.nextDue.Store(math.MaxInt64)
	}
	return max(seq, s.expireLocked(now))
}

// retireLocked queues r, which has just become final, for expiry.
func (s *store) retireLocked(r *request) {
	s.expiry = append(s.expiry, r)
	if len(s.expiry) == 1 {
		s.setNextExpiryLocked()
	}
}

func (s *store) setNextExpiryLocked() {
	if len(s.expiry) == 0 {
		s.nextExpiry.Store(math.MaxInt64)
		return
	}
	s.nextExpiry.Store(s.expiry[0].EventTime.Add(s.retention).UnixNano())
}

// expireLocked forgets the final requests whose EventTime is at least the
// retention period before now: from the token and ClientToken indexes, the
// Seq order and the journal. It returns the journal sequence to wait for.
func (s *store) expireLocked(now time.Time) uint64 {
	if now.UnixNano() < s.nextExpiry.Load() {
		return 0
	}
	cutoff := now.Add(-s.retention)
	var ops []journalOp
	for len(s.expiry) > 0 && !s.expiry[0].EventTime.After(cutoff) {
		r := s.expiry[0]
		s.expiry[0] = nil
		s.expiry = s.expiry[1:]
		delete(s.requests, r.Token)
		if r.ClientToken != "" && s.clientTokens[r.ClientToken] == r {
			delete(s.clientTokens, r.ClientToken)
		}
		r.expired = true
		s.dead++
		if s.j != nil {
			ops = append(ops, journalOp{bucket: bucketRequests, key: s.sc.journalKey(r.Token)})
		}
	}
	if len(s.expiry) == 0 {
		s.expiry = nil // release the backing array
	}
	s.setNextExpiryLocked()
	s.reclaimLocked()
	if len(ops) == 0 {
		return 0
	}
	return s.j.add(ops...)
}

// reclaimLocked drops the tombstones from s.order: those at the front at
// once, the rest when they outnumber the live requests.
func (s *store) reclaimLocked() {
	i := 0
	for i < len(s.order) && s.order[i].expired {
		s.order[i] = nil
		i++
	}
	s.order, s.dead = s.order[i:], s.dead-i
	if len(s.order) == 0 {
		s.order = nil
	}
	if s.dead == 0 || s.dead*2 <= len(s.order) {
		return
	}
	live := make([]*request, 0, len(s.order)-s.dead)
	for _, r := range s.order {
		if !r.expired {
			live = append(live, r)
		}
	}
	s.order, s.dead = live, 0
}

// completeLocked applies r's effect and gives it its final status.
func (s *store) completeLocked(r *request) uint64 {
	k := resourceKey{r.TypeName, r.Identifier}
	if s.inflight[k] == r {
		delete(s.inflight, k)
	}
	r.EventTime = r.CompleteAt
	if r.FailCode != "" && !r.FailAfterEffect {
		r.Status, r.ErrorCode, r.StatusMessage = statusFailed, r.FailCode, r.FailMessage
		return s.persistLocked(r, nil)
	}
	cur := s.resources[k]
	switch r.Operation {
	case opCreate:
		if cur != nil {
			r.Status, r.ErrorCode = statusFailed, "AlreadyExists"
			r.StatusMessage = fmt.Sprintf("Resource of type '%s' with identifier '%s' already exists.", r.TypeName, r.Identifier)
			return s.persistLocked(r, nil)
		}
		s.putLocked(&resource{TypeName: r.TypeName, Identifier: r.Identifier, Model: r.Model, Created: r.CompleteAt, Updated: r.CompleteAt})
	case opUpdate:
		if cur == nil {
			r.Status, r.ErrorCode, r.StatusMessage = statusFailed, "NotFound", notFoundMessage(r.TypeName, r.Identifier)
			return s.persistLocked(r, nil)
		}
		s.putLocked(&resource{TypeName: r.TypeName, Identifier: r.Identifier, Model: r.Model, Created: cur.Created, Updated: r.CompleteAt})
	case opDelete:
		if cur == nil {
			r.Status, r.ErrorCode, r.StatusMessage = statusFailed, "NotFound", notFoundMessage(r.TypeName, r.Identifier)
			return s.persistLocked(r, nil)
		}
		s.deleteLocked(k)
	}
	if r.FailAfterEffect {
		r.Status, r.ErrorCode, r.StatusMessage = statusFailed, r.FailCode, r.FailMessage
		return s.persistLocked(r, &k)
	}
	r.Status = statusSuccess
	return s.persistLocked(r, &k)
}

func notFoundMessage(typeName, id string) string {
	return fmt.Sprintf("Resource of type '%s' with identifier '%s' was not found.", typeName, id)
}

func (s *store) putLocked(r *resource) {
	k := resourceKey{r.TypeName, r.Identifier}
	if _, ok := s.resources[k]; !ok {
		s.count[r.TypeName]++
		s.sorted[r.TypeName] = nil
	}
	s.resources[k] = r
}

func (s *store) deleteLocked(k resourceKey) {
	if _, ok := s.resources[k]; ok {
		delete(s.resources, k)
		s.count[k.TypeName]--
		s.sorted[k.TypeName] = nil
	}
}

// get returns the resource under k, or nil.
func (s *store) get(k resourceKey) *resource {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.resources[k]
}

// create stores r if nothing is stored under its key; it reports whether it did.
func (s *store) create(r *resource) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := resourceKey{r.TypeName, r.Identifier}
	if s.resources[k] != nil {
		return 0, false
	}
	s.putLocked(r)
	return s.persistLocked(nil, &k), true
}

// remove deletes the resource under k; it reports whether one was there.
func (s *store) remove(k resourceKey) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resources[k] == nil {
		return 0, false
	}
	s.deleteLocked(k)
	return s.persistLocked(nil, &k), true
}

// list returns up to max resources of typeName whose identifiers sort after
// `after`, and whether more follow. match filters resources when non-nil.
func (s *store) list(typeName, after string, max int, match func(*resource) bool) ([]*resource, bool) {
	s.mu.RLock()
	ids := s.sorted[typeName]
	stale := ids == nil && s.count[typeName] > 0
	s.mu.RUnlock()
	if stale {
		s.mu.Lock()
		ids = s.sorted[typeName]
		if ids == nil {
			ids = make([]string, 0, s.count[typeName])
			for k := range s.resources {
				if k.TypeName == typeName {
					ids = append(ids, k.ID)
				}
			}
			sort.Strings(ids)
			s.sorted[typeName] = ids
		}
		s.mu.Unlock()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := 0
	if after != "" {
		i = sort.SearchStrings(ids, after)
		if i < len(ids) && ids[i] == after {
			i++
		}
	}
	var out []*resource
	for ; i < len(ids); i++ {
		r := s.resources[resourceKey{typeName, ids[i]}]
		if r == nil || (match != nil && !match(r)) {
			continue
		}
		if len(out) == max {
			return out, true
		}
		out = append(out, r)
	}
	return out, false
}

// submitError is submit's refusal of a request.
type submitError struct {
	concurrentToken string // the token of the request in flight on the identifier
	conflict        bool   // ClientToken reused for a different request
}

// submit records a new request, or returns the earlier request with the same
// ClientToken and fingerprint. The request is returned as a copy taken under
// the store's lock (a new one as it stood when it was submitted), since the
// stored request keeps changing as it settles. It refuses a ClientToken reused for other
// content and a mutation of an identifier with one in flight.
// When expect is not nil, the resource must still be that one (the model an
// update was computed against).
func (s *store) submit(r *request, expect *resource) (request, uint64, *submitError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.settleLocked(r.Submitted)
	if r.ClientToken != "" {
		if prev := s.clientTokens[r.ClientToken]; prev != nil {
			if prev.Fingerprint != r.Fingerprint {
				return request{}, seq, &submitError{conflict: true}
			}
			return *prev, seq, nil
		}
	}
	k := resourceKey{r.TypeName, r.Identifier}
	if cur := s.inflight[k]; cur != nil && r.Identifier != "" {
		return request{}, seq, &submitError{concurrentToken: cur.Token}
	}
	if expect != nil && s.resources[k] != expect {
		return request{}, seq, &submitError{}
	}
	s.seq++
	r.Seq = s.seq
	r.Status = statusInProgress
	r.EventTime = r.Submitted
	s.addRequestLocked(r)
	seq = s.persistLocked(r, nil)
	snap := initial(r)
	if !r.CompleteAt.After(r.Submitted) {
		seq = max(seq, s.settleLocked(r.Submitted))
	}
	return snap, seq, nil
}

// initial returns r as it stood when it was submitted.
func initial(r *request) request {
	c := *r
	c.Status = statusInProgress
	c.EventTime = c.Submitted
	c.ErrorCode, c.StatusMessage = "", ""
	return c
}

// request returns a copy of the request with token.
func (s *store) request(token string) (request, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.requests[token]
	if !ok {
		return request{}, false
	}
	return *r, true
}

// cancel cancels the request with token if it is still in progress.
func (s *store) cancel(token string, now time.Time) (request, uint64, bool, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.settleLocked(now)
	r, ok := s.requests[token]
	if !ok {
		return request{}, seq, false, false
	}
	if r.final() {
		return *r, seq, true, false
	}
	heap.Remove(&s.pending, r.heapIndex)
	if len(s.pending) > 0 {
		s.nextDue.Store(s.pending[0].CompleteAt.UnixNano())
	} else {
		s.nextDue.Store(math.MaxInt64)
	}
	k := resourceKey{r.TypeName, r.Identifier}
	if s.inflight[k] == r {
		delete(s.inflight, k)
	}
	r.Status, r.EventTime = statusCancelComplete, now
	s.retireLocked(r)
	return *r, max(seq, s.persistLocked(r, nil)), true, true
}

// listRequests returns up to max requests, newest first, with Seq below
// before (0: from the newest), that match keep; and the Seq to continue
// from, 0 when done.
func (s *store) listRequests(before uint64, max int, keep func(*request) bool) ([]request, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := len(s.order)
	if before > 0 {
		i = sort.Search(len(s.order), func(i int) bool { return s.order[i].Seq >= before })
	}
	var out []request
	for i--; i >= 0; i-- {
		r := s.order[i]
		if r.expired || !keep(r) {
			continue
		}
		if len(out) == max {
			return out, r.Seq + 1
		}
		out = append(out, *r)
	}
	return out, 0
}

// requestHeap orders pending requests by completion time.
type requestHeap []*request

func (h requestHeap) Len() int { return len(h) }
func (h requestHeap) Less(i, j int) bool {
	if h[i].CompleteAt.Equal(h[j].CompleteAt) {
		return h[i].Seq < h[j].Seq
	}
	return h[i].CompleteAt.Before(h[j].CompleteAt)
}
func (h requestHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex, h[j].heapIndex = i, j
}
func (h *requestHeap) Push(x any) {
	r := x.(*request)
	r.heapIndex = len(*h)
	*h = append(*h, r)
}
func (h *requestHeap) Pop() any {
	old := *h
	n := len(old)
	r := old[n-1]
	old[n-1] = nil
	r.heapIndex = -1
	*h = old[:n-1]
	return r
}

// modify changes a copy of the model stored under k with fn, under the
// store's lock (fn must be quick), and installs it when fn returns true. It
// reports whether the resource exists.
func (s *store) modify(k resourceKey, now time.Time, fn func(model map[string]any) bool) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.resources[k]
	if cur == nil {
		return 0, false
	}
	m := make(map[string]any, len(cur.Model))
	for key, v := range cur.Model {
		m[key] = v
	}
	if !fn(m) {
		return 0, true
	}
	next := *cur
	next.Model, next.Updated = m, now
	s.putLocked(&next)
	return s.persistLocked(nil, &k), true
}

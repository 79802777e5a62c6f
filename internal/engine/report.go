package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/athanor-dev/athanor/schema"
)

// Action is what the engine does (or, in a plan, would do) to a resource.
type Action string

// Actions.
const (
	ActionCreate  Action = "create"
	ActionUpdate  Action = "update"
	ActionReplace Action = "replace"
	ActionDelete  Action = "delete"
	ActionNoop    Action = "no-op"
	ActionAdopt   Action = "adopt"
	ActionResume  Action = "resume"
	ActionRead    Action = "read"
	ActionForget  Action = "forget" // a retained resource leaves state, not the cloud
)

// Order is the order of a replacement.
type Order string

// Replacement orders.
const (
	// DeleteFirst deletes the old resource and then creates the new one:
	// the identifier is the user's and stays the same.
	DeleteFirst Order = "delete-first"
	// CreateFirst creates the new resource and deletes the old one at the
	// end of the run.
	CreateFirst Order = "create-first"
)

// Drift is a readable property whose live value differs from the record,
// or a resource found deleted (Gone).
type Drift struct {
	Key      string `json:"key"`
	Type     string `json:"type"`
	Path     string `json:"path,omitempty"`
	Recorded any    `json:"recorded,omitempty"`
	Live     any    `json:"live,omitempty"`
	Gone     bool   `json:"gone,omitempty"`
}

// Summary counts what a run did.
type Summary struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Replaced  int `json:"replaced"`
	Deleted   int `json:"deleted"`
	Unchanged int `json:"unchanged"`
	// Forgotten counts retained resources removed from state and left in
	// the cloud.
	Forgotten int `json:"forgotten,omitempty"`
	Adopted   int `json:"adopted,omitempty"`
	// Resumed counts operations of an interrupted run that this run
	// finished; those that succeeded are also counted under their kind.
	Resumed int `json:"resumed,omitempty"`
	Failed  int `json:"failed,omitempty"`
	// NotStarted counts declarations a cancelled run did not start.
	NotStarted int `json:"notStarted,omitempty"`
	// Duration is the run's wall time; in JSON "durationMs", milliseconds
	// as a number, as in every event.
	Duration time.Duration `json:"-"`
}

// MarshalJSON writes s with its duration in milliseconds ("durationMs"),
// the unit of every duration in Athanor's JSON output.
func (s Summary) MarshalJSON() ([]byte, error) {
	type counts Summary // without this method
	return json.Marshal(struct {
		counts
		DurationMS float64 `json:"durationMs"`
	}{counts(s), milliseconds(s.Duration)})
}

// milliseconds converts d to milliseconds, with microsecond precision.
func milliseconds(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Reporter writes progress for a person (text) or a machine (JSON lines).
// It is safe for concurrent use.
//
// Text shows the operations in flight, if so configured (ReporterOptions):
// on a terminal as a live view of them with their elapsed time, redrawn in
// place below the lines of finished operations; elsewhere as a "still
// creating" line per operation at a steady interval. JSON lines never do
// either: they have one event per start and per outcome.
type Reporter struct {
	mu          sync.Mutex
	w           io.Writer
	json        bool
	interrupted int // operations reported interrupted

	live      *liveView     // nil unless drawing on a terminal
	heartbeat time.Duration // interval of "still ..." lines; 0 none
	// inflight holds the operations begun, in start order, and byKey
	// those of each key; an operation ended is dropped from byKey at once
	// and from inflight (where it is marked ended) once the ended ones
	// outnumber the rest, so that neither Begin nor End scans every
	// operation in flight. running counts those not ended.
	inflight []*inflight
	byKey    map[string][]*inflight
	running  int
	failed   map[string]bool
	closed   bool
}

// ReporterOptions configures a Reporter.
type ReporterOptions struct {
	// JSON writes JSON lines instead of text; Live and Heartbeat are then
	// ignored.
	JSON bool
	// Live draws the operations in flight with their elapsed time below the
	// other lines, redrawn in place with ANSI escapes: for a terminal. An
	// operation's line gives way to the usual one when it ends.
	Live bool
	// Size returns the terminal's width and height, which bound the live
	// view (nil or non-positive answers: 80×24).
	Size func() (cols, rows int)
	// Heartbeat is, without Live, the interval of the "still creating ..."
	// line written for each operation in flight (0: none). With Live, the
	// view is redrawn every second, or every Heartbeat when shorter.
	Heartbeat time.Duration
}

// inflight is an operation begun and not yet ended.
type inflight struct {
	key, typeName, detail string
	action                Action
	began                 time.Time
	beats                 int         // heartbeat lines written
	timer                 *time.Timer // the next heartbeat
	ended                 bool
}

// InterruptedCount returns how many operations were reported interrupted:
// started, cancelled before their outcome was known, and recorded for the
// next run to resume.
func (r *Reporter) InterruptedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.interrupted
}

// ErrInterrupted is the cause of a run cancelled by a signal (SIGINT,
// SIGTERM): the run stops starting operations, and those in flight are
// recorded for the next run to resume.
var ErrInterrupted = errors.New("interrupted")

// Interrupted reports whether err is a cancellation rather than a failure
// of the operation itself.
func Interrupted(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, ErrInterrupted)
}

// NewReporter returns a reporter writing to w, with no progress of the
// operations in flight; w nil discards.
func NewReporter(w io.Writer, jsonLines bool) *Reporter {
	return NewReporterWith(w, ReporterOptions{JSON: jsonLines})
}

// NewReporterWith returns a reporter writing to w as o says; w nil
// discards. Close stops its live view and heartbeats.
func NewReporterWith(w io.Writer, o ReporterOptions) *Reporter {
	if w == nil {
		w = io.Discard
	}
	r := &Reporter{w: w, json: o.JSON, failed: map[string]bool{}, byKey: map[string][]*inflight{}}
	if o.JSON {
		return r
	}
	if o.Live {
		every := time.Second
		if o.Heartbeat > 0 && o.Heartbeat < every {
			every = o.Heartbeat
		}
		r.live = newLiveView(r, o.Size, every)
	} else if o.Heartbeat > 0 {
		r.heartbeat = o.Heartbeat
	}
	return r
}

// Close stops the live view (erasing it) and the heartbeats. Done closes
// the reporter too; Close may be called more than once.
func (r *Reporter) Close() {
	r.mu.Lock()
	r.closeLocked()
	r.mu.Unlock()
	if r.live != nil {
		r.live.wait()
	}
}

// closeLocked stops the progress of operations in flight; the caller holds
// r.mu.
func (r *Reporter) closeLocked() {
	if r.closed {
		return
	}
	r.closed = true
	for _, op := range r.inflight {
		if op.timer != nil {
			op.timer.Stop()
		}
	}
	if r.live != nil {
		r.live.erase()
		r.live.stop()
	}
}

// event is one JSON line.
type event struct {
	Event      string    `json:"event"`
	Time       time.Time `json:"time"`
	Key        string    `json:"key,omitempty"`
	Type       string    `json:"type,omitempty"`
	Action     Action    `json:"action,omitempty"`
	Identifier string    `json:"identifier,omitempty"`
	DurationMS float64   `json:"durationMs,omitempty"`
	Error      string    `json:"error,omitempty"`
	Change     *Change   `json:"change,omitempty"`
	Drift      *Drift    `json:"drift,omitempty"`
	// Violations are the invalid property paths of a failed declaration.
	Violations []schema.Violation `json:"violations,omitempty"`
	Summary    *Summary           `json:"summary,omitempty"`
	Exports    map[string]any     `json:"exports,omitempty"`
	App        string             `json:"app,omitempty"`
	Stage      string             `json:"stage,omitempty"`
	Mode       string             `json:"mode,omitempty"`
	Extra      json.RawMessage    `json:"extra,omitempty"`
}

func (r *Reporter) emit(ev event, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.json {
		if ev.Event == "" {
			return // text only
		}
		if ev.Time.IsZero() {
			ev.Time = time.Now().UTC()
		}
		data, err := json.Marshal(ev)
		if err != nil {
			data, _ = json.Marshal(event{Event: "error", Error: err.Error()})
		}
		r.w.Write(append(data, '\n'))
		return
	}
	if text == "" {
		return
	}
	if r.live != nil && !r.closed {
		r.live.print(text)
		return
	}
	io.WriteString(r.w, text)
}

var progressing = map[Action]string{
	ActionCreate: "creating", ActionUpdate: "updating", ActionReplace: "replacing",
	ActionDelete: "deleting", ActionAdopt: "adopting", ActionResume: "resuming", ActionRead: "reading",
}

var finished = map[Action]string{
	ActionCreate: "created", ActionUpdate: "updated", ActionReplace: "replaced",
	ActionDelete: "deleted", ActionAdopt: "adopted", ActionResume: "resumed", ActionRead: "read",
}

// Begin reports that an action on a resource starts. In text, a refresh's
// read (ActionRead) prints no line of its own (its drift does), but it is
// shown in flight like any other operation.
func (r *Reporter) Begin(key, typeName string, a Action, detail string) {
	var text string
	if a != ActionRead {
		text = fmt.Sprintf("  %-10s %s (%s)%s\n", progressing[a], key, typeName, detail)
	}
	if r.json {
		r.emit(event{Event: "start", Key: key, Type: typeName, Action: a}, text)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// A declaration's operations follow one another: one that began
	// before on this key without an end (a create turned into an
	// adoption) is over.
	r.ended(key, "")
	op := &inflight{key: key, typeName: typeName, action: a, detail: detail, began: time.Now()}
	if r.closed {
		io.WriteString(r.w, text)
		return
	}
	r.inflight = append(r.inflight, op)
	r.byKey[key] = append(r.byKey[key], op)
	r.running++
	if r.live != nil {
		// The live view shows it; its final line replaces it.
		r.live.redraw()
		return
	}
	io.WriteString(r.w, text)
	if r.heartbeat > 0 {
		op.timer = time.AfterFunc(r.heartbeat, func() { r.beat(op) })
	}
}

// beat writes op's heartbeat line and arms the next one, at a steady
// interval from its start.
func (r *Reporter) beat(op *inflight) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if op.ended || r.closed {
		return
	}
	op.beats++
	fmt.Fprintf(r.w, "  still %s %s (%s), %s elapsed\n", progressing[op.action], op.key, op.typeName, elapsed(time.Since(op.began)))
	next := time.Until(op.began.Add(time.Duration(op.beats+1) * r.heartbeat))
	op.timer.Reset(max(next, 0))
}

// ended removes the operations on key with action a (any action when a is
// empty) from those in flight; the caller holds r.mu.
func (r *Reporter) ended(key string, a Action) {
	ops := r.byKey[key]
	if len(ops) == 0 {
		return
	}
	kept := ops[:0]
	for _, op := range ops {
		if a == "" || op.action == a {
			op.ended = true
			if op.timer != nil {
				op.timer.Stop()
			}
			r.running--
			continue
		}
		kept = append(kept, op)
	}
	clear(ops[len(kept):])
	if len(kept) == 0 {
		delete(r.byKey, key)
	} else {
		r.byKey[key] = kept
	}
	if len(r.inflight) > 2*r.running {
		kept := r.inflight[:0]
		for _, op := range r.inflight {
			if !op.ended {
				kept = append(kept, op)
			}
		}
		clear(r.inflight[len(kept):])
		r.inflight = kept
	}
}

// End reports that an action finished, successfully when err is nil.
func (r *Reporter) End(key, typeName string, a Action, identifier string, d time.Duration, err error) {
	ev := event{Event: "done", Key: key, Type: typeName, Action: a, Identifier: identifier, DurationMS: milliseconds(d)}
	var text string
	r.mu.Lock()
	r.ended(key, a)
	if err != nil {
		r.failed[key] = true
	}
	if Interrupted(err) && a != ActionRead {
		r.interrupted++
	}
	r.mu.Unlock()
	switch {
	case Interrupted(err) && a == ActionRead:
		// A read changes nothing: there is nothing to resume.
		ev.Event = "interrupted"
		ev.Error = err.Error()
	case Interrupted(err):
		// Cancelled mid-way (Ctrl-C, SIGTERM, a lost lock): what was sent
		// is recorded, and the next run resumes it.
		ev.Event = "interrupted"
		ev.Error = err.Error()
		text = fmt.Sprintf("  %-10s %s %s (%s) after %s: the next run finishes it\n", "interrupted", a, key, typeName, round(d))
	case err != nil:
		ev.Event = "failed"
		ev.Error = err.Error()
		text = fmt.Sprintf("  %-10s %s (%s) after %s: %v\n", "FAILED", key, typeName, round(d), err)
	case a == ActionRead:
		// A read that succeeded shows as its drift, if any.
	default:
		id := ""
		if identifier != "" {
			id = " " + identifier
		}
		text = fmt.Sprintf("  %-10s %s (%s)%s in %s\n", finished[a], key, typeName, id, round(d))
	}
	r.emit(ev, text)
}

// Rejected reports the failure of a declaration unless one of its
// operations reported it already (End): invalid properties, a dependency
// that failed, an error after its operation succeeded. With notStarted it
// reports a declaration that a cancelled run did not start instead (in
// JSON only: the summary counts them).
func (r *Reporter) Rejected(key, typeName string, err error, notStarted bool) {
	r.mu.Lock()
	// The declaration is over, also when an operation of it failed
	// after its start without an end.
	r.ended(key, "")
	reported := r.failed[key]
	r.mu.Unlock()
	if reported {
		return
	}
	if notStarted {
		r.emit(event{Event: "not-started", Key: key, Type: typeName, Error: err.Error()}, "")
		return
	}
	r.Failed(key, typeName, err)
}

// Failed reports the failure of a declaration that started no operation
// (a duplicate logical id, invalid properties).
func (r *Reporter) Failed(key, typeName string, err error) {
	r.mu.Lock()
	r.failed[key] = true
	r.mu.Unlock()
	msg := err.Error()
	var re *ResourceError
	if !errors.As(err, &re) || re.Key != key {
		msg = fmt.Sprintf("%s (%s): %s", key, typeName, msg)
	}
	ev := event{Event: "failed", Key: key, Type: typeName, Error: err.Error()}
	var ve *schema.ValidationError
	if errors.As(err, &ve) {
		ev.Violations = ve.Violations
	}
	r.emit(ev,
		fmt.Sprintf("  %-10s %s\n", "FAILED", strings.ReplaceAll(msg, "\n", "\n    ")))
}

// Live reports whether r draws a live view (on a terminal).
func (r *Reporter) Live() bool { return r.live != nil }

// Note writes text for a person, above the live view if there is one (a
// message that would otherwise go to the same terminal unseen by it); in
// JSON it writes nothing.
func (r *Reporter) Note(text string) { r.emit(event{}, text) }

// Planned reports one change of a plan: in text as FormatChange renders
// it (nothing for a resource left unchanged), in JSON as a "plan" event.
func (r *Reporter) Planned(c Change) {
	r.emit(event{Event: "plan", Key: c.Key, Type: c.Type, Action: c.Action, Change: &c}, FormatChange(c))
}

// PlanHeader introduces the changes of a plan in text.
func (r *Reporter) PlanHeader(p *Plan) {
	if p.Empty() {
		return
	}
	r.emit(event{}, "Changes:\n")
}

// symbols mark each action in a plan's text.
var symbols = map[Action]string{ActionCreate: "+", ActionUpdate: "~", ActionReplace: "±", ActionDelete: "-",
	ActionNoop: "=", ActionAdopt: "+", ActionForget: ".", ActionResume: ">", ActionRead: "<"}

// FormatChange renders one change of a plan for a reviewer: its action,
// key, type and identifier; the properties a create sends; each changed
// path of an update or replacement as old → new, the forcing paths marked;
// write-only values as (sensitive). A no-op renders as "".
func FormatChange(c Change) string {
	if c.Action == ActionNoop {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  %s %-8s %s (%s)", symbols[c.Action], c.Action, c.Key, c.Type)
	if c.Identifier != "" {
		fmt.Fprintf(&b, " %s", c.Identifier)
	}
	if c.Placement != "" {
		fmt.Fprintf(&b, " in %s", c.Placement)
	}
	b.WriteByte('\n')
	switch c.Action {
	case ActionReplace:
		fmt.Fprintf(&b, "      %s: %s\n", c.Order, c.Reason)
	case ActionForget, ActionResume:
		fmt.Fprintf(&b, "      %s\n", c.Reason)
	case ActionCreate:
		if c.Reason != "" {
			fmt.Fprintf(&b, "      %s\n", c.Reason)
		}
	}
	if len(c.Diffs) > 0 {
		for _, d := range c.Diffs {
			old, new := "(none)", "(none)"
			if d.HadOld {
				old = quoted(d.Old)
			}
			if d.HasNew {
				new = quoted(d.New)
			}
			if d.Sensitive && d.HadOld && d.HasNew {
				new += " (changed)"
			}
			forces := ""
			if d.ForcesReplacement {
				forces = "  (forces replacement)"
			}
			fmt.Fprintf(&b, "      %s: %s → %s%s\n", d.Path, old, new, forces)
		}
	} else if c.Action == ActionCreate || c.Action == ActionReplace || c.Action == ActionResume {
		names := make([]string, 0, len(c.Properties))
		width := 0
		for k := range c.Properties {
			names = append(names, k)
			width = max(width, len(k))
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(&b, "      %-*s = %s\n", width, k, quoted(c.Properties[k]))
		}
	}
	return b.String()
}

// quoted renders a property value as JSON, except the masked placeholder.
func quoted(v any) string {
	if s, ok := v.(string); ok && s == schema.Sensitive {
		return s
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// Forgot reports that a retained resource was removed from state and left
// in the cloud.
func (r *Reporter) Forgot(key, typeName, identifier string) {
	text := fmt.Sprintf("  forgotten (retained) %s (%s) %s: left in the cloud\n", key, typeName, identifier)
	r.emit(event{Event: "done", Key: key, Type: typeName, Action: ActionForget, Identifier: identifier}, text)
}

// Drifted reports drift found by a refresh.
func (r *Reporter) Drifted(d Drift) {
	var text string
	if d.Gone {
		text = fmt.Sprintf("  %-10s %s (%s): deleted outside Athanor, will be recreated\n", "drift", d.Key, d.Type)
	} else {
		rec, _ := json.Marshal(d.Recorded)
		live, _ := json.Marshal(d.Live)
		text = fmt.Sprintf("  %-10s %s (%s) %s: recorded %s, live %s\n", "drift", d.Key, d.Type, d.Path, rec, live)
	}
	r.emit(event{Event: "drift", Key: d.Key, Type: d.Type, Drift: &d}, text)
}

// Header reports the start of a run.
func (r *Reporter) Header(app, stage, mode, target string) {
	text := fmt.Sprintf("%s %s/%s on %s\n", titles[mode], app, stage, target)
	r.emit(event{Event: "begin", App: app, Stage: stage, Mode: mode}, text)
}

// LockWait reports that the stage is locked by another run and that this
// run waits for it (up to timeout).
func (r *Reporter) LockWait(app, stage string, holder error, timeout time.Duration) {
	text := fmt.Sprintf("Waiting up to %s: %v\n", timeout, holder)
	r.emit(event{Event: "lock-wait", App: app, Stage: stage, Error: holder.Error()}, text)
}

var titles = map[string]string{"deploy": "Deploying", "plan": "Planning", "destroy": "Destroying", "plan destroy": "Planning the destroy of"}

// Done reports the summary and exports at the end of a run, after closing
// the live view.
func (r *Reporter) Done(mode string, s Summary, exports map[string]any, err error) {
	r.Close()
	var b strings.Builder
	switch mode {
	case "plan", "plan destroy":
		b.WriteString(PlanLine(s))
	default:
		verb := "Deployed"
		if mode == "destroy" {
			verb = "Destroyed"
		}
		if err != nil {
			verb = "Failed"
		}
		if errors.Is(err, ErrInterrupted) {
			verb = "Interrupted"
		}
		fmt.Fprintf(&b, "%s in %s: %d created, %d updated, %d replaced, %d deleted, %d unchanged",
			verb, round(s.Duration), s.Created, s.Updated, s.Replaced, s.Deleted, s.Unchanged)
		if s.Forgotten > 0 {
			fmt.Fprintf(&b, ", %d forgotten (retained)", s.Forgotten)
		}
		if s.Adopted > 0 {
			fmt.Fprintf(&b, ", %d adopted", s.Adopted)
		}
		if s.Resumed > 0 {
			fmt.Fprintf(&b, ", %d finished for an interrupted run", s.Resumed)
		}
		if s.Failed > 0 {
			fmt.Fprintf(&b, ", %d failed", s.Failed)
		}
		if n := r.InterruptedCount(); n > 0 {
			fmt.Fprintf(&b, ", %d interrupted", n)
		}
		if s.NotStarted > 0 {
			fmt.Fprintf(&b, ", %d not started", s.NotStarted)
		}
		b.WriteString(".\n")
	}
	if len(exports) > 0 {
		b.WriteString("Exports:\n")
		names := make([]string, 0, len(exports))
		for k := range exports {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(&b, "  %s = %s\n", k, display(exports[k]))
		}
	}
	if err != nil {
		fmt.Fprintf(&b, "Error: %v\n", err)
	}
	ev := event{Event: "summary", Mode: mode, Summary: &s, Exports: exports}
	if err != nil {
		ev.Error = err.Error()
	}
	r.emit(ev, b.String())
}

// PlanLine is the summary line of a plan with counts s.
func PlanLine(s Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan: %d to create, %d to update, %d to replace, %d to delete, ",
		s.Created, s.Updated, s.Replaced, s.Deleted)
	if s.Forgotten > 0 {
		fmt.Fprintf(&b, "%d to forget (retained), ", s.Forgotten)
	}
	if s.Resumed > 0 {
		fmt.Fprintf(&b, "%d to resume, ", s.Resumed)
	}
	fmt.Fprintf(&b, "%d unchanged.\n", s.Unchanged)
	return b.String()
}

// display renders an export value: strings as they are, others as JSON.
func display(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// elapsed rounds the time an operation has been in flight for display:
// whole seconds, or milliseconds below a second.
func elapsed(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Truncate(time.Second)
	}
	return d.Round(time.Millisecond)
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	default:
		return d
	}
}

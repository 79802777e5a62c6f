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

// Change is one planned or applied change to a resource: the data of a plan.
type Change struct {
	Key        string          `json:"key"`
	Type       string          `json:"type"`
	Action     Action          `json:"action"`
	Identifier string          `json:"identifier,omitempty"`
	Patch      json.RawMessage `json:"patch,omitempty"`
	// Paths lists the changed properties; ReplacePaths those that force a
	// replacement.
	Paths        []string `json:"paths,omitempty"`
	ReplacePaths []string `json:"replacePaths,omitempty"`
	Order        Order    `json:"order,omitempty"`
	Reason       string   `json:"reason,omitempty"`
}

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
	NotStarted int           `json:"notStarted,omitempty"`
	Duration   time.Duration `json:"durationNs"`
}

// Reporter writes progress for a person (text) or a machine (JSON lines).
// It is safe for concurrent use.
type Reporter struct {
	mu          sync.Mutex
	w           io.Writer
	json        bool
	interrupted int // operations reported interrupted
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

// NewReporter returns a reporter writing to w; w nil discards.
func NewReporter(w io.Writer, jsonLines bool) *Reporter {
	if w == nil {
		w = io.Discard
	}
	return &Reporter{w: w, json: jsonLines}
}

// event is one JSON line.
type event struct {
	Event      string          `json:"event"`
	Time       time.Time       `json:"time"`
	Key        string          `json:"key,omitempty"`
	Type       string          `json:"type,omitempty"`
	Action     Action          `json:"action,omitempty"`
	Identifier string          `json:"identifier,omitempty"`
	DurationMS float64         `json:"durationMs,omitempty"`
	Error      string          `json:"error,omitempty"`
	Change     *Change         `json:"change,omitempty"`
	Drift      *Drift          `json:"drift,omitempty"`
	Summary    *Summary        `json:"summary,omitempty"`
	Exports    map[string]any  `json:"exports,omitempty"`
	App        string          `json:"app,omitempty"`
	Stage      string          `json:"stage,omitempty"`
	Mode       string          `json:"mode,omitempty"`
	Extra      json.RawMessage `json:"extra,omitempty"`
}

func (r *Reporter) emit(ev event, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.json {
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
	if text != "" {
		io.WriteString(r.w, text)
	}
}

var progressing = map[Action]string{
	ActionCreate: "creating", ActionUpdate: "updating", ActionReplace: "replacing",
	ActionDelete: "deleting", ActionAdopt: "adopting", ActionResume: "resuming", ActionRead: "reading",
}

var finished = map[Action]string{
	ActionCreate: "created", ActionUpdate: "updated", ActionReplace: "replaced",
	ActionDelete: "deleted", ActionAdopt: "adopted", ActionResume: "resumed", ActionRead: "read",
}

// Begin reports that an action on a resource starts.
func (r *Reporter) Begin(key, typeName string, a Action, detail string) {
	text := fmt.Sprintf("  %-10s %s (%s)%s\n", progressing[a], key, typeName, detail)
	r.emit(event{Event: "start", Key: key, Type: typeName, Action: a}, text)
}

// End reports that an action finished, successfully when err is nil.
func (r *Reporter) End(key, typeName string, a Action, identifier string, d time.Duration, err error) {
	ev := event{Event: "done", Key: key, Type: typeName, Action: a, Identifier: identifier, DurationMS: float64(d.Microseconds()) / 1000}
	var text string
	switch {
	case Interrupted(err):
		// Cancelled mid-way (Ctrl-C, SIGTERM, a lost lock): what was sent
		// is recorded, and the next run resumes it.
		ev.Event = "interrupted"
		ev.Error = err.Error()
		text = fmt.Sprintf("  %-10s %s %s (%s) after %s: the next run finishes it\n", "interrupted", a, key, typeName, round(d))
		r.mu.Lock()
		r.interrupted++
		r.mu.Unlock()
	case err != nil:
		ev.Event = "failed"
		ev.Error = err.Error()
		text = fmt.Sprintf("  %-10s %s (%s) after %s: %v\n", "FAILED", key, typeName, round(d), err)
	default:
		id := ""
		if identifier != "" {
			id = " " + identifier
		}
		text = fmt.Sprintf("  %-10s %s (%s)%s in %s\n", finished[a], key, typeName, id, round(d))
	}
	r.emit(ev, text)
}

// Planned reports one change of a plan.
func (r *Reporter) Planned(c Change) {
	var b strings.Builder
	sym := map[Action]string{ActionCreate: "+", ActionUpdate: "~", ActionReplace: "±", ActionDelete: "-", ActionNoop: "=", ActionAdopt: "+", ActionForget: "."}[c.Action]
	fmt.Fprintf(&b, "  %s %-8s %s (%s)", sym, c.Action, c.Key, c.Type)
	if c.Identifier != "" {
		fmt.Fprintf(&b, " %s", c.Identifier)
	}
	b.WriteByte('\n')
	switch c.Action {
	case ActionUpdate:
		fmt.Fprintf(&b, "      patch: %s\n", c.Patch)
	case ActionReplace:
		fmt.Fprintf(&b, "      %s (%s), forced by %s\n", c.Order, c.Reason, strings.Join(c.ReplacePaths, ", "))
		if len(c.Patch) > 0 {
			fmt.Fprintf(&b, "      patch: %s\n", c.Patch)
		}
	case ActionForget:
		fmt.Fprintf(&b, "      %s\n", c.Reason)
	}
	r.emit(event{Event: "plan", Key: c.Key, Type: c.Type, Action: c.Action, Change: &c}, b.String())
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

// Done reports the summary and exports at the end of a run.
func (r *Reporter) Done(mode string, s Summary, exports map[string]any, err error) {
	var b strings.Builder
	switch mode {
	case "plan":
		fmt.Fprintf(&b, "Plan: %d to create, %d to update, %d to replace, %d to delete, ",
			s.Created, s.Updated, s.Replaced, s.Deleted)
		if s.Forgotten > 0 {
			fmt.Fprintf(&b, "%d to forget (retained), ", s.Forgotten)
		}
		fmt.Fprintf(&b, "%d unchanged.\n", s.Unchanged)
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

package athanor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/athanor-dev/athanor/internal/engine"
	"github.com/athanor-dev/athanor/state"
)

// Action is what a run does (or a plan would do) to a resource.
type Action string

// Actions of a Change.
const (
	// ActionCreate creates the resource.
	ActionCreate Action = "create"
	// ActionUpdate updates the resource in place.
	ActionUpdate Action = "update"
	// ActionReplace replaces the resource: a new one is created and the old
	// one deleted, in the Change's Order.
	ActionReplace Action = "replace"
	// ActionDelete deletes a resource no longer declared (or destroyed).
	ActionDelete Action = "delete"
	// ActionNoop leaves the resource as it is.
	ActionNoop Action = "no-op"
	// ActionForget drops a retained resource's record and leaves the
	// resource in the cloud (see Retain).
	ActionForget Action = "forget"
	// ActionResume finishes an operation an earlier, interrupted run left
	// in flight, before anything else is done to the resource.
	ActionResume Action = "resume"
)

// Order is the order of a replacement.
type Order string

// Replacement orders.
const (
	// DeleteFirst deletes the old resource and then creates the new one:
	// the new resource keeps the old one's user-chosen identifier.
	DeleteFirst Order = "delete-first"
	// CreateFirst creates the new resource first and deletes the old one at
	// the end of the run.
	CreateFirst Order = "create-first"
)

// Change is one resource's change in a plan.
type Change struct {
	// Key is the resource's key in the stage: scope path and logical id.
	Key string `json:"key"`
	// Type is the registry type name, e.g. "AWS::IoT::JobTemplate".
	Type string `json:"type"`
	// Action is what the plan does to the resource.
	Action Action `json:"action"`
	// Identifier is the recorded identifier, for a resource that exists.
	Identifier string `json:"identifier,omitempty"`
	// Properties are the properties a create (or a replacement) sends,
	// with write-only values shown as "(sensitive)".
	Properties map[string]any `json:"properties,omitempty"`
	// Diffs lists each changed path of an update or replacement, old → new.
	Diffs []PropertyChange `json:"diffs,omitempty"`
	// Patch is an update's JSON Patch, write-only values masked.
	Patch json.RawMessage `json:"patch,omitempty"`
	// Paths lists the changed properties; ReplacePaths those that force
	// the replacement.
	Paths        []string `json:"paths,omitempty"`
	ReplacePaths []string `json:"replacePaths,omitempty"`
	// Order and Reason say how and why a replacement proceeds.
	Order  Order  `json:"order,omitempty"`
	Reason string `json:"reason,omitempty"`
	// DependsOn lists the keys of the resources this one depends on.
	DependsOn []string `json:"dependsOn,omitempty"`
	// Unknown tells that the resource's properties hold values known only
	// once resources it depends on are created or replaced (see IsUnknown).
	Unknown bool `json:"unknown,omitempty"`
	// Placement says where the resource is to live when a Provider (App.In)
	// puts it in another region or account than the run's.
	Placement string `json:"placement,omitempty"`
}

// PropertyChange is one changed path of an update or a replacement.
type PropertyChange struct {
	// Path is the JSON pointer of the property, e.g. "/Tags".
	Path string `json:"path"`
	// Old is the recorded value and New the declared one, write-only values
	// as "(sensitive)"; HadOld and HasNew tell whether the property is set
	// before and after.
	Old    any  `json:"old,omitempty"`
	New    any  `json:"new,omitempty"`
	HadOld bool `json:"hadOld,omitempty"`
	HasNew bool `json:"hasNew,omitempty"`
	// Sensitive marks a write-only value: compared from state, never shown.
	Sensitive bool `json:"sensitive,omitempty"`
	// ForcesReplacement marks a path whose change forces the replacement.
	ForcesReplacement bool `json:"forcesReplacement,omitempty"`
}

// Plan is what a run will do, computed before any change: every declared
// resource's change in declaration order, then the removal of what is no
// longer declared. A run applies its plan exactly; a saved plan (Config.Out)
// is applied with Config.ApplyPlan.
type Plan struct {
	// App and Stage name the stage the plan is for.
	App, Stage string
	// Destroy marks the plan of a destroy.
	Destroy bool
	// Target is the cloud the plan was computed for.
	Target *state.Target
	// StateDigest identifies the state of the stage the plan was computed
	// from (its serial): the plan applies to that state only.
	StateDigest string
	// CreatedAt is when the plan was computed.
	CreatedAt time.Time
	// Changes lists the changes, unchanged resources included.
	Changes []Change

	p *engine.Plan
}

// PlanCounts counts the resources of a plan by action.
type PlanCounts struct {
	Created, Updated, Replaced, Deleted int
	// Forgotten counts retained resources to be removed from state and left
	// in the cloud; Resumed the operations of an interrupted run to finish.
	Forgotten, Resumed, Unchanged int
}

// Counts returns how many resources the plan creates, updates, replaces,
// deletes, forgets, resumes and leaves unchanged.
func (p *Plan) Counts() PlanCounts {
	s := p.p.Counts()
	return PlanCounts{Created: s.Created, Updated: s.Updated, Replaced: s.Replaced, Deleted: s.Deleted,
		Forgotten: s.Forgotten, Resumed: s.Resumed, Unchanged: s.Unchanged}
}

// Empty reports whether applying the plan changes nothing.
func (p *Plan) Empty() bool { return p.p.Empty() }

// WriteText writes the plan as a run prints it: each change (unchanged
// resources left out) and the summary line.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, c := range p.p.Changes {
		b.WriteString(engine.FormatChange(c))
	}
	b.WriteString(engine.PlanLine(p.p.Counts()))
	_, err := io.WriteString(w, b.String())
	return err
}

// MarshalJSON writes the plan in its saved form: versioned JSON holding,
// besides the changes, the state's digest, the target, and salted digests
// of write-only values (never the values themselves).
func (p *Plan) MarshalJSON() ([]byte, error) {
	p.p.Complete()
	return json.MarshalIndent(p.p, "", "  ")
}

// WriteFile saves the plan to path (atomically, readable by its owner
// only), for Config.ApplyPlan (--apply).
func (p *Plan) WriteFile(path string) error {
	data, err := p.MarshalJSON()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".plan-*")
	if err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write plan: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write plan: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

// ReadPlanFile reads a plan saved by WriteFile.
func ReadPlanFile(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	ep, err := engine.ReadPlan(data)
	if err != nil {
		return nil, fmt.Errorf("read plan %s: %w", path, err)
	}
	return publicPlan(ep), nil
}

// publicPlan wraps an engine plan.
func publicPlan(ep *engine.Plan) *Plan {
	p := &Plan{App: ep.App, Stage: ep.Stage, Destroy: ep.Destroy, Target: ep.Target, StateDigest: ep.StateDigest,
		CreatedAt: ep.CreatedAt, Changes: publicChanges(ep.Changes), p: ep}
	return p
}

func publicChanges(cs []engine.Change) []Change {
	out := make([]Change, len(cs))
	for i, c := range cs {
		out[i] = Change{Key: c.Key, Type: c.Type, Action: Action(c.Action), Identifier: c.Identifier, Properties: c.Properties,
			Patch: c.Patch, Paths: c.Paths, ReplacePaths: c.ReplacePaths, Order: Order(c.Order), Reason: c.Reason,
			DependsOn: c.DependsOn, Unknown: c.Unknown, Placement: c.Placement}
		for _, d := range c.Diffs {
			out[i].Diffs = append(out[i].Diffs, PropertyChange(d))
		}
	}
	return out
}

// ErrDeviation is wrapped by the error of a run stopped because a
// declaration's change, when the plan was applied, was not the planned one
// (a resource not in the plan, another action, other values), and by the
// refusal of a saved plan the program no longer matches. Nothing was sent
// for that declaration, and the run started nothing new after it.
var ErrDeviation = engine.ErrDeviation

// ErrStalePlan is wrapped by the refusal of a saved plan computed from
// another state of the stage than its state now (another run changed it).
var ErrStalePlan = engine.ErrStalePlan

// ErrLookupNotFound is wrapped by the error of a lookup (App.Lookup) of a
// resource that does not exist.
var ErrLookupNotFound = engine.ErrLookupNotFound

// ErrPlacementMismatch is wrapped by the error of an operation on a
// resource whose provider's credentials now resolve to another account than
// the one recorded with it: nothing is sent for it.
var ErrPlacementMismatch = engine.ErrPlacementMismatch

// ErrNotConfirmed is the error of a run whose plan was not confirmed at the
// question (see Config.Confirm): nothing was changed.
var ErrNotConfirmed = errors.New("the plan was not confirmed; nothing was changed")

// UnknownPrefix starts every value not known yet in a plan: an output of a
// resource the plan creates or replaces is "(known after apply:
// KEY.OUTPUT)", its identifier "(known after apply: KEY)". Such values flow
// into the properties of resources declared from them (whole or inside
// longer strings); their checks are deferred, and the dependency is known.
const UnknownPrefix = engine.UnknownPrefix

// IsUnknown reports whether s holds a value not known yet (only in the
// preview that computes a plan; when the plan is applied, every output is
// known).
func IsUnknown(s string) bool { return engine.IsUnknown(s) }

// Package graph renders a stage's dependency graph, from its state or from a
// plan, as Graphviz DOT or Mermaid text.
//
// An edge runs from a resource to a resource it depends on (whose
// identifier or outputs its desired state uses, or that it names in
// DependsOn): deploys create the target of an edge first, destroys delete
// its source first.
package graph

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/athanor-dev/athanor/internal/engine"
	"github.com/athanor-dev/athanor/state"
)

// Formats Write accepts.
const (
	FormatDOT     = "dot"
	FormatMermaid = "mermaid"
)

// Node is one resource of the graph.
type Node struct {
	// Key is the resource's key in the stage (scope path and logical id).
	Key string
	// Type is its resource type, e.g. AWS::IoT::JobTemplate; empty for a
	// dependency the stage does not hold.
	Type string
	// Identifier is its primary identifier, empty when not known yet.
	Identifier string
	// Status is its recorded status (a graph of state) or planned action (a
	// graph of a plan).
	Status string
	// Retired marks an older physical resource replaced by Key's current
	// one and still awaiting deletion.
	Retired bool
}

// Edge is a dependency: From depends on To, or, with Replaced set, From is
// a retired resource that To replaced.
type Edge struct {
	From, To string // node ids (see Graph.Nodes)
	Replaced bool
}

// Graph is a set of nodes, each under a unique id, and the edges between
// them.
type Graph struct {
	// Name titles the graph (e.g. "app/stage").
	Name  string
	Nodes map[string]Node
	Edges []Edge
}

// FromRecords builds the graph of a stage's records: a node per record
// with its status (and any operation pending), a node per retired physical
// resource with an edge to the record that replaced it, and an edge per
// DependsOn entry. A dependency the stage does not hold becomes a node with
// status "not in state".
func FromRecords(name string, recs []*state.Record) *Graph {
	g := &Graph{Name: name, Nodes: map[string]Node{}}
	for _, r := range recs {
		status := string(r.Status)
		if r.Pending != nil {
			status += " (" + r.Pending.Operation + " pending)"
		}
		g.Nodes[r.Key] = Node{Key: r.Key, Type: r.Type, Identifier: r.Identifier, Status: status}
		for i, old := range r.Retired {
			id := fmt.Sprintf("%s#retired%d", r.Key, i+1)
			status := "retired, to delete"
			if old.Pending != nil {
				status += " (" + old.Pending.Operation + " pending)"
			}
			g.Nodes[id] = Node{Key: r.Key, Type: r.Type, Identifier: old.Identifier, Status: status, Retired: true}
			g.Edges = append(g.Edges, Edge{From: id, To: r.Key, Replaced: true})
		}
	}
	for _, r := range recs {
		for _, dep := range r.DependsOn {
			g.depend(r.Key, dep)
		}
	}
	return g
}

// FromPlan builds the graph of a plan: a node per change with its action,
// and an edge per dependency in deps (each key's dependencies, as
// engine.Engine.Dependencies returns them).
func FromPlan(name string, changes []engine.Change, deps map[string][]string) *Graph {
	g := &Graph{Name: name, Nodes: map[string]Node{}}
	for _, c := range changes {
		action := string(c.Action)
		if c.Order != "" {
			action += " (" + string(c.Order) + ")"
		}
		g.Nodes[c.Key] = Node{Key: c.Key, Type: c.Type, Identifier: c.Identifier, Status: action}
	}
	for _, c := range changes {
		for _, dep := range deps[c.Key] {
			g.depend(c.Key, dep)
		}
	}
	return g
}

func (g *Graph) depend(from, to string) {
	if _, ok := g.Nodes[to]; !ok {
		g.Nodes[to] = Node{Key: to, Status: "not in state"}
	}
	g.Edges = append(g.Edges, Edge{From: from, To: to})
}

// Write renders g in format (FormatDOT or FormatMermaid) to w. Nodes and
// edges come out sorted, so the same graph always renders the same text.
func (g *Graph) Write(w io.Writer, format string) error {
	if err := CheckFormat(format); err != nil {
		return err
	}
	if format == FormatMermaid {
		return g.Mermaid(w)
	}
	return g.DOT(w)
}

// CheckFormat reports whether format is one Write accepts.
func CheckFormat(format string) error {
	if format != FormatDOT && format != FormatMermaid {
		return fmt.Errorf("graph format %q: want %q or %q", format, FormatDOT, FormatMermaid)
	}
	return nil
}

func (g *Graph) ids() []string {
	ids := make([]string, 0, len(g.Nodes))
	for id := range g.Nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (g *Graph) edges() []Edge {
	es := append([]Edge(nil), g.Edges...)
	sort.Slice(es, func(i, j int) bool {
		if es[i].From != es[j].From {
			return es[i].From < es[j].From
		}
		return es[i].To < es[j].To
	})
	return es
}

// lines is a node's label, one line each: key, type, identifier, status.
func (n Node) lines() []string {
	l := []string{n.Key}
	if n.Type != "" {
		l = append(l, n.Type)
	}
	if n.Identifier != "" {
		l = append(l, n.Identifier)
	}
	return append(l, n.Status)
}

// class sorts a node's status (its first word) into the few kinds the
// renderings colour; settled resources ("created", "no-op") have none.
func (n Node) class() string {
	if n.Retired {
		return "delete"
	}
	word, _, _ := strings.Cut(n.Status, " ")
	return classes[strings.TrimSuffix(word, ",")]
}

var classes = map[string]string{
	string(engine.ActionCreate): "create", string(engine.ActionAdopt): "create", string(state.StatusCreating): "create",
	string(engine.ActionUpdate): "update", string(engine.ActionResume): "update", string(state.StatusUpdating): "update",
	string(engine.ActionReplace): "replace", string(state.StatusReplacing): "replace",
	string(engine.ActionDelete): "delete", string(engine.ActionForget): "delete", string(state.StatusDeleting): "delete",
	"not": "missing", // "not in state"
}

// dotColors are the fill colours of DOT nodes by class.
var dotColors = map[string]string{
	"create": "palegreen", "update": "lightgoldenrod1", "replace": "orange", "delete": "lightpink", "missing": "white",
}

// DOT renders g as a Graphviz digraph (render it with `dot -Tsvg`).
func (g *Graph) DOT(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", dotQuote(g.Name))
	b.WriteString("\trankdir=LR;\n\tnode [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\"];\n")
	for _, id := range g.ids() {
		n := g.Nodes[id]
		attrs := "label=" + dotQuote(strings.Join(n.lines(), "\n"))
		if c := dotColors[n.class()]; c != "" && c != "white" {
			attrs += ", fillcolor=" + c
		}
		if n.Retired || n.class() == "missing" {
			attrs += `, style="rounded,dashed,filled"`
		}
		fmt.Fprintf(&b, "\t%s [%s];\n", dotQuote(id), attrs)
	}
	for _, e := range g.edges() {
		attrs := ""
		if e.Replaced {
			attrs = ` [style=dashed, label="replaced by"]`
		}
		fmt.Fprintf(&b, "\t%s -> %s%s;\n", dotQuote(e.From), dotQuote(e.To), attrs)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// dotQuote quotes s as a DOT string: backslashes and double quotes escaped,
// newlines as DOT's centred line break.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// mermaidStyles are the Mermaid class definitions, by class.
var mermaidStyles = map[string]string{
	"create":  "fill:#c8f7c5,stroke:#2e7d32",
	"update":  "fill:#fff3b0,stroke:#b08900",
	"replace": "fill:#ffd8a8,stroke:#d9480f",
	"delete":  "fill:#ffc9c9,stroke:#c92a2a,stroke-dasharray:4 3",
	"missing": "fill:#ffffff,stroke:#868e96,stroke-dasharray:4 3",
}

// Mermaid renders g as a Mermaid flowchart (GitHub renders it in a
// ```mermaid block). Node ids are n1, n2, ... in the sorted order of g's
// ids; the labels carry the keys.
func (g *Graph) Mermaid(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%%%% %s\nflowchart LR\n", strings.ReplaceAll(g.Name, "\n", " "))
	ids := g.ids()
	short := make(map[string]string, len(ids))
	byClass := map[string][]string{}
	for i, id := range ids {
		n := g.Nodes[id]
		short[id] = fmt.Sprintf("n%d", i+1)
		fmt.Fprintf(&b, "\t%s[\"%s\"]\n", short[id], mermaidEscape(strings.Join(n.lines(), "\n")))
		if c := n.class(); c != "" {
			byClass[c] = append(byClass[c], short[id])
		}
	}
	for _, e := range g.edges() {
		if e.Replaced {
			fmt.Fprintf(&b, "\t%s -. replaced by .-> %s\n", short[e.From], short[e.To])
		} else {
			fmt.Fprintf(&b, "\t%s --> %s\n", short[e.From], short[e.To])
		}
	}
	names := make([]string, 0, len(byClass))
	for c := range byClass {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		fmt.Fprintf(&b, "\tclassDef %s %s\n\tclass %s %s\n", c, mermaidStyles[c], strings.Join(byClass[c], ","), c)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mermaidEscape makes s safe inside a quoted Mermaid label: quotes and the
// characters Mermaid reads as markup become entity codes, newlines line
// breaks.
func mermaidEscape(s string) string {
	r := strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;", "#", "#35;", "\n", "<br/>")
	return r.Replace(s)
}

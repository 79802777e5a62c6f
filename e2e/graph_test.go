package e2e

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/emulator"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata")

// TestPlanGraph deploys a log group and two job templates that depend on
// it and on each other, then graphs the plan of a changed program: the log
// group updated, one template kept, one dropped (its recorded dependency
// still drawn) and a new one created. Each node shows its planned action;
// each dependency, detected (a property holding another resource's
// identifier or output) or explicit (DependsOn), is an edge.
func TestPlanGraph(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	const logGroup = "AWS::Logs::LogGroup"
	program := func(days int, v2 bool) func(*athanor.App) error {
		return func(app *athanor.App) error {
			logs, err := app.Declare(logGroup, "logs", map[string]any{"LogGroupName": "/athanor/graph", "RetentionInDays": days})
			if err != nil {
				return err
			}
			fleet, err := app.Scope("fleet")
			if err != nil {
				return err
			}
			// The description is the log group's name: a detected dependency.
			basic, err := fleet.Declare(jobTemplate, "basic", map[string]any{
				"JobTemplateId": "graph-basic", "Description": logs.Identifier, "Document": "{}"})
			if err != nil {
				return err
			}
			if !v2 {
				_, err = fleet.Declare(jobTemplate, "legacy", map[string]any{
					"JobTemplateId": "graph-legacy", "Description": "d", "Document": "{}"}, athanor.DependsOn(basic))
				return err
			}
			logsArn, err := logs.Output("Arn")
			if err != nil {
				return err
			}
			_, err = fleet.Declare(jobTemplate, "rollout", map[string]any{
				"JobTemplateId": "graph-rollout", "Description": "rolls out", "Document": "{}",
				"Tags": []any{map[string]any{"Key": "logs", "Value": logsArn}}},
				athanor.DependsOn(basic))
			return err
		}
	}
	e.run(program(7, false))
	for _, format := range []string{"dot", "mermaid"} {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			mark := e.rec.mark()
			res := e.run(program(14, true), func(c *athanor.Config) { c.Graph, c.Output = format, &out })
			if res.Mode != "plan" {
				t.Errorf("a graph run's mode is %q, want plan", res.Mode)
			}
			if calls := e.rec.since(mark, mutating...); len(calls) != 0 {
				t.Errorf("a graph run changed the cloud: %+v", calls)
			}
			golden(t, filepath.Join("testdata", "plan-graph."+format), out.String())
		})
	}
	if _, err := e.try(program(14, true), func(c *athanor.Config) { c.Graph = "svg" }); err == nil {
		t.Error("Graph \"svg\" accepted")
	}
}

// golden compares got with the file at path (rewritten under -update).
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to write it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s (rerun with -update after checking it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

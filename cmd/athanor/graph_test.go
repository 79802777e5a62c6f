package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/athanor-dev/athanor/state"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata")

// seedGraphStage records a stage whose resources depend on each other: a
// role and a policy, two job templates using the role (one with an older
// template retired by a replacement and still to delete), and a template
// whose update is in flight, depending on a key no longer in state.
func seedGraphStage(t *testing.T, dir string) {
	t.Helper()
	b, err := state.Open(t.Context(), dir, "iot-fleet", "dev")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	at := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	recs := []*state.Record{
		{Key: "jobRole", LogicalID: "jobRole", Type: "AWS::IAM::Role", Status: state.StatusCreated, Identifier: "iot-fleet-dev-jobRole"},
		{Key: "jobPolicy", LogicalID: "jobPolicy", Type: "AWS::IAM::ManagedPolicy", Status: state.StatusCreated,
			Identifier: "arn:aws:iam::123456789012:policy/iot-fleet-dev-jobPolicy", DependsOn: []string{"jobRole"}},
		{Key: "fleet/basic", Scope: "fleet", LogicalID: "basic", Type: "AWS::IoT::JobTemplate", Status: state.StatusCreated,
			Identifier: "basic-v2", DependsOn: []string{"jobRole"},
			Retired: []state.Retired{{Identifier: "basic-v1"}}},
		{Key: "fleet/rollout", Scope: "fleet", LogicalID: "rollout", Type: "AWS::IoT::JobTemplate", Status: state.StatusUpdating,
			Identifier: `rollout "canary"`, DependsOn: []string{"fleet/basic", "jobPolicy", "jobRole", "old/bucket"},
			Pending: &state.Pending{Operation: "UPDATE", ClientToken: "ct", StartedAt: at}},
	}
	for i, r := range recs {
		r.Seq = int64(i)
		r.Desired = json.RawMessage(`{}`)
		r.CreatedAt, r.UpdatedAt = at, at
		if err := b.Put(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
}

func runGraph(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newGraphCommand()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
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

func TestGraphGolden(t *testing.T) {
	dir := t.TempDir()
	seedGraphStage(t, dir)
	flags := []string{"--app", "iot-fleet", "--stage", "dev", "--state", dir}
	for _, tc := range []struct{ format, golden string }{
		{"dot", "graph.dot"},
		{"mermaid", "graph.mmd"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			out, err := runGraph(t, append([]string{"--format", tc.format}, flags...)...)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.golden, out)
		})
	}
	// DOT is the default.
	def, err := runGraph(t, flags...)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "graph.dot", def)
}

func TestGraphScopeAndErrors(t *testing.T) {
	dir := t.TempDir()
	seedGraphStage(t, dir)
	flags := []string{"--app", "iot-fleet", "--stage", "dev", "--state", dir}
	out, err := runGraph(t, append([]string{"--scope", "fleet"}, flags...)...)
	if err != nil {
		t.Fatal(err)
	}
	// The scope's records, and the dependencies outside it as not in state.
	for _, want := range []string{`"fleet/basic" ->`, `"fleet/rollout" -> "jobRole"`, `"jobRole" [label="jobRole\nnot in state"`} {
		if !strings.Contains(out, want) {
			t.Errorf("graph --scope fleet lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "AWS::IAM::Role") {
		t.Errorf("graph --scope fleet shows the role's record:\n%s", out)
	}
	if _, err := runGraph(t, append([]string{"--format", "svg"}, flags...)...); err == nil || !strings.Contains(err.Error(), `"svg": want "dot" or "mermaid"`) {
		t.Errorf("--format svg: err = %v, want one naming the allowed formats", err)
	}
	if _, err := runGraph(t, "--state", dir, "--app", ""); err == nil || !strings.Contains(err.Error(), "--app") {
		t.Errorf("no app: err = %v, want one naming --app", err)
	}
	// An empty stage is an empty graph, not an error.
	out, err = runGraph(t, "--app", "iot-fleet", "--stage", "prod", "--state", dir, "--format", "mermaid")
	if err != nil || out != "%% iot-fleet/prod\nflowchart LR\n" {
		t.Errorf("empty stage = %q, %v", out, err)
	}
}

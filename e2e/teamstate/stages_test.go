package teamstate

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExampleStagesShareAnAccount deploys examples/jobtemplates as stage a
// and stage b against one `athanor emulator` process, as two stages share
// one AWS account: both succeed because the example derives its
// JobTemplateIds per stage (app.PhysicalName), and destroying a leaves b's
// templates in place (issue 9).
func TestExampleStagesShareAnAccount(t *testing.T) {
	bins := build(t)
	cloud := startEmulator(t, bins)
	dir := t.TempDir()
	loc := filepath.Join(t.TempDir(), "state")
	example := func(stage string, args ...string) *proc {
		t.Helper()
		p := run(t, spec{bin: bins.jobTemplates, dir: dir,
			args: append([]string{"--stage", stage, "--target", cloud.url, "--state", loc}, args...)})
		p.succeeded()
		return p
	}
	for _, s := range []string{"a", "b"} {
		if out := example(s).stdout.String(); !strings.Contains(out, "4 created") {
			t.Fatalf("stage %s did not create its four templates:\n%s", s, out)
		}
	}
	both := append(exampleIDs("a"), exampleIDs("b")...)
	slices.Sort(both)
	got := cloud.templates()
	slices.Sort(got)
	if !slices.Equal(got, both) {
		t.Fatalf("emulator holds %v, want %v", got, both)
	}
	if out := example("a", "--destroy").stdout.String(); !strings.Contains(out, "4 deleted") {
		t.Fatalf("destroy of a:\n%s", out)
	}
	got = cloud.templates()
	slices.Sort(got)
	if !slices.Equal(got, exampleIDs("b")) {
		t.Fatalf("after destroying a the emulator holds %v, want b's %v", got, exampleIDs("b"))
	}
	if out := example("b").stdout.String(); !strings.Contains(out, "4 unchanged") {
		t.Fatalf("stage b after a's destroy:\n%s", out)
	}
	readStage(t, loc, exampleApp, "b").settled(t, exampleTemplates("b"))
}

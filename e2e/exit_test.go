package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/athanor-dev/athanor"
)

// stampWriter keeps a run's output and the time of its last write.
type stampWriter struct {
	mu   sync.Mutex
	out  strings.Builder
	last time.Time
}

func (w *stampWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = time.Now()
	return w.out.Write(p)
}

// exitBound is how long a run may take to return after its last output: a
// generous regression guard against a shutdown that waits (the embedded
// emulator once waited five seconds for a client's unused connection), not
// a benchmark.
const exitBound = 3 * time.Second

// TestLocalTargetExitsPromptly runs deploys, refreshes, plans and destroys
// on the local target (the emulator started in-process for each run) many
// times, and bounds how long each run takes to return once its output is
// written.
func TestLocalTargetExitsPromptly(t *testing.T) {
	dir := t.TempDir()
	modes := []struct {
		name  string
		tweak func(*athanor.Config)
		want  string
	}{
		{"deploy", func(*athanor.Config) {}, "Deployed"},
		{"refresh", refresh, "Deployed"},
		{"refresh", refresh, "Deployed"},
		{"plan", plan, "Plan"},
		{"destroy", destroy, "Destroyed"},
	}
	for round := range 8 {
		for _, m := range modes {
			w := &stampWriter{}
			cfg := athanor.Config{
				App: "exit", Stage: "test", Target: athanor.TargetLocal,
				State: filepath.Join(dir, "state"), LocalDir: filepath.Join(dir, "local"),
				Output: w,
			}
			m.tweak(&cfg)
			_, err := athanor.Run(context.Background(), cfg, fleet(4, 4, "v1"))
			returned := time.Now()
			if err != nil {
				t.Fatalf("round %d, %s: %v\n%s", round, m.name, err, w.out.String())
			}
			w.mu.Lock()
			out, last := w.out.String(), w.last
			w.mu.Unlock()
			if !strings.Contains(out, m.want) {
				t.Fatalf("round %d, %s: no %q in the output:\n%s", round, m.name, m.want, out)
			}
			if wait := returned.Sub(last); wait > exitBound {
				t.Fatalf("round %d, %s: the run returned %v after its last output (bound %v):\n%s", round, m.name, wait, exitBound, out)
			}
		}
	}
}

package e2e

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/emulator"
)

// TestInterrupt sends SIGINT to a real program (athanor.Main) in the middle
// of a 50-resource deploy against an emulator whose operations take a
// while: it exits 130, prints the operations in flight as interrupted (not
// FAILED) and says the next run resumes them; the next run finishes with
// every resource existing exactly once, and one more run is a no-op.
func TestInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const templates, topics = 25, 25
	opts := emulator.Instant()
	opts.Latency = emulator.Latency{
		Create: emulator.Between(300*time.Millisecond, 900*time.Millisecond),
		Delete: emulator.Between(300*time.Millisecond, 900*time.Millisecond),
	}
	e := newEnv(t, opts)
	fleetEnv := []string{envTemplates + "=25", envTopics + "=25", envVersion + "=v1"}

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envChild+"=1", envMain+"=1",
		athanor.EnvTarget+"="+e.url, athanor.EnvState+"="+e.state, athanor.EnvStage+"=crash",
		athanor.EnvConcurrency+"=8")
	cmd.Env = append(cmd.Env, fleetEnv...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(out)
	signalled := false
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		// Interrupt once some creates have finished and others are in flight.
		if !signalled && strings.Count(strings.Join(lines, "\n"), " created ") >= 3 {
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			signalled = true
		}
	}
	err = cmd.Wait()
	text := strings.Join(lines, "\n")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != athanor.ExitInterrupted {
		t.Fatalf("interrupted run: %v, want exit status %d\n%s\n%s", err, athanor.ExitInterrupted, text, stderr.String())
	}
	if !signalled {
		t.Fatalf("the run ended before it could be interrupted:\n%s", text)
	}
	t.Logf("interrupted run:\n%s\n%s", text, stderr.String())
	interrupted := 0
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "interrupted ") {
			interrupted++
			if !strings.Contains(l, "the next run finishes it") {
				t.Errorf("interrupted line does not say the next run finishes it: %q", l)
			}
		}
	}
	if interrupted == 0 {
		t.Errorf("no operation reported interrupted:\n%s", text)
	}
	if strings.Contains(text, "FAILED") || strings.Contains(text, "program failed") {
		t.Errorf("an interrupt is reported as a failure:\n%s", text)
	}
	if !strings.Contains(text, "Interrupted in ") || !strings.Contains(text, "the next run resumes") {
		t.Errorf("no closing line saying the next run resumes:\n%s", text)
	}
	if !strings.Contains(stderr.String(), "stopping") {
		t.Errorf("no word on stderr that the signal was received: %q", stderr.String())
	}

	// The next run finishes everything, exactly once.
	if !e.spawn(t, 0, fleetEnv...) {
		t.Fatal("the resuming run did not finish")
	}
	e.checkFleet(t, templates, topics, "v1")
	mark := e.rec.mark()
	if !e.spawn(t, 0, fleetEnv...) {
		t.Fatal("the last run did not finish")
	}
	if calls := e.rec.since(mark, mutating...); len(calls) != 0 {
		t.Errorf("a run after the resumed one made %d mutations: %+v", len(calls), calls)
	}
}

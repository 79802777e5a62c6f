package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/emulator"
)

// progressEnv is an emulator whose creates and deletes take 1.5 to 2 s and
// whose reads take as long while slowReads is set, for watching a program
// show its operations in flight.
type progressEnv struct {
	*env
	url       string // the endpoint with slow reads (the stage is bound to it)
	slowReads atomic.Bool
}

func newProgressEnv(t *testing.T) *progressEnv {
	t.Helper()
	opts := emulator.Instant()
	slow := emulator.Between(1500*time.Millisecond, 2*time.Second)
	opts.Latency = emulator.Latency{Create: slow, Delete: slow}
	pe := &progressEnv{env: newEnv(t, opts)}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if pe.slowReads.Load() && r.Header.Get("X-Amz-Target") == "CloudApiService.GetResource" {
			select {
			case <-time.After(1500 * time.Millisecond): // the latency of a slow read
			case <-r.Context().Done():
			}
		}
		pe.rec.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	pe.url = hs.URL
	return pe
}

// command returns the test binary as a program (athanor.Main) deploying
// three job templates and three topics with the given extra environment.
func (pe *progressEnv) command(extra ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0]) // no arguments: athanor.Main reads them
	cmd.Env = append(os.Environ(), envChild+"=1", envMain+"=1",
		athanor.EnvTarget+"="+pe.url, athanor.EnvState+"="+pe.state, athanor.EnvStage+"=progress",
		envTemplates+"=3", envTopics+"=3", envVersion+"=v1", athanor.EnvHeartbeat+"=400ms", athanor.EnvYes+"=true")
	cmd.Env = append(cmd.Env, extra...)
	return cmd
}

var fleetKeys = []string{"tpl000", "tpl001", "tpl002", "topic000", "topic001", "topic002"}

// runPTY runs cmd with a pseudo-terminal as its standard output and
// returns everything written to it and its standard error.
func runPTY(t *testing.T, cmd *exec.Cmd) (string, string) {
	t.Helper()
	cmd.Env = append(cmd.Env, "TERM=xterm")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		t.Fatalf("start in a pseudo-terminal: %v", err)
	}
	defer tty.Close()
	var out bytes.Buffer
	_, err = io.Copy(&out, tty)
	if err != nil && !errors.Is(err, syscall.EIO) { // EIO: the program closed the terminal
		t.Fatalf("read the pseudo-terminal: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("program: %v\n%s\n%s", err, out.String(), stderr.String())
	}
	return out.String(), stderr.String()
}

// runPTYInterrupt runs cmd with a pseudo-terminal as its standard output
// and error, sends it SIGINT once it shows an operation in flight for a
// second, and
// returns everything written to the terminal; the program must exit with
// athanor.ExitInterrupted.
func runPTYInterrupt(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	cmd.Env = append(cmd.Env, "TERM=xterm")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		t.Fatalf("start in a pseudo-terminal: %v", err)
	}
	defer tty.Close()
	signalled := false
	out := drainPTY(t, tty, func(shown string) {
		if !signalled && strings.Contains(shown, ", 1s elapsed") {
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			signalled = true
		}
	})
	err = cmd.Wait()
	var exit *exec.ExitError
	if !signalled || !errors.As(err, &exit) || exit.ExitCode() != athanor.ExitInterrupted {
		t.Fatalf("interrupted program (signalled %v): %v, want exit status %d\n%q", signalled, err, athanor.ExitInterrupted, out.String())
	}
	return out.String()
}

var escape = regexp.MustCompile(`^\x1b\[(\d*)([A-Za-z])`)

// screen plays out on a blank screen what a program wrote to a terminal —
// text, line feeds, carriage returns, cursor up (CSI n A) and erase below
// (CSI J), the only controls the live view uses — and returns the lines
// left on it. Any other control sequence fails the test.
func screen(t *testing.T, out string) []string {
	t.Helper()
	lines := [][]rune{nil}
	row, col := 0, 0
	for i := 0; i < len(out); {
		switch c := out[i]; c {
		case '\r':
			col = 0
			i++
		case '\n':
			row++
			if row == len(lines) {
				lines = append(lines, nil)
			}
			i++
		case 0x1b:
			m := escape.FindStringSubmatch(out[i:])
			if m == nil {
				t.Fatalf("unexpected control sequence at %d: %q", i, out[i:min(i+10, len(out))])
			}
			n := 1
			if m[1] != "" {
				n, _ = strconv.Atoi(m[1])
			}
			switch m[2] {
			case "A":
				row = max(row-n, 0)
			case "J":
				lines = lines[:row+1]
				lines[row] = lines[row][:min(col, len(lines[row]))]
			default:
				t.Fatalf("unexpected control sequence %q", m[0])
			}
			i += len(m[0])
		default:
			r, size := []rune(out[i:])[0], len(string([]rune(out[i:])[0]))
			for len(lines[row]) < col {
				lines[row] = append(lines[row], ' ')
			}
			if col < len(lines[row]) {
				lines[row][col] = r
			} else {
				lines[row] = append(lines[row], r)
			}
			col++
			i += size
		}
	}
	var text []string
	for _, l := range lines {
		text = append(text, string(l))
	}
	for len(text) > 0 && strings.TrimSpace(text[len(text)-1]) == "" {
		text = text[:len(text)-1]
	}
	return text
}

var inFlight = regexp.MustCompile(`  (creating|deleting|reading) +(\S+) \((AWS::[A-Za-z:]+)\), (\d+)(ms|s) elapsed`)

// checkLive checks a run's terminal output: each resource was shown in
// flight (verb), its elapsed time counting up past a second, and the final
// screen holds only the usual lines — one final line per resource when
// final is set, the header, the summary starting with summary — and
// nothing in flight.
func checkLive(t *testing.T, phase, out, verb, final, summary string) {
	t.Helper()
	shown := map[string]bool{}
	longest := 0
	for _, m := range inFlight.FindAllStringSubmatch(out, -1) {
		if m[1] != verb {
			t.Errorf("%s: an operation %s in flight: %q", phase, m[1], m[0])
		}
		shown[m[2]] = true
		if n, _ := strconv.Atoi(m[4]); m[5] == "s" && n > longest {
			longest = n
		}
	}
	for _, k := range fleetKeys {
		if !shown[k] {
			t.Errorf("%s: %s was never shown %s in flight", phase, k, verb)
		}
	}
	if longest < 1 {
		t.Errorf("%s: no operation was shown in flight for a second or more (the view is not redrawn)", phase)
	}
	lines := screen(t, out)
	t.Logf("%s: final screen:\n%s", phase, strings.Join(lines, "\n"))
	text := strings.Join(lines, "\n")
	if strings.Contains(text, "elapsed") || strings.Contains(text, verb+" ") {
		t.Errorf("%s: lines in flight are left on the screen:\n%s", phase, text)
	}
	if final != "" {
		for _, k := range fleetKeys {
			if n := regexp.MustCompile(`(?m)^  `+final+` +`+k+` \(`).FindAllStringIndex(text, -1); len(n) != 1 {
				t.Errorf("%s: %d %q lines for %s on the final screen, want 1", phase, len(n), final, k)
			}
		}
	}
	if !strings.HasPrefix(lines[0], "Deploying e2e/progress") && !strings.HasPrefix(lines[0], "Destroying e2e/progress") {
		t.Errorf("%s: the screen does not start with the header: %q", phase, lines[0])
	}
	if !strings.HasPrefix(lines[len(lines)-1], summary) {
		t.Errorf("%s: the screen does not end with the summary %q: %q", phase, summary, lines[len(lines)-1])
	}
}

// TestLiveProgress runs a real program in a pseudo-terminal against an
// emulator whose operations take seconds: a deploy, a refresh (reads made
// slow), a destroy, an interrupted deploy and the run resuming it each
// show their operations in flight with a running elapsed time, and leave
// on the screen only the usual lines.
func TestLiveProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	pe := newProgressEnv(t)

	out, _ := runPTY(t, pe.command())
	checkLive(t, "deploy", out, "creating", "created", "Deployed in ")
	if strings.Contains(out, "still ") {
		t.Errorf("deploy: heartbeat lines on a terminal:\n%q", out)
	}

	pe.slowReads.Store(true)
	out, _ = runPTY(t, pe.command(athanor.EnvRefresh+"=true"))
	pe.slowReads.Store(false)
	checkLive(t, "refresh", out, "reading", "", "Deployed in ")

	out, _ = runPTY(t, pe.command(athanor.EnvDestroy+"=true"))
	checkLive(t, "destroy", out, "deleting", "deleted", "Destroyed in ")

	// Ctrl-C with operations in flight, standard error on the same
	// terminal: the note that the run stops is written above the view, and
	// the operations in flight end as "interrupted" lines.
	out = runPTYInterrupt(t, pe.command())
	lines := screen(t, out)
	text := strings.Join(lines, "\n")
	t.Logf("interrupted deploy: final screen:\n%s", text)
	if strings.Contains(text, "elapsed") || !strings.Contains(text, "e2e: interrupt: stopping") ||
		!strings.Contains(text, "  interrupted create ") || !strings.HasPrefix(lines[len(lines)-1], "Error: interrupted") {
		t.Errorf("interrupted deploy: the final screen lacks the note, the interrupted lines or the summary, or keeps lines in flight:\n%s", text)
	}
	// The next run resumes what was in flight.
	out, _ = runPTY(t, pe.command())
	text = strings.Join(screen(t, out), "\n")
	t.Logf("resuming deploy: final screen:\n%s", text)
	if strings.Contains(text, "elapsed") || !strings.Contains(text, "  resumed ") || !strings.Contains(text, "Deployed in ") {
		t.Errorf("resuming deploy: no resumed lines, or lines in flight left:\n%s", text)
	}
	if !strings.Contains(out, "  resuming ") {
		t.Errorf("resuming deploy: the operations resumed were not shown in flight:\n%q", out)
	}
	out, _ = runPTY(t, pe.command(athanor.EnvDestroy+"=true"))
	checkLive(t, "destroy after resume", out, "deleting", "deleted", "Destroyed in ")

	// --json never draws: one JSON object a line.
	out, _ = runPTY(t, pe.command(athanor.EnvJSON+"=true"))
	if strings.Contains(out, "\x1b") {
		t.Errorf("--json on a terminal wrote control sequences: %q", out)
	}
	for _, l := range strings.Split(strings.TrimSpace(strings.ReplaceAll(out, "\r\n", "\n")), "\n") {
		if !json.Valid([]byte(l)) {
			t.Errorf("--json on a terminal: not a JSON line: %q", l)
		}
	}
}

// TestHeartbeat runs a real program with its output on a pipe: each
// operation in flight gets a "still creating" line at the configured
// interval, between its start line and its final line, and nothing is
// redrawn.
func TestHeartbeat(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	pe := newProgressEnv(t)
	for _, phase := range []struct {
		name, start, still, final string
		env                       []string
	}{
		{"deploy", "creating", "still creating", "created", nil},
		{"destroy", "deleting", "still deleting", "deleted", []string{athanor.EnvDestroy + "=true"}},
	} {
		cmd := pe.command(phase.env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s\n%s", phase.name, err, stdout.String(), stderr.String())
		}
		out := stdout.String()
		t.Logf("%s:\n%s", phase.name, out)
		if strings.Contains(out, "\x1b") || strings.Contains(out, "\r") {
			t.Errorf("%s: control characters in output to a pipe: %q", phase.name, out)
		}
		lines := strings.Split(out, "\n")
		for _, k := range fleetKeys {
			state, beats := "before", 0
			for _, l := range lines {
				f := strings.Fields(l)
				switch {
				case len(f) > 1 && f[0] == phase.start && f[1] == k:
					state = "in flight"
				case len(f) > 2 && strings.HasPrefix(l, "  "+phase.still+" ") && f[2] == k:
					if state != "in flight" {
						t.Errorf("%s: a heartbeat of %s %s its operation: %q", phase.name, k, state, l)
					}
					if !regexp.MustCompile(`, \d+(ms|s) elapsed$`).MatchString(l) {
						t.Errorf("%s: a heartbeat without its elapsed time: %q", phase.name, l)
					}
					beats++
				case len(f) > 1 && f[0] == phase.final && f[1] == k:
					state = "after"
				}
			}
			if state != "after" {
				t.Errorf("%s: no %q line for %s", phase.name, phase.final, k)
			}
			// Operations of 1.5 s or more, beats every 400 ms.
			if beats == 0 {
				t.Errorf("%s: no heartbeat for %s", phase.name, k)
			}
		}
	}

	// ATHANOR_HEARTBEAT=0 turns them off.
	cmd := pe.command(athanor.EnvHeartbeat + "=0")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stdout.String(), "still ") {
		t.Errorf("heartbeats with %s=0:\n%s", athanor.EnvHeartbeat, stdout.String())
	}
}

// jsonLines is a run's output parsed as JSON lines; after the first
// "done" events it calls cancel (once), as a Ctrl-C would.
type jsonLines struct {
	t      *testing.T
	buf    []byte
	events []map[string]any
	done   int
	cancel func()
}

func (j *jsonLines) Write(p []byte) (int, error) {
	j.buf = append(j.buf, p...)
	for {
		i := bytes.IndexByte(j.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		var ev map[string]any
		if err := json.Unmarshal(j.buf[:i], &ev); err != nil {
			j.t.Errorf("not a JSON line: %q: %v", j.buf[:i], err)
		}
		j.buf = j.buf[i+1:]
		j.events = append(j.events, ev)
		if ev["event"] == "done" {
			if j.done++; j.done == 2 && j.cancel != nil {
				j.cancel()
			}
		}
	}
}

// TestJSONOutcomes: with --json every declaration has exactly one outcome
// event — done, failed (also when it was invalid and started nothing),
// interrupted (in flight when the run was cancelled) or not-started — and
// every duration is durationMs, the summary's too.
func TestJSONOutcomes(t *testing.T) {
	pe := newProgressEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &jsonLines{t: t, cancel: cancel}
	const templates = 12
	cfg := pe.config()
	cfg.Target, cfg.JSON, cfg.Output, cfg.Concurrency = pe.url, true, out, 3
	program := func(invalid bool) func(app *athanor.App) error {
		return func(app *athanor.App) error {
			if invalid {
				app.Declare("AWS::Logs::LogGroup", "invalid", map[string]any{"LogGroupName": "/json", "RetentionInDays": "a week"})
			}
			for i := range templates {
				app.Go(func() error {
					_, err := app.Declare(jobTemplate, fmt.Sprintf("tpl%02d", i), map[string]any{
						"JobTemplateId": fmt.Sprintf("json-%02d", i), "Description": "d", "Document": "{}"})
					return err
				})
			}
			return nil
		}
	}
	// An invalid declaration fails the preview: it has a failed event
	// naming the property (and listing its violations), the others a
	// not-started event each, and nothing starts.
	preview := &jsonLines{t: t}
	pcfg := cfg
	pcfg.Output = preview
	if _, err := athanor.Run(ctx, pcfg, program(true)); err == nil {
		t.Fatal("a program with an invalid declaration ran")
	}
	pout := map[string]string{}
	for _, ev := range preview.events {
		key, _ := ev["key"].(string)
		switch name := ev["event"].(string); name {
		case "start", "done":
			t.Errorf("a failed preview started an operation: %v", ev)
		case "failed", "not-started":
			if pout[key] != "" {
				t.Errorf("%s: a second outcome %v", key, ev)
			}
			pout[key] = name
			if vs, _ := ev["violations"].([]any); key == "invalid" && (len(vs) != 1 || !strings.Contains(fmt.Sprint(vs[0]), "/RetentionInDays")) {
				t.Errorf("the invalid declaration's event does not list the property: %v", ev)
			}
		}
	}
	if pout["invalid"] != "failed" || len(pout) != templates+1 {
		t.Errorf("outcomes of a failed preview: %v, want invalid failed and every template not started", pout)
	}

	_, err := athanor.Run(ctx, cfg, program(false))
	if !errors.Is(err, athanor.ErrInterrupted) {
		t.Fatalf("run: %v, want it interrupted", err)
	}
	outcomes := map[string][]string{}
	started := map[string]bool{}
	var summary map[string]any
	for _, ev := range out.events {
		key, _ := ev["key"].(string)
		switch name := ev["event"].(string); name {
		case "start":
			started[key] = true
		case "done", "failed", "interrupted", "not-started":
			outcomes[key] = append(outcomes[key], name)
			if msg, _ := ev["error"].(string); key == "invalid" && !strings.Contains(msg, "/RetentionInDays") {
				t.Errorf("the invalid declaration's event does not name the property: %v", ev)
			}
			if _, ok := ev["durationMs"]; started[key] && name != "not-started" && !ok {
				t.Errorf("%s event of %s without durationMs: %v", name, key, ev)
			}
		case "summary":
			summary, _ = ev["summary"].(map[string]any)
		}
		for k := range ev {
			if strings.HasSuffix(k, "Ns") {
				t.Errorf("a duration in nanoseconds: %v", ev)
			}
		}
	}
	var keys []string
	for i := range templates {
		keys = append(keys, fmt.Sprintf("tpl%02d", i))
	}
	count := map[string]int{}
	for _, k := range keys {
		if len(outcomes[k]) != 1 {
			t.Errorf("%s: outcome events %v, want exactly one", k, outcomes[k])
			continue
		}
		count[outcomes[k][0]]++
	}
	if count["done"] < 2 || count["interrupted"] == 0 || count["not-started"] == 0 {
		t.Errorf("outcomes %v: want some done, interrupted and not started", count)
	}
	if summary == nil {
		t.Fatal("no summary event")
	}
	if ms, ok := summary["durationMs"].(float64); !ok || ms <= 0 {
		t.Errorf("summary %v: want a positive durationMs", summary)
	}
	if _, ok := summary["durationNs"]; ok {
		t.Errorf("summary %v still has durationNs", summary)
	}
}

// drainPTY reads what a program writes to its pseudo-terminal until it
// closes it, calling react with everything shown so far after each read,
// and returns it all.
func drainPTY(t *testing.T, tty io.Reader, react func(shown string)) *bytes.Buffer {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := tty.Read(buf)
		out.Write(buf[:n])
		react(out.String())
		if err != nil {
			if !errors.Is(err, syscall.EIO) && !errors.Is(err, io.EOF) {
				t.Fatalf("read the pseudo-terminal: %v", err)
			}
			return &out
		}
	}
}

// runPTYAnswer runs cmd on a pseudo-terminal, answers the plan's question
// with answer once it is asked, and returns what the terminal showed and
// the exit status.
func runPTYAnswer(t *testing.T, cmd *exec.Cmd, answer string) (string, int) {
	t.Helper()
	cmd.Env = append(cmd.Env, "TERM=xterm")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		t.Fatalf("start in a pseudo-terminal: %v", err)
	}
	defer tty.Close()
	answered := false
	out := drainPTY(t, tty, func(shown string) {
		if !answered && strings.Contains(shown, "Apply these changes?") {
			if _, err := io.WriteString(tty, answer+"\n"); err != nil {
				t.Fatal(err)
			}
			answered = true
		}
	})
	err = cmd.Wait()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if !answered {
		t.Fatalf("the program asked nothing:\n%s", out.String())
	}
	return out.String(), code
}

// TestConfirmOnTerminal: on a terminal a deploy prints its plan and asks;
// anything but yes changes nothing, yes applies it, and a plan with
// nothing to do asks nothing.
func TestConfirmOnTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	pe := newProgressEnv(t)
	out, code := runPTYAnswer(t, pe.command(athanor.EnvYes+"=false"), "no")
	if code != 1 || !strings.Contains(out, "+ create   tpl000 (AWS::IoT::JobTemplate)") || !strings.Contains(out, "Plan: 6 to create") ||
		!strings.Contains(out, "not confirmed; nothing was changed") {
		t.Fatalf("declined: exit %d\n%s", code, out)
	}
	if n := pe.requests(); n != 0 {
		t.Fatalf("declined plan: %d mutating requests", n)
	}
	out, code = runPTYAnswer(t, pe.command(athanor.EnvYes+"=false"), "yes")
	if code != 0 || !strings.Contains(out, "Deployed in ") || len(pe.list(jobTemplate)) != 3 {
		t.Fatalf("confirmed: exit %d, %d templates\n%s", code, len(pe.list(jobTemplate)), out)
	}
	// Nothing to do: no question.
	out, _ = runPTY(t, pe.command(athanor.EnvYes+"=false"))
	if strings.Contains(out, "Apply these changes?") || !strings.Contains(out, "6 unchanged") {
		t.Fatalf("no-op run:\n%s", out)
	}
}

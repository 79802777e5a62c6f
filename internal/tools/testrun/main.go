// Command testrun runs `go test -json` with the given arguments and prints
// what `go test` without -v would (each failing test's output, each
// package's ok/FAIL line, build errors), then the tests that were skipped,
// with their reasons, and last one line counting the tests:
//
//	go run ./internal/tools/testrun -race -timeout 60m ./...
//	...
//	ok  	github.com/athanor-dev/athanor/state	1.234s
//	skipped 2 tests:
//	  github.com/athanor-dev/athanor/e2e TestAWSCLI: aws not installed
//	  ...
//	812 passed, 0 failed
//
// It exits with go test's status, so a run with a failing test, a build
// error or a panic fails. The counts include subtests.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs go test and returns the exit status to exit with.
func run(args []string, stdout, stderr io.Writer) int {
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.Command(goCmd, append([]string{"test", "-json"}, args...)...)
	cmd.Stderr = stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(stderr, "testrun:", err)
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "testrun:", err)
		return 1
	}
	r := newReport(stdout)
	scanErr := r.read(pipe)
	werr := cmd.Wait()
	r.finish()
	var exit *exec.ExitError
	switch {
	case errors.As(werr, &exit):
		return exit.ExitCode()
	case werr != nil:
		fmt.Fprintln(stderr, "testrun:", werr)
		return 1
	case scanErr != nil:
		fmt.Fprintln(stderr, "testrun: reading go test's output:", scanErr)
		return 1
	case r.failed > 0:
		return 1 // go test exited 0 but reported a failure: do not hide it
	}
	return 0
}

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Time       time.Time
	Action     string
	Package    string
	ImportPath string // build-output events
	Test       string
	Output     string
}

// report turns the event stream into go test's plain output.
type report struct {
	w              io.Writer
	output         map[string][]string // package + test → output so far, while the test runs
	skips          []string
	passed, failed int
}

func newReport(w io.Writer) *report {
	return &report{w: w, output: map[string][]string{}}
}

// read consumes the stream; a line that is not an event (go test prints
// some errors before any package runs) is copied as it is.
func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			fmt.Fprintf(r.w, "%s\n", line)
			continue
		}
		r.event(ev)
	}
	return sc.Err()
}

func (r *report) event(ev event) {
	key := ev.Package + " " + ev.Test
	switch {
	case ev.Action == "build-output":
		io.WriteString(r.w, ev.Output)
	case ev.Test == "":
		// Package level: its ok/FAIL line, a panic outside a test, what
		// TestMain printed. "PASS" alone is what -v-less go test hides.
		if ev.Action == "output" && ev.Output != "PASS\n" {
			io.WriteString(r.w, ev.Output)
		}
	case ev.Action == "output":
		r.output[key] = append(r.output[key], ev.Output)
	case ev.Action == "pass":
		r.passed++
		delete(r.output, key)
	case ev.Action == "fail":
		r.failed++
		for _, l := range r.output[key] {
			if !strings.HasPrefix(l, "=== ") {
				io.WriteString(r.w, l)
			}
		}
		delete(r.output, key)
	case ev.Action == "skip":
		r.skips = append(r.skips, fmt.Sprintf("%s %s: %s", ev.Package, ev.Test, skipReason(r.output[key])))
		delete(r.output, key)
	}
}

// skipReason is what the test logged before skipping, on one line: the
// lines of its output other than the === and --- markers.
func skipReason(lines []string) string {
	var why []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		why = append(why, t)
	}
	if len(why) == 0 {
		return "(no reason given)"
	}
	return strings.Join(why, " ")
}

// finish prints the skipped tests and the closing count.
func (r *report) finish() {
	if len(r.skips) > 0 {
		sort.Strings(r.skips)
		fmt.Fprintf(r.w, "skipped %d tests:\n", len(r.skips))
		for _, s := range r.skips {
			fmt.Fprintf(r.w, "  %s\n", s)
		}
	}
	fmt.Fprintf(r.w, "%d passed, %d failed\n", r.passed, r.failed)
}

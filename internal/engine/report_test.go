package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSummaryJSON: the summary's duration is in milliseconds, named as in
// every event.
func TestSummaryJSON(t *testing.T) {
	data, err := json.Marshal(Summary{Created: 2, Failed: 1, Duration: 1500 * time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m["durationMs"] != 1.5 || m["created"] != 2.0 || m["failed"] != 1.0 || len(m) != 7 {
		t.Fatalf("summary %s", data)
	}
}

var times = regexp.MustCompile(`\d+(ms|s) elapsed`)

// TestLiveView: on a terminal, an operation in flight is drawn with its
// elapsed time below the other lines, erased (cursor up, erase below)
// before anything else is printed, and replaced by its final line.
func TestLiveView(t *testing.T) {
	var out bytes.Buffer
	r := NewReporterWith(&out, ReporterOptions{Live: true, Size: func() (int, int) { return 60, 10 }})
	r.Header("app", "dev", "deploy", "local")
	r.Begin("tpl", "AWS::IoT::JobTemplate", ActionCreate, "")
	r.Begin("a-rather-long-logical-id-of-a-topic", "AWS::SNS::Topic", ActionCreate, "")
	if got := times.ReplaceAllString(out.String(), "T elapsed"); got != "Deploying app/dev on local\n"+
		"  creating   tpl (AWS::IoT::JobTemplate), T elapsed\n"+
		"\x1b[1A\r\x1b[J  creating   tpl (AWS::IoT::JobTemplate), T elapsed\n"+
		"  creating   a-rather-long-logical-id-of-a-topic (AWS::SNS…\n" {
		t.Fatalf("live view after two starts: %q", got)
	}
	out.Reset()
	r.End("tpl", "AWS::IoT::JobTemplate", ActionCreate, "t-1", time.Second, nil)
	if got, want := out.String(), "\x1b[2A\r\x1b[J  created    tpl (AWS::IoT::JobTemplate) t-1 in 1s\n"+
		"  creating   a-rather-long-logical-id-of-a-topic (AWS::SNS…\n"; got != want {
		t.Fatalf("after an end: %q, want %q", got, want)
	}
	out.Reset()
	r.End("a-rather-long-logical-id-of-a-topic", "AWS::SNS::Topic", ActionCreate, "", time.Second, errors.New("refused"))
	r.Done("deploy", Summary{}, nil, nil)
	if got := out.String(); !strings.HasPrefix(got, "\x1b[1A\r\x1b[J  FAILED     a-rather-long-logical-id-of-a-topic (AWS::SNS::Topic) after 1s: refused\n") ||
		strings.Contains(got, "creating") || !strings.Contains(got, "Deployed in") {
		t.Fatalf("at the end: %q", got)
	}
}

// TestRejected: a declaration that failed before any operation has its
// own event; one whose operation reported the failure has no second one.
func TestRejected(t *testing.T) {
	var out bytes.Buffer
	r := NewReporter(&out, true)
	r.Begin("op", "T", ActionCreate, "")
	r.End("op", "T", ActionCreate, "", time.Millisecond, errors.New("refused"))
	r.Rejected("op", "T", errors.New("refused"), false)
	r.Rejected("bad", "T", &ResourceError{Key: "bad", Type: "T", Err: errors.New("invalid")}, false)
	r.Rejected("later", "T", errors.New("not started"), true)
	var events []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev struct{ Event, Key, Error string }
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		events = append(events, ev.Event+" "+ev.Key+": "+ev.Error)
	}
	want := []string{"start op: ", "failed op: refused", "failed bad: bad (T): invalid", "not-started later: not started"}
	if strings.Join(events, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events\n%s\nwant\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}
}

// TestLiveViewSupersede: an operation of a declaration that began without
// an end (a create turned into an adoption, a failure after the start)
// leaves the view when the next one begins or the declaration fails.
func TestLiveViewSupersede(t *testing.T) {
	var out bytes.Buffer
	r := NewReporterWith(&out, ReporterOptions{Live: true, Size: func() (int, int) { return 100, 10 }})
	defer r.Close()
	r.Begin("tpl", "T", ActionCreate, "")
	r.Begin("tpl", "T", ActionAdopt, "")
	if got := times.ReplaceAllString(out.String(), "T elapsed"); !strings.HasSuffix(got, "\x1b[1A\r\x1b[J  adopting   tpl (T), T elapsed\n") {
		t.Fatalf("after the adoption began: %q", got)
	}
	out.Reset()
	r.Rejected("tpl", "T", errors.New("state write failed"), false)
	if got, want := out.String(), "\x1b[1A\r\x1b[J  FAILED     tpl (T): state write failed\n"; got != want {
		t.Fatalf("after the failure: %q, want %q", got, want)
	}
}

// TestLiveViewManyInFlight: with more operations in flight than the
// terminal has rows, the view shows the earliest begun that have not
// ended, in start order, and counts the rest, however many ended before
// them and in whatever order.
func TestLiveViewManyInFlight(t *testing.T) {
	var out bytes.Buffer
	r := NewReporterWith(&out, ReporterOptions{Live: true, Size: func() (int, int) { return 100, 6 }})
	defer r.Close()
	for i := range 40 {
		r.Begin(fmt.Sprintf("r%02d", i), "T", ActionCreate, "")
	}
	// End all but r07, r21, r22, r30, r33 and r39, the even ones first.
	keep := map[int]bool{7: true, 21: true, 22: true, 30: true, 33: true, 39: true}
	for _, odd := range []int{0, 1} {
		for i := odd; i < 40; i += 2 {
			if !keep[i] {
				r.End(fmt.Sprintf("r%02d", i), "T", ActionCreate, "id", time.Second, nil)
			}
		}
	}
	out.Reset()
	r.Begin("r40", "T", ActionCreate, "")
	got := times.ReplaceAllString(out.String(), "T elapsed")
	want := "  creating   r07 (T), T elapsed\n" +
		"  creating   r21 (T), T elapsed\n" +
		"  creating   r22 (T), T elapsed\n" +
		"  ... and 4 more in flight\n"
	if !strings.HasSuffix(got, want) {
		t.Fatalf("live view: %q, want it to end with %q", got, want)
	}
	for _, i := range []int{7, 21, 22, 30, 33, 39, 40} {
		r.End(fmt.Sprintf("r%02d", i), "T", ActionCreate, "id", time.Second, nil)
	}
	out.Reset()
	r.Begin("last", "T", ActionCreate, "")
	if got := times.ReplaceAllString(out.String(), "T elapsed"); got != "  creating   last (T), T elapsed\n" {
		t.Fatalf("live view after every other operation ended: %q", got)
	}
}

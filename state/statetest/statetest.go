// Package statetest is the conformance suite for state backends: every
// backend runs the same tests, unchanged, from its own test package.
//
//	func TestConformance(t *testing.T) {
//		statetest.Run(t, func(t *testing.T, app, stage string) state.Backend {
//			b, err := file.Open(os.Getenv("MY_STATE_ROOT"), app, stage)
//			...
//		})
//	}
//
// Some tests need other processes (a lock holder that is killed, writers in
// parallel, a writer killed mid-write). The suite runs them by re-executing
// the test binary with -test.run naming the calling test and an environment
// variable telling Run which helper to be. open is then called in the helper
// process, so it must reach the same storage there: keep the location (a
// directory, a database URL) in an environment variable set by TestMain,
// which the helpers inherit.
//
// The lock tests also check fencing (see state.Lock): a holder whose lock
// was forcibly unlocked, or whose lease lapsed while its store did not
// answer, sees Lock.Lost close and has every write refused with
// state.ErrLockLost. The lapse needs the backend's help, a connection the
// test can pause: pass it in Hooks.Stall with RunWith (the test is skipped
// for backends without it, such as the file backend, whose locks do not
// expire).
package statetest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/athanor-dev/athanor/state"
)

// Environment variables passed to helper processes.
const (
	envHelper = "ATHANOR_STATETEST_HELPER" // helper mode
	envApp    = "ATHANOR_STATETEST_APP"
	envStage  = "ATHANOR_STATETEST_STAGE"
	envArg    = "ATHANOR_STATETEST_ARG"
)

// Helper modes.
const (
	helperLock  = "lock"  // take the lock, say so, hold it until killed
	helperWrite = "write" // write a batch of records, then exit
	helperChurn = "churn" // rewrite records in a loop until killed
)

// Markers helpers print on stdout.
const (
	markLocked = "STATETEST-LOCKED"
	markPut    = "STATETEST-PUT"
)

// Opener opens the backend of app and stage. It is called once or more per
// test, in the test process and in helper processes (see the package
// documentation), and should register the backend's Close with t.Cleanup.
type Opener = func(t *testing.T, app, stage string) state.Backend

// Hooks are what a backend's test provides beyond an Opener, for the tests
// that need the backend's help. Each is optional; a test whose hook is
// missing is skipped.
type Hooks struct {
	// Stall opens a backend of app and stage (as Opener does) whose
	// connection to its store can be paused: pause blocks all its traffic,
	// as a stalled network would, until the resume it returns is called.
	// Backends whose locks are leases provide it so that the suite can let
	// a live holder's lease lapse (test LeaseLapse).
	Stall func(t *testing.T, app, stage string) (b state.Backend, pause func() (resume func()))
}

// Run runs the conformance suite against the backend open returns.
func Run(t *testing.T, open Opener) { RunWith(t, open, Hooks{}) }

// RunWith runs the conformance suite with hooks.
func RunWith(t *testing.T, open Opener, hooks Hooks) {
	if mode := os.Getenv(envHelper); mode != "" {
		runHelper(t, open, mode)
		return
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"Keys", testKeys},
		{"InvalidKeys", testInvalidKeys},
		{"ListOrder", testListOrder},
		{"ListScope", testListScope},
		{"Delete", testDelete},
		{"Meta", testMeta},
		{"Isolation", testIsolation},
		{"ConcurrentWriters", testConcurrentWriters},
		{"LockExclusion", testLockExclusion},
		{"LockRelease", testLockRelease},
		{"LockManager", testLockManager},
		{"LockLost", testLockLost},
		{"LeaseLapse", func(t *testing.T, open Opener) { testLeaseLapse(t, open, hooks) }},
		{"CrashedHolder", testCrashedHolder},
		{"ProcessWriters", testProcessWriters},
		{"KilledMidWrite", testKilledMidWrite},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, func(t *testing.T, app, stage string) state.Backend {
				t.Helper()
				b := open(t, app, stage)
				if b == nil {
					t.Fatal("open returned a nil backend")
				}
				return b
			})
		})
	}
}

// stageName returns a stage name unique to this test and run, so tests can
// share one store.
func stageName(t *testing.T) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	n := regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "-")
	if len(n) > 80 {
		n = n[len(n)-80:]
	}
	return "st" + hex.EncodeToString(b[:]) + "-" + strings.Trim(n, "-")
}

const testApp = "statetest"

var epoch = time.Date(2026, 11, 26, 14, 3, 12, 123456789, time.UTC)

// fullRecord returns a record with every field set.
func fullRecord(key string, seq int64) *state.Record {
	scope, id := state.SplitKey(key)
	return &state.Record{
		FormatVersion: state.FormatVersion,
		Key:           key,
		Scope:         scope,
		LogicalID:     id,
		Type:          "AWS::IoT::JobTemplate",
		Seq:           seq,
		Status:        state.StatusReplacing,
		Identifier:    "tpl-" + id,
		Desired:       json.RawMessage(`{"JobTemplateId": "tpl", "Description": "d", "Document": "{\"operation\":\"update\"}", "TimeoutConfig": {"InProgressTimeoutInMinutes": 60}, "Tags": [{"Key": "Environment", "Value": "Production"}], "Big": 12345678901234567890, "Frac": 1.50}`),
		Outputs:       json.RawMessage(`{"Arn":"arn:aws:iot:us-east-1:123456789012:jobtemplate/tpl"}`),
		Pending: &state.Pending{
			Operation:    "CREATE",
			ClientToken:  "ct-" + id,
			RequestToken: "rt-" + id,
			Identifier:   "tpl2-" + id,
			Desired:      json.RawMessage(`{"JobTemplateId":"tpl2","Description":"é \u00e9 \"q\""}`),
			Patch:        json.RawMessage(`[{"op":"replace","path":"/Description","value":"x"}]`),
			StartedAt:    epoch.Add(time.Second),
		},
		DependsOn: []string{"fleet/role", "bucket"},
		Retired: []state.Retired{
			{Identifier: "old-1"},
			{Identifier: "old-2", Pending: &state.Pending{Operation: "DELETE", ClientToken: "ct-del", StartedAt: epoch.Add(2 * time.Second)}},
		},
		Retain:    true,
		CreatedAt: epoch,
		UpdatedAt: epoch.Add(3 * time.Second).In(time.FixedZone("CET", 3600)),
	}
}

// simpleRecord returns a minimal record.
func simpleRecord(key string, seq int64) *state.Record {
	scope, id := state.SplitKey(key)
	desired, _ := json.Marshal(map[string]string{"LogGroupName": id})
	return &state.Record{
		Key: key, Scope: scope, LogicalID: id,
		Type: "AWS::Logs::LogGroup", Seq: seq, Status: state.StatusCreated,
		Identifier: id, Desired: desired,
		CreatedAt: epoch, UpdatedAt: epoch,
	}
}

func mustPut(t *testing.T, b state.Backend, r *state.Record) {
	t.Helper()
	if err := b.Put(t.Context(), r); err != nil {
		t.Fatalf("Put(%q): %v", r.Key, err)
	}
}

func mustGet(t *testing.T, b state.Backend, key string) *state.Record {
	t.Helper()
	r, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return r
}

func mustList(t *testing.T, b state.Backend) []*state.Record {
	t.Helper()
	recs, err := b.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return recs
}

func keys(recs []*state.Record) []string {
	ks := make([]string, len(recs))
	for i, r := range recs {
		ks[i] = r.Key
	}
	return ks
}

func assertEqualRecord(t *testing.T, got, want *state.Record) {
	t.Helper()
	if !state.Equal(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Fatalf("record %q differs\ngot:  %s\nwant: %s", want.Key, g, w)
	}
}

func testRoundTrip(t *testing.T, open Opener) {
	b := open(t, testApp, stageName(t))
	want := fullRecord("fleet/basicJobTemplate", 7)
	want.FormatVersion = 0 // Put writes the current version whatever the record says
	mustPut(t, b, want)
	got := mustGet(t, b, want.Key)
	if got.FormatVersion != state.FormatVersion {
		t.Errorf("FormatVersion = %d, want %d", got.FormatVersion, state.FormatVersion)
	}
	if want.FormatVersion != 0 {
		t.Errorf("Put modified its argument's FormatVersion")
	}
	assertEqualRecord(t, got, want)
	if got.Pending == nil || got.Pending.ClientToken != "ct-basicJobTemplate" || len(got.Retired) != 2 || got.Retired[1].Pending == nil || len(got.DependsOn) != 2 {
		t.Errorf("Pending/Retired lost: %+v", got)
	}
	if !got.UpdatedAt.Equal(want.UpdatedAt) || !got.Pending.StartedAt.Equal(want.Pending.StartedAt) {
		t.Errorf("times changed: %v %v", got.UpdatedAt, got.Pending.StartedAt)
	}
	var d map[string]any
	if err := json.Unmarshal(got.Desired, &d); err != nil || d["Description"] != "d" {
		t.Errorf("Desired = %s (%v)", got.Desired, err)
	}
	if _, err := b.Get(t.Context(), "fleet/missing"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("Get(missing) error = %v, want ErrNotFound", err)
	}
}

func testOverwrite(t *testing.T, open Opener) {
	stage := stageName(t)
	b := open(t, testApp, stage)
	r := fullRecord("a", 1)
	mustPut(t, b, r)
	r2 := simpleRecord("a", 1)
	r2.Status = state.StatusCreated
	mustPut(t, b, r2)
	got := mustGet(t, b, "a")
	assertEqualRecord(t, got, r2)
	if got.Pending != nil || got.Retired != nil {
		t.Errorf("overwrite kept old fields: %+v", got)
	}
	// Another backend instance on the same stage sees the same data.
	other := open(t, testApp, stage)
	assertEqualRecord(t, mustGet(t, other, "a"), r2)
	if n := len(mustList(t, other)); n != 1 {
		t.Errorf("List has %d records after overwrite, want 1", n)
	}
}

func testKeys(t *testing.T, open Opener) {
	b := open(t, testApp, stageName(t))
	ks := []string{
		"a", "A", "basicJobTemplate", "BasicJobTemplate",
		"fleet/basicJobTemplate", "fleet/sub/x", "fleet+x", "fleet%2Fx",
		"with space", "dots.in.name", ".hidden", "..", "x/..", "ünïcødé/日本",
		"^caret", "~tilde", `back\slash`, "colon:star*?",
		strings.Repeat("Long", 120), strings.Repeat("Long", 120) + "2",
	}
	for i, k := range ks {
		mustPut(t, b, simpleRecord(k, int64(i)))
	}
	for _, k := range ks {
		if got := mustGet(t, b, k); got.Key != k {
			t.Errorf("Get(%q).Key = %q", k, got.Key)
		}
	}
	if got := keys(mustList(t, b)); !slices.Equal(got, ks) {
		t.Errorf("List keys = %q, want %q", got, ks)
	}
	for _, k := range ks {
		if err := b.Delete(t.Context(), k); err != nil {
			t.Errorf("Delete(%q): %v", k, err)
		}
	}
	if n := len(mustList(t, b)); n != 0 {
		t.Errorf("List has %d records after deleting all", n)
	}
}

func testInvalidKeys(t *testing.T, open Opener) {
	b := open(t, testApp, stageName(t))
	for _, k := range []string{"", "a//b", "/a", "a/", "nul\x00", "bad\xffutf8"} {
		if err := b.Put(t.Context(), simpleRecord(k, 1)); err == nil {
			t.Errorf("Put(%q) succeeded, want an error", k)
		}
		if _, err := b.Get(t.Context(), k); err == nil || errors.Is(err, state.ErrNotFound) {
			t.Errorf("Get(%q) error = %v, want an invalid key error", k, err)
		}
	}
	if err := b.Put(t.Context(), nil); err == nil {
		t.Error("Put(nil) succeeded")
	}
}

func testListOrder(t *testing.T, open Opener) {
	b := open(t, testApp, stageName(t))
	if recs := mustList(t, b); len(recs) != 0 {
		t.Fatalf("empty stage lists %d records", len(recs))
	}
	seqs := []int64{5, 3, 9, 1, 3, 0, 12, 7}
	perm := mathrand.Perm(len(seqs))
	for _, i := range perm {
		mustPut(t, b, simpleRecord(fmt.Sprintf("r%d", i), seqs[i]))
	}
	recs := mustList(t, b)
	if len(recs) != len(seqs) {
		t.Fatalf("List returned %d records, want %d", len(recs), len(seqs))
	}
	for i := 1; i < len(recs); i++ {
		a, c := recs[i-1], recs[i]
		if a.Seq > c.Seq || a.Seq == c.Seq && a.Key >= c.Key {
			t.Errorf("List not sorted by Seq then Key: %q(%d) before %q(%d)", a.Key, a.Seq, c.Key, c.Seq)
		}
	}
	if got := keys(recs); got[0] != "r5" || got[len(got)-1] != "r6" {
		t.Errorf("List order = %q", got)
	}
}

func testListScope(t *testing.T, open Opener) {
	b := open(t, testApp, stageName(t))
	for i, k := range []string{"root", "fleet/a", "fleet/sub/b", "fleet2/c", "fleet/sub/deeper/d", "other/fleet/e"} {
		mustPut(t, b, simpleRecord(k, int64(i)))
	}
	recs := mustList(t, b)
	for _, tc := range []struct {
		scope string
		want  []string
	}{
		{"", []string{"root", "fleet/a", "fleet/sub/b", "fleet2/c", "fleet/sub/deeper/d", "other/fleet/e"}},
		{"fleet", []string{"fleet/a", "fleet/sub/b", "fleet/sub/deeper/d"}},
		{"fleet/sub", []string{"fleet/sub/b", "fleet/sub/deeper/d"}},
		{"fleet2", []string{"fleet2/c"}},
		{"none", nil},
	} {
		if got := keys(state.FilterScope(recs, tc.scope)); !slices.Equal(got, tc.want) {
			t.Errorf("scope %q: %q, want %q", tc.scope, got, tc.want)
		}
	}
	if r := mustGet(t, b, "fleet/sub/b"); r.Scope != "fleet/sub" || r.LogicalID != "b" {
		t.Errorf("scope/logical id = %q/%q", r.Scope, r.LogicalID)
	}
}

func testDelete(t *testing.T, open Opener) {
	b := open(t, testApp, stageName(t))
	mustPut(t, b, simpleRecord("keep", 1))
	mustPut(t, b, simpleRecord("gone/x", 2))
	if err := b.Delete(t.Context(), "gone/x"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Get(t.Context(), "gone/x"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := b.Delete(t.Context(), "gone/x"); err != nil {
		t.Errorf("Delete of a deleted record: %v", err)
	}
	if err := b.Delete(t.Context(), "never"); err != nil {
		t.Errorf("Delete of a missing record: %v", err)
	}
	if got := keys(mustList(t, b)); !slices.Equal(got, []string{"keep"}) {
		t.Errorf("List after Delete = %q", got)
	}
	mustPut(t, b, simpleRecord("gone/x", 3))
	if r := mustGet(t, b, "gone/x"); r.Seq != 3 {
		t.Errorf("re-created record Seq = %d", r.Seq)
	}
}

func testMeta(t *testing.T, open Opener) {
	stage := stageName(t)
	b := open(t, testApp, stage)
	m, err := b.GetMeta(t.Context())
	if err != nil {
		t.Fatalf("GetMeta on a new stage: %v", err)
	}
	if m == nil || m.NextSeq != 0 || len(m.Exports) != 0 || m.Target != nil {
		t.Fatalf("GetMeta on a new stage = %+v, want zero", m)
	}
	want := &state.Meta{
		NextSeq: 42,
		Exports: map[string]json.RawMessage{"arn": json.RawMessage(`"arn:aws:iot:us-east-1:123456789012:jobtemplate/x"`), "n": json.RawMessage(`{"a": [1, 2]}`)},
		Target: &state.Target{Kind: state.TargetURL, Endpoint: "http://127.0.0.1:4566", Partition: "aws",
			Account: "111111111111", Region: "eu-west-1", BoundAt: epoch.Add(time.Second)},
		UpdatedAt: epoch,
	}
	if err := b.PutMeta(t.Context(), want); err != nil {
		t.Fatalf("PutMeta: %v", err)
	}
	got, err := open(t, testApp, stage).GetMeta(t.Context())
	if err != nil {
		t.Fatalf("GetMeta: %v", err)
	}
	if got.NextSeq != 42 || !got.UpdatedAt.Equal(epoch) || got.FormatVersion != state.FormatVersion || len(got.Exports) != 2 {
		t.Errorf("GetMeta = %+v", got)
	}
	if !state.EqualJSON(got.Exports["n"], want.Exports["n"]) || !state.EqualJSON(got.Exports["arn"], want.Exports["arn"]) {
		t.Errorf("Exports = %s", got.Exports)
	}
	if got.Target == nil || *got.Target != (state.Target{Kind: want.Target.Kind, Endpoint: want.Target.Endpoint, Partition: "aws",
		Account: "111111111111", Region: "eu-west-1", BoundAt: got.Target.BoundAt}) || !got.Target.BoundAt.Equal(want.Target.BoundAt) {
		t.Errorf("Target = %+v, want %+v", got.Target, want.Target)
	}
	want.NextSeq, want.Exports, want.Target = 43, nil, nil
	if err := b.PutMeta(t.Context(), want); err != nil {
		t.Fatalf("PutMeta: %v", err)
	}
	if got, err := b.GetMeta(t.Context()); err != nil || got.NextSeq != 43 || len(got.Exports) != 0 || got.Target != nil {
		t.Errorf("GetMeta after overwrite = %+v, %v", got, err)
	}
	if n := len(mustList(t, b)); n != 0 {
		t.Errorf("meta shows up in List: %d records", n)
	}
}

func testIsolation(t *testing.T, open Opener) {
	stage := stageName(t)
	a := open(t, testApp, stage)
	otherStage := open(t, testApp, stage+"-b")
	otherApp := open(t, testApp+"-b", stage)
	mustPut(t, a, simpleRecord("x", 1))
	if err := a.PutMeta(t.Context(), &state.Meta{NextSeq: 9}); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]state.Backend{"other stage": otherStage, "other app": otherApp} {
		if _, err := b.Get(t.Context(), "x"); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("%s sees the record: %v", name, err)
		}
		if n := len(mustList(t, b)); n != 0 {
			t.Errorf("%s lists %d records", name, n)
		}
		if m, err := b.GetMeta(t.Context()); err != nil || m.NextSeq != 0 {
			t.Errorf("%s meta = %+v, %v", name, m, err)
		}
		l, err := b.Lock(t.Context(), state.NewLockInfo("isolation"))
		if err != nil {
			t.Fatalf("%s: Lock: %v", name, err)
		}
		defer l.Unlock(context.WithoutCancel(t.Context()))
	}
	// Holding the other stages' locks does not lock this one.
	l, err := a.Lock(t.Context(), state.NewLockInfo("isolation"))
	if err != nil {
		t.Fatalf("Lock of a stage while others are locked: %v", err)
	}
	if err := l.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func testConcurrentWriters(t *testing.T, open Opener) {
	stage := stageName(t)
	const writers, perWriter = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter*2)
	for w := 0; w < writers; w++ {
		// Half share one backend, half have their own.
		wg.Add(1)
		b := open(t, testApp, stage)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				if err := b.Put(context.Background(), simpleRecord(fmt.Sprintf("w%d/r%d", w, i), int64(w*perWriter+i))); err != nil {
					errs <- err
				}
				shared := simpleRecord("shared", int64(w))
				shared.Identifier = fmt.Sprintf("writer-%d-%d", w, i)
				if err := b.Put(context.Background(), shared); err != nil {
					errs <- err
				}
				if _, err := b.List(context.Background()); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	b := open(t, testApp, stage)
	recs := mustList(t, b)
	if len(recs) != writers*perWriter+1 {
		t.Fatalf("List has %d records, want %d", len(recs), writers*perWriter+1)
	}
	s := mustGet(t, b, "shared")
	if !regexp.MustCompile(`^writer-\d+-\d+$`).MatchString(s.Identifier) {
		t.Errorf("shared record Identifier = %q", s.Identifier)
	}
}

func lockedError(t *testing.T, err error) *state.LockedError {
	t.Helper()
	if !errors.Is(err, state.ErrLocked) {
		t.Fatalf("error = %v, want one matching state.ErrLocked", err)
	}
	var le *state.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("error %v is not a *state.LockedError", err)
	}
	return le
}

func testLockExclusion(t *testing.T, open Opener) {
	stage := stageName(t)
	a, b := open(t, testApp, stage), open(t, testApp, stage)
	info := state.NewLockInfo("deploy")
	l, err := a.Lock(t.Context(), info)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	defer l.Unlock(context.WithoutCancel(t.Context()))
	for name, be := range map[string]state.Backend{"same backend": a, "other backend": b} {
		_, err := be.Lock(t.Context(), state.NewLockInfo("destroy"))
		le := lockedError(t, err)
		if le.App != testApp || le.Stage != stage {
			t.Errorf("%s: LockedError names %s/%s", name, le.App, le.Stage)
		}
		h := le.Holder
		if h.ID != info.ID || h.Host != info.Host || h.PID != info.PID || h.Operation != "deploy" || !h.Since.Equal(info.Since) {
			t.Errorf("%s: holder = %+v, want %+v", name, h, info)
		}
		msg := err.Error()
		wants := []string{"stage " + testApp + "/" + stage + " is locked by run " + info.ID[:8], fmt.Sprintf("pid %d on host %s, deploy", info.PID, info.Host), "since " + info.Since.UTC().Format(time.RFC3339)}
		if !h.Expires.IsZero() {
			// A leased lock: the refusal says when the lease ends.
			if !h.Expires.After(h.Since) {
				t.Errorf("%s: holder's lease ends at %v, before it began (%v)", name, h.Expires, h.Since)
			}
			wants = append(wants, "its lease ends at "+h.Expires.UTC().Format(time.RFC3339))
		} else if strings.Contains(msg, "lease") {
			t.Errorf("%s: message %q speaks of a lease, but the holder has none", name, msg)
		}
		for _, want := range wants {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: message %q lacks %q", name, msg, want)
			}
		}
	}
}

func testLockRelease(t *testing.T, open Opener) {
	stage := stageName(t)
	a, b := open(t, testApp, stage), open(t, testApp, stage)
	for i := 0; i < 3; i++ {
		for _, be := range []state.Backend{a, b} {
			l, err := be.Lock(t.Context(), state.NewLockInfo("deploy"))
			if err != nil {
				t.Fatalf("round %d: Lock after release: %v", i, err)
			}
			if err := l.Unlock(t.Context()); err != nil {
				t.Fatalf("Unlock: %v", err)
			}
		}
	}
	// Many goroutines contend; each that wins holds the lock alone.
	var (
		mu     sync.Mutex
		inside int
		wins   int
		wg     sync.WaitGroup
	)
	for g := 0; g < 6; g++ {
		wg.Add(1)
		be := open(t, testApp, stage)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				l, err := be.Lock(context.Background(), state.NewLockInfo("contend"))
				if errors.Is(err, state.ErrLocked) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				inside++
				wins++
				if inside != 1 {
					t.Errorf("%d holders at once", inside)
				}
				mu.Unlock()
				mu.Lock()
				inside--
				mu.Unlock()
				if err := l.Unlock(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if wins == 0 {
		t.Error("no goroutine ever took the lock")
	}
}

func testLockManager(t *testing.T, open Opener) {
	stage := stageName(t)
	b := open(t, testApp, stage)
	lm, ok := b.(state.LockManager)
	if !ok {
		t.Skip("backend does not implement state.LockManager")
	}
	if h, err := lm.LockHolder(t.Context()); err != nil || h != nil {
		t.Fatalf("LockHolder of a free stage = %+v, %v", h, err)
	}
	if h, err := lm.ForceUnlock(t.Context(), false); err != nil || h != nil {
		t.Fatalf("ForceUnlock of a free stage = %+v, %v", h, err)
	}
	info := state.NewLockInfo("deploy")
	l, err := open(t, testApp, stage).Lock(t.Context(), info)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock(context.WithoutCancel(t.Context()))
	h, err := lm.LockHolder(t.Context())
	if err != nil || h == nil || h.ID != info.ID || h.PID != info.PID {
		t.Fatalf("LockHolder = %+v, %v; want %+v", h, err, info)
	}
	// The holder is alive: no unforced unlock.
	if _, err := lm.ForceUnlock(t.Context(), false); !errors.Is(err, state.ErrHolderAlive) {
		t.Fatalf("ForceUnlock of a live holder: %v, want ErrHolderAlive", err)
	}
	if _, err := b.Lock(t.Context(), state.NewLockInfo("x")); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("refused ForceUnlock released the lock: %v", err)
	}
	// Forced, the lock goes and another run can take it.
	h, err = lm.ForceUnlock(t.Context(), true)
	if err != nil || h == nil || h.ID != info.ID {
		t.Fatalf("forced ForceUnlock = %+v, %v", h, err)
	}
	l2, err := b.Lock(t.Context(), state.NewLockInfo("after-force"))
	if err != nil {
		t.Fatalf("Lock after forced unlock: %v", err)
	}
	// The old holder's unlock must not release the new holder's lock.
	l.Unlock(t.Context())
	if _, err := open(t, testApp, stage).Lock(t.Context(), state.NewLockInfo("x")); !errors.Is(err, state.ErrLocked) {
		t.Errorf("old holder's Unlock released the new holder's lock: %v", err)
	}
	if err := l2.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// notLost fails the test if l reports itself lost.
func notLost(t *testing.T, l state.Lock, when string) {
	t.Helper()
	select {
	case <-l.Lost():
		t.Fatalf("%s: a held lock reports itself lost: %v", when, l.Err())
	default:
	}
	if err := l.Err(); err != nil {
		t.Fatalf("%s: a held lock's Err = %v", when, err)
	}
}

// waitLost waits, within limit, for l to report itself lost and checks why.
func waitLost(t *testing.T, l state.Lock, limit time.Duration, why string) {
	t.Helper()
	select {
	case <-l.Lost():
	case <-time.After(limit):
		t.Fatalf("Lost not closed within %v after %s", limit, why)
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
	}
	if err := l.Err(); !errors.Is(err, state.ErrLockLost) {
		t.Fatalf("Err after %s = %v, want an error wrapping state.ErrLockLost", why, err)
	}
}

// fenced checks that every write of b is refused with state.ErrLockLost and
// changes nothing another holder wrote: record key holds want, record
// "fence/other" exists, and the metadata's NextSeq is seq.
func fenced(t *testing.T, b, other state.Backend, key string, want *state.Record, seq int64) {
	t.Helper()
	late := simpleRecord(key, 99)
	late.Identifier = "late-write"
	if err := b.Put(t.Context(), late); !errors.Is(err, state.ErrLockLost) {
		t.Errorf("Put by a holder that lost the lock: %v, want an error wrapping state.ErrLockLost", err)
	}
	if err := b.Put(t.Context(), simpleRecord("fence/new", 100)); !errors.Is(err, state.ErrLockLost) {
		t.Errorf("Put of a new record by a holder that lost the lock: %v, want state.ErrLockLost", err)
	}
	if err := b.Delete(t.Context(), "fence/other"); !errors.Is(err, state.ErrLockLost) {
		t.Errorf("Delete by a holder that lost the lock: %v, want state.ErrLockLost", err)
	}
	if err := b.PutMeta(t.Context(), &state.Meta{NextSeq: 999}); !errors.Is(err, state.ErrLockLost) {
		t.Errorf("PutMeta by a holder that lost the lock: %v, want state.ErrLockLost", err)
	}
	assertEqualRecord(t, mustGet(t, other, key), want)
	mustGet(t, other, "fence/other")
	if _, err := other.Get(t.Context(), "fence/new"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("a refused Put created its record: %v", err)
	}
	if m, err := other.GetMeta(t.Context()); err != nil || m.NextSeq != seq {
		t.Errorf("meta after refused PutMeta = %+v, %v; want NextSeq %d", m, err, seq)
	}
}

// testLockLost: a forced unlock takes the lock from a live holder, whose
// next write is refused at once (the fence, before any watcher noticed)
// and whose Lost channel closes; a new holder's data is safe from it.
func testLockLost(t *testing.T, open Opener) {
	stage := stageName(t)
	a, b := open(t, testApp, stage), open(t, testApp, stage)
	lm, ok := b.(state.LockManager)
	if !ok {
		t.Skip("backend does not implement state.LockManager")
	}
	l, err := a.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock(context.WithoutCancel(t.Context()))
	mine := simpleRecord("fence/x", 1)
	mustPut(t, a, mine)
	mustPut(t, a, simpleRecord("fence/other", 2))
	if err := a.PutMeta(t.Context(), &state.Meta{NextSeq: 3}); err != nil {
		t.Fatalf("PutMeta under the lock: %v", err)
	}
	if err := a.Delete(t.Context(), "fence/none"); err != nil {
		t.Fatalf("Delete under the lock: %v", err)
	}
	notLost(t, l, "after writing under it")

	if _, err := lm.ForceUnlock(t.Context(), true); err != nil {
		t.Fatalf("ForceUnlock: %v", err)
	}
	// No waiting: the very next write is fenced off.
	late := simpleRecord("fence/x", 1)
	late.Identifier = "late-write"
	if err := a.Put(t.Context(), late); !errors.Is(err, state.ErrLockLost) {
		t.Fatalf("Put right after a forced unlock: %v, want an error wrapping state.ErrLockLost", err)
	}
	assertEqualRecord(t, mustGet(t, b, "fence/x"), mine)
	waitLost(t, l, time.Minute, "a forced unlock")

	// A new holder writes; the old one still cannot.
	l2, err := b.Lock(t.Context(), state.NewLockInfo("after-force"))
	if err != nil {
		t.Fatalf("Lock after the forced unlock: %v", err)
	}
	defer l2.Unlock(context.WithoutCancel(t.Context()))
	theirs := simpleRecord("fence/x", 1)
	theirs.Identifier = "new-holder"
	mustPut(t, b, theirs)
	if err := b.PutMeta(t.Context(), &state.Meta{NextSeq: 4}); err != nil {
		t.Fatalf("PutMeta by the new holder: %v", err)
	}
	fenced(t, a, b, "fence/x", theirs, 4)
	notLost(t, l2, "the new holder")
	// The old holder's Unlock leaves the new holder's lock alone.
	if err := l.Unlock(t.Context()); err != nil {
		t.Errorf("Unlock of a lost lock: %v", err)
	}
	if _, err := open(t, testApp, stage).Lock(t.Context(), state.NewLockInfo("x")); !errors.Is(err, state.ErrLocked) {
		t.Errorf("the lost holder's Unlock released the new holder's lock: %v", err)
	}
	notLost(t, l2, "after the old holder's Unlock")
	if err := l2.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l2.Lost():
		t.Error("Unlock closed Lost")
	default:
	}
}

// testLeaseLapse: a holder whose store stops answering declares its lock
// lost by its own clock while still cut off, another run then takes the
// lock, and once the holder's connection is back its writes are refused.
func testLeaseLapse(t *testing.T, open Opener, hooks Hooks) {
	if hooks.Stall == nil {
		t.Skip("the backend's locks do not expire (no Hooks.Stall)")
	}
	stage := stageName(t)
	a, pause := hooks.Stall(t, testApp, stage)
	l, err := a.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock(context.WithoutCancel(t.Context()))
	mustPut(t, a, simpleRecord("fence/x", 1))
	mustPut(t, a, simpleRecord("fence/other", 2))
	if err := a.PutMeta(t.Context(), &state.Meta{NextSeq: 3}); err != nil {
		t.Fatalf("PutMeta under the lock: %v", err)
	}
	resume := pause()
	resumed := false
	defer func() {
		if !resumed {
			resume()
		}
	}()
	// Cut off, the holder cannot hear that the lease ran out: it must tell
	// by its own clock.
	waitLost(t, l, 3*time.Minute, "the store stopped answering")
	b := open(t, testApp, stage)
	l2 := lockEventually(t, b, 3*time.Minute)
	defer l2.Unlock(context.WithoutCancel(t.Context()))
	theirs := simpleRecord("fence/x", 1)
	theirs.Identifier = "new-holder"
	mustPut(t, b, theirs)
	if err := b.PutMeta(t.Context(), &state.Meta{NextSeq: 4}); err != nil {
		t.Fatalf("PutMeta by the new holder: %v", err)
	}
	resume()
	resumed = true
	fenced(t, a, b, "fence/x", theirs, 4)
	if err := l.Unlock(t.Context()); err != nil {
		t.Errorf("Unlock of a lapsed lock: %v", err)
	}
	if _, err := open(t, testApp, stage).Lock(t.Context(), state.NewLockInfo("x")); !errors.Is(err, state.ErrLocked) {
		t.Errorf("the lapsed holder's Unlock released the new holder's lock: %v", err)
	}
	notLost(t, l2, "the new holder")
	if err := l2.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func testCrashedHolder(t *testing.T, open Opener) {
	stage := stageName(t)
	h := startHelper(t, helperLock, stage, "")
	h.waitFor(t, markLocked)
	b := open(t, testApp, stage)
	_, err := b.Lock(t.Context(), state.NewLockInfo("deploy"))
	le := lockedError(t, err)
	if le.Holder.PID != h.cmd.Process.Pid || le.Holder.Operation != "crash-test" {
		t.Fatalf("holder = %+v, want the helper (pid %d)", le.Holder, h.cmd.Process.Pid)
	}
	h.kill(t)
	// The holder is dead: the lock is free at once (flock) or once its
	// lease runs out (leased locks). Poll until then.
	l := lockEventually(t, b, 3*time.Minute)
	if err := l.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// lockEventually takes the lock, retrying while it is held, until limit.
func lockEventually(t *testing.T, b state.Backend, limit time.Duration) state.Lock {
	t.Helper()
	deadline := time.Now().Add(limit)
	delay := 20 * time.Millisecond
	for {
		l, err := b.Lock(t.Context(), state.NewLockInfo("deploy"))
		if err == nil {
			return l
		}
		if !errors.Is(err, state.ErrLocked) || time.Now().After(deadline) {
			t.Fatalf("lock never freed after its holder died: %v", err)
		}
		select {
		case <-time.After(delay):
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
		delay = min(2*delay, time.Second)
	}
}

func testProcessWriters(t *testing.T, open Opener) {
	stage := stageName(t)
	const procs, perProc = 3, 30
	var hs []*helper
	for p := 0; p < procs; p++ {
		hs = append(hs, startHelper(t, helperWrite, stage, fmt.Sprintf("p%d:%d", p, perProc)))
	}
	for _, h := range hs {
		if err := h.wait(); err != nil {
			t.Fatalf("writer process: %v\n%s", err, h.stderr.String())
		}
	}
	b := open(t, testApp, stage)
	recs := mustList(t, b)
	if len(recs) != procs*perProc+1 {
		t.Fatalf("List has %d records, want %d", len(recs), procs*perProc+1)
	}
	for p := 0; p < procs; p++ {
		for i := 0; i < perProc; i++ {
			r := mustGet(t, b, fmt.Sprintf("p%d/r%d", p, i))
			if r.Identifier != fmt.Sprintf("p%d-%d", p, i) {
				t.Errorf("record %q Identifier = %q", r.Key, r.Identifier)
			}
		}
	}
}

// churnRecord is record key at generation gen, with a payload large enough
// that a write takes a while and a torn write is detectable.
func churnRecord(key string, gen int) *state.Record {
	r := simpleRecord(key, 1)
	pad := strings.Repeat(fmt.Sprintf("%s:%d;", key, gen), 8000)
	sum := sha256.Sum256([]byte(pad))
	r.Identifier = strconv.Itoa(gen)
	r.Desired, _ = json.Marshal(map[string]any{"key": key, "gen": gen, "pad": pad})
	r.Outputs, _ = json.Marshal(map[string]any{"sum": hex.EncodeToString(sum[:])})
	return r
}

// checkChurnRecord reports whether r is a whole churnRecord.
func checkChurnRecord(r *state.Record) (gen int, err error) {
	gen, err = strconv.Atoi(r.Identifier)
	if err != nil {
		return 0, fmt.Errorf("identifier %q: %v", r.Identifier, err)
	}
	want := churnRecord(r.Key, gen)
	if !state.EqualJSON(r.Desired, want.Desired) || !state.EqualJSON(r.Outputs, want.Outputs) {
		return 0, fmt.Errorf("record %q is not generation %d as written", r.Key, gen)
	}
	return gen, nil
}

func testKilledMidWrite(t *testing.T, open Opener) {
	stage := stageName(t)
	b := open(t, testApp, stage)
	const n = 8
	for i := 0; i < n; i++ {
		mustPut(t, b, churnRecord(fmt.Sprintf("k%d", i), 0))
	}
	gens := make(map[string]int)
	for round := 0; round < 8; round++ {
		h := startHelper(t, helperChurn, stage, strconv.Itoa(n))
		// Let it write a random number of records, then kill it at
		// whatever it is doing.
		puts := 1 + mathrand.IntN(3*n)
		for i := 0; i < puts; i++ {
			h.waitFor(t, markPut)
		}
		// A random delay moves the kill to a random point of the next write.
		time.Sleep(time.Duration(mathrand.IntN(3000)) * time.Microsecond)
		h.kill(t)
		recs := mustList(t, b)
		if len(recs) != n {
			t.Fatalf("round %d: List has %d records, want %d", round, len(recs), n)
		}
		for _, r := range recs {
			g, err := checkChurnRecord(r)
			if err != nil {
				t.Fatalf("round %d: torn record after kill: %v", round, err)
			}
			if g < gens[r.Key] {
				t.Fatalf("round %d: record %q went back from generation %d to %d", round, r.Key, gens[r.Key], g)
			}
			gens[r.Key] = g
		}
	}
}

// helper is a running helper process.
type helper struct {
	cmd    *exec.Cmd
	out    *bufio.Scanner
	stdin  io.WriteCloser
	stderr *strings.Builder
	once   sync.Once
	err    error
}

// startHelper re-executes the test binary as a helper of mode.
func startHelper(t *testing.T, mode, stage, arg string) *helper {
	t.Helper()
	// Run the test that called Run (this subtest's parent), which turns
	// into the helper on seeing envHelper.
	parts := strings.Split(parentName(t.Name()), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	cmd := exec.Command(os.Args[0], "-test.run="+strings.Join(parts, "/"), "-test.count=1", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), envHelper+"="+mode, envApp+"="+testApp, envStage+"="+stage, envArg+"="+arg)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, out: bufio.NewScanner(stdout), stdin: stdin, stderr: new(strings.Builder)}
	cmd.Stderr = h.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		stdin.Close()
		h.wait()
	})
	return h
}

// parentName is the name of the test that called Run: the subtest name
// without its last element.
func parentName(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return name
}

// waitFor reads the helper's output up to a line starting with mark.
func (h *helper) waitFor(t *testing.T, mark string) {
	t.Helper()
	for h.out.Scan() {
		if strings.HasPrefix(h.out.Text(), mark) {
			return
		}
	}
	err := h.wait()
	t.Fatalf("helper exited (%v) before printing %s\nstderr:\n%s", err, mark, h.stderr.String())
}

// kill SIGKILLs the helper and waits for it.
func (h *helper) kill(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill helper: %v", err)
	}
	h.wait()
}

func (h *helper) wait() error {
	h.once.Do(func() { h.err = h.cmd.Wait() })
	return h.err
}

// runHelper is the helper process side.
func runHelper(t *testing.T, open Opener, mode string) {
	app, stage, arg := os.Getenv(envApp), os.Getenv(envStage), os.Getenv(envArg)
	b := open(t, app, stage)
	ctx := context.Background()
	// The test process holds our stdin open; when it closes (it died),
	// stop rather than linger.
	parentGone := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(parentGone)
	}()
	switch mode {
	case helperLock:
		if _, err := b.Lock(ctx, state.NewLockInfo("crash-test")); err != nil {
			t.Fatalf("helper: Lock: %v", err)
		}
		fmt.Println(markLocked)
		<-parentGone
	case helperWrite:
		prefix, count, _ := strings.Cut(arg, ":")
		n, err := strconv.Atoi(count)
		if err != nil {
			t.Fatalf("helper: bad arg %q", arg)
		}
		for i := 0; i < n; i++ {
			r := simpleRecord(fmt.Sprintf("%s/r%d", prefix, i), int64(i))
			r.Identifier = fmt.Sprintf("%s-%d", prefix, i)
			if err := b.Put(ctx, r); err != nil {
				t.Fatalf("helper: %v", err)
			}
			shared := simpleRecord("shared", 0)
			shared.Identifier = prefix
			if err := b.Put(ctx, shared); err != nil {
				t.Fatalf("helper: %v", err)
			}
		}
	case helperChurn:
		n, err := strconv.Atoi(arg)
		if err != nil {
			t.Fatalf("helper: bad arg %q", arg)
		}
		for gen := 1; ; gen++ {
			for i := 0; i < n; i++ {
				select {
				case <-parentGone:
					return
				default:
				}
				key := fmt.Sprintf("k%d", i)
				old, err := b.Get(ctx, key)
				if err != nil {
					t.Fatalf("helper: %v", err)
				}
				g, _ := strconv.Atoi(old.Identifier)
				if err := b.Put(ctx, churnRecord(key, g+1)); err != nil {
					t.Fatalf("helper: %v", err)
				}
				fmt.Println(markPut)
			}
		}
	default:
		t.Fatalf("unknown helper mode %q", mode)
	}
}

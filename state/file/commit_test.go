package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/athanor-dev/athanor/state"
)

// These tests replace the seams writeLog and syncLog, so none of them runs
// in parallel.

// seam replaces the log's write and sync for the duration of a test.
func seam(t *testing.T, write func(f *os.File, b []byte, off int64) (int, error), sync func(f *os.File) error) {
	t.Helper()
	oldWrite, oldSync := writeLog, syncLog
	t.Cleanup(func() { writeLog, syncLog = oldWrite, oldSync })
	if write != nil {
		writeLog = write
	}
	if sync != nil {
		syncLog = sync
	}
}

func record(key string, gen int) *state.Record {
	scope, id := state.SplitKey(key)
	desired, _ := json.Marshal(map[string]any{"gen": gen, "pad": strings.Repeat(key, 64)})
	return &state.Record{Key: key, Scope: scope, LogicalID: id, Type: "AWS::IoT::JobTemplate",
		Status: state.StatusCreated, Identifier: fmt.Sprintf("%s@%d", key, gen), Desired: desired}
}

// TestConcurrentPutsSurviveReopen runs many writers the way the engine
// does (three writes per record, some deletions, one key written by all of
// them through two Backends) and checks that every acknowledged write is
// what a fresh Backend reads back, with no temporary file left.
func TestConcurrentPutsSurviveReopen(t *testing.T) {
	root := t.TempDir()
	ctx := t.Context()
	a, err := Open(root, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(root, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	const writers, perWriter = 48, 12
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		be := a
		if w%2 == 1 {
			be = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				key := fmt.Sprintf("w%02d/r%02d", w, i)
				for gen := range 3 {
					if err := be.Put(ctx, record(key, gen)); err != nil {
						errs <- err
						return
					}
				}
				if i%4 == 3 {
					if err := be.Delete(ctx, key); err != nil {
						errs <- err
						return
					}
				}
				if err := be.Put(ctx, record("shared", w)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	a.Close()
	b.Close()

	re, err := Open(root, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	recs, err := re.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := writers*perWriter*3/4 + 1; len(recs) != want {
		t.Fatalf("List after reopen has %d records, want %d", len(recs), want)
	}
	for w := range writers {
		for i := range perWriter {
			key := fmt.Sprintf("w%02d/r%02d", w, i)
			r, err := re.Get(ctx, key)
			if i%4 == 3 {
				if !errors.Is(err, state.ErrNotFound) {
					t.Errorf("deleted %q: Get error = %v, want ErrNotFound", key, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("Get %q: %v", key, err)
			}
			if want := record(key, 2); r.Identifier != want.Identifier || !state.EqualJSON(r.Desired, want.Desired) {
				t.Errorf("%q after reopen = %s %s, want the last write %s %s", key, r.Identifier, r.Desired, want.Identifier, want.Desired)
			}
		}
	}
	s, err := re.Get(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	var gen int
	if _, err := fmt.Sscanf(s.Identifier, "shared@%d", &gen); err != nil || !state.EqualJSON(s.Desired, record("shared", gen).Desired) {
		t.Errorf("shared record is not one whole write: %s %s", s.Identifier, s.Desired)
	}
	ents, err := os.ReadDir(filepath.Join(root, "app", "dev"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if isTemp(e.Name()) {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// framesIn returns the keys of the put and delete frames in b.
func framesIn(b []byte) []string {
	var keys []string
	for len(b) > 0 {
		kind, p, size, ok := nextFrame(b)
		if !ok {
			break
		}
		switch kind {
		case kindPut:
			key, _, _ := parsePut(p)
			keys = append(keys, key)
		case kindDelete:
			keys = append(keys, string(p))
		}
		b = b[size:]
	}
	return keys
}

// TestAckFollowsLogSync checks the ordering that makes group commit
// durable, on a log of the protocol's steps taken by concurrent writers:
// every Put returns only after a sync of the log that started after its
// frame was written and finished successfully, and the writers share
// syncs.
func TestAckFollowsLogSync(t *testing.T) {
	var (
		mu  sync.Mutex
		seq int
		// per key: the sequence number of the last write of its frame
		writtenAt = map[string]int{}
		syncs     [][2]int // [start, end] of each sync
	)
	tick := func() int { seq++; return seq }
	seam(t,
		func(f *os.File, b []byte, off int64) (int, error) {
			n, err := f.WriteAt(b, off)
			mu.Lock()
			at := tick()
			for _, k := range framesIn(b) {
				writtenAt[k] = at
			}
			mu.Unlock()
			return n, err
		},
		func(f *os.File) error {
			mu.Lock()
			start := tick()
			mu.Unlock()
			err := datasync(f)
			mu.Lock()
			syncs = append(syncs, [2]int{start, tick()})
			mu.Unlock()
			return err
		})
	be, err := Open(t.TempDir(), "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	ctx := t.Context()
	const writers, perWriter = 32, 10
	type ack struct {
		key       string
		writtenAt int
		at        int
	}
	acks := make(chan ack, writers*perWriter)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				key := fmt.Sprintf("w%d/r%d", w, i)
				if err := be.Put(ctx, record(key, i)); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acks <- ack{key, writtenAt[key], tick()}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(acks)
	n := 0
	for a := range acks {
		n++
		covered := false
		for _, s := range syncs {
			if s[0] > a.writtenAt && s[1] < a.at {
				covered = true
				break
			}
		}
		if a.writtenAt == 0 || !covered {
			t.Errorf("write of %s (written at %d) acknowledged at %d without a sync of the log after its write", a.key, a.writtenAt, a.at)
		}
	}
	if n != writers*perWriter {
		t.Fatalf("%d writes acknowledged, want %d", n, writers*perWriter)
	}
	t.Logf("%d writes, %d syncs", n, len(syncs))
}

// TestCrashBeforeLogSync covers a crash between a write's append to the
// log and the sync that follows it. Such a crash cannot be simulated
// honestly in a test: killing the process does not drop the kernel's page
// cache, so the frame survives it anyway, and only a power loss or kernel
// crash can lose un-synced data. What keeps an acknowledged write safe in
// that case is an ordering, which this test checks deterministically: while
// the sync covering a frame has not completed, the write has not returned
// (so the engine has not acted on it, and losing the frame loses nothing
// that was acknowledged); the writes queued meanwhile form one group, with
// one sync; when that sync fails, every write of the group returns an
// error.
func TestCrashBeforeLogSync(t *testing.T) {
	ctx := t.Context()
	entered := make(chan struct{})
	release := make(chan error)
	seam(t, nil, func(f *os.File) error {
		entered <- struct{}{}
		if err := <-release; err != nil {
			return err
		}
		return datasync(f)
	})
	be, err := Open(t.TempDir(), "app", "dev")
	if err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() { done <- be.Put(ctx, record("k", 1)) }()
	<-entered // appended, sync in progress
	if r, err := be.Get(ctx, "k"); err != nil || r.Identifier != "k@1" {
		t.Fatalf("before the sync, Get = %v, %v; want the appended record", r, err)
	}
	select {
	case err := <-done:
		t.Fatalf("Put returned (%v) before the sync covering its frame completed", err)
	default:
	}
	// While that sync runs, more writes queue up; they form one group.
	const queued = 8
	for i := range queued {
		go func() { done <- be.Put(ctx, record(fmt.Sprintf("q%d", i), 1)) }()
	}
	l := be.log
	for {
		l.cmu.Lock()
		n := len(l.queue)
		l.cmu.Unlock()
		if n == queued {
			break
		}
		runtime.Gosched()
	}
	release <- nil
	if err := <-done; err != nil {
		t.Fatalf("Put after a successful sync: %v", err)
	}

	// One sync covers the queued group; it fails, and so does every write
	// of the group.
	<-entered
	select {
	case err := <-done:
		t.Fatalf("queued Put returned (%v) before its group's sync", err)
	default:
	}
	release <- errors.New("injected I/O error")
	for range queued {
		if err := <-done; err == nil || !strings.Contains(err.Error(), "injected I/O error") {
			t.Errorf("Put whose sync failed returned %v, want the sync's error", err)
		}
	}

	// A deletion follows the same rule.
	go func() { done <- be.Delete(ctx, "k") }()
	<-entered
	select {
	case err := <-done:
		t.Fatalf("Delete returned (%v) before its sync", err)
	default:
	}
	release <- nil
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := be.Get(ctx, "k"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	// Deleting a missing record writes nothing: no sync to wait for.
	if err := be.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
}

// TestStaleTempsRemovedOnOpen: temporary files a crashed writer left long
// ago are removed when the stage is opened; recent ones, which may belong to
// a write in progress elsewhere, and records are kept.
func TestStaleTempsRemovedOnOpen(t *testing.T) {
	root := t.TempDir()
	be, err := Open(root, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Put(t.Context(), record("k", 1)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "app", "dev")
	old := []string{".records.log.123-0badf00d.tmp", ".tmp-4711"}
	young := ".meta.json.456-0badf00d.tmp"
	for _, name := range append(old, young) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := mustStat(t, filepath.Join(dir, logFile)).ModTime().Add(-2 * staleTemp)
	for _, name := range old {
		if err := os.Chtimes(filepath.Join(dir, name), long, long); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(root, "app", "dev"); err != nil {
		t.Fatal(err)
	}
	for _, name := range old {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale %s not removed on open: %v", name, err)
		}
	}
	mustStat(t, filepath.Join(dir, young))
	if _, err := be.Get(context.Background(), "k"); err != nil {
		t.Errorf("record lost by the clean-up: %v", err)
	}
}

func mustStat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

package file

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/athanor-dev/athanor/state"
)

// otherProcess opens the log of dir the way another process would: its
// own stageLog, not the one this process shares between its Backends.
func otherProcess(t *testing.T, dir string) *stageLog {
	t.Helper()
	l := &stageLog{dir: dir, path: filepath.Join(dir, logFile)}
	if err := l.prepare(); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	err := l.refresh()
	l.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l.f != nil {
			l.f.Close()
		}
	})
	return l
}

func (l *stageLog) put(t *testing.T, r *state.Record) {
	t.Helper()
	data, err := state.EncodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.commit(&logOp{key: r.Key, data: data}); err != nil {
		t.Fatal(err)
	}
}

func (l *stageLog) identifier(t *testing.T, key string) string {
	t.Helper()
	data, ok, err := l.get(key)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return ""
	}
	r, err := state.DecodeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	return r.Identifier
}

// TestTornTail: bytes of a write that never returned, left at the end of
// the log (a partial frame, or a whole frame whose checksum fails), are
// invisible to readers and cut off by the next writer, which appends after
// the last whole frame.
func TestTornTail(t *testing.T) {
	for name, torn := range map[string]func(frame []byte) []byte{
		"partial":  func(f []byte) []byte { return f[:len(f)/2] },
		"checksum": func(f []byte) []byte { f[len(f)-1] ^= 1; return f },
		"zeros":    func(f []byte) []byte { return make([]byte, len(f)) },
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			ctx := t.Context()
			b, err := Open(root, "app", "dev")
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if err := b.Put(ctx, record("a", 1)); err != nil {
				t.Fatal(err)
			}
			data, _ := state.EncodeRecord(record("b", 1))
			tail := torn(appendFrame(nil, kindPut, putPayload("b"), data))
			f, err := os.OpenFile(b.log.path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(tail); err != nil {
				t.Fatal(err)
			}
			f.Close()
			whole := mustStat(t, b.log.path).Size() - int64(len(tail))

			if _, err := b.Get(ctx, "b"); !errors.Is(err, state.ErrNotFound) {
				t.Errorf("Get of the torn record: %v, want ErrNotFound", err)
			}
			if recs, err := b.List(ctx); err != nil || len(recs) != 1 {
				t.Fatalf("List with a torn tail = %d records, %v; want 1", len(recs), err)
			}
			if err := b.Put(ctx, record("c", 1)); err != nil {
				t.Fatal(err)
			}
			cData, _ := state.EncodeRecord(record("c", 1))
			if got, want := mustStat(t, b.log.path).Size(), whole+putSize("c", cData); got != want {
				t.Errorf("log is %d bytes after the next write, want %d (torn tail cut off)", got, want)
			}
			l := otherProcess(t, b.dir)
			if got := l.identifier(t, "c"); got != "c@1" {
				t.Errorf("a reopened log has c = %q, want c@1", got)
			}
			if got := l.identifier(t, "b"); got != "" {
				t.Errorf("a reopened log has the torn b = %q", got)
			}
		})
	}
}

// TestOtherProcessesWrites: a process sees the writes another one made to
// the log, including a deletion, without reopening it.
func TestOtherProcessesWrites(t *testing.T) {
	dir := t.TempDir()
	a, b := otherProcess(t, dir), otherProcess(t, dir)
	a.put(t, record("k", 1))
	if got := b.identifier(t, "k"); got != "k@1" {
		t.Fatalf("other process reads %q, want k@1", got)
	}
	b.put(t, record("k", 2))
	if got := a.identifier(t, "k"); got != "k@2" {
		t.Fatalf("first process reads %q after the other's write, want k@2", got)
	}
	if err := a.commit(&logOp{key: "k"}); err != nil {
		t.Fatal(err)
	}
	if got := b.identifier(t, "k"); got != "" {
		t.Fatalf("other process reads %q after a deletion", got)
	}
}

// TestCompaction: once superseded frames outweigh live ones, the log is
// rewritten with one frame per live record; another process that had the
// old log open reads the new one, and its next write lands in it rather
// than in the replaced file.
func TestCompaction(t *testing.T) {
	old := compactMin
	compactMin = 64 << 10
	t.Cleanup(func() { compactMin = old })
	root := t.TempDir()
	ctx := t.Context()
	b, err := Open(root, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	other := otherProcess(t, b.dir)
	other.put(t, record("other", 1))
	before := mustStat(t, b.log.path)
	for gen := range 100 {
		for _, k := range []string{"a", "b", "c"} {
			if err := b.Put(ctx, record(k, gen)); err != nil {
				t.Fatal(err)
			}
		}
	}
	after := mustStat(t, b.log.path)
	if os.SameFile(before, after) {
		t.Fatal("the log was not compacted")
	}
	if after.Size() > 2*compactMin {
		t.Errorf("log is %d bytes after compaction", after.Size())
	}
	if got := other.identifier(t, "a"); got != "a@99" {
		t.Errorf("other process reads a = %q after the compaction, want a@99", got)
	}
	other.put(t, record("other", 2))
	if r, err := b.Get(ctx, "other"); err != nil || r.Identifier != "other@2" {
		t.Fatalf("write of the other process after the compaction: %+v, %v", r, err)
	}
	b.Close()
	re, err := Open(root, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	recs, err := re.List(ctx)
	if err != nil || len(recs) != 4 {
		t.Fatalf("List after reopen = %d records, %v; want 4", len(recs), err)
	}
	for _, r := range recs {
		want := map[string]string{"a": "a@99", "b": "b@99", "c": "c@99", "other": "other@2"}[r.Key]
		if r.Identifier != want {
			t.Errorf("%q after reopen = %q, want %q", r.Key, r.Identifier, want)
		}
	}
}

// Environment of the child process of TestKilledMidBatch.
const (
	envKillDir   = "ATHANOR_FILE_KILL_ROOT"
	envKillRound = "ATHANOR_FILE_KILL_ROUND"
	envKillHalf  = "ATHANOR_FILE_KILL_HALF" // "1": stop part way through writing a group
)

// markHalf is what the child prints once it has written part of a group's
// frames, before it blocks to be killed.
const markHalf = "half-written"

const killWriters = 64

// killRecord is generation gen of key: large enough that a group of them
// takes a while to write, with a checksum of its payload so that a torn
// record is detectable.
func killRecord(key string, gen int) *state.Record {
	pad := strings.Repeat(fmt.Sprintf("%s:%d;", key, gen), 16<<10/(len(key)+8))
	sum := sha256.Sum256([]byte(pad))
	desired, _ := json.Marshal(map[string]any{"pad": pad})
	outputs, _ := json.Marshal(map[string]any{"sum": hex.EncodeToString(sum[:])})
	scope, id := state.SplitKey(key)
	return &state.Record{Key: key, Scope: scope, LogicalID: id, Type: "AWS::IoT::JobTemplate",
		Status: state.StatusCreating, Identifier: strconv.Itoa(gen), Desired: desired, Outputs: outputs}
}

// killChild writes generation after generation of killWriters keys per
// goroutine, printing "key gen" once each Put has returned, until killed.
// With half set, its 20th group write stops short of the group's end, says
// so and blocks.
func killChild(t *testing.T, root, round string, half bool) {
	b, err := Open(root, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	if half {
		groups := 0
		writeLog = func(f *os.File, b []byte, off int64) (int, error) {
			if groups++; groups < 20 { // one leader at a time
				return f.WriteAt(b, off)
			}
			// Short of the end of the last frame, wherever the others end.
			if _, err := f.WriteAt(b[:len(b)-7], off); err != nil {
				return 0, err
			}
			mu.Lock()
			fmt.Fprintln(os.Stdout, markHalf)
			mu.Unlock()
			select {} // until killed
		}
	}
	var wg sync.WaitGroup
	for w := range killWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for gen := 1; ; gen++ {
				key := fmt.Sprintf("r%s/w%d/k%d", round, w, gen%3)
				if err := b.Put(t.Context(), killRecord(key, gen)); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "%s %d\n", key, gen)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestKilledMidBatch SIGKILLs a process while 64 of its goroutines are
// writing, several times over the same stage: in even rounds at a random
// moment, in odd ones while it is part way through writing a group's
// frames (so that the log has a torn tail); and checks after each kill
// that every write the process had acknowledged is there, that no record
// is torn, and that the next process writes on.
func TestKilledMidBatch(t *testing.T) {
	if root := os.Getenv(envKillDir); root != "" {
		killChild(t, root, os.Getenv(envKillRound), os.Getenv(envKillHalf) == "1")
		return
	}
	root := t.TempDir()
	acked := map[string]int{} // key -> the last generation acknowledged
	const rounds = 6
	for round := range rounds {
		half := round%2 == 1
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledMidBatch$", "-test.count=1")
		cmd.Env = append(os.Environ(), envKillDir+"="+root, envKillRound+"="+strconv.Itoa(round))
		if half {
			cmd.Env = append(cmd.Env, envKillHalf+"=1")
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		// Let it acknowledge a random number of writes, then kill it at
		// whatever it is doing; read what it printed before dying.
		target, n := 1+mathrand.IntN(1500), 0
		if half {
			target = -1
		}
		killed := false
		for sc.Scan() {
			if sc.Text() == markHalf && !killed {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killed = true
				continue
			}
			key, genText, ok := strings.Cut(sc.Text(), " ")
			gen, err := strconv.Atoi(genText)
			if !ok || err != nil {
				t.Fatalf("child printed %q", sc.Text())
			}
			acked[key] = max(acked[key], gen)
			if n++; n == target && !killed {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		err = cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child exited (%v) before being killed\n%s", round, err, stderr.String())
		}

		b, err := Open(root, "app", "dev")
		if err != nil {
			t.Fatal(err)
		}
		tornTail := mustStat(t, b.log.path).Size() > b.log.end
		if half && !tornTail {
			t.Fatalf("round %d: killed part way through a group's write, yet the log has no torn tail", round)
		}
		recs, err := b.List(t.Context())
		if err != nil {
			t.Fatalf("round %d: List after the kill: %v", round, err)
		}
		got := map[string]int{}
		for _, r := range recs {
			gen, err := strconv.Atoi(r.Identifier)
			want := killRecord(r.Key, gen)
			if err != nil || !state.EqualJSON(r.Desired, want.Desired) || !state.EqualJSON(r.Outputs, want.Outputs) {
				t.Fatalf("round %d: record %q is torn (identifier %q)", round, r.Key, r.Identifier)
			}
			got[r.Key] = gen
		}
		for key, gen := range acked {
			// The writer of a key may have had its next generation written
			// but not yet acknowledged: that one or the acknowledged one.
			if g := got[key]; g != gen && g != gen+3 {
				t.Fatalf("round %d: %q is at generation %d after the kill; generation %d was acknowledged", round, key, g, gen)
			}
		}
		t.Logf("round %d: killed after %d acknowledged writes; %d records; torn tail: %v", round, n, len(recs), tornTail)
		b.Close()
	}
}

// TestCompactionDirSyncOwed: when the directory sync after a compaction's
// rename fails, no later write is acknowledged before a directory sync has
// succeeded, since a crash could otherwise bring back the replaced log
// without it.
func TestCompactionDirSyncOwed(t *testing.T) {
	old := compactMin
	compactMin = 64 << 10
	t.Cleanup(func() { compactMin = old })
	var mu sync.Mutex
	failSync, syncs := false, 0
	oldSync := syncDirectory
	t.Cleanup(func() { syncDirectory = oldSync })
	syncDirectory = func(dir string) error {
		mu.Lock()
		defer mu.Unlock()
		syncs++
		if failSync {
			return errors.New("injected directory sync error")
		}
		return syncDir(dir)
	}
	b, err := Open(t.TempDir(), "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mu.Lock()
	failSync = true
	mu.Unlock()
	ctx := t.Context()
	first := mustStat(t, b.log.path)
	for gen := 0; os.SameFile(first, mustStat(t, b.log.path)); gen++ {
		if gen > 1000 {
			t.Fatal("the log was never compacted")
		}
		if err := b.Put(ctx, record("a", gen)); err != nil {
			t.Fatal(err)
		}
	}
	// The compaction's directory sync failed: the next write fails too.
	if err := b.Put(ctx, record("b", 1)); err == nil || !strings.Contains(err.Error(), "injected directory sync error") {
		t.Fatalf("Put after a failed directory sync of the compaction: %v, want that error", err)
	}
	mu.Lock()
	failSync, syncs = false, 0
	mu.Unlock()
	if err := b.Put(ctx, record("b", 2)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if syncs != 1 {
		t.Errorf("the write after a failed directory sync made %d directory syncs, want 1", syncs)
	}
	syncs = 0
	mu.Unlock()
	if err := b.Put(ctx, record("b", 3)); err != nil {
		t.Fatal(err)
	}
	if syncs != 0 {
		t.Errorf("a write once the directory was synced made %d directory syncs, want 0", syncs)
	}
}

// TestEmptyLogFile: a log emptied by hand reads as an empty stage, and the
// next write starts it anew, header first.
func TestEmptyLogFile(t *testing.T) {
	root := t.TempDir()
	b, err := Open(root, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(t.Context(), record("a", 1)); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := os.Truncate(filepath.Join(root, "app", "dev", logFile), 0); err != nil {
		t.Fatal(err)
	}
	b, err = Open(root, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if recs, err := b.List(t.Context()); err != nil || len(recs) != 0 {
		t.Fatalf("List of an emptied log = %d records, %v", len(recs), err)
	}
	if err := b.Put(t.Context(), record("b", 1)); err != nil {
		t.Fatal(err)
	}
	b.Close()
	l := otherProcess(t, filepath.Join(root, "app", "dev"))
	if got := l.identifier(t, "b"); got != "b@1" {
		t.Errorf("after reopen b = %q, want b@1", got)
	}
}

// TestAppendPut: appendPut writes the frame appendFrame writes with
// putPayload's payload, after whatever the buffer holds.
func TestAppendPut(t *testing.T) {
	for _, c := range []struct{ key, data string }{
		{"a", `{}`},
		{"scope/logical-id", `{"key":"scope/logical-id","desired":{"A":1}}`},
		{strings.Repeat("k", 300), strings.Repeat("d", 70000)},
	} {
		prefix := []byte("earlier frames")
		got := appendPut(append([]byte(nil), prefix...), c.key, []byte(c.data))
		want := appendFrame(append([]byte(nil), prefix...), kindPut, putPayload(c.key), []byte(c.data))
		if !bytes.Equal(got, want) {
			t.Errorf("appendPut(%.20q, %d bytes) = %.40x..., want %.40x...", c.key, len(c.data), got[len(prefix):], want[len(prefix):])
		}
		kind, p, size, ok := nextFrame(got[len(prefix):])
		key, data, pok := parsePut(p)
		if !ok || !pok || kind != kindPut || size != len(got)-len(prefix) || key != c.key || string(data) != c.data {
			t.Errorf("appendPut(%.20q): frame does not parse back (ok %v, kind %q, size %d)", c.key, ok && pok, kind, size)
		}
	}
}

package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/athanor-dev/athanor/state"
	"github.com/athanor-dev/athanor/state/file"
	"github.com/athanor-dev/athanor/state/statetest"
)

// envRoot names the directory all tests of this package share; helper
// processes started by the conformance suite inherit it.
const envRoot = "ATHANOR_FILETEST_ROOT"

func TestMain(m *testing.M) {
	code := func() int {
		if os.Getenv(envRoot) == "" {
			dir, err := os.MkdirTemp("", "athanor-state-file-")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			os.Setenv(envRoot, dir)
		}
		return m.Run()
	}()
	os.Exit(code)
}

func openFile(t *testing.T, app, stage string, opts ...state.Option) *file.Backend {
	t.Helper()
	b, err := file.Open(os.Getenv(envRoot), app, stage, opts...)
	if err != nil {
		t.Fatalf("file.Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T, app, stage string) state.Backend {
		return openFile(t, app, stage)
	})
}

func TestOpenURL(t *testing.T) {
	dir := t.TempDir()
	for _, loc := range []string{dir, "file://" + filepath.ToSlash(dir)} {
		b, err := state.Open(t.Context(), loc, "app", "dev")
		if err != nil {
			t.Fatalf("state.Open(%q): %v", loc, err)
		}
		fb, ok := b.(*file.Backend)
		if !ok {
			t.Fatalf("state.Open(%q) = %T, want *file.Backend", loc, b)
		}
		if want := filepath.Join(dir, "app", "dev"); fb.Dir() != want {
			t.Errorf("Dir = %q, want %q", fb.Dir(), want)
		}
		b.Close()
	}
	if _, err := state.Open(t.Context(), dir, "../escape", "dev"); err == nil {
		t.Error("app name ../escape accepted")
	}
	if _, err := state.Open(t.Context(), dir, "app", "a/b"); err == nil {
		t.Error("stage name a/b accepted")
	}
}

// TestLayout checks the files a stage consists of: the record log and
// meta.json; no stray temporary files.
func TestLayout(t *testing.T) {
	dir := t.TempDir()
	b, err := file.Open(dir, "iot-fleet", "dev")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i, k := range []string{"fleet/basicJobTemplate", "root"} {
		if err := b.Put(ctx, &state.Record{Key: k, Seq: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.PutMeta(ctx, &state.Meta{NextSeq: 2}); err != nil {
		t.Fatal(err)
	}
	l, err := b.Lock(ctx, state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return err
	})
	want := []string{
		"iot-fleet/dev/lock",
		"iot-fleet/dev/lock.json",
		"iot-fleet/dev/meta.json",
		"iot-fleet/dev/records.log",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "iot-fleet/dev/lock.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("holder description left after Unlock: %v", err)
	}
}

// TestCorruptRecord: a record the log holds intact (its frame's checksum
// matches) but that does not decode is reported with the log's path and
// the key, not skipped or taken as missing.
func TestCorruptRecord(t *testing.T) {
	dir := t.TempDir()
	b, err := file.Open(dir, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Put(t.Context(), &state.Record{Key: "x"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "app", "dev", "records.log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(file.PutFrame("x", []byte(`{"key":"x","seq":`))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for name, err := range map[string]error{
		"Get":  func() error { _, err := b.Get(t.Context(), "x"); return err }(),
		"List": func() error { _, err := b.List(t.Context()); return err }(),
	} {
		if !errors.Is(err, state.ErrFormat) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"x"`) {
			t.Errorf("%s error = %v, want ErrFormat naming %s and the key", name, err, path)
		}
	}
}

// writeLayout1 writes a stage in layout version 1: one file per record
// under records/, named by file.FileName, and meta.json.
func writeLayout1(t *testing.T, dir string, recs map[string][]byte, meta *state.Meta) {
	t.Helper()
	recDir := filepath.Join(dir, "records")
	if err := os.MkdirAll(recDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for key, data := range recs {
		if err := os.WriteFile(filepath.Join(recDir, file.FileName(key)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	data, err := state.EncodeMeta(meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeFromLayout1 opens a stage of layout version 1 (one file per
// record, including one in the pre-release record format 0): its records
// move into the log, their files give way to one that earlier versions
// refuse to read, and the stage reads the same after a reopen.
func TestUpgradeFromLayout1(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "app", "dev")
	ctx := t.Context()
	v0, err := os.ReadFile(filepath.Join("..", "testdata", "record-v0.json"))
	if err != nil {
		t.Fatal(err)
	}
	recs := map[string][]byte{"fleet/basicJobTemplate": v0}
	want := map[string]*state.Record{}
	for i, key := range []string{"root", "fleet/Topic", "fleet/q/queue"} {
		scope, id := state.SplitKey(key)
		r := &state.Record{Key: key, Scope: scope, LogicalID: id, Type: "AWS::SNS::Topic", Seq: int64(i + 1),
			Status: state.StatusCreated, Identifier: "arn:" + key, Desired: []byte(`{"TopicName":"t"}`)}
		data, err := state.EncodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		recs[key], want[key] = data, r
	}
	writeLayout1(t, dir, recs, &state.Meta{NextSeq: 4})

	check := func(b *file.Backend) {
		t.Helper()
		got, err := b.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(recs) {
			t.Fatalf("List after the upgrade has %d records, want %d", len(got), len(recs))
		}
		for _, r := range got {
			if w, ok := want[r.Key]; ok {
				if r.Identifier != w.Identifier || r.Seq != w.Seq || !state.EqualJSON(r.Desired, w.Desired) {
					t.Errorf("upgraded %q = %+v, want %+v", r.Key, r, w)
				}
			} else if r.Key != "fleet/basicJobTemplate" || r.FormatVersion != state.FormatVersion || r.Pending == nil || r.Pending.ClientToken == "" {
				t.Errorf("upgraded version-0 record = %+v", r)
			}
		}
		m, err := b.GetMeta(ctx)
		if err != nil || m.NextSeq != 4 {
			t.Errorf("meta after the upgrade = %+v, %v", m, err)
		}
	}
	b, err := file.Open(root, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	check(b)
	b.Close()

	ents, err := os.ReadDir(filepath.Join(dir, "records"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "MOVED.json" {
		t.Fatalf("records/ after the upgrade holds %v, want only MOVED.json", ents)
	}
	// An earlier version reads records/*.json as records: this one it
	// refuses, as written by a newer Athanor, rather than seeing no records.
	data, err := os.ReadFile(filepath.Join(dir, "records", "MOVED.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := state.DecodeRecord(data); !errors.Is(err, state.ErrFormat) || !strings.Contains(err.Error(), "newer") {
		t.Errorf("an earlier version decoding MOVED.json gets %v, want ErrFormat (newer version)", err)
	}

	b, err = file.Open(root, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	check(b)
	b.Close()
}

// TestUpgradeEmptyLayout1: a layout-1 stage without records also gets
// MOVED.json, so that an earlier version does not take the records written
// since for none.
func TestUpgradeEmptyLayout1(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "app", "dev")
	writeLayout1(t, dir, nil, state.NewMeta())
	b, err := file.Open(root, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	mustExist(t, filepath.Join(dir, "records", "MOVED.json"))
	mustExist(t, filepath.Join(dir, "records.log"))
}

// TestUpgradeInterrupted: an upgrade interrupted after the log was renamed
// into place but before the record files were removed is finished by the
// next open, and the log, not the leftover files, is the stage.
func TestUpgradeInterrupted(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "app", "dev")
	ctx := t.Context()
	b, err := file.Open(root, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, &state.Record{Key: "a", Identifier: "from the log"}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	stale, err := state.EncodeRecord(&state.Record{Key: "a", Identifier: "stale file"})
	if err != nil {
		t.Fatal(err)
	}
	writeLayout1(t, dir, map[string][]byte{"a": stale}, state.NewMeta())

	b, err = file.Open(root, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, err := b.Get(ctx, "a")
	if err != nil || r.Identifier != "from the log" {
		t.Fatalf("Get after an interrupted upgrade = %+v, %v; want the log's record", r, err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "records"))
	if len(ents) != 1 || ents[0].Name() != "MOVED.json" {
		t.Errorf("records/ holds %v, want only MOVED.json", ents)
	}
}

// TestUpgradeRefusesDamagedStage: a layout-1 record file that does not
// decode stops the upgrade, naming it, and changes nothing.
func TestUpgradeRefusesDamagedStage(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "app", "dev")
	writeLayout1(t, dir, map[string][]byte{"x": []byte(`{"key":"x","seq":`)}, state.NewMeta())
	_, err := file.Open(root, "app", "dev")
	path := filepath.Join(dir, "records", "x.json")
	if !errors.Is(err, state.ErrFormat) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a damaged layout-1 stage: %v, want ErrFormat naming %s", err, path)
	}
	if _, err := os.Stat(filepath.Join(dir, "records.log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a log was created: %v", err)
	}
	mustExist(t, path)
}

func mustExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Error(err)
	}
}

func TestLockTimeout(t *testing.T) {
	stage := fmt.Sprintf("timeout-%d", time.Now().UnixNano())
	holder := openFile(t, "app", stage)
	l, err := holder.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	// A waiter gives up after its timeout with the holder named.
	short := openFile(t, "app", stage, state.WithLockTimeout(150*time.Millisecond))
	_, err = short.Lock(t.Context(), state.NewLockInfo("deploy"))
	var le *state.LockedError
	if !errors.As(err, &le) || le.Holder.PID != os.Getpid() {
		t.Fatalf("Lock with timeout while held: %v", err)
	}
	// A waiter with a long timeout gets the lock once it is released.
	long := openFile(t, "app", stage, state.WithLockTimeout(time.Minute))
	got := make(chan error, 1)
	go func() {
		l2, err := long.Lock(context.Background(), state.NewLockInfo("deploy"))
		if err == nil {
			err = l2.Unlock(context.Background())
		}
		got <- err
	}()
	if err := l.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("waiting Lock: %v", err)
	}
	// A cancelled context ends the wait.
	l, err = holder.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock(t.Context())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := long.Lock(ctx, state.NewLockInfo("deploy")); err == nil {
		t.Fatal("Lock with a cancelled context succeeded")
	}
}

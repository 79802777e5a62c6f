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

// TestLayout checks the files a stage consists of: one per record, named
// by its key, plus meta.json; no stray temporary files.
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
		"iot-fleet/dev/records/fleet+basic^job^template.json",
		"iot-fleet/dev/records/root.json",
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

// TestCorruptRecord: a damaged record file is reported with its path, not
// skipped or taken as missing.
func TestCorruptRecord(t *testing.T) {
	dir := t.TempDir()
	b, err := file.Open(dir, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(t.Context(), &state.Record{Key: "x"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "app", "dev", "records", "x.json")
	if err := os.WriteFile(path, []byte(`{"key":"x","seq":`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Get":  func() error { _, err := b.Get(t.Context(), "x"); return err }(),
		"List": func() error { _, err := b.List(t.Context()); return err }(),
	} {
		if !errors.Is(err, state.ErrFormat) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s error = %v, want ErrFormat naming %s", name, err, path)
		}
	}
}

// TestVersion0Fixture reads a record written in the pre-release format 0.
func TestVersion0Fixture(t *testing.T) {
	dir := t.TempDir()
	b, err := file.Open(dir, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("..", "testdata", "record-v0.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app", "dev", "records", "fleet+basic^job^template.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := b.Get(t.Context(), "fleet/basicJobTemplate")
	if err != nil {
		t.Fatal(err)
	}
	if r.FormatVersion != state.FormatVersion || r.Pending == nil || r.Pending.ClientToken == "" || len(r.Desired) == 0 {
		t.Errorf("upgraded record = %+v", r)
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

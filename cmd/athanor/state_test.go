package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/athanor-dev/athanor/internal/pgtest"
	"github.com/athanor-dev/athanor/state"
)

// runState runs `athanor state args...` with stdin and returns its output.
func runState(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newStateCommand()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func seedStage(t *testing.T, location, app, stage string, n int) state.Backend {
	t.Helper()
	b, err := state.Open(t.Context(), location, app, stage)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	for i := 0; i < n; i++ {
		key := state.Key("fleet", fmt.Sprintf("tpl%d", i))
		scope, id := state.SplitKey(key)
		r := &state.Record{
			Key: key, Scope: scope, LogicalID: id, Type: "AWS::IoT::JobTemplate", Seq: int64(i),
			Status: state.StatusCreated, Identifier: id,
			Desired:   json.RawMessage(fmt.Sprintf(`{"JobTemplateId": %q, "Description": "d", "Document": "{}"}`, id)),
			Outputs:   json.RawMessage(fmt.Sprintf(`{"Arn": "arn:aws:iot:us-east-1:123456789012:jobtemplate/%s"}`, id)),
			CreatedAt: time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 11, 26, 14, 0, 1, 0, time.UTC),
		}
		if i == 0 {
			r.Pending = &state.Pending{Operation: "UPDATE", ClientToken: "ct", RequestToken: "rt", StartedAt: r.UpdatedAt}
			r.Retired = []state.Retired{{Identifier: "old"}}
		}
		if err := b.Put(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.PutMeta(t.Context(), &state.Meta{NextSeq: int64(n), Exports: map[string]json.RawMessage{"arn": json.RawMessage(`"arn:x"`)}, UpdatedAt: time.Date(2026, 11, 26, 14, 0, 2, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStateListShow(t *testing.T) {
	dir := t.TempDir()
	seedStage(t, dir, "iot-fleet", "dev", 3)
	flags := []string{"--app", "iot-fleet", "--stage", "dev", "--state", dir}
	out, err := runState(t, "", append([]string{"list"}, flags...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SEQ", "fleet/tpl0", "created (UPDATE pending) (1 retired)", "fleet/tpl2", "AWS::IoT::JobTemplate"} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
	out, err = runState(t, "", append([]string{"list", "--json", "--scope", "other"}, flags...)...)
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("list --json --scope other = %q, %v", out, err)
	}
	out, err = runState(t, "", append([]string{"show", "fleet/tpl1"}, flags...)...)
	if err != nil {
		t.Fatal(err)
	}
	var r state.Record
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Key != "fleet/tpl1" || r.Identifier != "tpl1" {
		t.Errorf("show = %s (%v)", out, err)
	}
	if _, err := runState(t, "", append([]string{"show", "fleet/none"}, flags...)...); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("show of a missing key: %v", err)
	}
	if _, err := runState(t, "", "list", "--state", dir); err == nil || !strings.Contains(err.Error(), "--app") {
		t.Errorf("list without --app: %v", err)
	}
}

func TestStateRm(t *testing.T) {
	dir := t.TempDir()
	b := seedStage(t, dir, "app", "dev", 2)
	flags := []string{"--app", "app", "--stage", "dev", "--state", dir}
	// Not a terminal and no --yes: refused.
	if _, err := runState(t, "y\n", append([]string{"rm", "fleet/tpl0"}, flags...)...); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("rm on a non-terminal without --yes: %v", err)
	}
	defer func(f func(io.Reader) bool) { isTerminal = f }(isTerminal)
	isTerminal = func(io.Reader) bool { return true }
	if _, err := runState(t, "n\n", append([]string{"rm", "fleet/tpl0"}, flags...)...); err == nil {
		t.Fatal("rm answered no succeeded")
	}
	if _, err := b.Get(t.Context(), "fleet/tpl0"); err != nil {
		t.Fatalf("record gone after a refused rm: %v", err)
	}
	if _, err := runState(t, "", append([]string{"rm", "--yes", "fleet/none"}, flags...)...); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("rm of a missing key: %v", err)
	}
	out, err := runState(t, "yes\n", append([]string{"rm", "fleet/tpl0"}, flags...)...)
	if err != nil || !strings.Contains(out, "forgot fleet/tpl0") {
		t.Fatalf("rm confirmed = %q, %v", out, err)
	}
	if _, err := b.Get(t.Context(), "fleet/tpl0"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("record still there: %v", err)
	}
	// A locked stage is not edited.
	l, err := b.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock(t.Context())
	if _, err := runState(t, "", append([]string{"rm", "--yes", "fleet/tpl1"}, flags...)...); !errors.Is(err, state.ErrLocked) {
		t.Errorf("rm on a locked stage: %v", err)
	}
}

func TestStateMv(t *testing.T) {
	dir := t.TempDir()
	b := seedStage(t, dir, "app", "dev", 2)
	flags := []string{"--app", "app", "--stage", "dev", "--state", dir}
	if _, err := runState(t, "", append([]string{"mv", "fleet/tpl0", "fleet/tpl1"}, flags...)...); err == nil {
		t.Fatal("mv onto an existing key succeeded")
	}
	if _, err := runState(t, "", append([]string{"mv", "fleet/tpl0", "renamed/basicJobTemplate"}, flags...)...); err != nil {
		t.Fatal(err)
	}
	r, err := b.Get(t.Context(), "renamed/basicJobTemplate")
	if err != nil {
		t.Fatal(err)
	}
	if r.Scope != "renamed" || r.LogicalID != "basicJobTemplate" || r.Identifier != "tpl0" || r.Pending == nil || r.Seq != 0 {
		t.Errorf("moved record = %+v", r)
	}
	if _, err := b.Get(t.Context(), "fleet/tpl0"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("old key still there: %v", err)
	}
}

func TestStateExportImport(t *testing.T) {
	dir := t.TempDir()
	src := seedStage(t, dir, "app", "dev", 3)
	out, err := runState(t, "", "export", "--app", "app", "--stage", "dev", "--state", dir)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "export.json")
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	to := []string{"--app", "app", "--stage", "copy", "--state", dir}
	if _, err := runState(t, "", append([]string{"import", file}, to...)...); err != nil {
		t.Fatal(err)
	}
	dst, err := state.Open(t.Context(), dir, "app", "copy")
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	assertSameStage(t, src, dst)
	// Into a stage that has records: refused, unless --force.
	if _, err := runState(t, out, append([]string{"import"}, to...)...); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("import into a non-empty stage: %v", err)
	}
	if _, err := runState(t, out, append([]string{"import", "--force", "-"}, to...)...); err != nil {
		t.Errorf("import --force: %v", err)
	}
	if _, err := runState(t, `{"records": [{"key": ""}]}`, append([]string{"import", "--force"}, to...)...); err == nil {
		t.Error("import of a bad record succeeded")
	}
}

func assertSameStage(t *testing.T, a, b state.Backend) {
	t.Helper()
	ra, err := a.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ra) != len(rb) {
		t.Fatalf("%d records, want %d", len(rb), len(ra))
	}
	for i := range ra {
		if !state.Equal(ra[i], rb[i]) {
			t.Errorf("record %d: %+v, want %+v", i, rb[i], ra[i])
		}
	}
	ma, err := a.GetMeta(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mb, err := b.GetMeta(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !metaEqual(ma, mb) {
		t.Errorf("meta %+v, want %+v", mb, ma)
	}
}

// TestStateMigrate copies a stage from files to PostgreSQL and back.
func TestStateMigrate(t *testing.T) {
	pg := pgtest.New(t)
	dir, back := t.TempDir(), t.TempDir()
	src := seedStage(t, dir, "iot-fleet", "dev", 5)
	flags := []string{"--app", "iot-fleet", "--stage", "dev"}
	out, err := runState(t, "", append([]string{"migrate", "--from", dir, "--to", pg}, flags...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "migrated 5 record(s)") || !strings.Contains(out, "verified") {
		t.Errorf("migrate output = %q", out)
	}
	if _, err := runState(t, "", append([]string{"migrate", "--from", pg, "--to", back}, flags...)...); err != nil {
		t.Fatal(err)
	}
	dst, err := state.Open(t.Context(), back, "iot-fleet", "dev")
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	assertSameStage(t, src, dst)
	// The round trip through jsonb changes no value of the metadata file
	// (the records, in the log, are compared by assertSameStage).
	for _, name := range []string{"meta.json"} {
		a, _ := os.ReadFile(filepath.Join(dir, "iot-fleet", "dev", name))
		b, _ := os.ReadFile(filepath.Join(back, "iot-fleet", "dev", name))
		var x, y any
		if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil || fmt.Sprint(x) != fmt.Sprint(y) {
			t.Errorf("%s differs after file→postgres→file:\n%s\n%s", name, a, b)
		}
	}
	// Again into a stage that has records: refused.
	if _, err := runState(t, "", append([]string{"migrate", "--from", dir, "--to", pg}, flags...)...); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("migrate into a non-empty stage: %v", err)
	}
	// The source locked by a run: refused, naming it.
	l, err := src.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = runState(t, "", append([]string{"migrate", "--force", "--from", dir, "--to", pg}, flags...)...)
	if !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), "deploy") {
		t.Errorf("migrate from a locked stage: %v", err)
	}
	l.Unlock(t.Context())
	if _, err := runState(t, "", append([]string{"migrate", "--from", dir, "--to", dir}, flags...)...); err == nil {
		t.Error("migrate onto itself succeeded")
	}
}

func TestStateForceUnlock(t *testing.T) {
	dir := t.TempDir()
	b := seedStage(t, dir, "app", "dev", 0)
	flags := []string{"--app", "app", "--stage", "dev", "--state", dir}
	out, err := runState(t, "", append([]string{"force-unlock"}, flags...)...)
	if err != nil || !strings.Contains(out, "was not locked") {
		t.Fatalf("force-unlock of a free stage = %q, %v", out, err)
	}
	info := state.NewLockInfo("deploy")
	l, err := b.Lock(t.Context(), info)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock(t.Context())
	if _, err := runState(t, "", append([]string{"force-unlock"}, flags...)...); !errors.Is(err, state.ErrHolderAlive) {
		t.Errorf("force-unlock of a live holder: %v", err)
	}
	out, err = runState(t, "", append([]string{"force-unlock", "--force"}, flags...)...)
	if err != nil || !strings.Contains(out, info.ID) {
		t.Errorf("force-unlock --force = %q, %v", out, err)
	}
}

// TestStateShowMasksWriteOnlyValues: `state show` and `state list --json`
// print a record's write-only values (recorded, pending, in a pending
// patch) as "(sensitive)"; `state export`, a backup, keeps them.
func TestStateShowMasksWriteOnlyValues(t *testing.T) {
	dir := t.TempDir()
	b, err := state.Open(t.Context(), dir, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	r := &state.Record{Key: "user", LogicalID: "user", Type: "AWS::IAM::User", Seq: 1, Status: state.StatusUpdating, Identifier: "u",
		Desired: json.RawMessage(`{"UserName":"u","LoginProfile":{"Password":"hunter2-FIRST","PasswordResetRequired":true}}`),
		Pending: &state.Pending{Operation: "UPDATE", ClientToken: "ct", StartedAt: now,
			Desired: json.RawMessage(`{"UserName":"u","LoginProfile":{"Password":"hunter2-SECOND","PasswordResetRequired":true}}`),
			Patch:   json.RawMessage(`[{"op":"replace","path":"/LoginProfile/Password","value":"hunter2-SECOND"}]`)},
		CreatedAt: now, UpdatedAt: now}
	if err := b.Put(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	b.Close()
	flags := []string{"--app", "app", "--stage", "dev", "--state", dir}
	for _, args := range [][]string{{"show", "user"}, {"list", "--json"}} {
		out, err := runState(t, "", append(args, flags...)...)
		if err != nil {
			t.Fatal(err)
		}
		var recs []state.Record
		if args[0] == "show" {
			recs = make([]state.Record, 1)
			err = json.Unmarshal([]byte(out), &recs[0])
		} else {
			err = json.Unmarshal([]byte(out), &recs)
		}
		if err != nil || len(recs) != 1 || recs[0].Pending == nil {
			t.Fatalf("%s: %v\n%s", args[0], err, out)
		}
		got := recs[0]
		want := `{"LoginProfile":{"Password":"(sensitive)","PasswordResetRequired":true},"UserName":"u"}`
		if !state.EqualJSON(got.Desired, json.RawMessage(want)) || !state.EqualJSON(got.Pending.Desired, json.RawMessage(want)) ||
			!state.EqualJSON(got.Pending.Patch, json.RawMessage(`[{"op":"replace","path":"/LoginProfile/Password","value":"(sensitive)"}]`)) ||
			strings.Contains(out, "hunter2") {
			t.Errorf("%s prints write-only values:\n%s", args[0], out)
		}
	}
	out, err := runState(t, "", append([]string{"export"}, flags...)...)
	if err != nil || !strings.Contains(out, "hunter2-SECOND") {
		t.Errorf("export lost the write-only values (%v):\n%s", err, out)
	}
}

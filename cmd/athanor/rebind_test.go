package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor/emulator"
	"github.com/athanor-dev/athanor/state"
)

// startEmulator serves an emulator of account on loopback for the test.
func startEmulator(t *testing.T, account string) string {
	t.Helper()
	opts := emulator.Instant()
	opts.Account = account
	r, err := emulator.Start(context.Background(), "127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r.URL
}

func TestStateShowRebind(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	dir := t.TempDir()
	b := seedStage(t, dir, "iot-fleet", "dev", 2)
	flags := []string{"--app", "iot-fleet", "--stage", "dev", "--state", dir}
	out, err := runState(t, "", append([]string{"show"}, flags...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"iot-fleet/dev", "not bound", "records:", "export arn:", `"arn:x"`} {
		if !strings.Contains(out, want) {
			t.Errorf("show of an unbound stage lacks %q:\n%s", want, out)
		}
	}

	if _, err := runState(t, "", append([]string{"rebind"}, flags...)...); err == nil || !strings.Contains(err.Error(), "--target") {
		t.Errorf("rebind without a target: %v, want an error asking for --target", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	if _, err := runState(t, "", append([]string{"rebind", "--target", dead}, flags...)...); err == nil || !strings.Contains(err.Error(), dead+" is unreachable") {
		t.Errorf("rebind to a dead endpoint: %v, want it unreachable", err)
	}

	first, second := startEmulator(t, "333333333333"), startEmulator(t, "444444444444")
	out, err = runState(t, "", append([]string{"rebind", "--target", first}, flags...)...)
	if err != nil || !strings.Contains(out, "bound iot-fleet/dev (not bound before) to account 333333333333 in us-east-1 at "+first) {
		t.Fatalf("rebind of an unbound stage: %v\n%s", err, out)
	}
	m, err := b.GetMeta(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := state.Target{Kind: state.TargetURL, Endpoint: first, Partition: "aws", Account: "333333333333", Region: "us-east-1"}
	if m.Target == nil || !m.Target.Same(want) || m.Target.BoundAt.IsZero() || m.NextSeq != 2 || len(m.Exports) != 1 {
		t.Fatalf("meta after rebind = %+v (target %+v)", m, m.Target)
	}
	out, err = runState(t, "", append([]string{"rebind", "--target", first}, flags...)...)
	if err != nil || !strings.Contains(out, "already bound to account 333333333333") {
		t.Errorf("rebind to the same target: %v\n%s", err, out)
	}
	out, err = runState(t, "", append([]string{"rebind", "--target", second}, flags...)...)
	if err != nil || !strings.Contains(out, "rebound iot-fleet/dev: account 333333333333 in us-east-1 at "+first+" → account 444444444444 in us-east-1 at "+second) {
		t.Errorf("rebind to another account: %v\n%s", err, out)
	}
	out, err = runState(t, "", append([]string{"show"}, flags...)...)
	if err != nil || !strings.Contains(out, "account 444444444444 in us-east-1 at "+second) || !strings.Contains(out, "url "+second) {
		t.Errorf("show after rebind: %v\n%s", err, out)
	}

	// The binding travels with export and import.
	doc, err := runState(t, "", append([]string{"export"}, flags...)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runState(t, doc, "import", "--app", "iot-fleet", "--stage", "copy", "--state", dir); err != nil {
		t.Fatalf("import: %v", err)
	}
	out, err = runState(t, "", "show", "--app", "iot-fleet", "--stage", "copy", "--state", dir)
	if err != nil || !strings.Contains(out, "account 444444444444 in us-east-1 at "+second) {
		t.Errorf("show of the imported copy: %v\n%s", err, out)
	}

	// Rebind takes the stage lock.
	l, err := b.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock(context.WithoutCancel(t.Context()))
	if _, err := runState(t, "", append([]string{"rebind", "--target", first}, flags...)...); !errors.Is(err, state.ErrLocked) {
		t.Errorf("rebind of a locked stage: %v, want ErrLocked", err)
	}
}

package athanor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/athanor-dev/athanor/state"
)

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestInterruptible: the first SIGINT cancels the run's context with cause
// ErrInterrupted and says so; the second exits at once.
func TestInterruptible(t *testing.T) {
	var stderr syncBuffer
	exited := make(chan struct{})
	ctx, stop := interruptible(context.Background(), "prog", &stderr, func() { close(exited) })
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGINT did not cancel the context")
	}
	if cause := context.Cause(ctx); !errors.Is(cause, ErrInterrupted) {
		t.Fatalf("cause %v, want ErrInterrupted", cause)
	}
	if !strings.Contains(stderr.String(), "prog: interrupt: stopping") {
		t.Errorf("stderr %q does not say the run is stopping", stderr.String())
	}
	select {
	case <-exited:
		t.Fatal("exited after the first signal")
	default:
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the second signal did not exit")
	}
}

// TestMainPreviewErrorsExit1: a program whose third and fifth declarations
// are invalid makes Main's run exit with status 1 after listing both, by
// resource and property path, and the stage keeps no record.
func TestMainPreviewErrorsExit1(t *testing.T) {
	dir := t.TempDir()
	program := func(app *App) error {
		for i, props := range []map[string]any{
			{"LogGroupName": "a"}, {"LogGroupName": "b"}, {"LogGroupName": "c", "RetentionInDays": 8},
			{"LogGroupName": "d"}, {"LogGroupName": "e", "KmsKeyId": 5},
		} {
			if _, err := app.Declare("AWS::Logs::LogGroup", fmt.Sprintf("l%d", i+1), props); err != nil {
				return err
			}
		}
		return nil
	}
	var stdout, stderr strings.Builder
	args := []string{"--state", filepath.Join(dir, "state"), "--target", "local"}
	if code := run1("preview", args, func(string) string { return "" }, &stdout, &stderr, program); code != 1 {
		t.Fatalf("exit status %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"l3 (AWS::Logs::LogGroup): invalid properties:", "/RetentionInDays: 8 is not one of",
		"l5 (AWS::Logs::LogGroup): invalid properties:", "/KmsKeyId: expected string, got integer 5", "2 declarations are invalid"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	st, err := state.Open(context.Background(), filepath.Join(dir, "state"), "preview", DefaultStage)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if recs, err := st.List(context.Background()); err != nil || len(recs) != 0 {
		t.Fatalf("records after a failed preview: %d, %v", len(recs), err)
	}
}

// TestLocalTargetPlacesEverywhere: on the local target, the embedded
// emulator serves every region and account: a scope in another region, one
// under an assumed role and one under a profile (an account of its own)
// each get their resource there, with ARNs naming that region and account.
func TestLocalTargetPlacesEverywhere(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{App: "places", State: filepath.Join(dir, "state"), Target: TargetLocal, Output: io.Discard}
	arns := map[string]string{}
	var mu sync.Mutex
	program := func(app *App) error {
		for _, pl := range []struct {
			name string
			p    Provider
		}{
			{"eu", Provider{Region: "eu-central-1"}},
			{"role", Provider{RoleARN: "arn:aws:iam::444455556666:role/ops"}},
			{"profile", Provider{Profile: "staging", Region: "ap-south-1"}},
		} {
			s, err := app.In(pl.name, pl.p)
			if err != nil {
				return err
			}
			r, err := s.Declare("AWS::IoT::JobTemplate", "tpl", map[string]any{"JobTemplateId": "placed", "Description": "d", "Document": "{}"})
			if err != nil {
				return err
			}
			arn, err := r.Output("Arn")
			if err != nil {
				return err
			}
			mu.Lock()
			arns[pl.name] = arn
			mu.Unlock()
		}
		return nil
	}
	res, err := Run(context.Background(), cfg, program)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 3 {
		t.Fatalf("created %d, want 3", res.Created)
	}
	want := map[string]string{
		"eu":      "arn:aws:iot:eu-central-1:123456789012:jobtemplate/placed",
		"role":    "arn:aws:iot:us-east-1:444455556666:jobtemplate/placed",
		"profile": "arn:aws:iot:ap-south-1:" + profileAccount("staging") + ":jobtemplate/placed",
	}
	for k, w := range want {
		if arns[k] != w {
			t.Errorf("%s: ARN %q, want %q", k, arns[k], w)
		}
	}
	cfg.Destroy = true
	if res, err := Run(context.Background(), cfg, program); err != nil || res.Deleted != 3 {
		t.Fatalf("destroy: %+v, %v", res, err)
	}
}

package athanor

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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

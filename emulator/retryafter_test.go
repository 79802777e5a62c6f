package emulator

import (
	"testing"
	"time"

	cctypes "github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"
)

// TestRetryAfterHints checks the three RetryAfter hints of an operation in
// progress: the exact completion time, the completion time rounded up to
// the next whole second, and none.
func TestRetryAfterHints(t *testing.T) {
	for _, tc := range []struct {
		hint RetryAfterHint
		want time.Duration // after the create; -1: absent
	}{
		{"", 1500 * time.Millisecond},
		{RetryAfterExact, 1500 * time.Millisecond},
		{RetryAfterRound, 1800 * time.Millisecond}, // 12:00:01.7 → 12:00:02
		{RetryAfterNone, -1},
	} {
		t.Run(string(tc.hint), func(t *testing.T) {
			clock := newManualClock()
			clock.Advance(200 * time.Millisecond) // off a whole second
			te := startEmulator(t, Options{Clock: clock, RetryAfter: tc.hint, Latency: Latency{Create: Fixed(1500 * time.Millisecond)}})
			start := clock.Now()
			ev := te.create(t, logGroup, map[string]any{"LogGroupName": "hinted"})
			for _, got := range []*cctypes.ProgressEvent{ev, te.status(t, ev.RequestToken)} {
				if got.OperationStatus != cctypes.OperationStatusInProgress {
					t.Fatalf("status %s, want IN_PROGRESS", got.OperationStatus)
				}
				switch {
				case tc.want < 0 && got.RetryAfter != nil:
					t.Fatalf("RetryAfter %v, want none", got.RetryAfter)
				case tc.want >= 0 && (got.RetryAfter == nil || !got.RetryAfter.Equal(start.Add(tc.want))):
					t.Fatalf("RetryAfter %v, want %v", got.RetryAfter, start.Add(tc.want))
				}
			}
			clock.Advance(1500 * time.Millisecond)
			if final := te.status(t, ev.RequestToken); final.OperationStatus != cctypes.OperationStatusSuccess || final.RetryAfter != nil {
				t.Fatalf("after completion: %s RetryAfter %v, want SUCCESS without RetryAfter", final.OperationStatus, final.RetryAfter)
			}
		})
	}
	if _, err := New(Options{RetryAfter: "sometimes"}); err == nil {
		t.Fatal(`RetryAfter "sometimes" accepted`)
	}
}

//go:build !linux

package bench

import (
	"errors"
	"time"
)

func peakRSS() (int64, error) { return 0, errors.New("bench: peak RSS is measured on Linux only") }

func resetPeakRSS() bool { return false }

func cpuTime() (user, sys time.Duration) { return 0, 0 }

//go:build !unix

package file_test

import "time"

// cpuTime is zero where getrusage(2) is missing.
func cpuTime() time.Duration { return 0 }

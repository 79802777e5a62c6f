//go:build unix && !linux

package file

import "os"

// datasync makes f's data durable (fsync(2), which on macOS Go issues as
// F_FULLFSYNC).
func datasync(f *os.File) error { return f.Sync() }

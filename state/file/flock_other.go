//go:build !unix

package file

import (
	"errors"
	"os"
)

var errNoFlock = errors.New("the file state backend needs flock(2), which this platform lacks; use the PostgreSQL backend")

func tryFlock(f *os.File) (bool, error)       { return false, errNoFlock }
func tryFlockShared(f *os.File) (bool, error) { return false, errNoFlock }
func unflock(f *os.File) error                { return errNoFlock }

// syncDir is a no-op where directories cannot be synced.
func syncDir(dir string) error { return nil }

func lockWait(f *os.File) error { return errNoFlock }

// datasync makes f's data durable.
func datasync(f *os.File) error { return f.Sync() }

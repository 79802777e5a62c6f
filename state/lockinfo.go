package state

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"time"
)

// NewLockInfo describes the calling process as a lock holder for
// operation ("deploy", "destroy", "state mv", ...): a random run id, the
// host name, the process id and the current time.
func NewLockInfo(operation string) LockInfo {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var id [16]byte
	_, _ = rand.Read(id[:]) // never fails on supported platforms
	return LockInfo{
		ID:        hex.EncodeToString(id[:]),
		Host:      host,
		PID:       os.Getpid(),
		Operation: operation,
		Since:     time.Now().UTC().Truncate(time.Second),
	}
}

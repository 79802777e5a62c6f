package file

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The stage's small files (meta.json, lock.json) are written whole, by a
// dirWriter (the record log, when it is created or compacted, follows the
// same protocol on its own; see log.go). A write follows one protocol per
// file: the data goes to a temporary file in the directory, which is
// written and fsynced; the
// temporary file is renamed over the target; the directory is fsynced; only
// then does the write return. What is shared between concurrent writers is
// the last step: renames queued while a directory fsync is in
// progress are applied together by one of their writers, the group's
// leader, and covered by a single fsync of the directory, after which all
// of them are acknowledged (group commit). No write returns before the
// directory fsync that follows its rename has succeeded, so an acknowledged
// write survives a crash at any later instant; a crash before that fsync
// may lose the rename, and then the old file is what the next run sees,
// which is correct because the write was never acknowledged.
//
// Writes of one file name are serialised within a process (see
// dirWriter.lockName), which lets a writer use a fixed temporary name,
// "." + name + "." + procToken + ".tmp", instead of os.CreateTemp's random
// names: no other writer of this process uses it at the same time, and
// writers in other processes have another token. A temporary file is
// consumed by its rename; one left by a crashed writer is overwritten by the
// next write of its name in the same process or removed by removeStaleTemps.

// tempExt ends the name of every temporary file; tempPrefix starts the
// names of those written by earlier versions (by os.CreateTemp).
const (
	tempExt    = ".tmp"
	tempPrefix = ".tmp-"
)

// procToken tells this process's temporary files from other processes'
// ones: its pid and a random number (pids repeat across machines sharing a
// file system and across containers).
var procToken = func() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("state/file: random token: %v", err))
	}
	return fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(b[:]))
}()

// Seams for the tests of this package, which observe and fail the steps of
// the protocol; production code never changes them.
var (
	renameFile    = os.Rename
	removeFile    = os.Remove
	syncDirectory = syncDir
)

// writers holds the dirWriter of every directory this process writes to,
// keyed by absolute path, so that all Backends of one stage in a process
// share its name locks and its group commits.
var writers sync.Map // string -> *dirWriter

// dirWriter writes files of one directory atomically and durably.
type dirWriter struct {
	dir string

	nmu   sync.Mutex
	names map[string]*nameLock // file name -> lock, while held or awaited

	cmu   sync.Mutex
	queue []*change // changes waiting for the next group commit
	busy  bool      // a leader is applying a group
}

// nameLock serialises the writes of one file name.
type nameLock struct {
	mu   sync.Mutex
	refs int // holders and waiters; the entry is dropped at zero
}

// change is one rename awaiting its group commit.
type change struct {
	tmp, dst string
	// Set by the leader that applies the change, or by the one that hands
	// leadership over to its writer, before wake is closed.
	err    error
	leader bool
	wake   chan struct{}
}

// writerFor returns the dirWriter of dir.
func writerFor(dir string) *dirWriter {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = filepath.Clean(dir)
	}
	if w, ok := writers.Load(abs); ok {
		return w.(*dirWriter)
	}
	w, _ := writers.LoadOrStore(abs, &dirWriter{dir: abs, names: make(map[string]*nameLock)})
	return w.(*dirWriter)
}

// lockName takes the lock of file name and returns its release.
func (w *dirWriter) lockName(name string) (unlock func()) {
	w.nmu.Lock()
	l := w.names[name]
	if l == nil {
		l = new(nameLock)
		w.names[name] = l
	}
	l.refs++
	w.nmu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		w.nmu.Lock()
		if l.refs--; l.refs == 0 {
			delete(w.names, name)
		}
		w.nmu.Unlock()
	}
}

// tempName is the temporary file this process writes name's data to.
func tempName(name string) string {
	return "." + name + "." + procToken + tempExt
}

// write replaces the file name with data atomically and durably.
func (w *dirWriter) write(name string, data []byte) error {
	defer w.lockName(name)()
	tmp := filepath.Join(w.dir, tempName(name))
	if err := writeSynced(tmp, data); err != nil {
		removeFile(tmp)
		return err
	}
	if err := w.commit(&change{tmp: tmp, dst: filepath.Join(w.dir, name)}); err != nil {
		removeFile(tmp) // still there when the rename failed
		return err
	}
	return nil
}

// writeSynced writes data to path, creating or truncating it, and fsyncs it.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// commit queues c for the next group commit and returns once the directory
// fsync covering it has completed, with c's error. The writer that finds no
// group in progress leads: it applies everything queued, fsyncs the
// directory once and acknowledges the group, then hands leadership to the
// oldest writer queued meanwhile, so that no writer leads more than one
// group.
func (w *dirWriter) commit(c *change) error {
	c.wake = make(chan struct{})
	w.cmu.Lock()
	w.queue = append(w.queue, c)
	if w.busy {
		w.cmu.Unlock()
		<-c.wake
		if !c.leader {
			return c.err
		}
		w.cmu.Lock() // our change is at the head of the queue
	} else {
		w.busy = true
	}
	group := w.queue
	w.queue = nil
	w.cmu.Unlock()

	w.apply(group)
	for _, o := range group {
		if o != c {
			close(o.wake)
		}
	}

	w.cmu.Lock()
	if len(w.queue) > 0 {
		next := w.queue[0]
		next.leader = true
		close(next.wake)
	} else {
		w.busy = false
	}
	w.cmu.Unlock()
	return c.err
}

// apply renames the group's files in order, fsyncs the directory once when
// anything changed, and sets each change's error.
func (w *dirWriter) apply(group []*change) {
	var changed []*change
	for _, c := range group {
		if c.err = renameFile(c.tmp, c.dst); c.err == nil {
			changed = append(changed, c)
		}
	}
	if len(changed) == 0 {
		return
	}
	if err := syncDirectory(w.dir); err != nil {
		for _, c := range changed {
			c.err = fmt.Errorf("sync %s: %w", w.dir, err)
		}
	}
}

// isTemp reports whether a directory entry is a temporary file.
func isTemp(name string) bool {
	return strings.HasPrefix(name, tempPrefix) ||
		(strings.HasPrefix(name, ".") && strings.HasSuffix(name, tempExt))
}

// removeStaleTemps removes temporary files that writers which crashed left
// behind, that is those older than staleTemp (a younger one may belong to a
// write in progress in another process).
func removeStaleTemps(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !isTemp(e.Name()) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleTemp {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

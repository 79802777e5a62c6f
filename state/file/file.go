// Package file is the default state backend: a directory per app and stage
// holding an append-only log of its records.
//
// Layout, under the root directory (".athanor" by default):
//
//	<app>/<stage>/records.log          the records (see log.go)
//	<app>/<stage>/meta.json            stage metadata (exports, counters)
//	<app>/<stage>/lock                 the stage lock (flock(2))
//	<app>/<stage>/lock.json            who holds the lock
//
// This is layout version 2 (LayoutVersion). Version 1 kept one JSON file per
// record under <app>/<stage>/records/; opening such a stage upgrades it.
//
// Every write is atomic and durable when it returns. A Put or Delete
// appends a checksummed frame to the log and returns once an fdatasync
// covering it has succeeded; the writes of concurrent goroutines share that
// sync (group commit), so a run with many operations in flight pays one
// sync per batch rather than per record. A crash at any instant leaves
// every acknowledged write in the log; a torn frame at its end is ignored by
// readers and cut off by the next writer. Readers in other processes see a
// write once it is in the log. The log is compacted, atomically, when
// superseded frames outweigh the live ones. The metadata and the lock
// holder are small files written to a temporary file, synced, renamed over
// the target and followed by a sync of the directory (see commit.go).
//
// The lock is an exclusive flock(2) on the lock file, which the kernel
// releases when its holder dies, so a crashed run never blocks the next
// one. flock works across processes of one machine and, on Linux, across
// NFS clients; for a team sharing state across machines use the PostgreSQL
// backend.
//
// A flock has no lease and cannot expire: the only way to lose it is a
// forced unlock (athanor state force-unlock --force), which removes the lock
// file so that the next run locks a new one. The holder detects that: while
// a Backend holds the lock, every write first checks that the lock file is
// still the one it locked and fails with an error wrapping
// state.ErrLockLost otherwise, and a watcher checks it every
// LockCheckInterval and closes Lock.Lost. The check and the write are two
// steps, not one: a forced unlock between them lets that one write through.
//
// Importing this package registers it with state.Open for paths and file://
// URLs.
package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/athanor-dev/athanor/internal/par"
	"github.com/athanor-dev/athanor/state"
)

func init() {
	state.Register("file", func(ctx context.Context, u *url.URL, app, stage string, o state.Options) (state.Backend, error) {
		return open(u.Path, app, stage, o)
	})
}

const (
	metaFile   = "meta.json"
	recordsDir = "records" // of layout version 1
	lockFile   = "lock"
	holderFile = "lock.json"
	// staleTemp is the age after which a temporary file left by a crashed
	// writer is removed when the stage is opened or locked.
	staleTemp = 10 * time.Minute
)

// Backend is the state of one app and stage in a directory. It is safe for
// concurrent use by goroutines and by processes.
type Backend struct {
	app, stage string
	dir        string // <root>/<app>/<stage>
	log        *stageLog
	dirW       *dirWriter
	opts       state.Options
	closed     atomic.Bool

	mu   sync.Mutex
	held *fileLock // the lock taken through this backend, until Unlock
}

// LockCheckInterval is how often a held lock checks that it was not broken
// by a forced unlock, to close Lock.Lost.
const LockCheckInterval = time.Second

// fence returns an error wrapping state.ErrLockLost when the backend holds
// a lock that was broken.
func (b *Backend) fence() error {
	if l := b.heldLock(); l != nil {
		return l.check()
	}
	return nil
}

// heldLock returns the lock taken through the backend, or nil.
func (b *Backend) heldLock() *fileLock {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

var (
	_ state.Backend     = (*Backend)(nil)
	_ state.LockManager = (*Backend)(nil)
)

// Open opens (creating when needed) the state of app and stage under the
// directory root. Options: state.WithLockTimeout.
func Open(root, app, stage string, opts ...state.Option) (*Backend, error) {
	return open(root, app, stage, state.NewOptions(opts...))
}

func open(root, app, stage string, o state.Options) (*Backend, error) {
	if err := state.ValidateName("app", app); err != nil {
		return nil, err
	}
	if err := state.ValidateName("stage", stage); err != nil {
		return nil, err
	}
	if root == "" {
		root = state.DefaultURL
	}
	b := &Backend{
		app: app, stage: stage,
		dir:  filepath.Join(root, app, stage),
		opts: o,
	}
	if err := mkdirDurable(b.dir); err != nil {
		return nil, fmt.Errorf("state/file: open %s/%s: %w", app, stage, err)
	}
	removeStaleTemps(b.dir)
	l, err := acquireLog(b.dir)
	if err != nil {
		return nil, fmt.Errorf("state/file: open %s/%s: %w", app, stage, err)
	}
	b.log, b.dirW = l, writerFor(b.dir)
	return b, nil
}

// Dir returns the stage's directory.
func (b *Backend) Dir() string { return b.dir }

func (b *Backend) check(ctx context.Context) error {
	if b.closed.Load() {
		return errors.New("state/file: backend is closed")
	}
	return ctx.Err()
}

// Get returns the record with key, or an error wrapping state.ErrNotFound.
func (b *Backend) Get(ctx context.Context, key string) (*state.Record, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	if err := state.ValidateKey(key); err != nil {
		return nil, err
	}
	data, ok, err := b.log.get(key)
	if err != nil {
		return nil, fmt.Errorf("state/file: get %q: %w", key, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s/%s %q", state.ErrNotFound, b.app, b.stage, key)
	}
	return b.decode(key, data)
}

// decode decodes the record of key from the log.
func (b *Backend) decode(key string, data []byte) (*state.Record, error) {
	r, err := state.DecodeRecord(data)
	if err != nil {
		return nil, fmt.Errorf("state/file: %s, record %q: %w", b.log.path, key, err)
	}
	if r.Key != key {
		return nil, fmt.Errorf("state/file: %s holds key %q under key %q", b.log.path, r.Key, key)
	}
	return r, nil
}

// readRecord reads a record file of layout version 1.
func readRecord(path string) (*state.Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := state.DecodeRecord(data)
	if err != nil {
		return nil, fmt.Errorf("state/file: %s: %w", path, err)
	}
	return r, nil
}

// Put writes r atomically and durably, replacing any record with its key.
// While the backend holds the stage lock, a broken lock refuses the write
// with an error wrapping state.ErrLockLost.
func (b *Backend) Put(ctx context.Context, r *state.Record) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	data, err := state.EncodeRecord(r)
	if err != nil {
		return err
	}
	// The group's leader fences the write (see stageLog.apply).
	if err := b.log.commit(&logOp{key: r.Key, data: data, lock: b.heldLock()}); err != nil {
		return fmt.Errorf("state/file: put %q: %w", r.Key, err)
	}
	return nil
}

// Delete removes the record with key durably; a missing record is not an
// error.
func (b *Backend) Delete(ctx context.Context, key string) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	if err := state.ValidateKey(key); err != nil {
		return err
	}
	if err := b.log.commit(&logOp{key: key, lock: b.heldLock()}); err != nil {
		return fmt.Errorf("state/file: delete %q: %w", key, err)
	}
	return nil
}

// List returns every record, sorted by Seq and then by Key.
func (b *Backend) List(ctx context.Context) ([]*state.Record, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	all, err := b.log.all()
	if err != nil {
		return nil, fmt.Errorf("state/file: list %s/%s: %w", b.app, b.stage, err)
	}
	keys := make([]string, 0, len(all))
	for key := range all {
		keys = append(keys, key)
	}
	// Decoding is most of a large stage's load: it runs on every CPU.
	recs := make([]*state.Record, len(keys))
	errs := make([]error, len(keys))
	par.For(len(keys), decodeChunk, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			recs[i], errs[i] = b.decode(keys[i], all[keys[i]])
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(recs, func(i, j int) bool {
		if recs[i].Seq != recs[j].Seq {
			return recs[i].Seq < recs[j].Seq
		}
		return recs[i].Key < recs[j].Key
	})
	return recs, nil
}

// decodeChunk is the fewest records a goroutine of List decodes: fewer
// cost more to hand over than to decode.
const decodeChunk = 256

// GetMeta returns the stage metadata, or state.NewMeta() when none was
// written.
func (b *Backend) GetMeta(ctx context.Context) (*state.Meta, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	path := filepath.Join(b.dir, metaFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return state.NewMeta(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("state/file: %w", err)
	}
	m, err := state.DecodeMeta(data)
	if err != nil {
		return nil, fmt.Errorf("state/file: %s: %w", path, err)
	}
	return m, nil
}

// PutMeta writes the stage metadata atomically and durably.
func (b *Backend) PutMeta(ctx context.Context, m *state.Meta) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	data, err := state.EncodeMeta(m)
	if err != nil {
		return err
	}
	if err := b.fence(); err != nil {
		return fmt.Errorf("state/file: put meta: %w", err)
	}
	if err := b.dirW.write(metaFile, data); err != nil {
		return fmt.Errorf("state/file: put meta: %w", err)
	}
	return nil
}

// Close releases the backend. Locks taken through it stay held until
// unlocked.
func (b *Backend) Close() error {
	if b.closed.CompareAndSwap(false, true) {
		releaseLog(b.log)
	}
	return nil
}

// Lock takes the stage lock for the run described by info, waiting up to
// the backend's lock timeout. When another run holds it, the error is a
// *state.LockedError naming that run.
func (b *Backend) Lock(ctx context.Context, info state.LockInfo) (state.Lock, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	return state.WaitLock(ctx, b.opts, info, b.tryLock)
}

// tryLock makes one attempt at the lock.
func (b *Backend) tryLock(info state.LockInfo) (state.Lock, error) {
	path := filepath.Join(b.dir, lockFile)
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("state/file: lock: %w", err)
		}
		ok, err := tryFlock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("state/file: lock %s: %w", path, err)
		}
		if !ok {
			f.Close()
			holder, err := b.readHolder()
			if err != nil && attempt < 5 {
				// The holder is between taking the lock and describing
				// itself, or between removing its description and
				// unlocking: look again shortly.
				time.Sleep(time.Duration(attempt+1) * time.Millisecond)
				continue
			}
			e := &state.LockedError{App: b.app, Stage: b.stage}
			if holder != nil {
				e.Holder = *holder
			}
			return nil, e
		}
		// A forced unlock may have removed the file we locked: the lock is
		// only ours if the path still names it.
		if !sameFile(f, path) {
			unflock(f)
			f.Close()
			continue
		}
		data, err := json.Marshal(info)
		if err == nil {
			err = b.dirW.write(holderFile, data)
		}
		if err != nil {
			unflock(f)
			f.Close()
			return nil, fmt.Errorf("state/file: lock: record holder: %w", err)
		}
		removeStaleTemps(b.dir)
		return b.newLock(f, info.ID), nil
	}
}

func sameFile(f *os.File, path string) bool {
	a, err1 := f.Stat()
	c, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, c)
}

func (b *Backend) readHolder() (*state.LockInfo, error) {
	data, err := os.ReadFile(filepath.Join(b.dir, holderFile))
	if err != nil {
		return nil, err
	}
	var h state.LockInfo
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// LockHolder returns who holds the stage lock, or nil when nobody does.
func (b *Backend) LockHolder(ctx context.Context) (*state.LockInfo, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(b.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state/file: %w", err)
	}
	defer f.Close()
	free, err := tryFlockShared(f)
	if err != nil {
		return nil, fmt.Errorf("state/file: %w", err)
	}
	if free {
		unflock(f)
		return nil, nil
	}
	h, err := b.readHolder()
	if err != nil {
		return &state.LockInfo{}, nil // held, holder not yet described
	}
	return h, nil
}

// ForceUnlock clears the lock of a holder that is gone. A process holding
// the flock is alive (the kernel drops the locks of dead processes), so
// without force it is refused with state.ErrHolderAlive; with force the lock
// file is removed, which lets the next run lock a new file; the old holder
// finds its lock lost at its next write or within LockCheckInterval (see
// the package documentation) — use it only for a holder known to be stuck.
func (b *Backend) ForceUnlock(ctx context.Context, force bool) (*state.LockInfo, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	path := filepath.Join(b.dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state/file: %w", err)
	}
	defer f.Close()
	holder, _ := b.readHolder()
	free, err := tryFlock(f)
	if err != nil {
		return nil, fmt.Errorf("state/file: %w", err)
	}
	if free {
		// Nobody holds it; a description left by a crashed holder is stale.
		os.Remove(filepath.Join(b.dir, holderFile))
		unflock(f)
		return holder, nil
	}
	if !force {
		e := &state.LockedError{App: b.app, Stage: b.stage}
		if holder != nil {
			e.Holder = *holder
		}
		return nil, fmt.Errorf("%w: %v; its process is running (check pid %d on host %s), stop it or force the unlock",
			state.ErrHolderAlive, e, e.Holder.PID, e.Holder.Host)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("state/file: force unlock: %w", err)
	}
	os.Remove(filepath.Join(b.dir, holderFile))
	if err := syncDir(b.dir); err != nil {
		return nil, fmt.Errorf("state/file: force unlock: %w", err)
	}
	if holder == nil {
		holder = &state.LockInfo{}
	}
	return holder, nil
}

// fileLock is a held flock.
type fileLock struct {
	b    *Backend
	f    *os.File
	fi   os.FileInfo // of f, when its Stat succeeded
	path string
	id   string
	stop chan struct{} // closed by Unlock
	done chan struct{} // watcher ended
	lost chan struct{} // closed with err set

	mu  sync.Mutex
	err error

	once      sync.Once
	unlockErr error
}

func (b *Backend) newLock(f *os.File, id string) *fileLock {
	l := &fileLock{b: b, f: f, path: filepath.Join(b.dir, lockFile), id: id,
		stop: make(chan struct{}), done: make(chan struct{}), lost: make(chan struct{})}
	if fi, err := f.Stat(); err == nil {
		l.fi = fi
	}
	b.mu.Lock()
	b.held = l
	b.mu.Unlock()
	go l.watch()
	return l
}

// watch checks every LockCheckInterval that the lock was not broken.
func (l *fileLock) watch() {
	defer close(l.done)
	t := time.NewTicker(LockCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		if l.check() != nil {
			return
		}
	}
}

// check returns Err, first declaring the lock lost if the lock file is no
// longer the one this holder locked.
func (l *fileLock) check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil && !l.current() {
		l.err = fmt.Errorf("%w: stage %s/%s: the lock file %s was removed or replaced (a forced unlock), so another run may hold the lock",
			state.ErrLockLost, l.b.app, l.b.stage, l.path)
		close(l.lost)
	}
	return l.err
}

// current reports whether the lock file's path still names the file this
// holder locked. The locked file's identity does not change while it is
// open, so it is read once, by newLock.
func (l *fileLock) current() bool {
	if l.fi == nil {
		return sameFile(l.f, l.path)
	}
	pi, err := os.Stat(l.path)
	return err == nil && os.SameFile(l.fi, pi)
}

// Lost returns a channel closed when the lock is found broken by a forced
// unlock; a flock never expires.
func (l *fileLock) Lost() <-chan struct{} { return l.lost }

// Err returns nil while the lock is held, and why it was lost (wrapping
// state.ErrLockLost) once Lost is closed.
func (l *fileLock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Unlock stops the watcher, ends the fencing of the backend's writes,
// removes the holder description and releases the flock. Calling it again
// does nothing.
func (l *fileLock) Unlock(ctx context.Context) error {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		l.b.mu.Lock()
		if l.b.held == l {
			l.b.held = nil
		}
		l.b.mu.Unlock()
		if h, err := l.b.readHolder(); err == nil && h.ID == l.id && sameFile(l.f, l.path) {
			os.Remove(filepath.Join(l.b.dir, holderFile))
		}
		if err := unflock(l.f); err != nil {
			l.unlockErr = fmt.Errorf("state/file: unlock: %w", err)
		}
		if err := l.f.Close(); err != nil && l.unlockErr == nil {
			l.unlockErr = fmt.Errorf("state/file: unlock: %w", err)
		}
	})
	return l.unlockErr
}

// mkdirDurable creates dir and its missing parents, syncing each parent so
// the new entries survive a crash.
func mkdirDurable(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirDurable(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

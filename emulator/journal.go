package emulator

import (
	"bytes"
	crand "crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bucket names of the bbolt database. Resources and requests are keyed by
// scope.journalKey; meta holds the layout version and the key that signs
// the session tokens the emulator's STS issues.
var (
	bucketResources = []byte("resources")
	bucketRequests  = []byte("requests")
	bucketMeta      = []byte("meta")
)

// Keys of the meta bucket.
var (
	metaLayout     = []byte("layout")
	metaSessionKey = []byte("session-key")
)

// layoutScoped is the database layout where every key of the resources and
// requests buckets begins with its account and region. Layout 1, before it,
// had no meta bucket and no scope in the keys: it held one account in one
// region.
const layoutScoped = "2"

// journalOp is one write: a put, or a delete when val is nil.
type journalOp struct {
	bucket []byte
	key    string
	val    []byte
}

// journal writes the in-memory store's changes to bbolt in the order they
// were made, grouping concurrent changes into one transaction. The store
// enqueues under its own lock (cheap) and waits for durability after
// releasing it, so no lock is held across an fsync.
type journal struct {
	db *bolt.DB
	// sessionKey signs session tokens; kept in the database so that
	// temporary credentials outlive a restart.
	sessionKey []byte

	mu        sync.Mutex
	cond      *sync.Cond
	queue     []journalOp
	enqueued  uint64
	committed uint64
	err       error
	closed    bool
	finished  bool
	kick      chan struct{}
	done      chan struct{}
}

// openJournal opens the database in dir, creating it when absent. A
// database of layout 1 is upgraded in place: its records belong to home,
// the scope the emulator served them in.
func openJournal(dir string, home scope) (*journal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("emulator: data directory: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "emulator.db"), 0o600, &bolt.Options{Timeout: 500 * time.Millisecond})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("emulator: open store in %s: %w (is another emulator using this directory?)", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("emulator: open store in %s: %w", dir, err)
	}
	var key []byte
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketResources, bucketRequests} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch v := meta.Get(metaLayout); {
		case v == nil:
			if err := upgradeToScoped(tx, home); err != nil {
				return err
			}
			if err := meta.Put(metaLayout, []byte(layoutScoped)); err != nil {
				return err
			}
		case string(v) != layoutScoped:
			return fmt.Errorf("database layout %q is not %s: written by another version of the emulator", v, layoutScoped)
		}
		if key = bytes.Clone(meta.Get(metaSessionKey)); len(key) == 0 {
			key = make([]byte, 32)
			crand.Read(key)
			return meta.Put(metaSessionKey, key)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("emulator: initialise store in %s: %w", dir, err)
	}
	j := &journal{db: db, sessionKey: key, kick: make(chan struct{}, 1), done: make(chan struct{})}
	j.cond = sync.NewCond(&j.mu)
	go j.run()
	return j, nil
}

// upgradeToScoped rewrites the records of a layout 1 database under the
// keys of home.
func upgradeToScoped(tx *bolt.Tx, home scope) error {
	for _, name := range [][]byte{bucketResources, bucketRequests} {
		b := tx.Bucket(name)
		type record struct{ k, v []byte }
		var old []record
		if err := b.ForEach(func(k, v []byte) error {
			old = append(old, record{bytes.Clone(k), bytes.Clone(v)})
			return nil
		}); err != nil {
			return err
		}
		for _, r := range old {
			if err := b.Delete(r.k); err != nil {
				return err
			}
			if err := b.Put([]byte(home.journalKey(string(r.k))), r.v); err != nil {
				return err
			}
		}
	}
	return nil
}

// load calls fn for every record of bucket.
func (j *journal) load(bucket []byte, fn func(key, val []byte) error) error {
	return j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(fn)
	})
}

// add queues writes and returns the sequence number to wait for.
func (j *journal) add(ops ...journalOp) uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return j.enqueued + 1 // never committed: wait reports the store closed
	}
	j.queue = append(j.queue, ops...)
	j.enqueued++
	select {
	case j.kick <- struct{}{}:
	default:
	}
	return j.enqueued
}

// wait blocks until the writes numbered up to seq are durable.
func (j *journal) wait(seq uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.committed < seq && j.err == nil && !j.finished {
		j.cond.Wait()
	}
	if j.err != nil {
		return j.err
	}
	if j.committed < seq {
		return errors.New("emulator: store closed")
	}
	return nil
}

func (j *journal) run() {
	defer close(j.done)
	for range j.kick {
		for {
			j.mu.Lock()
			ops, upTo := j.queue, j.enqueued
			j.queue = nil
			j.mu.Unlock()
			if len(ops) == 0 {
				break
			}
			err := j.db.Update(func(tx *bolt.Tx) error {
				for _, op := range ops {
					b := tx.Bucket(op.bucket)
					var err error
					if op.val == nil {
						err = b.Delete([]byte(op.key))
					} else {
						err = b.Put([]byte(op.key), op.val)
					}
					if err != nil {
						return err
					}
				}
				return nil
			})
			j.mu.Lock()
			if err != nil && j.err == nil {
				j.err = fmt.Errorf("emulator: write store: %w", err)
			}
			j.committed = upTo
			j.cond.Broadcast()
			j.mu.Unlock()
		}
	}
}

// close flushes pending writes and closes the database.
func (j *journal) close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	close(j.kick)
	j.mu.Unlock()
	<-j.done
	j.mu.Lock()
	j.finished = true
	j.cond.Broadcast()
	err := j.err
	j.mu.Unlock()
	if cerr := j.db.Close(); err == nil {
		err = cerr
	}
	return err
}

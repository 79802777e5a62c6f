// Package postgres is the team state backend: records, stage metadata and
// locks in a PostgreSQL database shared by every machine that deploys.
//
// The backend creates and migrates its own tables (all named athanor_*) on
// Open. Migrations run in order, each in one transaction under an advisory
// lock, and the applied versions are recorded in athanor_schema_migrations,
// so processes opening a database at once migrate it exactly once, and an
// older Athanor refuses a database migrated by a newer one.
//
// Records are rows of athanor_records keyed by (app, stage, key), holding the
// record JSON (jsonb, in the same format version as the file backend) beside
// indexed columns seq, scope, type and status. jsonb stores JSON normalised:
// object keys reordered and white space dropped; values and meaning are
// kept (compare records with state.Equal), and a NUL character (\u0000) in a
// string cannot be stored.
//
// The lock of an app and stage is a row of athanor_locks holding the holder's
// description, a lease (expires_at, in the database's clock, so machines'
// clocks need not agree) and a fencing token (generation, drawn from a
// sequence at every acquisition, so it is never reused). The holder renews
// the lease from a heartbeat goroutine every sixth of the lease; when the
// holder crashes or loses the database the lease runs out and the next run
// may take the lock.
//
// Fencing: while a Backend holds its stage lock, each of its writes (Put,
// Delete, PutMeta) is one statement that also locks the lock row FOR SHARE
// and applies only if that row still carries this acquisition's holder id
// and generation and an unexpired lease by the database's clock; otherwise
// nothing is written and the error wraps state.ErrLockLost. Since taking
// over a lock updates that row, a takeover waits for a fenced write in
// progress to commit, and a fenced write waits for a takeover in progress
// and then fails: the new holder reads every write the old one made, and
// the old one makes none after. Writes through a Backend that holds no lock
// are not fenced.
//
// Lock.Lost closes when the heartbeat finds the row taken or removed, when a
// fenced write is refused, or when no renewal has succeeded for three
// quarters of the lease by the holder's own monotonic clock (the renew
// deadline), counted from the moment the last successful renewal was sent:
// the holder gives up a quarter of a lease before the database's lease can
// end, however its connection is blocked, so it stops before another run
// can take over (as client-go's leader election does with its renew
// deadline). A clock that stops while the machine sleeps may delay that
// local verdict; the fence still refuses the writes.
//
// Importing this package registers it with state.Open for postgres:// and
// postgresql:// URLs.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athanor-dev/athanor/state"
)

func init() {
	state.Register("postgres", func(ctx context.Context, u *url.URL, app, stage string, o state.Options) (state.Backend, error) {
		return open(ctx, u.String(), app, stage, o)
	})
}

// migrations are the schema versions in order: migrations[i] takes the
// schema from version i to version i+1. Append only; never edit one that
// was released.
var migrations = []string{
	`CREATE TABLE athanor_records (
		app        text        NOT NULL,
		stage      text        NOT NULL,
		key        text        NOT NULL,
		scope      text        NOT NULL,
		seq        bigint      NOT NULL,
		type       text        NOT NULL,
		status     text        NOT NULL,
		record     jsonb       NOT NULL,
		updated_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (app, stage, key)
	);
	CREATE INDEX athanor_records_seq ON athanor_records (app, stage, seq);
	CREATE TABLE athanor_meta (
		app        text        NOT NULL,
		stage      text        NOT NULL,
		meta       jsonb       NOT NULL,
		updated_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (app, stage)
	);
	CREATE TABLE athanor_locks (
		app        text        NOT NULL,
		stage      text        NOT NULL,
		id         text        NOT NULL,
		host       text        NOT NULL,
		pid        integer     NOT NULL,
		operation  text        NOT NULL,
		since      timestamptz NOT NULL,
		expires_at timestamptz NOT NULL,
		PRIMARY KEY (app, stage)
	);`,
	// 2: fencing tokens.
	`CREATE SEQUENCE athanor_lock_generation;
	ALTER TABLE athanor_locks ADD COLUMN generation bigint NOT NULL DEFAULT 0;`,
}

// SchemaVersion is the database schema version this code migrates to.
var SchemaVersion = len(migrations)

// migrationLock is the advisory lock key serialising migrations
// (an arbitrary constant: "athanor" in ASCII).
const migrationLock = 0x617468616e6f72

// Migrate brings the database's athanor tables to SchemaVersion.
func Migrate(ctx context.Context, db *pgxpool.Pool) error {
	for {
		done, err := migrateStep(ctx, db)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the next migration in one transaction and reports
// whether the schema is current.
func migrateStep(ctx context.Context, db *pgxpool.Pool) (done bool, err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("state/postgres: migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return false, fmt.Errorf("state/postgres: migrate: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS athanor_schema_migrations (
		version    integer     PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return false, fmt.Errorf("state/postgres: migrate: %w", err)
	}
	var v int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM athanor_schema_migrations`).Scan(&v); err != nil {
		return false, fmt.Errorf("state/postgres: migrate: %w", err)
	}
	if v > SchemaVersion {
		return false, fmt.Errorf("state/postgres: the database schema is at version %d, newer than this Athanor knows (%d): upgrade Athanor", v, SchemaVersion)
	}
	if v == SchemaVersion {
		return true, tx.Commit(ctx)
	}
	if _, err := tx.Exec(ctx, migrations[v]); err != nil {
		return false, fmt.Errorf("state/postgres: migrate to schema version %d: %w", v+1, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO athanor_schema_migrations (version) VALUES ($1)`, v+1); err != nil {
		return false, fmt.Errorf("state/postgres: migrate to schema version %d: %w", v+1, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("state/postgres: migrate to schema version %d: %w", v+1, err)
	}
	return false, nil
}

// Backend is the state of one app and stage in a PostgreSQL database. It is
// safe for concurrent use.
type Backend struct {
	db         *pgxpool.Pool
	ownDB      bool
	app, stage string
	opts       state.Options

	mu   sync.Mutex
	held *pgLock // the lock taken through this backend, until Unlock
	// lostLock is set when a lock taken through this backend was lost:
	// the database may be unreachable, so Close does not wait for it.
	lostLock atomic.Bool
}

var (
	_ state.Backend     = (*Backend)(nil)
	_ state.LockManager = (*Backend)(nil)
)

// Open connects to the database at connString (a postgres:// URL or a
// key=value connection string, as pgx accepts), migrates it and returns the
// state of app and stage. Options: state.WithLockTimeout, state.WithLease.
func Open(ctx context.Context, connString, app, stage string, opts ...state.Option) (*Backend, error) {
	return open(ctx, connString, app, stage, state.NewOptions(opts...))
}

func open(ctx context.Context, connString, app, stage string, o state.Options) (*Backend, error) {
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("state/postgres: %s: %w", state.Redact(connString), err)
	}
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("state/postgres: connect: %w", err)
	}
	b, err := newBackend(ctx, db, app, stage, o)
	if err != nil {
		db.Close()
		return nil, err
	}
	b.ownDB = true
	return b, nil
}

// New returns the state of app and stage in the database of db, migrating
// it. Close leaves db open.
func New(ctx context.Context, db *pgxpool.Pool, app, stage string, opts ...state.Option) (*Backend, error) {
	return newBackend(ctx, db, app, stage, state.NewOptions(opts...))
}

func newBackend(ctx context.Context, db *pgxpool.Pool, app, stage string, o state.Options) (*Backend, error) {
	if err := state.ValidateName("app", app); err != nil {
		return nil, err
	}
	if err := state.ValidateName("stage", stage); err != nil {
		return nil, err
	}
	if err := Migrate(ctx, db); err != nil {
		return nil, err
	}
	return &Backend{db: db, app: app, stage: stage, opts: o}, nil
}

// Get returns the record with key, or an error wrapping state.ErrNotFound.
func (b *Backend) Get(ctx context.Context, key string) (*state.Record, error) {
	if err := state.ValidateKey(key); err != nil {
		return nil, err
	}
	var data []byte
	err := b.db.QueryRow(ctx, `SELECT record FROM athanor_records WHERE app = $1 AND stage = $2 AND key = $3`,
		b.app, b.stage, key).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s/%s %q", state.ErrNotFound, b.app, b.stage, key)
	}
	if err != nil {
		return nil, fmt.Errorf("state/postgres: get %q: %w", key, err)
	}
	r, err := state.DecodeRecord(data)
	if err != nil {
		return nil, fmt.Errorf("state/postgres: record %s/%s %q: %w", b.app, b.stage, key, err)
	}
	return r, nil
}

// Put writes r in one statement (its own transaction), replacing any record
// with its key. While the backend holds the stage lock, the statement
// applies only if the lock is still held (see the package documentation);
// otherwise the error wraps state.ErrLockLost.
func (b *Backend) Put(ctx context.Context, r *state.Record) error {
	data, err := state.EncodeRecord(r)
	if err != nil {
		return err
	}
	l, err := b.fence()
	if err != nil {
		return fmt.Errorf("state/postgres: put %q: %w", r.Key, err)
	}
	const upsert = `
		ON CONFLICT (app, stage, key) DO UPDATE SET
			scope = excluded.scope, seq = excluded.seq, type = excluded.type,
			status = excluded.status, record = excluded.record, updated_at = now()`
	if l == nil {
		_, err = b.db.Exec(ctx, `INSERT INTO athanor_records (app, stage, key, scope, seq, type, status, record, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())`+upsert,
			b.app, b.stage, r.Key, r.Scope, r.Seq, r.Type, string(r.Status), data)
		if err != nil {
			return fmt.Errorf("state/postgres: put %q: %w", r.Key, err)
		}
		return nil
	}
	tag, err := b.db.Exec(ctx, fenceCTE+`
		INSERT INTO athanor_records (app, stage, key, scope, seq, type, status, record, updated_at)
		SELECT $1::text, $2::text, $5::text, $6::text, $7::bigint, $8::text, $9::text, $10::jsonb, now() FROM fence`+upsert,
		b.app, b.stage, l.id, l.gen, r.Key, r.Scope, r.Seq, r.Type, string(r.Status), data)
	if err == nil && tag.RowsAffected() == 0 {
		err = l.refused(ctx)
	}
	if err != nil {
		return fmt.Errorf("state/postgres: put %q: %w", r.Key, err)
	}
	return nil
}

// fenceCTE selects the lock row of ($1, $2) FOR SHARE when it still belongs
// to the acquisition with holder id $3 and generation $4 and its lease has
// not run out: a fenced write applies to the rows of "fence", which are
// none once the lock is lost.
const fenceCTE = `WITH fence AS (
		SELECT 1 FROM athanor_locks
		WHERE app = $1 AND stage = $2 AND id = $3 AND generation = $4 AND expires_at >= clock_timestamp()
		FOR SHARE)`

// fence returns the lock this backend holds, nil when it holds none, or an
// error wrapping state.ErrLockLost when that lock is known to be lost
// already (by its heartbeat or by this process's clock).
func (b *Backend) fence() (*pgLock, error) {
	b.mu.Lock()
	l := b.held
	b.mu.Unlock()
	if l == nil {
		return nil, nil
	}
	if err := l.Check(); err != nil {
		return nil, err
	}
	return l, nil
}

// Delete removes the record with key; a missing record is not an error.
// While the backend holds the stage lock it is fenced as Put is.
func (b *Backend) Delete(ctx context.Context, key string) error {
	if err := state.ValidateKey(key); err != nil {
		return err
	}
	l, err := b.fence()
	if err != nil {
		return fmt.Errorf("state/postgres: delete %q: %w", key, err)
	}
	if l == nil {
		if _, err := b.db.Exec(ctx, `DELETE FROM athanor_records WHERE app = $1 AND stage = $2 AND key = $3`,
			b.app, b.stage, key); err != nil {
			return fmt.Errorf("state/postgres: delete %q: %w", key, err)
		}
		return nil
	}
	var held int
	err = b.db.QueryRow(ctx, fenceCTE+`,
		gone AS (DELETE FROM athanor_records WHERE app = $1 AND stage = $2 AND key = $5 AND EXISTS (SELECT 1 FROM fence))
		SELECT count(*) FROM fence`, b.app, b.stage, l.id, l.gen, key).Scan(&held)
	if err == nil && held == 0 {
		err = l.refused(ctx)
	}
	if err != nil {
		return fmt.Errorf("state/postgres: delete %q: %w", key, err)
	}
	return nil
}

// List returns every record of the stage, sorted by Seq and then by Key
// (byte order, whatever the database's collation).
func (b *Backend) List(ctx context.Context) ([]*state.Record, error) {
	rows, err := b.db.Query(ctx, `SELECT record FROM athanor_records WHERE app = $1 AND stage = $2
		ORDER BY seq, key COLLATE "C"`, b.app, b.stage)
	if err != nil {
		return nil, fmt.Errorf("state/postgres: list %s/%s: %w", b.app, b.stage, err)
	}
	defer rows.Close()
	var recs []*state.Record
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("state/postgres: list %s/%s: %w", b.app, b.stage, err)
		}
		r, err := state.DecodeRecord(data)
		if err != nil {
			return nil, fmt.Errorf("state/postgres: list %s/%s: %w", b.app, b.stage, err)
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state/postgres: list %s/%s: %w", b.app, b.stage, err)
	}
	return recs, nil
}

// GetMeta returns the stage metadata, or state.NewMeta() when none was
// written.
func (b *Backend) GetMeta(ctx context.Context) (*state.Meta, error) {
	var data []byte
	err := b.db.QueryRow(ctx, `SELECT meta FROM athanor_meta WHERE app = $1 AND stage = $2`, b.app, b.stage).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return state.NewMeta(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("state/postgres: get meta: %w", err)
	}
	m, err := state.DecodeMeta(data)
	if err != nil {
		return nil, fmt.Errorf("state/postgres: meta of %s/%s: %w", b.app, b.stage, err)
	}
	return m, nil
}

// PutMeta writes the stage metadata. While the backend holds the stage lock
// it is fenced as Put is.
func (b *Backend) PutMeta(ctx context.Context, m *state.Meta) error {
	data, err := state.EncodeMeta(m)
	if err != nil {
		return err
	}
	l, err := b.fence()
	if err != nil {
		return fmt.Errorf("state/postgres: put meta: %w", err)
	}
	const upsert = `
		ON CONFLICT (app, stage) DO UPDATE SET meta = excluded.meta, updated_at = now()`
	if l == nil {
		if _, err := b.db.Exec(ctx, `INSERT INTO athanor_meta (app, stage, meta, updated_at) VALUES ($1, $2, $3, now())`+upsert,
			b.app, b.stage, data); err != nil {
			return fmt.Errorf("state/postgres: put meta: %w", err)
		}
		return nil
	}
	tag, err := b.db.Exec(ctx, fenceCTE+`
		INSERT INTO athanor_meta (app, stage, meta, updated_at) SELECT $1::text, $2::text, $5::jsonb, now() FROM fence`+upsert,
		b.app, b.stage, l.id, l.gen, data)
	if err == nil && tag.RowsAffected() == 0 {
		err = l.refused(ctx)
	}
	if err != nil {
		return fmt.Errorf("state/postgres: put meta: %w", err)
	}
	return nil
}

// Close closes the connection pool when Open made it. Unlock held locks
// first: a lock left held expires with its lease. After a lock taken
// through the backend was lost, the pool is closed in the background rather
// than waited for: the database may be unreachable, and closing a
// connection that was busy waits for the server (pgx cancels its query).
func (b *Backend) Close() error {
	if !b.ownDB {
		return nil
	}
	if b.lostLock.Load() {
		go b.db.Close()
		return nil
	}
	b.db.Close()
	return nil
}

// Lock takes the stage lock for the run described by info, waiting up to
// the backend's lock timeout. While held, its lease is renewed every sixth
// of the lease (see the package documentation for when it counts as lost). When a live run holds it, the error is a *state.LockedError
// naming that run.
func (b *Backend) Lock(ctx context.Context, info state.LockInfo) (state.Lock, error) {
	return state.WaitLock(ctx, b.opts, info, func(info state.LockInfo) (state.Lock, error) { return b.tryLock(ctx, info) })
}

func (b *Backend) tryLock(ctx context.Context, info state.LockInfo) (state.Lock, error) {
	for attempt := 0; attempt < 3; attempt++ {
		// The lease is counted, by this process's clock, from before the
		// statement is sent: it never ends later here than in the database.
		sent := time.Now()
		var gen int64
		err := b.db.QueryRow(ctx, `INSERT INTO athanor_locks AS l (app, stage, id, host, pid, operation, since, expires_at, generation)
			VALUES ($1, $2, $3, $4, $5, $6, $7, clock_timestamp() + make_interval(secs => $8), nextval('athanor_lock_generation'))
			ON CONFLICT (app, stage) DO UPDATE SET
				id = excluded.id, host = excluded.host, pid = excluded.pid, operation = excluded.operation,
				since = excluded.since, expires_at = excluded.expires_at, generation = excluded.generation
			WHERE l.expires_at < clock_timestamp()
			RETURNING generation`,
			b.app, b.stage, info.ID, info.Host, info.PID, info.Operation, info.Since, b.opts.Lease.Seconds()).Scan(&gen)
		if err == nil {
			return b.newLock(info, gen, sent), nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("state/postgres: lock %s/%s: %w", b.app, b.stage, err)
		}
		h, err := b.holder(ctx, false)
		if err != nil {
			return nil, err
		}
		if h != nil {
			return nil, &state.LockedError{App: b.app, Stage: b.stage, Holder: h.LockInfo, Now: h.now}
		}
		// Released (or expired) in between: try again.
	}
	return nil, &state.LockedError{App: b.app, Stage: b.stage}
}

// holderRow is a lock row.
type holderRow struct {
	state.LockInfo
	gen  int64
	live bool      // lease not expired
	now  time.Time // the database's clock when read
}

// holder reads the lock row; with expired false, only a live one.
func (b *Backend) holder(ctx context.Context, expired bool) (*holderRow, error) {
	var h holderRow
	err := b.db.QueryRow(ctx, `SELECT id, host, pid, operation, since, expires_at, generation, clock_timestamp(), expires_at >= clock_timestamp()
		FROM athanor_locks WHERE app = $1 AND stage = $2`, b.app, b.stage).
		Scan(&h.ID, &h.Host, &h.PID, &h.Operation, &h.Since, &h.Expires, &h.gen, &h.now, &h.live)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !h.live && !expired {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state/postgres: read lock of %s/%s: %w", b.app, b.stage, err)
	}
	h.Since, h.Expires, h.now = h.Since.UTC(), h.Expires.UTC(), h.now.UTC()
	return &h, nil
}

// LockHolder returns who holds the stage lock, with when its lease ends
// (LockInfo.Expires), or nil when nobody does (no lock row, or its lease has
// expired).
func (b *Backend) LockHolder(ctx context.Context) (*state.LockInfo, error) {
	h, err := b.holder(ctx, false)
	if h == nil || err != nil {
		return nil, err
	}
	return &h.LockInfo, nil
}

// ForceUnlock removes the stage's lock row when its lease has expired (the
// holder stopped renewing it: it crashed or lost the database). While the
// lease is live the holder is alive, and ForceUnlock refuses with
// state.ErrHolderAlive unless force is true; a forced unlock of a live
// holder fences it off at once (its writes are refused, and its heartbeat
// closes its Lock.Lost, which stops an Athanor run).
func (b *Backend) ForceUnlock(ctx context.Context, force bool) (*state.LockInfo, error) {
	var h state.LockInfo
	err := b.db.QueryRow(ctx, `DELETE FROM athanor_locks WHERE app = $1 AND stage = $2
		AND ($3 OR expires_at < clock_timestamp())
		RETURNING id, host, pid, operation, since, expires_at`, b.app, b.stage, force).
		Scan(&h.ID, &h.Host, &h.PID, &h.Operation, &h.Since, &h.Expires)
	if err == nil {
		h.Since, h.Expires = h.Since.UTC(), h.Expires.UTC()
		return &h, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("state/postgres: force unlock %s/%s: %w", b.app, b.stage, err)
	}
	live, err := b.holder(ctx, false)
	if err != nil || live == nil {
		return nil, err
	}
	e := &state.LockedError{App: b.app, Stage: b.stage, Holder: live.LockInfo, Now: live.now}
	return nil, fmt.Errorf("%w: %v, and its lease is being renewed; stop that run (pid %d on host %s) or force the unlock",
		state.ErrHolderAlive, e, live.PID, live.Host)
}

// pgLock is a held lock and its heartbeat; its LeaseKeeper says whether
// it is still held (Lost, Err).
type pgLock struct {
	*state.LeaseKeeper
	b    *Backend
	id   string
	gen  int64 // fencing token of this acquisition
	stop context.CancelFunc
	done chan struct{} // heartbeat ended

	once      sync.Once
	unlockErr error
}

func (b *Backend) newLock(info state.LockInfo, gen int64, sent time.Time) *pgLock {
	ctx, cancel := context.WithCancel(context.Background())
	l := &pgLock{b: b, id: info.ID, gen: gen, stop: cancel, done: make(chan struct{}),
		LeaseKeeper: state.NewLeaseKeeper(b.app, b.stage, "the database", b.opts.Lease, sent, func() { b.lostLock.Store(true) })}
	b.mu.Lock()
	b.held = l
	b.mu.Unlock()
	go l.heartbeat(ctx)
	return l
}

// refused is called when the database refused a fenced write or a renewal:
// it finds out why, declares the lock lost and returns the error.
func (l *pgLock) refused(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var why string
	h, err := l.b.holder(ctx, true)
	switch {
	case err != nil:
		why = "the database no longer shows it held by this run"
	case h == nil:
		why = "its lock row was removed (a forced unlock)"
	case h.ID == l.id && h.gen != l.gen:
		why = "this run's lock was taken again by a later acquisition"
	case h.ID != l.id:
		why = fmt.Sprintf("run %s (pid %d on host %s, %s) holds it now", h.ID, h.PID, h.Host, h.Operation)
	default:
		why = "its lease ended at " + h.Expires.Format(time.RFC3339Nano) + " by the database's clock without a renewal"
	}
	return l.LoseBecause(why)
}

// heartbeat renews the lease until the lock is unlocked or lost; a renewal
// the database refuses (no row of this acquisition with a live lease) loses
// it, saying why.
func (l *pgLock) heartbeat(ctx context.Context) {
	defer close(l.done)
	l.Keep(ctx, func(rctx context.Context) error {
		tag, err := l.b.db.Exec(rctx, `UPDATE athanor_locks SET expires_at = clock_timestamp() + make_interval(secs => $5)
			WHERE app = $1 AND stage = $2 AND id = $3 AND generation = $4 AND expires_at >= clock_timestamp()`,
			l.b.app, l.b.stage, l.id, l.gen, l.b.opts.Lease.Seconds())
		switch {
		case err != nil:
			return err // unreachable: try again until the deadline
		case tag.RowsAffected() != 1:
			return l.refused(ctx)
		}
		return nil
	})
}

// Unlock stops the heartbeat, ends the fencing of the backend's writes and
// deletes the lock row if it is still this acquisition's. A lost lock's row
// is left alone (it is another's, gone, or expired), so that unlocking
// never waits on a database that may be unreachable. Calling it again does
// nothing.
func (l *pgLock) Unlock(ctx context.Context) error {
	l.once.Do(func() {
		l.stop()
		<-l.done
		l.b.mu.Lock()
		if l.b.held == l {
			l.b.held = nil
		}
		l.b.mu.Unlock()
		if l.Check() != nil {
			return
		}
		// Past the renew deadline the row no longer matters: do not wait on
		// an unreachable database beyond it.
		ctx, cancel := context.WithDeadline(ctx, l.Deadline())
		defer cancel()
		if _, err := l.b.db.Exec(ctx, `DELETE FROM athanor_locks WHERE app = $1 AND stage = $2 AND id = $3 AND generation = $4`,
			l.b.app, l.b.stage, l.id, l.gen); err != nil {
			l.unlockErr = fmt.Errorf("state/postgres: unlock %s/%s: %w", l.b.app, l.b.stage, err)
		}
	})
	return l.unlockErr
}

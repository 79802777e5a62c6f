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
// description and a lease (expires_at, in the database's clock, so machines'
// clocks need not agree). The holder renews the lease from a heartbeat
// goroutine every third of the lease; when the holder crashes or loses the
// database the lease runs out and the next run may take the lock. The Lock
// returned by Backend.Lock also has a Lost method whose channel closes if
// the heartbeat finds the lock taken away (a forced unlock).
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
// with its key.
func (b *Backend) Put(ctx context.Context, r *state.Record) error {
	data, err := state.EncodeRecord(r)
	if err != nil {
		return err
	}
	_, err = b.db.Exec(ctx, `INSERT INTO athanor_records (app, stage, key, scope, seq, type, status, record, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
		ON CONFLICT (app, stage, key) DO UPDATE SET
			scope = excluded.scope, seq = excluded.seq, type = excluded.type,
			status = excluded.status, record = excluded.record, updated_at = now()`,
		b.app, b.stage, r.Key, r.Scope, r.Seq, r.Type, string(r.Status), data)
	if err != nil {
		return fmt.Errorf("state/postgres: put %q: %w", r.Key, err)
	}
	return nil
}

// Delete removes the record with key; a missing record is not an error.
func (b *Backend) Delete(ctx context.Context, key string) error {
	if err := state.ValidateKey(key); err != nil {
		return err
	}
	if _, err := b.db.Exec(ctx, `DELETE FROM athanor_records WHERE app = $1 AND stage = $2 AND key = $3`,
		b.app, b.stage, key); err != nil {
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

// PutMeta writes the stage metadata.
func (b *Backend) PutMeta(ctx context.Context, m *state.Meta) error {
	data, err := state.EncodeMeta(m)
	if err != nil {
		return err
	}
	if _, err := b.db.Exec(ctx, `INSERT INTO athanor_meta (app, stage, meta, updated_at) VALUES ($1, $2, $3, now())
		ON CONFLICT (app, stage) DO UPDATE SET meta = excluded.meta, updated_at = now()`,
		b.app, b.stage, data); err != nil {
		return fmt.Errorf("state/postgres: put meta: %w", err)
	}
	return nil
}

// Close closes the connection pool when Open made it. Unlock held locks
// first: a lock left held expires with its lease.
func (b *Backend) Close() error {
	if b.ownDB {
		b.db.Close()
	}
	return nil
}

// Lock takes the stage lock for the run described by info, waiting up to
// the backend's lock timeout. While held, its lease is renewed every third
// of the lease. When a live run holds it, the error is a *state.LockedError
// naming that run.
func (b *Backend) Lock(ctx context.Context, info state.LockInfo) (state.Lock, error) {
	if info.Since.IsZero() {
		info.Since = time.Now().UTC().Truncate(time.Second)
	}
	if info.ID == "" {
		return nil, errors.New("state/postgres: lock holder has no ID (use state.NewLockInfo)")
	}
	return state.WaitLock(ctx, b.opts, func() (state.Lock, error) { return b.tryLock(ctx, info) })
}

func (b *Backend) tryLock(ctx context.Context, info state.LockInfo) (state.Lock, error) {
	for attempt := 0; attempt < 3; attempt++ {
		tag, err := b.db.Exec(ctx, `INSERT INTO athanor_locks AS l (app, stage, id, host, pid, operation, since, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, clock_timestamp() + make_interval(secs => $8))
			ON CONFLICT (app, stage) DO UPDATE SET
				id = excluded.id, host = excluded.host, pid = excluded.pid, operation = excluded.operation,
				since = excluded.since, expires_at = excluded.expires_at
			WHERE l.expires_at < clock_timestamp()`,
			b.app, b.stage, info.ID, info.Host, info.PID, info.Operation, info.Since, b.opts.Lease.Seconds())
		if err != nil {
			return nil, fmt.Errorf("state/postgres: lock %s/%s: %w", b.app, b.stage, err)
		}
		if tag.RowsAffected() == 1 {
			return b.newLock(info), nil
		}
		h, err := b.holder(ctx, false)
		if err != nil {
			return nil, err
		}
		if h != nil {
			return nil, &state.LockedError{App: b.app, Stage: b.stage, Holder: h.LockInfo}
		}
		// Released (or expired) in between: try again.
	}
	return nil, &state.LockedError{App: b.app, Stage: b.stage}
}

// holderRow is a lock row.
type holderRow struct {
	state.LockInfo
	live bool // lease not expired
}

// holder reads the lock row; with expired false, only a live one.
func (b *Backend) holder(ctx context.Context, expired bool) (*holderRow, error) {
	var h holderRow
	err := b.db.QueryRow(ctx, `SELECT id, host, pid, operation, since, expires_at >= clock_timestamp()
		FROM athanor_locks WHERE app = $1 AND stage = $2`, b.app, b.stage).
		Scan(&h.ID, &h.Host, &h.PID, &h.Operation, &h.Since, &h.live)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !h.live && !expired {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state/postgres: read lock of %s/%s: %w", b.app, b.stage, err)
	}
	h.Since = h.Since.UTC()
	return &h, nil
}

// LockHolder returns who holds the stage lock, or nil when nobody does (no
// lock row, or its lease has expired).
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
// holder makes its next heartbeat report the lock lost, but does not stop
// that run: use it only for a holder known to be stuck.
func (b *Backend) ForceUnlock(ctx context.Context, force bool) (*state.LockInfo, error) {
	var h state.LockInfo
	err := b.db.QueryRow(ctx, `DELETE FROM athanor_locks WHERE app = $1 AND stage = $2
		AND ($3 OR expires_at < clock_timestamp())
		RETURNING id, host, pid, operation, since`, b.app, b.stage, force).
		Scan(&h.ID, &h.Host, &h.PID, &h.Operation, &h.Since)
	if err == nil {
		h.Since = h.Since.UTC()
		return &h, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("state/postgres: force unlock %s/%s: %w", b.app, b.stage, err)
	}
	live, err := b.holder(ctx, false)
	if err != nil || live == nil {
		return nil, err
	}
	e := &state.LockedError{App: b.app, Stage: b.stage, Holder: live.LockInfo}
	return nil, fmt.Errorf("%w: %v, and its lease is being renewed; stop that run (pid %d on host %s) or force the unlock",
		state.ErrHolderAlive, e, live.PID, live.Host)
}

// pgLock is a held lock and its heartbeat.
type pgLock struct {
	b      *Backend
	id     string
	stop   context.CancelFunc
	done   chan struct{} // heartbeat ended
	lost   chan struct{}
	once   sync.Once
	err    error
	lostMu sync.Once
}

func (b *Backend) newLock(info state.LockInfo) *pgLock {
	ctx, cancel := context.WithCancel(context.Background())
	l := &pgLock{b: b, id: info.ID, stop: cancel, done: make(chan struct{}), lost: make(chan struct{})}
	go l.heartbeat(ctx)
	return l
}

// Lost returns a channel closed when the lock was found taken away from
// its holder (a forced unlock) or its lease ran out unrenewed.
func (l *pgLock) Lost() <-chan struct{} { return l.lost }

func (l *pgLock) heartbeat(ctx context.Context) {
	defer close(l.done)
	every := l.b.opts.Lease / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, every)
		tag, err := l.b.db.Exec(rctx, `UPDATE athanor_locks SET expires_at = clock_timestamp() + make_interval(secs => $4)
			WHERE app = $1 AND stage = $2 AND id = $3 AND expires_at >= clock_timestamp()`,
			l.b.app, l.b.stage, l.id, l.b.opts.Lease.Seconds())
		cancel()
		if err != nil {
			continue // the database is unreachable; retry until the lease is gone
		}
		if tag.RowsAffected() == 0 {
			l.lostMu.Do(func() { close(l.lost) })
			return
		}
	}
}

// Unlock stops the heartbeat and deletes the lock row if it is still this
// holder's. Calling it again does nothing.
func (l *pgLock) Unlock(ctx context.Context) error {
	l.once.Do(func() {
		l.stop()
		<-l.done
		if _, err := l.b.db.Exec(ctx, `DELETE FROM athanor_locks WHERE app = $1 AND stage = $2 AND id = $3`,
			l.b.app, l.b.stage, l.id); err != nil {
			l.err = fmt.Errorf("state/postgres: unlock %s/%s: %w", l.b.app, l.b.stage, err)
		}
	})
	return l.err
}

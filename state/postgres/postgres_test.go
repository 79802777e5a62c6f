package postgres_test

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athanor-dev/athanor/internal/netproxy"
	"github.com/athanor-dev/athanor/internal/pgtest"
	"github.com/athanor-dev/athanor/state"
	"github.com/athanor-dev/athanor/state/postgres"
	"github.com/athanor-dev/athanor/state/statetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testLease is short so that the crashed-holder test waits little, and long
// enough that a busy machine renews it in time.
const testLease = 4 * time.Second

func openPG(t *testing.T, url, app, stage string, opts ...state.Option) *postgres.Backend {
	t.Helper()
	b, err := postgres.Open(t.Context(), url, app, stage, append([]state.Option{state.WithLease(testLease)}, opts...)...)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	url := pgtest.URL(t)
	statetest.RunWith(t, func(t *testing.T, app, stage string) state.Backend {
		return openPG(t, url, app, stage)
	}, statetest.Hooks{Stall: func(t *testing.T, app, stage string) (state.Backend, func() func()) {
		p, u := proxied(t, url)
		return openPG(t, u, app, stage), func() func() { p.Pause(); return p.Resume }
	}})
}

// proxied starts a pausable proxy to the database of url and returns it
// with the URL that goes through it.
func proxied(t *testing.T, url string) (*netproxy.Proxy, string) {
	t.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	p, err := netproxy.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	u.Host = p.Addr()
	return p, u.String()
}

func TestOpenURL(t *testing.T) {
	url := pgtest.URL(t)
	for _, loc := range []string{url, strings.Replace(url, "postgres://", "postgresql://", 1)} {
		b, err := state.Open(t.Context(), loc, "app", "dev")
		if err != nil {
			t.Fatalf("state.Open(%q): %v", loc, err)
		}
		if _, ok := b.(*postgres.Backend); !ok {
			t.Errorf("state.Open(%q) = %T", loc, b)
		}
		b.Close()
	}
}

func schemaVersions(t *testing.T, url string) []int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT version FROM athanor_schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestMigrations: processes opening a fresh database at once migrate it
// once; an older Athanor refuses a newer schema.
func TestMigrations(t *testing.T) {
	url := pgtest.Database(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := postgres.Open(context.Background(), url, "app", fmt.Sprintf("s%d", i))
			if err == nil {
				err = b.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open of a fresh database: %v", err)
		}
	}
	vs := schemaVersions(t, url)
	if len(vs) != postgres.SchemaVersion || vs[len(vs)-1] != postgres.SchemaVersion {
		t.Fatalf("schema versions = %v, want 1..%d", vs, postgres.SchemaVersion)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `INSERT INTO athanor_schema_migrations (version) VALUES ($1)`, postgres.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(t.Context(), url, "app", "dev")
	if err == nil || !strings.Contains(err.Error(), "newer than this Athanor") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

// TestLeaseRenewed: a live holder keeps its lock past the lease it started
// with.
func TestLeaseRenewed(t *testing.T) {
	url := pgtest.URL(t)
	stage := fmt.Sprintf("lease-%d", time.Now().UnixNano())
	b := openPG(t, url, "app", stage, state.WithLease(2*time.Second))
	l, err := b.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock(context.Background())
	db, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var first time.Time
	if err := db.QueryRow(t.Context(), `SELECT expires_at FROM athanor_locks WHERE app = 'app' AND stage = $1`, stage).Scan(&first); err != nil {
		t.Fatal(err)
	}
	// Wait until the database's clock is past the first lease.
	for {
		var past bool
		if err := db.QueryRow(t.Context(), `SELECT clock_timestamp() > $1`, first).Scan(&past); err != nil {
			t.Fatal(err)
		}
		if past {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	other := openPG(t, url, "app", stage)
	if _, err := other.Lock(t.Context(), state.NewLockInfo("deploy")); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("Lock after the first lease ran out, holder alive: %v", err)
	}
	select {
	case <-l.Lost():
		t.Fatalf("live lock reported lost: %v", l.Err())
	default:
	}
}

// TestExpiredLease: a holder that stopped renewing (simulated by a lock row
// whose lease has run out) neither blocks Lock nor a plain ForceUnlock.
func TestExpiredLease(t *testing.T) {
	url := pgtest.URL(t)
	stage := fmt.Sprintf("expired-%d", time.Now().UnixNano())
	b := openPG(t, url, "app", stage)
	db, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	insertStale := func() {
		t.Helper()
		if _, err := db.Exec(t.Context(), `INSERT INTO athanor_locks (app, stage, id, host, pid, operation, since, expires_at)
			VALUES ('app', $1, 'dead-run', 'gone-host', 99, 'deploy', now() - interval '1 hour', now() - interval '1 minute')`, stage); err != nil {
			t.Fatal(err)
		}
	}
	insertStale()
	if h, err := b.LockHolder(t.Context()); err != nil || h != nil {
		t.Errorf("LockHolder with an expired lease = %+v, %v; want nil", h, err)
	}
	h, err := b.ForceUnlock(t.Context(), false)
	if err != nil || h == nil || h.ID != "dead-run" || h.Host != "gone-host" || h.PID != 99 {
		t.Fatalf("ForceUnlock of an expired lease = %+v, %v", h, err)
	}
	insertStale()
	l, err := b.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatalf("Lock over an expired lease: %v", err)
	}
	if err := l.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestLockLost: a forced unlock is noticed by the old holder's heartbeat.
func TestLockLost(t *testing.T) {
	url := pgtest.URL(t)
	stage := fmt.Sprintf("lost-%d", time.Now().UnixNano())
	b := openPG(t, url, "app", stage, state.WithLease(600*time.Millisecond))
	l, err := b.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ForceUnlock(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
	case <-t.Context().Done():
		t.Fatal("forced unlock never noticed")
	}
	if err := l.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestLockTimeout(t *testing.T) {
	url := pgtest.URL(t)
	stage := fmt.Sprintf("timeout-%d", time.Now().UnixNano())
	holder := openPG(t, url, "app", stage)
	l, err := holder.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	short := openPG(t, url, "app", stage, state.WithLockTimeout(150*time.Millisecond))
	_, err = short.Lock(t.Context(), state.NewLockInfo("deploy"))
	var le *state.LockedError
	if !errors.As(err, &le) || le.Holder.Operation != "deploy" {
		t.Fatalf("Lock with timeout while held: %v", err)
	}
	long := openPG(t, url, "app", stage, state.WithLockTimeout(time.Minute))
	got := make(chan error, 1)
	go func() {
		l2, err := long.Lock(context.Background(), state.NewLockInfo("deploy"))
		if err == nil {
			err = l2.Unlock(context.Background())
		}
		got <- err
	}()
	if err := l.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("waiting Lock: %v", err)
	}
}

// TestFenceInDatabase: the database refuses a holder's writes once the lock
// row is another acquisition's, even while the holder's own view (its
// heartbeat, its clock) still says it holds the lock.
func TestFenceInDatabase(t *testing.T) {
	url := pgtest.URL(t)
	stage := fmt.Sprintf("fence-%d", time.Now().UnixNano())
	rec := &state.Record{Key: "x", LogicalID: "x", Type: "AWS::Logs::LogGroup", Seq: 1, Status: state.StatusCreated, Identifier: "mine"}
	db, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct{ name, sql string }{
		{"a new generation of the same holder", `UPDATE athanor_locks SET generation = nextval('athanor_lock_generation') WHERE app = 'app' AND stage = $1`},
		{"a lease run out by the database's clock", `UPDATE athanor_locks SET expires_at = clock_timestamp() - interval '1 second' WHERE app = 'app' AND stage = $1`},
		{"another holder", `UPDATE athanor_locks SET id = 'other-run', host = 'elsewhere', pid = 7 WHERE app = 'app' AND stage = $1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := openPG(t, url, "app", stage, state.WithLease(time.Hour))
			l, err := b.Lock(t.Context(), state.NewLockInfo("deploy"))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Unlock(context.Background())
			if err := b.Put(t.Context(), rec); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(t.Context(), tc.sql, stage); err != nil {
				t.Fatal(err)
			}
			late := *rec
			late.Identifier = "late"
			err = b.Put(t.Context(), &late)
			if !errors.Is(err, state.ErrLockLost) {
				t.Fatalf("Put = %v, want state.ErrLockLost", err)
			}
			t.Logf("refused: %v", err)
			if got, err := b.Get(t.Context(), "x"); err != nil || got.Identifier != "mine" {
				t.Errorf("record after a refused Put = %+v, %v", got, err)
			}
			if err := b.Delete(t.Context(), "x"); !errors.Is(err, state.ErrLockLost) {
				t.Errorf("Delete = %v, want state.ErrLockLost", err)
			}
			if err := b.PutMeta(t.Context(), &state.Meta{NextSeq: 5}); !errors.Is(err, state.ErrLockLost) {
				t.Errorf("PutMeta = %v, want state.ErrLockLost", err)
			}
			if _, err := b.Get(t.Context(), "x"); err != nil {
				t.Errorf("a refused Delete removed the record: %v", err)
			}
			select {
			case <-l.Lost():
			default:
				t.Error("a refused write did not close Lost")
			}
			if _, err := db.Exec(t.Context(), `DELETE FROM athanor_locks WHERE app = 'app' AND stage = $1`, stage); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLockedLease: a refusal names when the holder's lease ends, by the
// database's clock; once it has ended (a dead holder not yet replaced), the
// holder is no longer reported.
func TestLockedLease(t *testing.T) {
	url := pgtest.URL(t)
	stage := fmt.Sprintf("leasemsg-%d", time.Now().UnixNano())
	b := openPG(t, url, "app", stage, state.WithLease(time.Minute))
	info := state.NewLockInfo("deploy")
	l, err := b.Lock(t.Context(), info)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock(context.Background())
	_, err = openPG(t, url, "app", stage).Lock(t.Context(), state.NewLockInfo("deploy"))
	var le *state.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Lock of a held stage: %v", err)
	}
	left := le.Holder.Expires.Sub(le.Now)
	if left <= 0 || left > time.Minute {
		t.Errorf("lease ends %v after the refusal, want within the minute's lease", left)
	}
	want := "its lease ends at " + le.Holder.Expires.Format(time.RFC3339) + " (in "
	if !strings.Contains(err.Error(), want) {
		t.Errorf("message %q lacks %q", err, want)
	}
	h, err := b.LockHolder(t.Context())
	if err != nil || h == nil || !h.Expires.Equal(le.Holder.Expires) {
		t.Errorf("LockHolder = %+v, %v; want the lease end %v", h, err, le.Holder.Expires)
	}
}

package pgtest_test

import (
	"context"
	"testing"

	"github.com/athanor-dev/athanor/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func query(t *testing.T, url, sql string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestSharedCluster(t *testing.T) {
	url := pgtest.URL(t)
	if got := query(t, url, "SELECT current_user"); got != "postgres" {
		t.Errorf("current_user = %q", got)
	}
	if pgtest.URL(t) != url {
		t.Error("URL started a second cluster")
	}
}

func TestDatabase(t *testing.T) {
	a, b := pgtest.Database(t), pgtest.Database(t)
	if a == b {
		t.Fatalf("two databases share URL %s", a)
	}
	if da, db := query(t, a, "SELECT current_database()"), query(t, b, "SELECT current_database()"); da == db || da == "postgres" {
		t.Errorf("databases %q and %q", da, db)
	}
}

func TestStartStop(t *testing.T) {
	pgtest.URL(t) // skips, or fails in CI, when PostgreSQL is missing
	c, err := pgtest.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := query(t, c.URL, "SHOW fsync"); got != "on" {
		t.Errorf("fsync = %q", got)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if conn, err := pgx.Connect(ctx, c.URL); err == nil {
		conn.Close(ctx)
		t.Error("server still accepts connections after Stop")
	}
}

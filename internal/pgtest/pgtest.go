// Package pgtest starts throwaway PostgreSQL clusters for tests: initdb into
// a temporary directory, pg_ctl start on a free loopback port with the unix
// socket in that directory, and removal when done.
//
// Tests normally share one cluster per test binary:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		url := pgtest.URL(t) // skips when PostgreSQL is not installed
//		...
//	}
//
// The server binaries (initdb, pg_ctl, postgres) are looked up in
// $ATHANOR_PG_BIN, then on PATH, then in /usr/lib/postgresql/<version>/bin
// (Debian's postgresql package; the highest version wins). When they are
// absent, URL skips the test, saying how to install them, unless the CI
// environment variable is set, in which case it fails: CI must run these
// tests.
//
// PostgreSQL refuses to run as root. When the tests run as root, the server
// runs as the "postgres" system user (created by Debian's package), or
// "nobody" when there is none, and the cluster directory is given to that
// user.
//
// Setting ATHANOR_TEST_POSTGRES_URL makes URL return it instead of starting
// a cluster: a way to test against an existing server (tests create tables
// there). The shared cluster exports its URL in that variable too, so that
// helper processes the tests start (re-executed test binaries) connect to
// the same server.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names an existing server to use instead of starting one.
const EnvURL = "ATHANOR_TEST_POSTGRES_URL"

// EnvBin names a directory holding initdb and pg_ctl.
const EnvBin = "ATHANOR_PG_BIN"

// ErrNotInstalled reports that the PostgreSQL server binaries were not found.
var ErrNotInstalled = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found in $" + EnvBin + ", on PATH or in /usr/lib/postgresql/*/bin; install them (Debian/Ubuntu: apt-get install postgresql) to run the PostgreSQL tests")

// Cluster is a running throwaway PostgreSQL cluster.
type Cluster struct {
	// URL connects to the cluster's "postgres" database as the superuser
	// "postgres", over TCP on 127.0.0.1.
	URL string
	// Port is the TCP port the server listens on.
	Port int

	dir, data, pgctl string
	user             *runAs // nil when not root
}

// FindBin returns the directory holding initdb and pg_ctl.
func FindBin() (string, error) {
	if d := os.Getenv(EnvBin); d != "" {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
		return "", fmt.Errorf("$%s=%s holds no initdb and pg_ctl", EnvBin, d)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if resolved, err := filepath.EvalSymlinks(p); err == nil {
			p = resolved
		}
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

// version is the major version in a /usr/lib/postgresql/<v>/bin path.
func version(dir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
	return v
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Start initialises and starts a cluster in a new temporary directory. Stop
// it with Stop.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := FindBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "athanor-pgtest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, data: filepath.Join(dir, "data"), pgctl: filepath.Join(bin, "pg_ctl")}
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()
	if c.user, err = serverUser(); err != nil {
		return nil, err
	}
	if err := c.user.own(dir); err != nil {
		return nil, fmt.Errorf("pgtest: give %s to the server user: %w", dir, err)
	}
	if out, err := c.run(ctx, filepath.Join(bin, "initdb"), "-D", c.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		logFile := filepath.Join(dir, "server.log")
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=300 -c fsync=on", port, dir)
		out, err := c.run(ctx, c.pgctl, "-D", c.data, "-l", logFile, "-w", "-t", "120", "-o", opts, "start")
		if err == nil {
			c.Port = port
			break
		}
		log, _ := os.ReadFile(logFile)
		if attempt < 3 && strings.Contains(string(log), "could not bind") {
			continue // the port was taken meanwhile
		}
		return nil, fmt.Errorf("pgtest: pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
	if err := ping(ctx, c.URL); err != nil {
		return nil, fmt.Errorf("pgtest: server started but refuses connections: %w", err)
	}
	ok = true
	return c, nil
}

func ping(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// run runs a server binary as the server user, in the cluster directory.
func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	c.user.apply(cmd)
	return cmd.CombinedOutput()
}

// Stop stops the server and removes the cluster directory.
func (c *Cluster) Stop() error {
	var err error
	if _, statErr := os.Stat(filepath.Join(c.data, "postmaster.pid")); statErr == nil {
		var out []byte
		out, err = c.run(context.Background(), c.pgctl, "-D", c.data, "-m", "fast", "-w", "-t", "60", "stop")
		if err != nil {
			err = fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", err, out)
		}
	}
	if rmErr := os.RemoveAll(c.dir); err == nil && rmErr != nil {
		err = rmErr
	}
	return err
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var shared struct {
	once    sync.Once
	url     string
	err     error
	cluster *Cluster // nil when EnvURL was given
}

// URL returns the URL of the shared cluster, starting it on first use. When
// PostgreSQL is not installed it skips t (fails it when $CI is set); when it
// is installed but does not start, it fails t.
func URL(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			shared.url = u
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		c, err := Start(ctx)
		if err != nil {
			shared.err = err
			return
		}
		shared.cluster, shared.url = c, c.URL
		os.Setenv(EnvURL, c.URL) // for helper processes
	})
	switch {
	case errors.Is(shared.err, ErrNotInstalled) && os.Getenv("CI") == "":
		t.Skip(shared.err)
	case shared.err != nil:
		t.Fatal(shared.err)
	}
	return shared.url
}

// New starts a cluster for t alone and stops it when t ends, returning its
// URL; for test packages that cannot use Main. It skips or fails t as URL
// does when PostgreSQL is missing.
func New(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Start(ctx)
	switch {
	case errors.Is(err, ErrNotInstalled) && os.Getenv("CI") == "":
		t.Skip(err)
	case err != nil:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return c.URL
}

// Database creates a fresh database on the shared cluster (see URL) for t
// alone, dropping it when t ends, and returns its URL.
func Database(t testing.TB) string {
	t.Helper()
	base := URL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database: %v", err)
		}
	})
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(base, "/"+cfg.Database+"?", "/"+name+"?", 1)
}

// Main runs the tests of m and then stops the shared cluster, if one was
// started. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared.cluster != nil {
		if err := shared.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

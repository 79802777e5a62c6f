package teamstate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/athanor-dev/athanor/emulator"
	"github.com/athanor-dev/athanor/internal/pgtest"
	"github.com/athanor-dev/athanor/state"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The lock options of a run, as the tests pass them to athanor.Main:
// --lock-timeout waits for a held stage lock instead of failing at once
// (Config.LockTimeout), and ATHANOR_LOCK_LEASE sets how long a run's
// PostgreSQL lock outlives its last heartbeat (Config.LockLease). The lease
// must be short here, or a killed run would block the stage for
// state.DefaultLease (30 s).
const (
	flagLockTimeout = "--lock-timeout"
	envLockLease    = "ATHANOR_LOCK_LEASE"
	testLease       = 4 * time.Second
)

// exampleApp and exampleBases describe examples/jobtemplates: its app name
// and its records, logical id → the base of the JobTemplateId it derives per
// stage (app.PhysicalName: "<base>-<stage>").
const exampleApp = "jobtemplates"

var exampleBases = map[string]string{
	"basicJobTemplate":        "device-update-template",
	"advancedJobTemplate":     "maintenance-job-template",
	"presignedUrlJobTemplate": "presigned-url-job-template",
	"rolloutJobTemplate":      "rollout-job-template",
}

// exampleTemplates returns the example's records in stage: logical id →
// JobTemplateId.
func exampleTemplates(stage string) map[string]string {
	out := map[string]string{}
	for k, base := range exampleBases {
		out[k] = base + "-" + stage
	}
	return out
}

// exampleIDs are the example's JobTemplateIds in stage, sorted.
func exampleIDs(stage string) []string {
	var ids []string
	for _, id := range exampleTemplates(stage) {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// TestTeamState runs the acceptance of issue 6 with real processes: the
// example program and the athanor command, built once, deploy against an
// emulator on loopback with their state in a throwaway PostgreSQL cluster.
func TestTeamState(t *testing.T) {
	pgtest.URL(t) // skips before building when PostgreSQL is absent
	bins := build(t)
	t.Run("DeployWithPostgresState", func(t *testing.T) { testDeployWithPostgresState(t, bins) })
	t.Run("SecondRunRefusedNamingHolder", func(t *testing.T) { testSecondRunRefused(t, bins) })
	t.Run("KilledHolderBlocksOnlyForItsLease", func(t *testing.T) { testKilledHolder(t, bins) })
	t.Run("StagesAtOnce", func(t *testing.T) { testStagesAtOnce(t, bins) })
	t.Run("MigrateRoundTrip", func(t *testing.T) { testMigrateRoundTrip(t, bins) })
}

// testDeployWithPostgresState: the example deploys with --state
// postgres://..., its records are rows in PostgreSQL, and a second run
// (state named by ATHANOR_STATE this time) makes no mutating call.
func testDeployWithPostgresState(t *testing.T, bins binaries) {
	db := pgtest.Database(t)
	c := newCloud(t, emulator.Instant())
	dir := t.TempDir()

	first := run(t, spec{bin: bins.jobTemplates, dir: dir, args: []string{"--target", c.url, "--state", db}})
	first.succeeded()
	if !strings.Contains(first.stdout.String(), "4 created") {
		t.Errorf("first run did not report 4 created:\n%s", first.stdout)
	}
	readStage(t, db, exampleApp, "dev").settled(t, exampleTemplates("dev"))
	if n := countRows(t, db, exampleApp, "dev"); n != len(exampleBases) {
		t.Errorf("athanor_records holds %d rows of %s/dev, want %d", n, exampleApp, len(exampleBases))
	}
	if _, err := os.Stat(filepath.Join(dir, ".athanor")); !os.IsNotExist(err) {
		t.Errorf("a run with PostgreSQL state wrote a local .athanor directory (stat: %v)", err)
	}
	if got := c.templates(); !slices.Equal(got, exampleIDs("dev")) {
		t.Fatalf("emulator holds %v, want %v", got, exampleIDs("dev"))
	}

	mutations, requests := c.mutations(), c.requests()
	second := run(t, spec{bin: bins.jobTemplates, dir: dir, args: []string{"--target", c.url},
		env: []string{"ATHANOR_STATE=" + db}})
	second.succeeded()
	if !strings.Contains(second.stdout.String(), "4 unchanged") {
		t.Errorf("second run did not report 4 unchanged:\n%s", second.stdout)
	}
	if got := c.mutations(); got != mutations {
		t.Errorf("second run made %d mutating calls, want 0", got-mutations)
	}
	if got := c.requests(); got != requests || got != len(exampleBases) {
		t.Errorf("ListResourceRequests lists %d requests after the second run, %d before; want %d", got, requests, len(exampleBases))
	}
	readStage(t, db, exampleApp, "dev").settled(t, exampleTemplates("dev"))
}

// countRows counts the rows of app and stage in athanor_records.
func countRows(t *testing.T, db, app, stage string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM athanor_records WHERE app = $1 AND stage = $2`, app, stage).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// leaseLeft is how long the lock row of app and stage remains live, in the
// database's clock.
func leaseLeft(t *testing.T, db, app, stage string) time.Duration {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var secs float64
	if err := conn.QueryRow(ctx, `SELECT extract(epoch FROM expires_at - clock_timestamp())::float8 FROM athanor_locks WHERE app = $1 AND stage = $2`,
		app, stage).Scan(&secs); err != nil {
		t.Fatalf("lock row of %s/%s: %v", app, stage, err)
	}
	return time.Duration(secs * float64(time.Second))
}

// lockedBy checks that stderr reports the stage locked by process pid of
// this host for a deploy since a time in [from, to], and when the holder's
// lease ends: after it began and within the lease given to runs (the
// default, or testLease).
func lockedBy(t *testing.T, stderr, app, stage string, pid int, from, to time.Time) {
	t.Helper()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`stage ` + regexp.QuoteMeta(app+"/"+stage) + ` is locked by run [0-9a-f]{8}… ` +
		regexp.QuoteMeta(fmt.Sprintf("(pid %d on host %s, deploy)", pid, host)) + ` since ([0-9TZ:-]+); its lease ends at ([0-9TZ:-]+) \(in [0-9hms.]+\) unless the holder renews it`)
	m := re.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("the refused run's error does not name the holder (pid %d on host %s, deploy, since ...) and when its lease ends:\n%s", pid, host, stderr)
	}
	since, err := time.Parse(time.RFC3339, m[1])
	if err != nil {
		t.Fatalf("since %q: %v", m[1], err)
	}
	if since.Before(from.Truncate(time.Second)) || since.After(to) {
		t.Errorf("holder since %v, want between the holder's start %v and %v", since, from, to)
	}
	ends, err := time.Parse(time.RFC3339, m[2])
	if err != nil {
		t.Fatalf("lease end %q: %v", m[2], err)
	}
	if !ends.After(since) || ends.After(to.Add(state.DefaultLease+time.Second)) {
		t.Errorf("holder's lease ends at %v, want after its start %v and within a lease of %v", ends, since, to)
	}
}

// testSecondRunRefused: while a slow deploy holds the stage, a second
// process on the same stage is refused at once, naming the holder's host,
// pid and start, and force-unlock refuses as the holder is alive; the
// first run completes and the lock is released.
func testSecondRunRefused(t *testing.T, bins binaries) {
	db := pgtest.Database(t)
	c := newCloud(t, emulator.Options{Latency: emulator.Latency{Create: emulator.Fixed(3 * time.Second)}})
	dir := t.TempDir()
	args := []string{"--target", c.url, "--state", db}

	first := start(t, spec{bin: bins.jobTemplates, dir: dir, args: args})
	first.waitStdout("creating ") // the stage lock is taken before any resource starts

	second := run(t, spec{bin: bins.jobTemplates, dir: dir, args: args})
	lockedBy(t, second.failed(), exampleApp, "dev", first.pid(), first.started, time.Now())
	if strings.Contains(second.stdout.String(), "creating") {
		t.Errorf("the refused run started resources:\n%s", second.stdout)
	}

	unlock := run(t, spec{bin: bins.athanor, dir: dir, args: []string{"state", "force-unlock", "--app", exampleApp, "--stage", "dev", "--state", db}})
	msg := unlock.failed()
	if !strings.Contains(msg, "still alive") || !strings.Contains(msg, fmt.Sprintf("pid %d", first.pid())) {
		t.Errorf("force-unlock of a live holder: want a refusal naming pid %d as alive, got:\n%s", first.pid(), msg)
	}
	first.running("while its lock was contested: the second run must be refused while the first holds the stage")

	first.succeeded()
	if !strings.Contains(first.stdout.String(), "4 created") {
		t.Errorf("first run did not report 4 created:\n%s", first.stdout)
	}
	if n := c.count("CreateResource"); n != len(exampleBases) {
		t.Errorf("the emulator received %d CreateResource requests, want %d (the refused run must not create)", n, len(exampleBases))
	}
	readStage(t, db, exampleApp, "dev").settled(t, exampleTemplates("dev"))

	mutations := c.mutations()
	third := run(t, spec{bin: bins.jobTemplates, dir: dir, args: args})
	third.succeeded()
	if got := c.mutations(); got != mutations {
		t.Errorf("a run after the holder finished made %d mutating calls, want 0", got-mutations)
	}
}

// testKilledHolder: a deploy SIGKILLed while its creates are in flight
// keeps the stage locked only until its lease runs out: a run right after
// the kill is refused naming the dead process, a run with --lock-timeout
// waits, takes the lock and completes the deploy, and the stage ends
// consistent: each template exists once, created by one request, and is
// recorded once.
func testKilledHolder(t *testing.T, bins binaries) {
	db := pgtest.Database(t)
	c := newCloud(t, emulator.Options{Latency: emulator.Latency{Create: emulator.Fixed(2 * time.Second)}})
	dir := t.TempDir()
	args := []string{"--target", c.url, "--state", db}
	env := []string{envLockLease + "=" + testLease.String()}

	victim := start(t, spec{bin: bins.jobTemplates, dir: dir, args: args, env: env})
	victim.waitStdout("creating ")
	c.waitCount("CreateResource", len(exampleBases)) // every create is in flight
	victim.kill()
	killed := time.Now()
	// The dead run's lock outlives it by at most the lease it was given.
	if left := leaseLeft(t, db, exampleApp, "dev"); left <= 0 || left > testLease {
		t.Fatalf("the killed run's lock has %v of lease left, want some of the %v it was given by %s", left, testLease, envLockLease)
	}

	refused := run(t, spec{bin: bins.jobTemplates, dir: dir, args: args, env: env})
	lockedBy(t, refused.failed(), exampleApp, "dev", victim.pid(), victim.started, killed)

	waiter := run(t, spec{bin: bins.jobTemplates, dir: dir, args: append([]string{flagLockTimeout, "1m"}, args...), env: env})
	waiter.succeeded()
	// A person is told why the run does not start: who holds the lock.
	if out := waiter.stdout.String(); !strings.Contains(out, "Waiting up to 1m0s: stage jobtemplates/dev is locked") ||
		!strings.Contains(out, fmt.Sprintf("pid %d", victim.pid())) {
		t.Errorf("the waiting run did not say whose lock it waits for:\n%s", out)
	}
	t.Logf("the waiting run finished %v after the kill (lease %v)", time.Since(killed).Round(time.Millisecond), testLease)

	if got := c.templates(); !slices.Equal(got, exampleIDs("dev")) {
		t.Errorf("emulator holds %v, want each of %v once", got, exampleIDs("dev"))
	}
	if n := c.requests(); n != len(exampleBases) {
		t.Errorf("ListResourceRequests lists %d requests, want %d (one create per template; a resumed create polls or repeats its ClientToken)", n, len(exampleBases))
	}
	readStage(t, db, exampleApp, "dev").settled(t, exampleTemplates("dev"))

	mutations := c.mutations()
	again := run(t, spec{bin: bins.jobTemplates, dir: dir, args: args, env: env})
	again.succeeded()
	if got := c.mutations(); got != mutations {
		t.Errorf("a run after the recovery made %d mutating calls, want 0", got-mutations)
	}
}

// testStagesAtOnce: two processes deploy different stages of one app at
// once, their state in one PostgreSQL database, and both succeed.
func testStagesAtOnce(t *testing.T, bins binaries) {
	// A team's shared target: one external emulator (one account) that both
	// runs reach by --target. The stages program names its template after
	// the stage, so the stages do not collide in the account.
	t.Run("SharedEmulator", func(t *testing.T) {
		db := pgtest.Database(t)
		c := newCloud(t, emulator.Options{Latency: emulator.Latency{Create: emulator.Fixed(2 * time.Second)}})
		dir := t.TempDir()
		alice := start(t, spec{bin: bins.stages, dir: dir, args: []string{"--stage", "alice", "--target", c.url, "--state", db}})
		alice.waitStdout("creating ")
		bob := start(t, spec{bin: bins.stages, dir: dir, args: []string{"--stage", "bob", "--target", c.url, "--state", db}})
		bob.waitStdout("creating ")
		alice.running("before the second stage started its resource: the runs did not overlap")
		alice.succeeded()
		bob.succeeded()
		readStage(t, db, "teamstate", "alice").settled(t, map[string]string{"template": "teamstate-alice"})
		readStage(t, db, "teamstate", "bob").settled(t, map[string]string{"template": "teamstate-bob"})
		if got, want := c.templates(), []string{"teamstate-alice", "teamstate-bob"}; !slices.Equal(got, want) {
			t.Errorf("emulator holds %v, want %v", got, want)
		}
	})

	// The example itself, with the stages in different accounts (one
	// emulator each), as its fixed JobTemplateIds require.
	t.Run("ExampleOneAccountPerStage", func(t *testing.T) {
		db := pgtest.Database(t)
		slow := emulator.Options{Latency: emulator.Latency{Create: emulator.Fixed(2 * time.Second)}}
		dev, prod := newCloud(t, slow), newCloud(t, slow)
		dir := t.TempDir()
		a := start(t, spec{bin: bins.jobTemplates, dir: dir, args: []string{"--stage", "dev", "--target", dev.url, "--state", db}})
		a.waitStdout("creating ")
		b := start(t, spec{bin: bins.jobTemplates, dir: dir, args: []string{"--stage", "prod", "--target", prod.url, "--state", db}})
		b.waitStdout("creating ")
		a.running("before the second stage started its resources: the runs did not overlap")
		a.succeeded()
		b.succeeded()
		for _, s := range []string{"dev", "prod"} {
			readStage(t, db, exampleApp, s).settled(t, exampleTemplates(s))
		}
		for s, c := range map[string]*cloud{"dev": dev, "prod": prod} {
			if got := c.templates(); !slices.Equal(got, exampleIDs(s)) {
				t.Errorf("emulator holds %v, want %v", got, exampleIDs(s))
			}
		}
	})

	// The default target: each process starts the embedded emulator with
	// its data under .athanor/local in its working directory, a bbolt file
	// that admits one process at a time. Two runs of different stages in
	// one directory must not contend for it. The first run holds its run
	// (and its emulator) open while the second deploys another stage.
	t.Run("DefaultLocalTarget", func(t *testing.T) {
		db := pgtest.Database(t)
		dir := t.TempDir()
		alice := start(t, spec{bin: bins.stages, dir: dir, args: []string{"--stage", "alice", "--state", db},
			env: []string{"TEAMSTATE_HOLD=1"}, hold: true})
		alice.waitStdout("holding")
		bob := run(t, spec{bin: bins.stages, dir: dir, args: []string{"--stage", "bob", "--state", db}})
		alice.running("while the second stage deployed")
		alice.release()
		alice.succeeded()
		bob.succeeded()
		readStage(t, db, "teamstate", "alice").settled(t, map[string]string{"template": "teamstate-alice"})
		readStage(t, db, "teamstate", "bob").settled(t, map[string]string{"template": "teamstate-bob"})
	})
}

// testMigrateRoundTrip: athanor state migrate copies the example's file
// state to PostgreSQL and back to a fresh directory with identical records
// and metadata, and deploys from the migrated states make no mutating
// call.
func testMigrateRoundTrip(t *testing.T, bins binaries) {
	db := pgtest.Database(t)
	c := newCloud(t, emulator.Instant())
	dir := t.TempDir()
	files, back := filepath.Join(t.TempDir(), "state"), filepath.Join(t.TempDir(), "state")

	run(t, spec{bin: bins.jobTemplates, dir: dir, args: []string{"--target", c.url, "--state", files}}).succeeded()
	orig := readStage(t, files, exampleApp, "dev")
	orig.settled(t, exampleTemplates("dev"))

	migrate := func(from, to string) {
		t.Helper()
		p := run(t, spec{bin: bins.athanor, dir: dir, args: []string{"state", "migrate", "--app", exampleApp, "--stage", "dev", "--from", from, "--to", to}})
		p.succeeded()
		if want := fmt.Sprintf("migrated %d record(s)", len(exampleBases)); !strings.Contains(p.stdout.String(), want) {
			t.Errorf("migrate printed %q, want %q", p.stdout, want)
		}
	}
	migrate(files, db)
	if err := sameStage(orig, readStage(t, db, exampleApp, "dev")); err != nil {
		t.Errorf("file state → PostgreSQL:\n%v", err)
	}
	migrate(db, back)
	if err := sameStage(orig, readStage(t, back, exampleApp, "dev")); err != nil {
		t.Errorf("file state → PostgreSQL → file state:\n%v", err)
	}
	if err := sameStage(orig, readStage(t, files, exampleApp, "dev")); err != nil {
		t.Errorf("migrate changed its source:\n%v", err)
	}

	mutations, requests := c.mutations(), c.requests()
	for _, location := range []string{db, back} {
		p := run(t, spec{bin: bins.jobTemplates, dir: dir, args: []string{"--target", c.url, "--state", location}})
		p.succeeded()
		if !strings.Contains(p.stdout.String(), "4 unchanged") {
			t.Errorf("deploy from the migrated state did not report 4 unchanged:\n%s", p.stdout)
		}
	}
	if got := c.mutations(); got != mutations {
		t.Errorf("deploys after migration made %d mutating calls, want 0", got-mutations)
	}
	if got := c.requests(); got != requests {
		t.Errorf("ListResourceRequests lists %d requests after the deploys, %d before", got, requests)
	}
}

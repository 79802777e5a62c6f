package teamstate

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	neturl "net/url"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	"github.com/jackc/pgx/v5"

	"github.com/athanor-dev/athanor/emulator"
	"github.com/athanor-dev/athanor/internal/netproxy"
	"github.com/athanor-dev/athanor/internal/pgtest"
	"github.com/athanor-dev/athanor/state"
)

// The fencing tests run testdata/fleet (app "fence") with a short lease.
const (
	fenceApp   = "fence"
	fenceLease = 3 * time.Second
	// fenceBeat is the lease's heartbeat (state/postgres renews every
	// sixth of the lease).
	fenceBeat = fenceLease / 6
)

// fleetSize is how many of each resource testdata/fleet declares.
type fleetSize struct{ templates, topics, queues int }

func (f fleetSize) env() []string {
	return []string{fmt.Sprintf("FENCE_TEMPLATES=%d", f.templates), fmt.Sprintf("FENCE_TOPICS=%d", f.topics), fmt.Sprintf("FENCE_QUEUES=%d", f.queues)}
}

// declared maps every logical id the fleet declares to its type.
func (f fleetSize) declared() map[string]string {
	m := map[string]string{}
	for i := range f.templates {
		m[fmt.Sprintf("tpl%03d", i)] = jobTemplate
	}
	for i := range f.topics {
		m[fmt.Sprintf("topic%03d", i)] = "AWS::SNS::Topic"
	}
	for i := range f.queues {
		m[fmt.Sprintf("queue%03d", i)] = "AWS::SQS::Queue"
	}
	return m
}

// fleetArgs are the flags of a fleet run against target with state at db.
func fleetArgs(target, db string, extra ...string) []string {
	return append([]string{"--target", target, "--state", db, "--concurrency", "4", "--lock-lease", fenceLease.String()}, extra...)
}

// TestFencing runs the acceptance of issue 9's fencing with real processes:
// a run that loses its PostgreSQL lease — its database connection blocked,
// or the whole process stopped — stops sending Cloud Control mutations,
// cannot write the state another run has taken over, and leaves nothing
// duplicated, leaked or dropped.
func TestFencing(t *testing.T) {
	pgtest.URL(t) // skips before building when PostgreSQL is absent
	bin := filepath.Join(t.TempDir(), "fleet")
	cmd := exec.Command("go", "build", "-o", bin, "./e2e/teamstate/testdata/fleet")
	cmd.Dir = moduleRoot(t)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	t.Run("StalledDatabaseConnection", func(t *testing.T) { testStalledDatabase(t, bin) })
	t.Run("StoppedProcess", func(t *testing.T) { testStoppedProcess(t, bin) })
}

// testStalledDatabase: the holder's connection to PostgreSQL goes through a
// proxy that the test pauses while creates are in flight. The holder,
// hearing nothing, gives its lock up by its own clock and exits saying so,
// with no mutation sent after its lease; a second run takes the stage and
// completes; the holder's writes held in the proxy reach the database only
// afterwards and are all refused by the fence; the cloud and the state
// then agree exactly, and one more run is a no-op.
func testStalledDatabase(t *testing.T, bin string) {
	db := pgtest.Database(t)
	proxy, viaProxy := proxied(t, db)
	// The holder's sessions are told apart by their application name.
	viaProxy += "&application_name=" + holderApp
	c := newCloud(t, emulator.Options{Latency: emulator.Latency{Create: emulator.Fixed(time.Second)}})
	size := fleetSize{templates: 10, topics: 10, queues: 5}
	dir := t.TempDir()

	holder := start(t, spec{bin: bin, dir: dir, env: size.env(), args: fleetArgs(c.url, viaProxy)})
	c.waitCount("CreateResource", 4) // creates in flight
	proxy.Pause()
	paused := time.Now()
	holder.wait()
	t.Logf("the holder exited %v after its database connection stalled (lease %v)", time.Since(paused).Round(time.Millisecond), fenceLease)
	msg := holder.failed() + holder.stdout.String()
	for _, want := range []string{"the stage lock was lost", "could not be renewed", "the next run resumes them"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the holder's error lacks %q:\n%s", want, msg)
		}
	}
	// The holder stopped mutating at the latest one heartbeat after its
	// lease ran out (it stops a quarter lease before, by its own clock).
	if last := c.lastMutationAt(); last.After(paused.Add(fenceLease + fenceBeat)) {
		t.Errorf("the holder sent a mutation %v after its connection stalled, later than its lease (%v) and a heartbeat", last.Sub(paused), fenceLease)
	}
	late := proxy.Held()
	if late == 0 {
		t.Fatal("the proxy holds no traffic of the holder: it had no write in flight, so nothing tests the fence")
	}

	second := run(t, spec{bin: bin, dir: dir, env: size.env(), args: fleetArgs(c.url, db, flagLockTimeout, "1m")})
	second.succeeded()
	settled := readStage(t, db, fenceApp, "dev")
	checkFleet(t, c, settled, size)

	// Now the holder's held writes arrive, long after it lost the lock.
	before := rowVersions(t, db)
	proxy.Resume()
	waitFor(t, "the proxy to deliver the holder's late traffic and close", func() bool { return proxy.Conns() == 0 })
	quiet(t, db) // every statement the holder sent has been executed
	after := rowVersions(t, db)
	if maps.Equal(before, after) {
		t.Logf("the holder's %d late chunks of traffic reached the database and changed nothing", late)
	}
	for name, v := range after {
		if before[name] != v {
			t.Errorf("%s was written by the holder after it lost the lock (row version %s, was %q): the fence must refuse late writes", name, v, before[name])
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			t.Errorf("%s was deleted by the holder after it lost the lock: the fence must refuse late writes", name)
		}
	}
	if err := sameStage(settled, readStage(t, db, fenceApp, "dev")); err != nil {
		t.Errorf("the holder's late writes changed the state:\n%v", err)
	}
	checkFleet(t, c, readStage(t, db, fenceApp, "dev"), size)

	noop(t, c, spec{bin: bin, dir: dir, env: size.env(), args: fleetArgs(c.url, db)})
}

// testStoppedProcess: the reproduction of issue 9 — a run stopped with
// SIGSTOP while its creates are in flight, past its lease; a second run
// takes the stage and completes; the first resumes, finds its lock lost and
// exits without changing anything; every declared resource then exists
// exactly once in the cloud and in the state, and one more run is a no-op.
func testStoppedProcess(t *testing.T, bin string) {
	db := pgtest.Database(t)
	c := newCloud(t, emulator.Options{Latency: emulator.Latency{Create: emulator.Fixed(time.Second)}})
	size := fleetSize{templates: 10, topics: 10, queues: 10}
	dir := t.TempDir()

	first := start(t, spec{bin: bin, dir: dir, env: size.env(), args: fleetArgs(c.url, db)})
	c.waitCount("CreateResource", 4)
	if err := syscall.Kill(first.pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	t.Cleanup(func() {
		if stopped {
			_ = syscall.Kill(first.pid(), syscall.SIGCONT)
		}
	})

	second := run(t, spec{bin: bin, dir: dir, env: size.env(), args: fleetArgs(c.url, db, flagLockTimeout, "1m")})
	second.succeeded()
	settled := readStage(t, db, fenceApp, "dev")
	checkFleet(t, c, settled, size)
	mutations := c.mutations()

	if err := syscall.Kill(first.pid(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	msg := first.failed() + first.stdout.String()
	if !strings.Contains(msg, "the stage lock was lost") || !strings.Contains(msg, "the next run resumes them") {
		t.Errorf("the resumed run's error does not say it lost the lock:\n%s", msg)
	}
	t.Logf("the resumed run made %d mutating calls before it stopped (repeats of recorded ClientTokens at most)", c.mutations()-mutations)
	if err := sameStage(settled, readStage(t, db, fenceApp, "dev")); err != nil {
		t.Errorf("the resumed run changed the state after losing its lock:\n%v", err)
	}
	checkFleet(t, c, readStage(t, db, fenceApp, "dev"), size)

	noop(t, c, spec{bin: bin, dir: dir, env: size.env(), args: fleetArgs(c.url, db)})
}

// noop runs s and checks that it succeeds without a mutating call.
func noop(t *testing.T, c *cloud, s spec) {
	t.Helper()
	mutations := c.mutations()
	run(t, s).succeeded()
	if got := c.mutations(); got != mutations {
		t.Errorf("one more run made %d mutating calls, want 0", got-mutations)
	}
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

// waitFor polls cond until it holds, failing the test after processTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(processTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", processTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holderApp is the application name of the stalled holder's sessions.
const holderApp = "stalled-holder"

// quiet waits until no other session is connected to the database of db:
// every statement sent by processes that are gone has been executed.
func quiet(t *testing.T, db string) {
	t.Helper()
	waitFor(t, "the database's other sessions to end", func() bool {
		var n int
		queryRow(t, db, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
			AND backend_type = 'client backend'`, &n)
		return n == 0
	})
}

// rowVersions returns the row version (xmin, the transaction that wrote
// it) of every record and metadata row of the database: any insert, update
// or delete, even one writing identical content, changes it.
func rowVersions(t *testing.T, db string) map[string]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT 'record ' || app || '/' || stage || ' ' || key, xmin::text FROM athanor_records
		UNION ALL SELECT 'meta ' || app || '/' || stage, xmin::text FROM athanor_meta`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	v := map[string]string{}
	for rows.Next() {
		var name, xmin string
		if err := rows.Scan(&name, &xmin); err != nil {
			t.Fatal(err)
		}
		v[name] = xmin
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return v
}

func queryRow(t *testing.T, db, sql string, dest ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// checkFleet checks that the cloud holds every resource of size exactly
// once and nothing else, and that the state records each, created, with
// the cloud's identifier and nothing pending, and is unlocked.
func checkFleet(t *testing.T, c *cloud, st stage, size fleetSize) {
	t.Helper()
	want := size.declared()
	inCloud := map[string][]string{} // logical id → identifiers
	for _, typeName := range []string{jobTemplate, "AWS::SNS::Topic", "AWS::SQS::Queue"} {
		for id, key := range c.keyed(typeName) {
			inCloud[key] = append(inCloud[key], id)
		}
	}
	for key, ids := range inCloud {
		if _, ok := want[key]; !ok {
			t.Errorf("the cloud holds %v for %q, which is not declared (a leak)", ids, key)
		} else if len(ids) != 1 {
			sort.Strings(ids)
			t.Errorf("the cloud holds %d resources for %s: %v, want 1", len(ids), key, ids)
		}
	}
	if len(st.records) != len(want) {
		t.Errorf("state holds %d records, want %d", len(st.records), len(want))
	}
	for key, typeName := range want {
		ids := inCloud[key]
		r := st.records[key]
		switch {
		case len(ids) == 0:
			t.Errorf("the cloud holds no resource for %s", key)
		case r == nil:
			t.Errorf("state has no record of %s (the cloud holds %v)", key, ids)
		case r.Type != typeName || r.Status != state.StatusCreated || r.Pending != nil || len(r.Retired) > 0 || r.Identifier != ids[0]:
			t.Errorf("record %s: type %s, status %s, identifier %q, pending %+v, retired %v; want a created %s %q with nothing pending",
				key, r.Type, r.Status, r.Identifier, r.Pending, r.Retired, typeName, ids[0])
		}
	}
	if st.holder != nil {
		t.Errorf("stage still locked by %+v", *st.holder)
	}
}

// keyed lists the resources of typeName in the emulator, identifier →
// the logical id the fleet marked it with ("" when unmarked).
func (c *cloud) keyed(typeName string) map[string]string {
	c.t.Helper()
	out := map[string]string{}
	p := cc.NewListResourcesPaginator(c.sdk, &cc.ListResourcesInput{TypeName: aws.String(typeName)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			c.t.Fatalf("ListResources %s: %v", typeName, err)
		}
		for _, d := range page.ResourceDescriptions {
			var props struct {
				Description string
				Tags        []struct{ Key, Value string }
			}
			if err := json.Unmarshal([]byte(aws.ToString(d.Properties)), &props); err != nil {
				c.t.Fatalf("%s %s: properties: %v", typeName, aws.ToString(d.Identifier), err)
			}
			key, _ := strings.CutPrefix(props.Description, "athanor-key ")
			for _, tag := range props.Tags {
				if tag.Key == "athanor-key" {
					key = tag.Value
				}
			}
			out[aws.ToString(d.Identifier)] = key
		}
	}
	return out
}

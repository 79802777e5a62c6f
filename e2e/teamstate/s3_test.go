package teamstate

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/athanor-dev/athanor/emulator"
	"github.com/athanor-dev/athanor/internal/pgtest"
	"github.com/athanor-dev/athanor/internal/s3test"
	_ "github.com/athanor-dev/athanor/state/s3" // s3:// state locations
)

// s3Store is an S3 server on loopback (gofakes3, see internal/s3test) for
// the state of the processes a test starts.
type s3Store struct {
	endpoint string
	client   *awss3.Client
	srv      *s3test.Server
}

// newS3Store starts an S3 server for t and points this process's AWS
// configuration at it (readStage opens s3:// locations here too).
func newS3Store(t *testing.T) *s3Store {
	t.Helper()
	srv, err := s3test.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		s3test.EnvEndpoint: srv.Endpoint, "AWS_ACCESS_KEY_ID": "teamstate", "AWS_SECRET_ACCESS_KEY": "teamstate",
		"AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_PROFILE": "",
		"AWS_ENDPOINT_URL": "",
	} {
		t.Setenv(k, v)
	}
	return &s3Store{endpoint: srv.Endpoint, client: s3test.Client(srv.Endpoint), srv: srv}
}

// location creates a bucket (versioned when asked) and returns an s3://
// state location in it.
func (s *s3Store) location(t *testing.T, versioned bool) string {
	t.Helper()
	return "s3://" + s3test.NewBucket(t, s.client, versioned) + "/team/state"
}

// env is what the processes need to reach the server: the standard
// variable naming a custom S3 endpoint.
func (s *s3Store) env(extra ...string) []string {
	return append([]string{s3test.EnvEndpoint + "=" + s.endpoint}, extra...)
}

// objects lists the object keys under the location's stage.
func (s *s3Store) objects(t *testing.T, location, app, stage string) []string {
	t.Helper()
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(location, "s3://"), "/")
	out, err := s.client.ListObjectsV2(t.Context(), &awss3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String(prefix + "/" + app + "/" + stage + "/")})
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, o := range out.Contents {
		ks = append(ks, strings.TrimPrefix(aws.ToString(o.Key), prefix+"/"+app+"/"+stage+"/"))
	}
	slices.Sort(ks)
	return ks
}

// TestS3State runs the acceptance of issue 15 with real processes: the
// example program and the athanor command deploy against an emulator on
// loopback with their state in an S3 bucket served on loopback, reached
// through AWS_ENDPOINT_URL_S3 with path-style addressing.
func TestS3State(t *testing.T) {
	bins := build(t)
	store := newS3Store(t)
	t.Run("DeployWithS3State", func(t *testing.T) { testDeployWithS3State(t, bins, store) })
	t.Run("SecondRunRefusedNamingHolder", func(t *testing.T) { testS3SecondRunRefused(t, bins, store) })
	t.Run("KilledHolderBlocksOnlyForItsLease", func(t *testing.T) { testS3KilledHolder(t, bins, store) })
	t.Run("MigrateFileS3PostgresFile", func(t *testing.T) { testMigrateThreeBackends(t, bins, store) })
	t.Run("HistoryAndRestore", func(t *testing.T) { testHistoryRestore(t, bins, store) })
	t.Run("StalledS3Connection", func(t *testing.T) { testStalledS3(t, store) })
}

// testDeployWithS3State: the example deploys with --state s3://..., its
// records are objects of the bucket, and a second run (state named by
// ATHANOR_STATE) makes no mutating call.
func testDeployWithS3State(t *testing.T, bins binaries, store *s3Store) {
	loc := store.location(t, false)
	c := newCloud(t, emulator.Instant())
	dir := t.TempDir()
	first := run(t, spec{bin: bins.jobTemplates, dir: dir, args: []string{"--target", c.url, "--state", loc}, env: store.env()})
	first.succeeded()
	if !strings.Contains(first.stdout.String(), "4 created") {
		t.Errorf("first run did not report 4 created:\n%s", first.stdout)
	}
	readStage(t, loc, exampleApp, "dev").settled(t, exampleTemplates("dev"))
	var want []string
	for k := range exampleBases {
		want = append(want, "records/"+k+".json")
	}
	want = append(want, "lock.json", "meta.json")
	slices.Sort(want)
	if got := store.objects(t, loc, exampleApp, "dev"); !slices.Equal(got, want) {
		t.Errorf("bucket holds %v under the stage, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, ".athanor")); !os.IsNotExist(err) {
		t.Errorf("a run with S3 state wrote a local .athanor directory (stat: %v)", err)
	}
	mutations, requests := c.mutations(), c.requests()
	second := run(t, spec{bin: bins.jobTemplates, dir: dir, args: []string{"--target", c.url}, env: store.env("ATHANOR_STATE=" + loc)})
	second.succeeded()
	if !strings.Contains(second.stdout.String(), "4 unchanged") {
		t.Errorf("second run did not report 4 unchanged:\n%s", second.stdout)
	}
	if got := c.mutations(); got != mutations {
		t.Errorf("second run made %d mutating calls, want 0", got-mutations)
	}
	if got := c.requests(); got != requests {
		t.Errorf("ListResourceRequests lists %d requests after the second run, %d before", got, requests)
	}
}

// testS3SecondRunRefused: while a slow deploy holds the stage, a second
// process is refused at once naming the holder and when its lease ends;
// force-unlock refuses as the holder is alive; the first run completes.
func testS3SecondRunRefused(t *testing.T, bins binaries, store *s3Store) {
	loc := store.location(t, false)
	c := newCloud(t, emulator.Options{Latency: emulator.Latency{Create: emulator.Fixed(3 * time.Second)}})
	dir := t.TempDir()
	args := []string{"--target", c.url, "--state", loc}

	first := start(t, spec{bin: bins.jobTemplates, dir: dir, args: args, env: store.env()})
	first.waitStdout("creating ")
	second := run(t, spec{bin: bins.jobTemplates, dir: dir, args: args, env: store.env()})
	lockedBy(t, second.failed(), exampleApp, "dev", first.pid(), first.started, time.Now())
	if strings.Contains(second.stdout.String(), "creating") {
		t.Errorf("the refused run started resources:\n%s", second.stdout)
	}
	unlock := run(t, spec{bin: bins.athanor, dir: dir, args: []string{"state", "force-unlock", "--app", exampleApp, "--stage", "dev", "--state", loc}, env: store.env()})
	if msg := unlock.failed(); !strings.Contains(msg, "still alive") || !strings.Contains(msg, fmt.Sprintf("pid %d", first.pid())) {
		t.Errorf("force-unlock of a live holder: want a refusal naming pid %d as alive, got:\n%s", first.pid(), msg)
	}
	first.running("while its lock was contested: the second run must be refused while the first holds the stage")
	first.succeeded()
	if n := c.count("CreateResource"); n != len(exampleBases) {
		t.Errorf("the emulator received %d CreateResource requests, want %d (the refused run must not create)", n, len(exampleBases))
	}
	readStage(t, loc, exampleApp, "dev").settled(t, exampleTemplates("dev"))
	mutations := c.mutations()
	run(t, spec{bin: bins.jobTemplates, dir: dir, args: args, env: store.env()}).succeeded()
	if got := c.mutations(); got != mutations {
		t.Errorf("a run after the holder finished made %d mutating calls, want 0", got-mutations)
	}
}

// testS3KilledHolder: a deploy SIGKILLed with its creates in flight keeps
// the stage locked only until its lease (plus the second S3's clock is
// rounded to) runs out: a run right after is refused naming the dead
// process, a run with --lock-timeout waits, takes the lock and completes,
// and each template exists once, created by one request.
func testS3KilledHolder(t *testing.T, bins binaries, store *s3Store) {
	loc := store.location(t, false)
	c := newCloud(t, emulator.Options{Latency: emulator.Latency{Create: emulator.Fixed(2 * time.Second)}})
	dir := t.TempDir()
	args := []string{"--target", c.url, "--state", loc}
	env := store.env(envLockLease + "=" + testLease.String())

	victim := start(t, spec{bin: bins.jobTemplates, dir: dir, args: args, env: env})
	victim.waitStdout("creating ")
	c.waitCount("CreateResource", len(exampleBases))
	victim.kill()
	killed := time.Now()
	h := readStage(t, loc, exampleApp, "dev").holder
	if h == nil || h.PID != victim.pid() {
		t.Fatalf("lock holder after the kill = %+v, want the killed run (pid %d)", h, victim.pid())
	}
	// The lease ends by S3's clock, whole seconds: at most the lease and a
	// second after the last renewal, which was before the kill.
	if left := time.Until(h.Expires); left <= 0 || left > testLease+2*time.Second {
		t.Fatalf("the killed run's lock has %v of lease left, want some of the %v it was given by %s", left, testLease, envLockLease)
	}

	refused := run(t, spec{bin: bins.jobTemplates, dir: dir, args: args, env: env})
	lockedBy(t, refused.failed(), exampleApp, "dev", victim.pid(), victim.started, killed)

	waiter := run(t, spec{bin: bins.jobTemplates, dir: dir, args: append([]string{flagLockTimeout, "1m"}, args...), env: env})
	waiter.succeeded()
	if out := waiter.stdout.String(); !strings.Contains(out, "Waiting up to 1m0s: stage jobtemplates/dev is locked") ||
		!strings.Contains(out, fmt.Sprintf("pid %d", victim.pid())) {
		t.Errorf("the waiting run did not say whose lock it waits for:\n%s", out)
	}
	t.Logf("the waiting run finished %v after the kill (lease %v)", time.Since(killed).Round(time.Millisecond), testLease)
	if got := c.templates(); !slices.Equal(got, exampleIDs("dev")) {
		t.Errorf("emulator holds %v, want each of %v once", got, exampleIDs("dev"))
	}
	if n := c.requests(); n != len(exampleBases) {
		t.Errorf("ListResourceRequests lists %d requests, want %d (a resumed create polls or repeats its ClientToken)", n, len(exampleBases))
	}
	readStage(t, loc, exampleApp, "dev").settled(t, exampleTemplates("dev"))
	mutations := c.mutations()
	run(t, spec{bin: bins.jobTemplates, dir: dir, args: args, env: env}).succeeded()
	if got := c.mutations(); got != mutations {
		t.Errorf("a run after the recovery made %d mutating calls, want 0", got-mutations)
	}
}

// testMigrateThreeBackends: athanor state migrate copies the example's
// file state to S3, then to PostgreSQL, then back to a fresh directory,
// each copy identical to the original, and a deploy from each makes no
// mutating call.
func testMigrateThreeBackends(t *testing.T, bins binaries, store *s3Store) {
	pgtest.URL(t) // skips when PostgreSQL is absent (fails in CI)
	db := pgtest.Database(t)
	loc := store.location(t, false)
	c := newCloud(t, emulator.Instant())
	dir := t.TempDir()
	files, back := filepath.Join(t.TempDir(), "state"), filepath.Join(t.TempDir(), "state")

	run(t, spec{bin: bins.jobTemplates, dir: dir, args: []string{"--target", c.url, "--state", files}}).succeeded()
	orig := readStage(t, files, exampleApp, "dev")
	orig.settled(t, exampleTemplates("dev"))
	if orig.meta.Target == nil {
		t.Fatal("the deployed stage has no target binding to migrate")
	}
	hops := []struct{ from, to, name string }{{files, loc, "file → S3"}, {loc, db, "S3 → PostgreSQL"}, {db, back, "PostgreSQL → file"}}
	for _, h := range hops {
		p := run(t, spec{bin: bins.athanor, dir: dir, args: []string{"state", "migrate", "--app", exampleApp, "--stage", "dev", "--from", h.from, "--to", h.to}, env: store.env()})
		p.succeeded()
		if want := fmt.Sprintf("migrated %d record(s)", len(exampleBases)); !strings.Contains(p.stdout.String(), want) {
			t.Errorf("%s: migrate printed %q, want %q", h.name, p.stdout, want)
		}
		got := readStage(t, h.to, exampleApp, "dev")
		if err := sameStage(orig, got); err != nil {
			t.Errorf("%s:\n%v", h.name, err)
		}
		if got.meta.Target == nil || !got.meta.Target.Same(*orig.meta.Target) {
			t.Errorf("%s: target binding %+v, want %+v", h.name, got.meta.Target, orig.meta.Target)
		}
	}
	if err := sameStage(orig, readStage(t, files, exampleApp, "dev")); err != nil {
		t.Errorf("migrate changed its source:\n%v", err)
	}
	mutations, requests := c.mutations(), c.requests()
	for _, location := range []string{loc, db, back} {
		p := run(t, spec{bin: bins.jobTemplates, dir: dir, args: []string{"--target", c.url, "--state", location}, env: store.env()})
		p.succeeded()
		if !strings.Contains(p.stdout.String(), "4 unchanged") {
			t.Errorf("deploy from the migrated state %s did not report 4 unchanged:\n%s", location, p.stdout)
		}
	}
	if got := c.mutations(); got != mutations {
		t.Errorf("deploys after migration made %d mutating calls, want 0", got-mutations)
	}
	if got := c.requests(); got != requests {
		t.Errorf("ListResourceRequests lists %d requests after the deploys, %d before", got, requests)
	}
}

// testHistoryRestore: on a versioned bucket, athanor state history lists a
// record's versions; after state rm the current version is a deletion, and
// state restore brings back the version before it, after which a deploy
// makes no mutating call.
func testHistoryRestore(t *testing.T, bins binaries, store *s3Store) {
	loc := store.location(t, true)
	c := newCloud(t, emulator.Instant())
	dir := t.TempDir()
	run(t, spec{bin: bins.jobTemplates, dir: dir, args: []string{"--target", c.url, "--state", loc}, env: store.env()}).succeeded()
	orig := readStage(t, loc, exampleApp, "dev")
	orig.settled(t, exampleTemplates("dev"))
	athanor := func(args ...string) *proc {
		return run(t, spec{bin: bins.athanor, dir: dir, args: append(args, "--app", exampleApp, "--stage", "dev", "--state", loc), env: store.env()})
	}
	const key = "basicJobTemplate"
	row := regexp.MustCompile(`(?m)^` + key + `\s+(\S+)\s+\S+\s*(.*)$`)
	history := func() [][]string {
		t.Helper()
		p := athanor("state", "history", key)
		p.succeeded()
		return row.FindAllStringSubmatch(p.stdout.String(), -1)
	}
	before := history()
	// The record was written as its create started and once it finished.
	if len(before) < 2 || strings.TrimSpace(before[0][2]) != "current" {
		t.Fatalf("history of %s = %q, want at least two versions, the newest current", key, before)
	}
	athanor("state", "rm", key, "--yes").succeeded()
	after := history()
	if len(after) != len(before)+1 || strings.TrimSpace(after[0][2]) != "deleted (current)" || after[1][1] != before[0][1] {
		t.Fatalf("history after state rm = %q, want a current deletion above the %d versions before", after, len(before))
	}
	restore := athanor("state", "restore", key, "--version", before[0][1], "--yes")
	restore.succeeded()
	if !strings.Contains(restore.stdout.String(), "restored "+key+" to version "+before[0][1]) {
		t.Errorf("restore printed %q", restore.stdout)
	}
	if err := sameStage(orig, readStage(t, loc, exampleApp, "dev")); err != nil {
		t.Errorf("stage after the restore differs from before the rm:\n%v", err)
	}
	if h := history(); len(h) != len(after)+1 || strings.TrimSpace(h[0][2]) != "current" {
		t.Errorf("history after the restore = %q, want a new current version above the deletion", h)
	}
	// A backend that keeps no versions says so.
	files := filepath.Join(t.TempDir(), "state")
	p := run(t, spec{bin: bins.athanor, dir: dir, args: []string{"state", "history", "--app", exampleApp, "--state", files}})
	if msg := p.failed(); !strings.Contains(msg, "only the S3 backend") {
		t.Errorf("history of a file state: %q, want a refusal naming the S3 backend", msg)
	}
	mutations := c.mutations()
	run(t, spec{bin: bins.jobTemplates, dir: dir, args: []string{"--target", c.url, "--state", loc}, env: store.env()}).succeeded()
	if got := c.mutations(); got != mutations {
		t.Errorf("a deploy after the restore made %d mutating calls, want 0", got-mutations)
	}
}

// versions lists every version (object key and version id) under the
// location's stage in a versioned bucket: any write, even of identical
// content, adds one.
func (s *s3Store) versions(t *testing.T, location, app, stage string) []string {
	t.Helper()
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(location, "s3://"), "/")
	in := &awss3.ListObjectVersionsInput{Bucket: &bucket, Prefix: aws.String(prefix + "/" + app + "/" + stage + "/")}
	var vs []string
	for {
		out, err := s.client.ListObjectVersions(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.Versions {
			vs = append(vs, aws.ToString(v.Key)+" "+aws.ToString(v.VersionId))
		}
		for _, m := range out.DeleteMarkers {
			vs = append(vs, aws.ToString(m.Key)+" "+aws.ToString(m.VersionId)+" (deleted)")
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
	slices.Sort(vs)
	return vs
}

// testStalledS3: issue 9's stalled connection with the state in S3. The
// holder reaches S3 through a proxy that the test pauses while creates are
// in flight; the holder gives its lock up by its own clock and exits
// saying so, with no mutation sent after its lease; a second run takes the
// stage and completes; the holder's requests held in the proxy (its lease
// renewal, writes checked before the stall) reach S3 only afterwards and
// change nothing: every write is conditional on the lock's or the
// object's ETag, which the second run has changed.
func testStalledS3(t *testing.T, store *s3Store) {
	bin := filepath.Join(t.TempDir(), "fleet")
	cmd := exec.Command("go", "build", "-o", bin, "./e2e/teamstate/testdata/fleet")
	cmd.Dir = moduleRoot(t)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	loc := store.location(t, true)
	proxy, viaProxy := proxied(t, store.endpoint)
	c := newCloud(t, emulator.Options{Latency: emulator.Latency{Create: emulator.Fixed(time.Second)}})
	size := fleetSize{templates: 10, topics: 10, queues: 5}
	dir := t.TempDir()

	holder := start(t, spec{bin: bin, dir: dir, env: append(size.env(), s3test.EnvEndpoint+"="+viaProxy), args: fleetArgs(c.url, loc)})
	c.waitCount("CreateResource", 4)
	proxy.Pause()
	paused := time.Now()
	holder.wait()
	t.Logf("the holder exited %v after its S3 connection stalled (lease %v)", time.Since(paused).Round(time.Millisecond), fenceLease)
	msg := holder.failed() + holder.stdout.String()
	for _, want := range []string{"the stage lock was lost", "could not be renewed", "the next run resumes them"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the holder's error lacks %q:\n%s", want, msg)
		}
	}
	if last := c.lastMutationAt(); last.After(paused.Add(fenceLease + fenceBeat)) {
		t.Errorf("the holder sent a mutation %v after its connection stalled, later than its lease (%v) and a heartbeat", last.Sub(paused), fenceLease)
	}
	late := proxy.Held()
	if late == 0 {
		t.Fatal("the proxy holds no traffic of the holder: nothing tests the fence")
	}

	second := run(t, spec{bin: bin, dir: dir, env: store.env(size.env()...), args: fleetArgs(c.url, loc, flagLockTimeout, "1m")})
	second.succeeded()
	settled := readStage(t, loc, fenceApp, "dev")
	checkFleet(t, c, settled, size)

	before := store.versions(t, loc, fenceApp, "dev")
	proxy.Resume()
	waitFor(t, "the proxy to deliver the holder's late traffic and close", func() bool { return proxy.Conns() == 0 })
	waitFor(t, "S3 to handle every request it received", func() bool { return store.srv.Busy() == 0 })
	after := store.versions(t, loc, fenceApp, "dev")
	if !slices.Equal(before, after) {
		t.Errorf("the holder's late traffic wrote the stage after it lost the lock:\nbefore: %v\nafter:  %v", before, after)
	} else {
		t.Logf("the holder's %d late chunks of traffic reached S3 and changed nothing", late)
	}
	if err := sameStage(settled, readStage(t, loc, fenceApp, "dev")); err != nil {
		t.Errorf("the holder's late writes changed the state:\n%v", err)
	}
	checkFleet(t, c, readStage(t, loc, fenceApp, "dev"), size)
	noop(t, c, spec{bin: bin, dir: dir, env: store.env(size.env()...), args: fleetArgs(c.url, loc)})
}

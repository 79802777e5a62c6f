package teamstate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"

	"github.com/athanor-dev/athanor/emulator"
	"github.com/athanor-dev/athanor/state"
	_ "github.com/athanor-dev/athanor/state/file"     // file state locations
	_ "github.com/athanor-dev/athanor/state/postgres" // postgres:// state locations

	"github.com/athanor-dev/athanor/internal/repo"
)

// jobTemplate is the resource type every program of these tests declares.
const jobTemplate = "AWS::IoT::JobTemplate"

// processTimeout bounds every process a test starts, so that a hung run
// fails its test instead of the whole binary.
const processTimeout = 2 * time.Minute

// binaries are the programs the tests run, built once per test binary.
type binaries struct {
	// jobTemplates is examples/jobtemplates: the seed's four templates,
	// app "jobtemplates", built with teamBackends added.
	jobTemplates string
	// stages is testdata/stages: app "teamstate", one template named after
	// the stage.
	stages string
	// athanor is the command line (cmd/athanor).
	athanor string
}

// teamBackends is the file build adds to examples/jobtemplates (through go
// build -overlay, leaving the example as it is): the imports a user adds to
// a program to keep its state in PostgreSQL or S3. The example links only
// the file backend, as the athanor package does.
const teamBackends = `package main

import (
	_ "github.com/athanor-dev/athanor/state/postgres"
	_ "github.com/athanor-dev/athanor/state/s3"
)
`

// build compiles the programs into a temporary directory of t.
func build(t *testing.T) binaries {
	t.Helper()
	root := moduleRoot(t)
	dir := t.TempDir()
	b := binaries{
		jobTemplates: filepath.Join(dir, "jobtemplates"),
		stages:       filepath.Join(dir, "stages"),
		athanor:      filepath.Join(dir, "athanor"),
	}
	overlay := filepath.Join(dir, "overlay.json")
	backends := filepath.Join(dir, "backends.go")
	added := filepath.Join(root, "examples", "jobtemplates", "zz_team_backends.go")
	replace, err := json.Marshal(map[string]map[string]string{"Replace": {added: backends}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(backends, []byte(teamBackends), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(overlay, replace, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		out, pkg string
		flags    []string
	}{
		{b.jobTemplates, "./examples/jobtemplates", []string{"-overlay", overlay}},
		{b.stages, "./e2e/teamstate/testdata/stages", nil},
		{b.athanor, "./cmd/athanor", nil},
	} {
		cmd := exec.Command("go", append(append([]string{"build"}, p.flags...), "-o", p.out, p.pkg)...)
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", p.pkg, err, msg)
		}
	}
	return b
}

// moduleRoot returns the repository root.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := repo.Root("")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// baseEnv is the environment of the processes the tests start: the test's
// own without Athanor and AWS settings, plus placeholder AWS credentials and
// no shared AWS configuration, so that nothing on the machine can point a
// run elsewhere.
func baseEnv(t *testing.T) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ATHANOR_") || strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	none := filepath.Join(t.TempDir(), "none")
	return append(env,
		"AWS_ACCESS_KEY_ID=teamstate", "AWS_SECRET_ACCESS_KEY=teamstate", "AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none, "AWS_EC2_METADATA_DISABLED=true",
	)
}

// output is a concurrency-safe buffer that tells waiters when it grows.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return n, err
}

// snapshot returns the text so far and a channel closed at the next write.
func (o *output) snapshot() (string, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String(), o.changed
}

func (o *output) String() string {
	s, _ := o.snapshot()
	return s
}

// proc is a program the test started.
type proc struct {
	t       *testing.T
	name    string
	cmd     *exec.Cmd
	stdout  *output
	stderr  *output
	stdin   interface{ Close() error } // nil unless started with hold
	started time.Time
	done    chan struct{} // closed when the process has exited
	err     error         // Wait's result, valid once done is closed
	logged  bool          // output written to the test log
}

// spec describes a process to start.
type spec struct {
	bin  string
	dir  string   // working directory
	env  []string // added to baseEnv
	args []string
	hold bool // keep standard input open until release
}

// start starts s; the process is killed when the test ends if it still runs.
func start(t *testing.T, s spec) *proc {
	t.Helper()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.dir
	cmd.Env = append(baseEnv(t), s.env...)
	p := &proc{t: t, name: filepath.Base(s.bin) + " " + strings.Join(s.args, " "), cmd: cmd,
		stdout: newOutput(), stderr: newOutput(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if s.hold {
		w, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		p.stdin = w
	}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// run starts s and waits for it to exit.
func run(t *testing.T, s spec) *proc {
	t.Helper()
	p := start(t, s)
	p.wait()
	return p
}

// pid is the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// wait waits for the process to exit (killing it after processTimeout) and
// logs its output.
func (p *proc) wait() {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(processTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("%s did not exit within %v\nstdout:\n%s\nstderr:\n%s", p.name, processTimeout, p.stdout, p.stderr)
	}
	if !p.logged {
		p.logged = true
		p.t.Logf("$ %s (pid %d, exit %d)\n%s%s", p.name, p.pid(), p.exitCode(), p.stdout, p.stderr)
	}
}

// exitCode is the exit status; -1 when killed by a signal or still running.
func (p *proc) exitCode() int { return p.cmd.ProcessState.ExitCode() }

// succeeded fails the test unless the process exited with status 0.
func (p *proc) succeeded() {
	p.t.Helper()
	p.wait()
	if p.err != nil {
		p.t.Fatalf("%s failed: %v\nstdout:\n%s\nstderr:\n%s", p.name, p.err, p.stdout, p.stderr)
	}
}

// failed fails the test unless the process exited with status 1, and
// returns its standard error.
func (p *proc) failed() string {
	p.t.Helper()
	p.wait()
	if code := p.exitCode(); code != 1 {
		p.t.Fatalf("%s: exit status %d, want 1 (a failed run)\nstdout:\n%s\nstderr:\n%s", p.name, code, p.stdout, p.stderr)
	}
	return p.stderr.String()
}

// waitStdout waits until the process has written want to its standard
// output, failing the test if it exits first or takes too long.
func (p *proc) waitStdout(want string) {
	p.t.Helper()
	deadline := time.After(processTimeout)
	for {
		text, changed := p.stdout.snapshot()
		if strings.Contains(text, want) {
			return
		}
		select {
		case <-changed:
		case <-p.done:
			if strings.Contains(p.stdout.String(), want) {
				return
			}
			p.t.Fatalf("%s exited (%v) before printing %q\nstdout:\n%s\nstderr:\n%s", p.name, p.err, want, p.stdout, p.stderr)
		case <-deadline:
			p.t.Fatalf("%s did not print %q within %v\nstdout:\n%s\nstderr:\n%s", p.name, want, processTimeout, p.stdout, p.stderr)
		}
	}
}

// running fails the test if the process has exited.
func (p *proc) running(why string) {
	p.t.Helper()
	select {
	case <-p.done:
		p.t.Fatalf("%s exited (%v) %s\nstdout:\n%s\nstderr:\n%s", p.name, p.err, why, p.stdout, p.stderr)
	default:
	}
}

// release closes the standard input of a process started with hold.
func (p *proc) release() {
	p.t.Helper()
	if err := p.stdin.Close(); err != nil {
		p.t.Fatal(err)
	}
}

// kill sends SIGKILL and waits for the process to die of it.
func (p *proc) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatalf("kill %s: %v", p.name, err)
	}
	p.wait()
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		p.t.Fatalf("%s ended with %v before it could be killed", p.name, p.cmd.ProcessState)
	}
}

// cloud is an emulator on loopback that counts the Cloud Control requests
// it receives, and an SDK client to look at it from outside.
type cloud struct {
	t   *testing.T
	url string
	sdk *cc.Client

	mu           sync.Mutex
	calls        map[string]int // Cloud Control operation → requests received
	lastMutation time.Time      // when the last mutating request arrived
	changed      chan struct{}  // closed and replaced on every request
}

// newCloud starts an emulator with opts behind a counting handler.
func newCloud(t *testing.T, opts emulator.Options) *cloud {
	t.Helper()
	srv, err := emulator.New(opts)
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	c := &cloud{t: t, calls: map[string]int{}, changed: make(chan struct{})}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "CloudApiService."); ok {
			c.mu.Lock()
			c.calls[op]++
			switch op {
			case "CreateResource", "UpdateResource", "DeleteResource":
				c.lastMutation = time.Now()
			}
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	c.url = hs.URL
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	c.sdk = cc.NewFromConfig(cfg, func(o *cc.Options) { o.BaseEndpoint = aws.String(hs.URL) })
	return c
}

// count returns how many requests of each of ops the emulator received.
func (c *cloud) count(ops ...string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, op := range ops {
		n += c.calls[op]
	}
	return n
}

// lastMutationAt is when the last mutating request arrived (zero if none).
func (c *cloud) lastMutationAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastMutation
}

// mutations counts the mutating requests received so far.
func (c *cloud) mutations() int { return c.count("CreateResource", "UpdateResource", "DeleteResource") }

// waitCount waits until the emulator has received at least n requests of
// op.
func (c *cloud) waitCount(op string, n int) {
	c.t.Helper()
	deadline := time.After(processTimeout)
	for {
		c.mu.Lock()
		got, changed := c.calls[op], c.changed
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			c.t.Fatalf("the emulator received %d %s requests within %v, want %d", got, op, processTimeout, n)
		}
	}
}

// requests counts the resource requests the emulator has recorded, through
// the ListResourceRequests API.
func (c *cloud) requests() int {
	c.t.Helper()
	n := 0
	p := cc.NewListResourceRequestsPaginator(c.sdk, &cc.ListResourceRequestsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			c.t.Fatalf("ListResourceRequests: %v", err)
		}
		n += len(out.ResourceRequestStatusSummaries)
	}
	return n
}

// templates lists the identifiers of the job templates in the emulator,
// sorted, duplicates kept.
func (c *cloud) templates() []string {
	c.t.Helper()
	var ids []string
	p := cc.NewListResourcesPaginator(c.sdk, &cc.ListResourcesInput{TypeName: aws.String(jobTemplate)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			c.t.Fatalf("ListResources %s: %v", jobTemplate, err)
		}
		for _, d := range out.ResourceDescriptions {
			ids = append(ids, aws.ToString(d.Identifier))
		}
	}
	sort.Strings(ids)
	return ids
}

// stage is everything a state location holds for one app and stage.
type stage struct {
	records map[string]*state.Record
	meta    *state.Meta
	holder  *state.LockInfo // nil when unlocked or the backend cannot tell
}

// readStage reads the records, metadata and lock holder of app and stage
// at location.
func readStage(t *testing.T, location, app, stageName string) stage {
	t.Helper()
	ctx := context.Background()
	b, err := state.Open(ctx, location, app, stageName)
	if err != nil {
		t.Fatalf("open state %s: %v", state.Redact(location), err)
	}
	defer b.Close()
	recs, err := b.List(ctx)
	if err != nil {
		t.Fatalf("list %s: %v", state.Redact(location), err)
	}
	s := stage{records: map[string]*state.Record{}}
	for _, r := range recs {
		if _, dup := s.records[r.Key]; dup {
			t.Fatalf("%s lists record %q twice", state.Redact(location), r.Key)
		}
		s.records[r.Key] = r
	}
	if s.meta, err = b.GetMeta(ctx); err != nil {
		t.Fatalf("meta of %s: %v", state.Redact(location), err)
	}
	if lm, ok := b.(state.LockManager); ok {
		if s.holder, err = lm.LockHolder(ctx); err != nil {
			t.Fatalf("lock holder of %s: %v", state.Redact(location), err)
		}
	}
	return s
}

// settled checks that the stage holds exactly want (logical id → physical
// identifier) as created job templates with nothing in flight, and that
// nobody holds its lock.
func (s stage) settled(t *testing.T, want map[string]string) {
	t.Helper()
	if len(s.records) != len(want) {
		t.Errorf("state holds %d records (%s), want %d", len(s.records), keys(s.records), len(want))
	}
	for key, id := range want {
		r := s.records[key]
		switch {
		case r == nil:
			t.Errorf("no record for %s", key)
		case r.Type != jobTemplate || r.Identifier != id || r.Status != state.StatusCreated || r.Pending != nil || len(r.Retired) > 0:
			t.Errorf("record %s: type %s, identifier %q, status %s, pending %+v, retired %v; want a created %s %q with nothing pending",
				key, r.Type, r.Identifier, r.Status, r.Pending, r.Retired, jobTemplate, id)
		case !bytes.Contains(r.Outputs, []byte(`arn:aws:iot:us-east-1:123456789012:jobtemplate/`+id)):
			t.Errorf("record %s outputs %s, want its Arn", key, r.Outputs)
		}
	}
	if s.holder != nil {
		t.Errorf("stage still locked by %+v", *s.holder)
	}
}

func keys[V any](m map[string]V) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// sameStage reports how two stages differ: records compared with
// state.Equal (by meaning, since PostgreSQL's jsonb reorders object keys),
// metadata by value with exports by meaning.
func sameStage(a, b stage) error {
	var errs []error
	for key, ra := range a.records {
		rb := b.records[key]
		if rb == nil {
			errs = append(errs, fmt.Errorf("record %s missing", key))
			continue
		}
		if !state.Equal(ra, rb) {
			ja, _ := state.EncodeRecord(ra)
			jb, _ := state.EncodeRecord(rb)
			errs = append(errs, fmt.Errorf("record %s differs:\n  %s\n  %s", key, ja, jb))
		}
	}
	for key := range b.records {
		if a.records[key] == nil {
			errs = append(errs, fmt.Errorf("record %s was added", key))
		}
	}
	ma, mb := a.meta, b.meta
	if ma.FormatVersion != mb.FormatVersion || ma.NextSeq != mb.NextSeq || !ma.UpdatedAt.Equal(mb.UpdatedAt) {
		errs = append(errs, fmt.Errorf("meta: format %d, next seq %d, updated %v; then format %d, next seq %d, updated %v",
			ma.FormatVersion, ma.NextSeq, ma.UpdatedAt, mb.FormatVersion, mb.NextSeq, mb.UpdatedAt))
	}
	if len(ma.Exports) != len(mb.Exports) {
		errs = append(errs, fmt.Errorf("meta: exports %s, then %s", keys(ma.Exports), keys(mb.Exports)))
	}
	for name, va := range ma.Exports {
		if !sameJSON(va, mb.Exports[name]) {
			errs = append(errs, fmt.Errorf("meta: export %s = %s, then %s", name, va, mb.Exports[name]))
		}
	}
	return errors.Join(errs...)
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/emulator"
	"github.com/athanor-dev/athanor/state"
)

// call is one Cloud Control request the emulator received.
type call struct {
	Op         string // CreateResource, UpdateResource, DeleteResource, ...
	TypeName   string
	Identifier string
	Desired    map[string]any
	Patch      string
}

// recorder passes requests to the emulator and remembers the Cloud Control
// ones, in the order they arrived.
type recorder struct {
	h     http.Handler
	mu    sync.Mutex
	calls []call
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if op, ok := strings.CutPrefix(req.Header.Get("X-Amz-Target"), "CloudApiService."); ok {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		var in struct{ TypeName, Identifier, DesiredState, PatchDocument string }
		_ = json.Unmarshal(body, &in)
		c := call{Op: op, TypeName: in.TypeName, Identifier: in.Identifier, Patch: in.PatchDocument}
		if in.DesiredState != "" {
			_ = json.Unmarshal([]byte(in.DesiredState), &c.Desired)
		}
		r.mu.Lock()
		r.calls = append(r.calls, c)
		r.mu.Unlock()
	}
	r.h.ServeHTTP(w, req)
}

// mark returns the number of calls so far, for since.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// since returns the calls after mark whose operation is one of ops (all
// when ops is empty).
func (r *recorder) since(mark int, ops ...string) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []call
	for _, c := range r.calls[mark:] {
		if len(ops) == 0 || contains(ops, c.Op) {
			out = append(out, c)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var mutating = []string{"CreateResource", "UpdateResource", "DeleteResource"}

// env is an emulator on loopback, a state directory and an SDK client for
// looking at the emulator from outside.
type env struct {
	t     *testing.T
	url   string
	state string
	rec   *recorder
	sdk   *cc.Client
	srv   *emulator.Server // its fault counters, for tests that inject faults
}

func newEnv(t *testing.T, opts emulator.Options) *env {
	t.Helper()
	srv, err := emulator.New(opts)
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	rec := &recorder{h: srv}
	hs := httptest.NewServer(rec)
	t.Cleanup(hs.Close)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	sdk := cc.NewFromConfig(cfg, func(o *cc.Options) {
		o.BaseEndpoint = aws.String(hs.URL)
		// Looking at an emulator that injects faults must not fail.
		o.Retryer = retry.NewStandard(func(ro *retry.StandardOptions) {
			ro.MaxAttempts = 100
			ro.MaxBackoff = 20 * time.Millisecond
			ro.RateLimiter = ratelimit.None
		})
	})
	return &env{t: t, url: hs.URL, state: t.TempDir(), rec: rec, sdk: sdk, srv: srv}
}

// tlog writes a run's output to the test log.
type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (e *env) config() athanor.Config {
	return athanor.Config{App: "e2e", Stage: "test", Target: e.url, State: e.state, Output: tlog{e.t}}
}

// run deploys fn (with cfg adjusted by tweak) and fails the test on error.
func (e *env) run(fn func(*athanor.App) error, tweak ...func(*athanor.Config)) *athanor.Result {
	e.t.Helper()
	res, err := e.try(fn, tweak...)
	if err != nil {
		e.t.Fatalf("run: %v", err)
	}
	return res
}

func (e *env) try(fn func(*athanor.App) error, tweak ...func(*athanor.Config)) (*athanor.Result, error) {
	cfg := e.config()
	for _, f := range tweak {
		f(&cfg)
	}
	return athanor.Run(context.Background(), cfg, fn)
}

func plan(c *athanor.Config)    { c.Plan = true }
func destroy(c *athanor.Config) { c.Destroy = true }
func refresh(c *athanor.Config) { c.Refresh = true }

// list returns the identifiers of every resource of typeName in the emulator.
func (e *env) list(typeName string) []string {
	e.t.Helper()
	var ids []string
	p := cc.NewListResourcesPaginator(e.sdk, &cc.ListResourcesInput{TypeName: aws.String(typeName)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			e.t.Fatalf("ListResources %s: %v", typeName, err)
		}
		for _, d := range out.ResourceDescriptions {
			ids = append(ids, aws.ToString(d.Identifier))
		}
	}
	return ids
}

// get reads a resource from the emulator; nil when it does not exist.
func (e *env) get(typeName, id string) map[string]any {
	e.t.Helper()
	out, err := e.sdk.GetResource(context.Background(), &cc.GetResourceInput{TypeName: aws.String(typeName), Identifier: aws.String(id)})
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil
		}
		e.t.Fatalf("GetResource %s %s: %v", typeName, id, err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(out.ResourceDescription.Properties)), &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

// requests counts the mutating requests the emulator has recorded, through
// ListResourceRequests.
func (e *env) requests() int {
	e.t.Helper()
	n := 0
	p := cc.NewListResourceRequestsPaginator(e.sdk, &cc.ListResourceRequestsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			e.t.Fatalf("ListResourceRequests: %v", err)
		}
		n += len(out.ResourceRequestStatusSummaries)
	}
	return n
}

// records returns the stage's state records.
func (e *env) records(stage string) []*state.Record {
	e.t.Helper()
	st, err := state.Open(context.Background(), e.state, "e2e", stage)
	if err != nil {
		e.t.Fatalf("open state: %v", err)
	}
	defer st.Close()
	recs, err := st.List(context.Background())
	if err != nil {
		e.t.Fatalf("list state: %v", err)
	}
	return recs
}

// seed reads the corrected seed examples of the schema package's testdata.
func seed(t *testing.T) map[string]map[string]any {
	t.Helper()
	files, err := filepath.Glob("../schema/testdata/seed/*.json")
	if err != nil || len(files) != 4 {
		t.Fatalf("seed examples: %v (%d files)", err, len(files))
	}
	out := map[string]map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = m
	}
	return out
}

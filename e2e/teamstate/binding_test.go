package teamstate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"

	"github.com/athanor-dev/athanor/state"
)

// emulatorProc is an `athanor emulator` process, reached through a proxy on
// loopback that counts the Cloud Control requests it forwards (reads
// included), and an SDK client that looks at the emulator directly.
type emulatorProc struct {
	t    *testing.T
	proc *proc
	url  string // the proxy: what runs are given as --target
	sdk  *cc.Client

	mu    sync.Mutex
	calls map[string]int // Cloud Control operation → requests forwarded
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// startEmulator starts `athanor emulator` on a free port with args.
func startEmulator(t *testing.T, bins binaries, args ...string) *emulatorProc {
	t.Helper()
	p := start(t, spec{bin: bins.athanor, args: append([]string{"emulator", "--addr", "127.0.0.1:0"}, args...)})
	p.waitStdout("Press Ctrl-C")
	m := listening.FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("athanor emulator printed no URL:\n%s", p.stdout)
	}
	direct, err := url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	e := &emulatorProc{t: t, proc: p, calls: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(direct)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "CloudApiService."); ok {
			e.mu.Lock()
			e.calls[op]++
			e.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	e.url = hs.URL
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	e.sdk = cc.NewFromConfig(cfg, func(o *cc.Options) { o.BaseEndpoint = aws.String(direct.String()) })
	return e
}

// cloudControlCalls is the number of Cloud Control requests runs sent.
func (e *emulatorProc) cloudControlCalls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.calls {
		n += c
	}
	return n
}

// templates lists the job templates in the emulator.
func (e *emulatorProc) templates() []string {
	e.t.Helper()
	var ids []string
	p := cc.NewListResourcesPaginator(e.sdk, &cc.ListResourcesInput{TypeName: aws.String(jobTemplate)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			e.t.Fatalf("ListResources: %v", err)
		}
		for _, d := range out.ResourceDescriptions {
			ids = append(ids, aws.ToString(d.Identifier))
		}
	}
	return ids
}

// requests counts the resource requests the emulator lists.
func (e *emulatorProc) requests() int {
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

// unchanged fails the test unless the stage read now equals before, its
// binding included.
func unchanged(t *testing.T, before stage, location, stageName string) {
	t.Helper()
	after := readStage(t, location, exampleApp, stageName)
	if err := sameStage(before, after); err != nil {
		t.Errorf("the refused runs changed the state of %s: %v", stageName, err)
	}
	a, b := before.meta.Target, after.meta.Target
	if (a == nil) != (b == nil) || (a != nil && (!a.Same(*b) || !a.BoundAt.Equal(b.BoundAt))) {
		t.Errorf("the refused runs changed the binding of %s: %+v, then %+v", stageName, a, b)
	}
}

// TestTargetBinding is the acceptance of issue 9's target identity, with
// real processes: examples/jobtemplates and the athanor command against
// three `athanor emulator` processes (accounts 111111111111 and
// 222222222222 in us-east-1, and 111111111111 in eu-west-1) and the
// embedded emulator. A stage deployed to one target is refused by every
// other one, in deploy, plan and destroy, before any Cloud Control request,
// with an error naming both sides; nothing is created and the state is
// unchanged; `athanor state rebind` lets the run proceed.
func TestTargetBinding(t *testing.T) {
	bins := build(t)
	home := startEmulator(t, bins, "--account", "111111111111")
	other := startEmulator(t, bins, "--account", "222222222222")
	elsewhere := startEmulator(t, bins, "--account", "111111111111", "--region", "eu-west-1")
	dir := t.TempDir() // working directory: the local target's data is in .athanor/local
	loc := filepath.Join(dir, ".athanor")
	shared := filepath.Join(t.TempDir(), "state")
	example := func(env []string, args ...string) *proc {
		return run(t, spec{bin: bins.jobTemplates, dir: dir, env: env, args: args})
	}
	modes := [][]string{nil, {"--plan"}, {"--destroy"}}

	// Deploy stage dev to the first emulator: it is bound there.
	first := example(nil, "--target", home.url, "--state", shared)
	first.succeeded()
	if !strings.Contains(first.stdout.String(), "on "+home.url+", account 111111111111 in us-east-1\n") {
		t.Errorf("the first deploy's header does not name the account and region:\n%s", first.stdout)
	}
	if !strings.Contains(first.stdout.String(), "4 created") || len(home.templates()) != 4 {
		t.Fatalf("first deploy: emulator holds %v\n%s", home.templates(), first.stdout)
	}
	before := readStage(t, shared, exampleApp, "dev")
	want := state.Target{Kind: state.TargetURL, Endpoint: home.url, Partition: "aws", Account: "111111111111", Region: "us-east-1"}
	if b := before.meta.Target; b == nil || !b.Same(want) {
		t.Fatalf("binding after the first deploy = %+v, want %+v", b, want)
	}
	homeCalls := home.cloudControlCalls()

	t.Run("AnotherAccountOrRegion", func(t *testing.T) {
		for _, c := range []struct {
			name      string
			to        *emulatorProc
			env       []string
			bound, is string
		}{
			{"account", other, nil, "account 111111111111 in us-east-1 at " + home.url, "account 222222222222 in us-east-1 at " + other.url},
			// The region is the client's, as for AWS's regional endpoints:
			// the emulator's banner says to set AWS_REGION to its region.
			{"region", elsewhere, []string{"AWS_REGION=eu-west-1"}, "account 111111111111 in us-east-1 at " + home.url, "account 111111111111 in eu-west-1 at " + elsewhere.url},
		} {
			for _, mode := range modes {
				stderr := example(c.env, append([]string{"--target", c.to.url, "--state", shared}, mode...)...).failed()
				for _, w := range []string{c.bound, c.is, "another --stage", "athanor state rebind --app jobtemplates --stage dev"} {
					if !strings.Contains(stderr, w) {
						t.Errorf("%s %v: the refusal does not say %q:\n%s", c.name, mode, w, stderr)
					}
				}
				if n := c.to.cloudControlCalls(); n != 0 {
					t.Errorf("%s %v: the other emulator received %d Cloud Control requests, want 0", c.name, mode, n)
				}
			}
			if ids, n := c.to.templates(), c.to.requests(); len(ids) != 0 || n != 0 {
				t.Errorf("%s: the other emulator holds templates %v and lists %d requests, want none", c.name, ids, n)
			}
		}
		unchanged(t, before, shared, "dev")
		if n := home.cloudControlCalls(); n != homeCalls || len(home.templates()) != 4 {
			t.Errorf("the refused runs sent %d Cloud Control requests to the first emulator, which holds %v", n-homeCalls, home.templates())
		}
	})

	t.Run("LocalAndURL", func(t *testing.T) {
		// Local → URL: a stage deployed to the embedded emulator.
		example(nil, "--stage", "loc").succeeded()
		local := readStage(t, loc, exampleApp, "loc")
		if b := local.meta.Target; b == nil || b.Kind != state.TargetLocal || b.Account != "123456789012" || b.Region != "us-east-1" {
			t.Fatalf("local binding = %+v", b)
		}
		calls := home.cloudControlCalls()
		for _, mode := range modes {
			stderr := example(nil, append([]string{"--stage", "loc", "--target", home.url}, mode...)...).failed()
			for _, w := range []string{"account 123456789012 in us-east-1 on the local emulator", "account 111111111111 in us-east-1 at " + home.url, "athanor state rebind"} {
				if !strings.Contains(stderr, w) {
					t.Errorf("local stage at a URL %v: the refusal does not say %q:\n%s", mode, w, stderr)
				}
			}
		}
		if n := home.cloudControlCalls(); n != calls {
			t.Errorf("the refused runs sent %d Cloud Control requests to the emulator, want 0", n-calls)
		}
		unchanged(t, local, loc, "loc")

		// URL → local: stage dev, bound to the first emulator.
		for _, mode := range modes {
			stderr := example(nil, append([]string{"--state", shared, "--target", "local"}, mode...)...).failed()
			for _, w := range []string{"account 111111111111 in us-east-1 at " + home.url, "on the local emulator", "athanor state rebind"} {
				if !strings.Contains(stderr, w) {
					t.Errorf("URL stage on the local target %v: the refusal does not say %q:\n%s", mode, w, stderr)
				}
			}
		}
		unchanged(t, before, shared, "dev")
	})

	t.Run("Rebind", func(t *testing.T) {
		athanor := func(args ...string) *proc {
			return run(t, spec{bin: bins.athanor, dir: dir, args: append(args, "--app", exampleApp, "--state", shared)})
		}
		show := athanor("state", "show")
		show.succeeded()
		if out := show.stdout.String(); !strings.Contains(out, "account 111111111111 in us-east-1 at "+home.url) || !strings.Contains(out, "records:") {
			t.Errorf("state show before the rebind:\n%s", out)
		}
		rebind := athanor("state", "rebind", "--target", other.url)
		rebind.succeeded()
		if out := rebind.stdout.String(); !strings.Contains(out, "account 111111111111 in us-east-1 at "+home.url+" → account 222222222222 in us-east-1 at "+other.url) {
			t.Errorf("state rebind does not say old → new:\n%s", out)
		}
		if n := other.cloudControlCalls(); n != 0 {
			t.Errorf("state rebind sent %d Cloud Control requests, want 0", n)
		}
		show = athanor("state", "show")
		show.succeeded()
		if out := show.stdout.String(); !strings.Contains(out, "account 222222222222 in us-east-1 at "+other.url) {
			t.Errorf("state show after the rebind:\n%s", out)
		}

		// The run proceeds: --refresh finds the templates missing at the
		// new target and creates them there.
		moved := example(nil, "--target", other.url, "--state", shared, "--refresh")
		moved.succeeded()
		if !strings.Contains(moved.stdout.String(), "4 created") || len(other.templates()) != 4 {
			t.Errorf("deploy after the rebind: the emulator holds %v\n%s", other.templates(), moved.stdout)
		}
		again := example(nil, "--target", other.url, "--state", shared)
		again.succeeded()
		if !strings.Contains(again.stdout.String(), "4 unchanged") {
			t.Errorf("second deploy after the rebind:\n%s", again.stdout)
		}
		stderr := example(nil, "--target", home.url, "--state", shared, "--plan").failed()
		if !strings.Contains(stderr, "account 222222222222") || !strings.Contains(stderr, "account 111111111111") {
			t.Errorf("the first emulator after the rebind:\n%s", stderr)
		}
	})
}

package s3_test

import (
	"context"
	"errors"
	"net/http"
	neturl "net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/athanor-dev/athanor/internal/netproxy"
	"github.com/athanor-dev/athanor/internal/s3test"
	"github.com/athanor-dev/athanor/state"
	"github.com/athanor-dev/athanor/state/s3"
	"github.com/athanor-dev/athanor/state/statetest"
)

func TestMain(m *testing.M) { s3test.Main(m) }

// testLease is short so that the crashed-holder test waits little, and long
// enough that a busy machine renews it in time.
const testLease = 4 * time.Second

// envBucket carries the conformance bucket to helper processes.
const envBucket = "ATHANOR_S3TEST_BUCKET"

func openS3(t *testing.T, client *awss3.Client, bucket, app, stage string, opts ...state.Option) *s3.Backend {
	t.Helper()
	b, err := s3.New(client, bucket, "team/state", app, stage, append([]state.Option{state.WithLease(testLease)}, opts...)...)
	if err != nil {
		t.Fatalf("s3.New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	endpoint := os.Getenv(s3test.EnvEndpoint)
	bucket := os.Getenv(envBucket)
	if bucket == "" {
		bucket = s3test.Bucket(t, true)
		t.Setenv(envBucket, bucket)
	}
	client := s3test.Client(endpoint)
	statetest.RunWith(t, func(t *testing.T, app, stage string) state.Backend {
		return openS3(t, client, bucket, app, stage)
	}, statetest.Hooks{Stall: func(t *testing.T, app, stage string) (state.Backend, func() func()) {
		u, err := neturl.Parse(endpoint)
		if err != nil {
			t.Fatal(err)
		}
		p, err := netproxy.Start(u.Host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return openS3(t, s3test.Client("http://"+p.Addr()), bucket, app, stage), func() func() { p.Pause(); return p.Resume }
	}})
}

// TestOpenURL: state.Open selects the backend for s3:// URLs, reaching the
// server named by AWS_ENDPOINT_URL_S3 with path-style addressing, and
// rejects URLs without a bucket.
func TestOpenURL(t *testing.T) {
	bucket := s3test.Bucket(t, false)
	loc := "s3://" + bucket + "/some/prefix/"
	b, err := state.Open(t.Context(), loc, "app", "dev")
	if err != nil {
		t.Fatalf("state.Open(%q): %v", loc, err)
	}
	defer b.Close()
	if _, ok := b.(*s3.Backend); !ok {
		t.Fatalf("state.Open(%q) = %T", loc, b)
	}
	r := &state.Record{Key: "x", Type: "AWS::Logs::LogGroup", Status: state.StatusCreated, Seq: 1}
	if err := b.Put(t.Context(), r); err != nil {
		t.Fatalf("Put through a path-style client: %v", err)
	}
	// The record is where the package documentation says.
	out, err := s3test.Client(os.Getenv(s3test.EnvEndpoint)).HeadObject(t.Context(), &awss3.HeadObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("some/prefix/app/dev/records/x.json")})
	if err != nil {
		t.Fatalf("record object: %v", err)
	}
	if aws.ToString(out.ContentType) != "application/json" {
		t.Errorf("content type %q", aws.ToString(out.ContentType))
	}
	for _, bad := range []string{"s3:///prefix", "s3://bucket/p?region=eu-west-1"} {
		if _, err := state.Open(t.Context(), bad, "app", "dev"); err == nil || !strings.Contains(err.Error(), "s3://") {
			t.Errorf("state.Open(%q) = %v, want an error naming the URL form", bad, err)
		}
	}
}

// TestVersions: with versioning on, every write of a record is kept;
// Versions lists them newest first with deletions, and GetVersion reads an
// earlier one. Without versioning, Versions says how to enable it.
func TestVersions(t *testing.T) {
	client := s3test.Client(os.Getenv(s3test.EnvEndpoint))
	bucket := s3test.Bucket(t, true)
	b := openS3(t, client, bucket, "app", "dev")
	for i, id := range []string{"one", "two", "three"} {
		r := &state.Record{Key: "fleet/tpl", Type: "AWS::IoT::JobTemplate", Status: state.StatusCreated, Seq: 1, Identifier: id}
		if err := b.Put(t.Context(), r); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	if err := b.Put(t.Context(), &state.Record{Key: "other", Type: "AWS::Logs::LogGroup", Seq: 2, Status: state.StatusCreated}); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(t.Context(), "other"); err != nil {
		t.Fatal(err)
	}
	vs, err := b.Versions(t.Context(), "fleet/tpl")
	if err != nil {
		t.Fatalf("Versions: %v", err)
	}
	if len(vs) != 3 || !vs[0].Latest || vs[1].Latest || vs[2].Latest {
		t.Fatalf("Versions(fleet/tpl) = %+v, want 3, the newest first and latest", vs)
	}
	for i, want := range []string{"three", "two", "one"} {
		r, err := b.GetVersion(t.Context(), "fleet/tpl", vs[i].VersionID)
		if err != nil {
			t.Fatalf("GetVersion(%s): %v", vs[i].VersionID, err)
		}
		if r.Identifier != want {
			t.Errorf("version %d holds %q, want %q", i, r.Identifier, want)
		}
	}
	all, err := b.Versions(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	var deleted, keys int
	for _, v := range all {
		if v.Key == "other" {
			keys++
			if v.Deleted && v.Latest {
				deleted++
			}
		}
	}
	if len(all) != 5 || keys != 2 || deleted != 1 {
		t.Errorf("Versions(\"\") = %+v, want 3 of fleet/tpl and 2 of other, its latest a deletion", all)
	}
	if _, err := b.GetVersion(t.Context(), "fleet/tpl", "no-such-version"); err == nil {
		t.Error("GetVersion of an unknown version succeeded")
	}

	plain := openS3(t, client, s3test.Bucket(t, false), "app", "dev")
	if _, err := plain.Versions(t.Context(), ""); err == nil || !strings.Contains(err.Error(), "put-bucket-versioning") {
		t.Errorf("Versions without versioning = %v, want an error saying how to enable it", err)
	}
}

// TestFencedWriteConflict: under the lock, a record changed behind the
// holder's back (here by a write without the lock) is not overwritten: the
// holder's write fails naming the object, and succeeds once it reads the
// record again.
func TestFencedWriteConflict(t *testing.T) {
	client := s3test.Client(os.Getenv(s3test.EnvEndpoint))
	bucket := s3test.Bucket(t, false)
	a, other := openS3(t, client, bucket, "app", "dev"), openS3(t, client, bucket, "app", "dev")
	l, err := a.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock(context.WithoutCancel(t.Context()))
	r := &state.Record{Key: "k", Type: "AWS::Logs::LogGroup", Seq: 1, Status: state.StatusCreated, Identifier: "mine"}
	if err := a.Put(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	theirs := *r
	theirs.Identifier = "theirs"
	if err := other.Put(t.Context(), &theirs); err != nil {
		t.Fatal(err)
	}
	r.Identifier = "mine-again"
	err = a.Put(t.Context(), r)
	if err == nil || !strings.Contains(err.Error(), "changed by another writer") || errors.Is(err, state.ErrLockLost) {
		t.Fatalf("Put over a record changed behind the holder = %v, want a conflict (the lock is still held)", err)
	}
	if got, err := other.Get(t.Context(), "k"); err != nil || got.Identifier != "theirs" {
		t.Fatalf("record after the refused write = %+v, %v", got, err)
	}
	if _, err := a.Get(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(t.Context(), r); err != nil {
		t.Fatalf("Put after reading the record again: %v", err)
	}
	// A record created behind the holder's back after it saw none.
	if _, err := a.Get(t.Context(), "new"); !errors.Is(err, state.ErrNotFound) {
		t.Fatal(err)
	}
	n := &state.Record{Key: "new", Type: "AWS::Logs::LogGroup", Seq: 2, Status: state.StatusCreated, Identifier: "theirs"}
	if err := other.Put(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	n2 := *n
	n2.Identifier = "mine"
	if err := a.Put(t.Context(), &n2); err == nil || !strings.Contains(err.Error(), "changed by another writer") {
		t.Fatalf("Put of a record created behind the holder = %v, want a conflict", err)
	}
	notLost(t, l)
}

func notLost(t *testing.T, l state.Lock) {
	t.Helper()
	select {
	case <-l.Lost():
		t.Fatalf("lock lost: %v", l.Err())
	default:
	}
}

// gate is an HTTP transport that, once armed, holds the next PUT of a
// record object before sending it, as a network that delays one request
// after the lock check that preceded it went through.
type gate struct {
	mu      sync.Mutex
	armed   bool
	held    chan struct{} // closed when a request is held
	release chan struct{} // close to send it
}

func (g *gate) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.held, g.release = true, make(chan struct{}), make(chan struct{})
}

func (g *gate) RoundTrip(req *http.Request) (*http.Response, error) {
	g.mu.Lock()
	hold := g.armed && req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/records/")
	var held, release chan struct{}
	if hold {
		g.armed = false
		held, release = g.held, g.release
	}
	g.mu.Unlock()
	if hold {
		close(held)
		select {
		case <-release:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestLateWrite: a holder's write that passed its lock check but reaches
// S3 only after a forced unlock and a new holder (the window S3 leaves; see
// the package documentation) never overwrites what the new holder wrote,
// and is never reported a success; one to an object the new holder only
// read lands, is reported lost to its writer, and makes the new holder's
// next write of that object fail instead of overwriting it unseen.
func TestLateWrite(t *testing.T) {
	endpoint := os.Getenv(s3test.EnvEndpoint)
	bucket := s3test.Bucket(t, false)
	g := &gate{}
	gated := awss3.New(awss3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: aws.AnonymousCredentials{}, HTTPClient: &http.Client{Transport: g}})
	direct := s3test.Client(endpoint)
	// The lease is long: the late writes here are delayed past a forced
	// unlock, not past the lease, and must be let through before the
	// holder's renew deadline cancels them.
	lease := state.WithLease(time.Minute)

	a, b := openS3(t, gated, bucket, "app", "dev", lease), openS3(t, direct, bucket, "app", "dev", lease)
	l, err := a.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock(context.WithoutCancel(t.Context()))
	rec := func(key, id string) *state.Record {
		return &state.Record{Key: key, Type: "AWS::Logs::LogGroup", Seq: 1, Status: state.StatusCreated, Identifier: id}
	}
	for _, k := range []string{"taken", "read"} {
		if err := a.Put(t.Context(), rec(k, "old-holder")); err != nil {
			t.Fatal(err)
		}
	}
	late := func(r *state.Record) (wait func() error) {
		g.arm()
		errc := make(chan error, 1)
		go func() { errc <- a.Put(context.Background(), r) }()
		select {
		case <-g.held:
		case err := <-errc:
			t.Fatalf("the write was not held: %v", err)
		}
		return func() error { close(g.release); return <-errc }
	}

	// 1. The new holder rewrote the object: the late write is refused.
	wait := late(rec("taken", "late"))
	if _, err := b.ForceUnlock(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	l2, err := b.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Unlock(context.WithoutCancel(t.Context()))
	if _, err := b.List(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(t.Context(), rec("taken", "new-holder")); err != nil {
		t.Fatal(err)
	}
	if err := wait(); !errors.Is(err, state.ErrLockLost) {
		t.Fatalf("late write over the new holder's record: %v, want state.ErrLockLost", err)
	}
	if r, err := b.Get(t.Context(), "taken"); err != nil || r.Identifier != "new-holder" {
		t.Fatalf("record after the late write = %+v, %v; want the new holder's", r, err)
	}
	waitLostS3(t, l)
	if err := l.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := l2.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}

	// 2. The new holder only read the object: the late write lands, is
	// reported lost, and the new holder cannot overwrite it unseen.
	l, err = a.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock(context.WithoutCancel(t.Context()))
	if _, err := a.Get(t.Context(), "read"); err != nil {
		t.Fatal(err)
	}
	wait = late(rec("read", "late"))
	if _, err := b.ForceUnlock(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	l2, err = b.Lock(t.Context(), state.NewLockInfo("deploy"))
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Unlock(context.WithoutCancel(t.Context()))
	if _, err := b.List(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := wait(); !errors.Is(err, state.ErrLockLost) || !strings.Contains(err.Error(), "was applied") {
		t.Fatalf("late write landing after a takeover: %v, want state.ErrLockLost saying it was applied", err)
	}
	err = b.Put(t.Context(), rec("read", "new-holder"))
	if err == nil || !strings.Contains(err.Error(), "changed by another writer") {
		t.Fatalf("the new holder's write over a late write it did not see: %v, want a conflict", err)
	}
	if r, err := b.Get(t.Context(), "read"); err != nil || r.Identifier != "late" {
		t.Fatalf("record = %+v, %v; want the late write, not overwritten unseen", r, err)
	}
	// Having read it, the new holder may write.
	if err := b.Put(t.Context(), rec("read", "new-holder")); err != nil {
		t.Fatal(err)
	}
	notLost(t, l2)
}

func waitLostS3(t *testing.T, l state.Lock) {
	t.Helper()
	select {
	case <-l.Lost():
	case <-time.After(time.Minute):
		t.Fatal("Lost not closed")
	}
	if !errors.Is(l.Err(), state.ErrLockLost) {
		t.Fatalf("Err = %v", l.Err())
	}
}

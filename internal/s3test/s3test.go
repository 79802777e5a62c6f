// Package s3test serves a real S3 implementation on loopback for tests:
// gofakes3 (github.com/johannesboyne/gofakes3) over its in-memory backend,
// which implements conditional PutObject (If-None-Match: *, If-Match) and
// bucket versioning, reached by the real aws-sdk-go-v2 client.
//
// Tests normally share one server per test binary:
//
//	func TestMain(m *testing.M) { s3test.Main(m) }
//
// Main exports the server's endpoint in AWS_ENDPOINT_URL_S3, with dummy
// credentials and a region, so that the standard AWS configuration (and
// helper processes the tests start, which inherit the environment and
// reuse that server rather than start their own) reach it.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// EnvEndpoint is the variable holding the shared server's endpoint.
const EnvEndpoint = "AWS_ENDPOINT_URL_S3"

// Server is a running S3 server.
type Server struct {
	// Endpoint is the server's URL, http://127.0.0.1:port.
	Endpoint string
	srv      *http.Server
	mu       sync.Mutex
	busy     map[net.Conn]bool
}

// Start serves a new, empty S3 on a free loopback port.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	fake := gofakes3.New(s3mem.New())
	s := &Server{Endpoint: "http://" + ln.Addr().String()}
	s.srv = &http.Server{Handler: fake.Server()}
	s.srv.ConnState = s.connState
	go s.srv.Serve(ln)
	return s, nil
}

// connState tracks connections that are new (a request may be on its way)
// or have a request in progress.
func (s *Server) connState(c net.Conn, cs http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy == nil {
		s.busy = map[net.Conn]bool{}
	}
	if cs == http.StateNew || cs == http.StateActive {
		s.busy[c] = true
	} else {
		delete(s.busy, c)
	}
}

// Busy returns how many accepted connections are new or have a request in
// progress: zero once every request sent on a connection the server has
// accepted has been handled (answered, or its client gone and its handler
// returned).
func (s *Server) Busy() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.busy)
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Main runs the tests of m with a shared server (unless the environment
// already names one, as in helper processes) and exits.
func Main(m *testing.M) {
	setEnv("AWS_ACCESS_KEY_ID", "athanor-test")
	setEnv("AWS_SECRET_ACCESS_KEY", "athanor-test")
	setEnv("AWS_REGION", "us-east-1")
	os.Unsetenv("AWS_PROFILE")
	if os.Getenv(EnvEndpoint) != "" {
		os.Exit(m.Run())
	}
	s, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3test:", err)
		os.Exit(1)
	}
	os.Setenv(EnvEndpoint, s.Endpoint)
	code := m.Run()
	s.Close()
	os.Exit(code)
}

func setEnv(k, v string) {
	if os.Getenv(k) == "" {
		os.Setenv(k, v)
	}
}

// Client returns a client of the server at endpoint (path-style, dummy
// credentials).
func Client(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  aws.AnonymousCredentials{},
	})
}

// Bucket creates a bucket with a unique name on the shared server (see
// Main), with versioning enabled when versioned is set, and returns its
// name.
func Bucket(t testing.TB, versioned bool) string {
	t.Helper()
	endpoint := os.Getenv(EnvEndpoint)
	if endpoint == "" {
		t.Fatal("s3test: no shared S3 server: call s3test.Main from TestMain")
	}
	return NewBucket(t, Client(endpoint), versioned)
}

// NewBucket creates a bucket with a unique name through client, with
// versioning enabled when versioned is set, and returns its name.
func NewBucket(t testing.TB, client *s3.Client, versioned bool) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "athanor-test-" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("s3test: create bucket %s: %v", name, err)
	}
	if versioned {
		if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &name,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatalf("s3test: enable versioning of bucket %s: %v", name, err)
		}
	}
	return name
}

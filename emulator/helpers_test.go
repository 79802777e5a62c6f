package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	cctypes "github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// manualClock is a Clock that moves only when told to.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func newManualClock() *manualClock {
	return &manualClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testEmulator is an emulator served on loopback with SDK clients.
type testEmulator struct {
	srv *Server
	url string
	hs  *httptest.Server
	cc  *cloudcontrol.Client
	iot *iot.Client
	sts *sts.Client
}

func staticCreds(akid, secret string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, Source: "test"}, nil
	})
}

// startEmulator serves a Server built from opts until the test ends and
// returns clients that make one attempt per call (no SDK retries).
func startEmulator(t testing.TB, opts Options) *testEmulator {
	t.Helper()
	srv, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	te := serve(t, srv)
	t.Cleanup(func() { te.close(t) })
	return te
}

// serve serves srv on loopback; close stops it.
func serve(t testing.TB, srv *Server) *testEmulator {
	hs := httptest.NewServer(srv)
	te := &testEmulator{srv: srv, url: hs.URL, hs: hs}
	te.cc, te.iot, te.sts = clients(hs.URL, srv.Region(), staticCreds("AKIDEXAMPLE", "secret"))
	return te
}

func (te *testEmulator) close(t testing.TB) {
	t.Helper()
	te.hs.Close()
	if err := te.srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func clients(url, region string, creds aws.CredentialsProvider) (*cloudcontrol.Client, *iot.Client, *sts.Client) {
	cc := cloudcontrol.New(cloudcontrol.Options{
		Region: region, BaseEndpoint: aws.String(url), Credentials: creds, RetryMaxAttempts: 1,
	})
	io := iot.New(iot.Options{
		Region: region, BaseEndpoint: aws.String(url), Credentials: creds, RetryMaxAttempts: 1,
	})
	st := sts.New(sts.Options{
		Region: region, BaseEndpoint: aws.String(url), Credentials: creds, RetryMaxAttempts: 1,
	})
	return cc, io, st
}

// apiCode returns the AWS error code of err, failing the test when err is
// not an API error.
func apiCode(t testing.TB, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want an AWS API error, got %v", err)
	}
	return ae.ErrorCode()
}

func wantAPIError(t testing.TB, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s, got success", code)
	}
	if got := apiCode(t, err); got != code {
		t.Fatalf("want %s, got %s (%v)", code, got, err)
	}
}

func mustJSONString(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decodeProps(t testing.TB, s *string) map[string]any {
	t.Helper()
	if s == nil {
		t.Fatalf("properties are nil")
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(*s), &m); err != nil {
		t.Fatalf("properties %q: %v", *s, err)
	}
	return m
}

// create sends CreateResource and returns its first event.
func (te *testEmulator) create(t testing.TB, typeName string, desired any) *cctypes.ProgressEvent {
	t.Helper()
	out, err := te.cc.CreateResource(context.Background(), &cloudcontrol.CreateResourceInput{
		TypeName: aws.String(typeName), DesiredState: aws.String(mustJSONString(t, desired)),
	})
	if err != nil {
		t.Fatalf("CreateResource %s: %v", typeName, err)
	}
	return out.ProgressEvent
}

// status polls a request once.
func (te *testEmulator) status(t testing.TB, token *string) *cctypes.ProgressEvent {
	t.Helper()
	out, err := te.cc.GetResourceRequestStatus(context.Background(), &cloudcontrol.GetResourceRequestStatusInput{RequestToken: token})
	if err != nil {
		t.Fatalf("GetResourceRequestStatus: %v", err)
	}
	return out.ProgressEvent
}

// final polls a request once and requires a final status.
func (te *testEmulator) final(t testing.TB, ev *cctypes.ProgressEvent, want cctypes.OperationStatus) *cctypes.ProgressEvent {
	t.Helper()
	got := te.status(t, ev.RequestToken)
	if got.OperationStatus != want {
		t.Fatalf("request %s (%s %s): status %s (%s: %s), want %s", aws.ToString(ev.RequestToken), ev.Operation,
			aws.ToString(ev.TypeName), got.OperationStatus, got.ErrorCode, aws.ToString(got.StatusMessage), want)
	}
	return got
}

func (te *testEmulator) get(t testing.TB, typeName, id string) map[string]any {
	t.Helper()
	out, err := te.cc.GetResource(context.Background(), &cloudcontrol.GetResourceInput{TypeName: aws.String(typeName), Identifier: aws.String(id)})
	if err != nil {
		t.Fatalf("GetResource %s %s: %v", typeName, id, err)
	}
	return decodeProps(t, out.ResourceDescription.Properties)
}

func (te *testEmulator) del(t testing.TB, typeName, id string) *cctypes.ProgressEvent {
	t.Helper()
	out, err := te.cc.DeleteResource(context.Background(), &cloudcontrol.DeleteResourceInput{TypeName: aws.String(typeName), Identifier: aws.String(id)})
	if err != nil {
		t.Fatalf("DeleteResource %s %s: %v", typeName, id, err)
	}
	return out.ProgressEvent
}

func keys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ",")
}

func errorAs(err error, target any) bool { return errors.As(err, target) }

// homeStore is the store of the emulator's home scope: Options.Account in
// Options.Region, where the unmapped test keys' requests go.
func (s *Server) homeStore() *store { return s.store(s.home()) }

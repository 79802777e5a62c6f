package emulator

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	cctypes "github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"
)

// listedTokens returns the tokens ListResourceRequests reports, newest
// first, paging with pageSize.
func (te *testEmulator) listedTokens(t testing.TB, pageSize int32) []string {
	t.Helper()
	var tokens []string
	p := cloudcontrol.NewListResourceRequestsPaginator(te.cc, &cloudcontrol.ListResourceRequestsInput{MaxResults: aws.Int32(pageSize)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListResourceRequests: %v", err)
		}
		for _, ev := range out.ResourceRequestStatusSummaries {
			tokens = append(tokens, aws.ToString(ev.RequestToken))
		}
	}
	return tokens
}

// wantForgotten requires that the request with token is unknown.
func (te *testEmulator) wantForgotten(t testing.TB, token *string) {
	t.Helper()
	_, err := te.cc.GetResourceRequestStatus(context.Background(), &cloudcontrol.GetResourceRequestStatusInput{RequestToken: token})
	wantAPIError(t, err, "RequestTokenNotFoundException")
}

func TestRequestRetentionDefault(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Hour} {
		o := Options{RequestRetention: d}
		if err := o.setDefaults(); err != nil {
			t.Fatal(err)
		}
		if o.RequestRetention != 7*24*time.Hour {
			t.Errorf("RequestRetention %v defaults to %v, want 7 days", d, o.RequestRetention)
		}
	}
}

func TestRequestRetention(t *testing.T) {
	const retention = time.Hour
	clock := newManualClock()
	te := startEmulator(t, Options{Clock: clock, RequestRetention: retention})
	ctx := context.Background()
	in := &cloudcontrol.CreateResourceInput{
		TypeName: aws.String(logGroup), DesiredState: aws.String(`{"LogGroupName":"kept"}`), ClientToken: aws.String("client-1"),
	}
	first, err := te.cc.CreateResource(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	token := first.ProgressEvent.RequestToken
	te.final(t, first.ProgressEvent, cctypes.OperationStatusSuccess)

	// Just before the retention has passed, everything still knows it.
	clock.Advance(retention - time.Nanosecond)
	te.final(t, first.ProgressEvent, cctypes.OperationStatusSuccess)
	if got := te.listedTokens(t, 10); !slices.Equal(got, []string{*token}) {
		t.Fatalf("listed %v, want [%s]", got, *token)
	}
	again, err := te.cc.CreateResource(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(again.ProgressEvent.RequestToken) != *token {
		t.Fatal("the ClientToken within the retention period gave a new request")
	}

	// Once it has passed, the request is forgotten everywhere.
	clock.Advance(time.Nanosecond)
	te.wantForgotten(t, token)
	if got := te.listedTokens(t, 10); len(got) != 0 {
		t.Fatalf("listed %v after expiry, want none", got)
	}
	_, err = te.cc.CancelResourceRequest(ctx, &cloudcontrol.CancelResourceRequestInput{RequestToken: token})
	wantAPIError(t, err, "RequestTokenNotFoundException")

	// The resource is untouched, and the ClientToken starts a new request,
	// which fails because the log group exists.
	if got := te.get(t, logGroup, "kept")["LogGroupName"]; got != "kept" {
		t.Fatalf("resource after expiry: LogGroupName %v", got)
	}
	fresh, err := te.cc.CreateResource(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(fresh.ProgressEvent.RequestToken) == *token {
		t.Fatal("the forgotten ClientToken answered the expired request")
	}
	if got := te.final(t, fresh.ProgressEvent, cctypes.OperationStatusFailed); got.ErrorCode != cctypes.HandlerErrorCodeAlreadyExists {
		t.Fatalf("new request failed with %s, want AlreadyExists", got.ErrorCode)
	}
}

// TestRequestRetentionInFlight checks that requests in progress are never
// forgotten and do not hold back the expiry of later ones, and that
// cancelled and failed requests expire too.
func TestRequestRetentionInFlight(t *testing.T) {
	const retention = time.Hour
	clock := newManualClock()
	te := startEmulator(t, Options{Clock: clock, RequestRetention: retention,
		Latency: Latency{Create: Fixed(10 * retention), Update: Fixed(10 * retention)}})
	ctx := context.Background()

	slow := te.create(t, logGroup, map[string]any{"LogGroupName": "slow"})
	cancelled := te.create(t, logGroup, map[string]any{"LogGroupName": "cancelled"})
	if _, err := te.cc.CancelResourceRequest(ctx, &cloudcontrol.CancelResourceRequestInput{RequestToken: cancelled.RequestToken}); err != nil {
		t.Fatal(err)
	}
	var failed []string
	for i := range 5 {
		ev := te.del(t, logGroup, fmt.Sprintf("missing-%d", i))
		te.final(t, ev, cctypes.OperationStatusFailed)
		failed = append(failed, *ev.RequestToken)
	}
	later := te.create(t, logGroup, map[string]any{"LogGroupName": "later"})

	clock.Advance(retention)
	// The requests behind the one in flight expired; the ones in flight stay.
	te.wantForgotten(t, cancelled.RequestToken)
	for _, tok := range failed {
		te.wantForgotten(t, &tok)
	}
	te.final(t, slow, cctypes.OperationStatusInProgress)
	te.final(t, later, cctypes.OperationStatusInProgress)
	want := []string{*later.RequestToken, *slow.RequestToken}
	for _, size := range []int32{1, 2, 100} {
		if got := te.listedTokens(t, size); !slices.Equal(got, want) {
			t.Fatalf("listed %v in pages of %d, want %v", got, size, want)
		}
	}

	// Long after the retention period the requests are still in flight.
	clock.Advance(10*retention - retention - time.Nanosecond)
	te.final(t, slow, cctypes.OperationStatusInProgress)
	clock.Advance(time.Nanosecond)
	te.final(t, slow, cctypes.OperationStatusSuccess)
	clock.Advance(retention - time.Nanosecond)
	te.final(t, slow, cctypes.OperationStatusSuccess)
	clock.Advance(time.Nanosecond)
	te.wantForgotten(t, slow.RequestToken)
	te.wantForgotten(t, later.RequestToken)
	if got := te.listedTokens(t, 100); len(got) != 0 {
		t.Fatalf("listed %v, want none", got)
	}
}

// storedRequestTokens reads the request tokens in the data directory's
// database, all of the default account in us-east-1.
func storedRequestTokens(t *testing.T, dir string) []string {
	t.Helper()
	home := scope{DefaultAccount, DefaultRegion}
	j, err := openJournal(dir, home)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	var tokens []string
	if err := j.load(bucketRequests, func(key, _ []byte) error {
		sc, token, ok := splitJournalKey(string(key))
		if !ok || sc != home {
			t.Errorf("stored request key %q is not of %s", key, home)
		}
		tokens = append(tokens, token)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(tokens)
	return tokens
}

func TestRequestRetentionDurable(t *testing.T) {
	const retention = time.Hour
	dir := t.TempDir()
	clock := newManualClock()
	opts := Options{DataDir: dir, Clock: clock, RequestRetention: retention}

	first, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	te := serve(t, first)
	old := te.create(t, logGroup, map[string]any{"LogGroupName": "old"})
	te.final(t, old, cctypes.OperationStatusSuccess)
	clock.Advance(retention)
	te.wantForgotten(t, old.RequestToken)
	young := te.create(t, logGroup, map[string]any{"LogGroupName": "young"})
	te.final(t, young, cctypes.OperationStatusSuccess)
	te.close(t)
	if got, want := storedRequestTokens(t, dir), []string{*young.RequestToken}; !slices.Equal(got, want) {
		t.Fatalf("stored requests %v, want %v", got, want)
	}

	// Restarted within the retention: the expired request stays forgotten,
	// the young one is back.
	second, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	te = serve(t, second)
	te.wantForgotten(t, old.RequestToken)
	te.final(t, young, cctypes.OperationStatusSuccess)
	te.close(t)

	// Restarted after the retention passed while stopped: nothing is back,
	// and the database is cleaned up; the resources remain.
	clock.Advance(retention)
	third, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	te = serve(t, third)
	te.wantForgotten(t, young.RequestToken)
	if got := te.listedTokens(t, 100); len(got) != 0 {
		t.Fatalf("listed %v after restart, want none", got)
	}
	for _, name := range []string{"old", "young"} {
		te.get(t, logGroup, name)
	}
	te.close(t)
	if got := storedRequestTokens(t, dir); len(got) != 0 {
		t.Fatalf("stored requests %v, want none", got)
	}
}

// TestRequestRetentionMemory runs many create and delete cycles past the
// retention period, behind a request in flight for the whole run, and checks
// that the request indexes hold only the requests within the period.
func TestRequestRetentionMemory(t *testing.T) {
	const (
		retention = time.Hour
		step      = time.Minute
		cycles    = 3000
		window    = 2 * (int(retention/step) - 1) // requests younger than the period
	)
	clock := newManualClock()
	srv, err := New(Options{Clock: clock, RequestRetention: retention, Latency: Latency{Update: Fixed(1000 * retention)}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := srv.newCall(caller{scope: srv.home()})
	call := func(fn func([]byte) (any, *apiError), body string) {
		t.Helper()
		if _, e := fn([]byte(body)); e != nil {
			t.Fatalf("%s: %s: %s", body, e.Name, e.Message)
		}
	}
	call(c.createResource, `{"TypeName":"AWS::Logs::LogGroup","DesiredState":"{\"LogGroupName\":\"anchor\"}"}`)
	call(c.updateResource, `{"TypeName":"AWS::Logs::LogGroup","Identifier":"anchor","PatchDocument":"[{\"op\":\"add\",\"path\":\"/RetentionInDays\",\"value\":7}]"}`)

	st := c.st
	peak := 0
	for i := range cycles {
		call(c.createResource, fmt.Sprintf(`{"TypeName":"AWS::Logs::LogGroup","ClientToken":"c-%d","DesiredState":"{\"LogGroupName\":\"g-%d\"}"}`, i, i))
		call(c.deleteResource, fmt.Sprintf(`{"TypeName":"AWS::Logs::LogGroup","ClientToken":"d-%d","Identifier":"g-%d"}`, i, i))
		clock.Advance(step)
		st.settle(clock.Now())
		st.mu.RLock()
		peak = max(peak, len(st.requests), len(st.clientTokens), len(st.order)/2, len(st.expiry))
		st.mu.RUnlock()
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	t.Logf("peak %d entries; now requests %d, client tokens %d, order %d (cap %d), expiry %d (cap %d)",
		peak, len(st.requests), len(st.clientTokens), len(st.order), cap(st.order), len(st.expiry), cap(st.expiry))
	// The anchor's create has expired, its update is still in flight.
	if len(st.pending) != 1 || len(st.requests) != window+1 || len(st.clientTokens) != window || len(st.expiry) != window {
		t.Fatalf("requests %d, client tokens %d, expiry %d, pending %d; want %d, %d, %d, 1",
			len(st.requests), len(st.clientTokens), len(st.expiry), len(st.pending), window+1, window, window)
	}
	if peak > window+2 {
		t.Fatalf("peak %d entries, want at most %d", peak, window+2)
	}
	if len(st.order)-st.dead != len(st.requests) || len(st.order) > 2*len(st.requests) || cap(st.order) > 8*len(st.requests) {
		t.Fatalf("order holds %d entries (%d tombstones, cap %d) for %d requests", len(st.order), st.dead, cap(st.order), len(st.requests))
	}
	if st.order[0].Token != st.pending[0].Token {
		t.Fatal("the request in flight left the order")
	}
}

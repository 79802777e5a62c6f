package emulator

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	cctypes "github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/smithy-go"
)

func listErr(te *testEmulator) error {
	_, err := te.cc.ListResources(context.Background(), &cloudcontrol.ListResourcesInput{TypeName: aws.String(logGroup)})
	return err
}

func TestRateLimit(t *testing.T) {
	clock := newManualClock()
	te := startEmulator(t, Options{Clock: clock, Faults: Faults{RateLimit: 2, Burst: 2}})
	for i := 0; i < 2; i++ {
		if err := listErr(te); err != nil {
			t.Fatalf("request %d within the limit: %v", i, err)
		}
	}
	err := listErr(te)
	wantAPIError(t, err, "ThrottlingException")
	if status, m := post(t, te.url, "CloudApiService.ListResources", `{"TypeName":"AWS::Logs::LogGroup"}`); status != 400 ||
		m["__type"] != "com.amazon.coral.availability#ThrottlingException" {
		t.Fatalf("throttled answer %d %v", status, m)
	}
	_, err = te.iot.ListJobTemplates(context.Background(), &iot.ListJobTemplatesInput{})
	wantAPIError(t, err, "ThrottlingException")
	clock.Advance(time.Second)
	if err := listErr(te); err != nil {
		t.Fatalf("after a second: %v", err)
	}
}

func TestSyncFaults(t *testing.T) {
	te := startEmulator(t, Options{Faults: Faults{ServerErrors: 1}})
	wantAPIError(t, listErr(te), "InternalFailure")
	te = startEmulator(t, Options{Faults: Faults{Throttles: 1}})
	wantAPIError(t, listErr(te), "ThrottlingException")
}

func TestAsyncFaults(t *testing.T) {
	te := startEmulator(t, Options{Faults: Faults{AsyncFailures: 1, AsyncCodes: []string{"NotStabilized"}}})
	ev := te.final(t, te.create(t, logGroup, map[string]any{"LogGroupName": "unstable"}), cctypes.OperationStatusFailed)
	if ev.ErrorCode != cctypes.HandlerErrorCodeNotStabilized {
		t.Fatalf("ErrorCode %s", ev.ErrorCode)
	}
	_, err := te.cc.GetResource(context.Background(), &cloudcontrol.GetResourceInput{TypeName: aws.String(logGroup), Identifier: aws.String("unstable")})
	wantAPIError(t, err, "ResourceNotFoundException")
}

func TestDroppedConnections(t *testing.T) {
	te := startEmulator(t, Options{Faults: Faults{DropConnections: 1}})
	err := listErr(te)
	if err == nil {
		t.Fatal("a dropped connection answered")
	}
	var ae smithy.APIError
	if asAPI := errorAs(err, &ae); asAPI {
		t.Fatalf("a dropped connection gave an API error: %v", err)
	}
}

// TestFaultsReproducible: the same seed fails the same requests.
func TestFaultsReproducible(t *testing.T) {
	outcomes := func(seed uint64) []string {
		te := startEmulator(t, Options{Faults: Faults{Seed: seed, Throttles: 0.3, ServerErrors: 0.2, AsyncFailures: 0.5}})
		var out []string
		for i := 0; i < 30; i++ {
			res, err := te.cc.CreateResource(context.Background(), &cloudcontrol.CreateResourceInput{
				TypeName: aws.String(logGroup), DesiredState: aws.String(mustJSONString(t, map[string]any{"LogGroupName": i})),
			})
			if err != nil {
				out = append(out, apiCode(t, err))
				continue
			}
			st, err := te.cc.GetResourceRequestStatus(context.Background(), &cloudcontrol.GetResourceRequestStatusInput{RequestToken: res.ProgressEvent.RequestToken})
			if err != nil {
				out = append(out, "poll:"+apiCode(t, err))
				continue
			}
			out = append(out, string(st.ProgressEvent.OperationStatus)+string(st.ProgressEvent.ErrorCode))
		}
		return out
	}
	a, b, c := outcomes(7), outcomes(7), outcomes(8)
	if mustJSONString(t, a) != mustJSONString(t, b) {
		t.Fatalf("seed 7 gave different outcomes:\n%v\n%v", a, b)
	}
	if mustJSONString(t, a) == mustJSONString(t, c) {
		t.Fatalf("seeds 7 and 8 gave the same outcomes: %v", a)
	}
	seen := map[string]bool{}
	for _, o := range a {
		seen[o] = true
	}
	if len(seen) < 3 {
		t.Fatalf("faults too uniform to test anything: %v", a)
	}
}

func TestRealisticLatencyIsSeeded(t *testing.T) {
	completions := func() []time.Duration {
		clock := newManualClock()
		opts := Realistic(42)
		opts.Clock = clock
		opts.Faults.RateLimit = 0
		te := startEmulator(t, opts)
		var out []time.Duration
		for i := 0; i < 5; i++ {
			ev := te.create(t, logGroup, map[string]any{"LogGroupName": "g" + string(rune('a'+i))})
			st := te.status(t, ev.RequestToken)
			d := st.RetryAfter.Sub(*ev.EventTime)
			if d < time.Second || d > 3*time.Second {
				t.Fatalf("latency %v outside 1-3 s", d)
			}
			out = append(out, d)
		}
		return out
	}
	if a, b := completions(), completions(); mustJSONString(t, a) != mustJSONString(t, b) {
		t.Fatalf("same seed, different latencies: %v %v", a, b)
	}
}

// TestUnstableFailures: with UnstableFailures, a create whose identifier
// the service generates takes effect and ends FAILED/NotStabilized naming
// the resource, an update takes effect and ends the same way, a create with
// a chosen identifier is left alone; FaultCounts counts what was injected.
func TestUnstableFailures(t *testing.T) {
	const topic = "AWS::SNS::Topic"
	te := startEmulator(t, Options{Faults: Faults{UnstableFailures: 1}})
	ev := te.final(t, te.create(t, topic, map[string]any{"DisplayName": "one"}), cctypes.OperationStatusFailed)
	id := aws.ToString(ev.Identifier)
	if ev.ErrorCode != cctypes.HandlerErrorCodeNotStabilized || id == "" {
		t.Fatalf("unstable create: %s, identifier %q; want NotStabilized naming the topic", ev.ErrorCode, id)
	}
	if m := te.get(t, topic, id); m["DisplayName"] != "one" {
		t.Fatalf("the unstable create's topic: %v", m)
	}
	out, err := te.cc.UpdateResource(context.Background(), &cloudcontrol.UpdateResourceInput{TypeName: aws.String(topic), Identifier: aws.String(id),
		PatchDocument: aws.String(`[{"op":"replace","path":"/DisplayName","value":"two"}]`)})
	if err != nil {
		t.Fatal(err)
	}
	if ev := te.final(t, out.ProgressEvent, cctypes.OperationStatusFailed); ev.ErrorCode != cctypes.HandlerErrorCodeNotStabilized {
		t.Fatalf("unstable update: %s", ev.ErrorCode)
	}
	if m := te.get(t, topic, id); m["DisplayName"] != "two" {
		t.Fatalf("the unstable update did not take effect: %v", m)
	}
	te.final(t, te.create(t, logGroup, map[string]any{"LogGroupName": "chosen"}), cctypes.OperationStatusSuccess)
	te.final(t, te.del(t, topic, id), cctypes.OperationStatusSuccess)
	if got := te.srv.FaultCounts(); got.UnstableFailures != 2 || len(got.AsyncFailures) != 0 {
		t.Fatalf("FaultCounts = %+v, want 2 unstable failures", got)
	}
}

// TestFaultCounts: every injected fault is counted under its kind.
func TestFaultCounts(t *testing.T) {
	te := startEmulator(t, Options{Faults: Faults{Seed: 3, Throttles: 0.2, ServerErrors: 0.2, DropConnections: 0.2,
		AsyncFailures: 0.5, AsyncCodes: []string{"NotStabilized"}}})
	var throttles, serverErrors, dropped, failed int64
	for i := 0; i < 60; i++ {
		res, err := te.cc.CreateResource(context.Background(), &cloudcontrol.CreateResourceInput{
			TypeName: aws.String(logGroup), DesiredState: aws.String(mustJSONString(t, map[string]any{"LogGroupName": "g" + strconv.Itoa(i)})),
		})
		var ae smithy.APIError
		switch {
		case err == nil:
			st, err := te.cc.GetResourceRequestStatus(context.Background(), &cloudcontrol.GetResourceRequestStatusInput{RequestToken: res.ProgressEvent.RequestToken})
			if err == nil && st.ProgressEvent.ErrorCode == cctypes.HandlerErrorCodeNotStabilized {
				failed++
			}
		case errorAs(err, &ae) && ae.ErrorCode() == "ThrottlingException":
			throttles++
		case errorAs(err, &ae) && ae.ErrorCode() == "InternalFailure":
			serverErrors++
		case !errorAs(err, &ae):
			dropped++
		}
	}
	got := te.srv.FaultCounts()
	// Polls draw faults too: the counts include theirs.
	if got.Throttles < throttles || got.ServerErrors < serverErrors || got.DroppedConnections < dropped ||
		got.AsyncFailures["NotStabilized"] < failed || throttles == 0 || serverErrors == 0 || dropped == 0 || failed == 0 {
		t.Fatalf("FaultCounts = %+v; seen from the client: %d throttles, %d 500s, %d dropped, %d NotStabilized",
			got, throttles, serverErrors, dropped, failed)
	}
}

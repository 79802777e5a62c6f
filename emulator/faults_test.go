package emulator

import (
	"context"
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

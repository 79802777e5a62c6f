package emulator

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	cctypes "github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"
)

func TestDurability(t *testing.T) {
	dir := t.TempDir()
	clock := newManualClock()
	opts := Options{DataDir: dir, Clock: clock, Latency: Latency{Create: Fixed(5 * time.Second)}}

	first, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	te := serve(t, first)
	done := te.create(t, jobTemplate, fullJobTemplate("kept"))
	clock.Advance(5 * time.Second)
	te.final(t, done, cctypes.OperationStatusSuccess)
	pending := te.create(t, logGroup, map[string]any{"LogGroupName": "pending", "RetentionInDays": 3})
	te.close(t)

	// Reopened: the resource, both requests and the ClientToken index are back,
	// and the request still in progress completes on time.
	second, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	te = serve(t, second)
	defer te.close(t)
	if props := te.get(t, jobTemplate, "kept"); props["Arn"] != "arn:aws:iot:us-east-1:123456789012:jobtemplate/kept" {
		t.Fatalf("after restart: %v", props)
	}
	te.final(t, done, cctypes.OperationStatusSuccess)
	te.final(t, pending, cctypes.OperationStatusInProgress)
	clock.Advance(5 * time.Second)
	te.final(t, pending, cctypes.OperationStatusSuccess)
	if got := te.get(t, logGroup, "pending")["RetentionInDays"]; got != 3.0 {
		t.Fatalf("RetentionInDays %v", got)
	}
	// Write-only properties survived too.
	res := second.homeStore().get(resourceKey{jobTemplate, "kept"})
	if res == nil || res.Model["Document"] != `{"operation":"update"}` {
		t.Fatalf("stored model lost its write-only properties: %v", res)
	}
	out, err := te.cc.ListResourceRequests(context.Background(), &cloudcontrol.ListResourceRequestsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ResourceRequestStatusSummaries) != 2 {
		t.Fatalf("%d requests after restart, want 2", len(out.ResourceRequestStatusSummaries))
	}
	// New requests number after the old ones.
	te.final(t, te.del(t, jobTemplate, "kept"), cctypes.OperationStatusSuccess)
	out, err = te.cc.ListResourceRequests(context.Background(), &cloudcontrol.ListResourceRequestsInput{MaxResults: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if out.ResourceRequestStatusSummaries[0].Operation != cctypes.OperationDelete {
		t.Fatalf("newest request is %s, want DELETE", out.ResourceRequestStatusSummaries[0].Operation)
	}
}

func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := New(Options{DataDir: dir}); err == nil {
		t.Fatal("a second emulator opened the same data directory")
	}
}

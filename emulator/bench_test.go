package emulator

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	cctypes "github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"
)

// TestConcurrentClients runs creates, reads and deletes from many
// goroutines against a durable emulator (for the race detector).
func TestConcurrentClients(t *testing.T) {
	te := startEmulator(t, Options{DataDir: t.TempDir()})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				name := fmt.Sprintf("w%d-%d", w, i)
				c, err := te.cc.CreateResource(ctx, &cloudcontrol.CreateResourceInput{TypeName: aws.String(logGroup), DesiredState: aws.String(`{"LogGroupName":"` + name + `"}`)})
				if err != nil {
					errs <- err
					return
				}
				st, err := te.cc.GetResourceRequestStatus(ctx, &cloudcontrol.GetResourceRequestStatusInput{RequestToken: c.ProgressEvent.RequestToken})
				if err != nil || st.ProgressEvent.OperationStatus != cctypes.OperationStatusSuccess {
					errs <- fmt.Errorf("create %s: %v %v", name, err, st)
					return
				}
				if _, err := te.cc.GetResource(ctx, &cloudcontrol.GetResourceInput{TypeName: aws.String(logGroup), Identifier: aws.String(name)}); err != nil {
					errs <- err
					return
				}
				if _, err := te.cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(logGroup), MaxResults: aws.Int32(5)}); err != nil {
					errs <- err
					return
				}
				if i%2 == 0 {
					if _, err := te.cc.DeleteResource(ctx, &cloudcontrol.DeleteResourceInput{TypeName: aws.String(logGroup), Identifier: aws.String(name)}); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	out, err := te.cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(logGroup), MaxResults: aws.Int32(100)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ResourceDescriptions) != 40 {
		t.Fatalf("%d log groups remain, want 40", len(out.ResourceDescriptions))
	}
}

func benchEmulator(b *testing.B, opts Options) *testEmulator {
	b.Helper()
	te := startEmulator(b, opts)
	return te
}

// BenchmarkGetResource measures GetResource round trips with the real SDK
// client over loopback, among 10,000 stored resources.
func BenchmarkGetResource(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		b.Run(fmt.Sprintf("parallel=%v", parallel), func(b *testing.B) {
			te := benchEmulator(b, Options{})
			ctx := context.Background()
			const n = 10000
			for i := 0; i < n; i++ {
				te.create(b, logGroup, map[string]any{"LogGroupName": fmt.Sprintf("lg-%05d", i), "RetentionInDays": 7})
			}
			get := func(i int) {
				_, err := te.cc.GetResource(ctx, &cloudcontrol.GetResourceInput{TypeName: aws.String(logGroup), Identifier: aws.String(fmt.Sprintf("lg-%05d", i%n))})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			if parallel {
				var next atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						get(int(next.Add(1)))
					}
				})
			} else {
				for i := 0; i < b.N; i++ {
					get(i)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
		})
	}
}

// BenchmarkCreateToSuccess measures CreateResource followed by the status
// poll that sees SUCCESS, with the real SDK client over loopback.
func BenchmarkCreateToSuccess(b *testing.B) {
	for _, durable := range []bool{false, true} {
		b.Run(fmt.Sprintf("durable=%v", durable), func(b *testing.B) {
			opts := Options{}
			if durable {
				opts.DataDir = b.TempDir()
			}
			te := benchEmulator(b, opts)
			ctx := context.Background()
			var next atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					name := fmt.Sprintf("lg-%d", next.Add(1))
					c, err := te.cc.CreateResource(ctx, &cloudcontrol.CreateResourceInput{TypeName: aws.String(logGroup), DesiredState: aws.String(`{"LogGroupName":"` + name + `"}`)})
					if err != nil {
						b.Fatal(err)
					}
					st, err := te.cc.GetResourceRequestStatus(ctx, &cloudcontrol.GetResourceRequestStatusInput{RequestToken: c.ProgressEvent.RequestToken})
					if err != nil || st.ProgressEvent.OperationStatus != cctypes.OperationStatusSuccess {
						b.Fatalf("%v %v", err, st)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
		})
	}
}

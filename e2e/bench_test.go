package e2e

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/emulator"
)

// BenchmarkDeploy measures a deploy of 500 job templates to the instant
// emulator over loopback, and the no-op redeploy that follows it.
func BenchmarkDeploy(b *testing.B) {
	const n = 500
	program := func(version string) func(*athanor.App) error {
		return func(app *athanor.App) error {
			for i := range n {
				app.Go(func() error {
					_, err := app.Declare(jobTemplate, fmt.Sprintf("t%05d", i), map[string]any{
						"JobTemplateId": fmt.Sprintf("bench-%05d", i), "Description": "bench " + version, "Document": "{}",
					})
					return err
				})
			}
			return nil
		}
	}
	run, err := emulator.Start(context.Background(), "127.0.0.1:0", emulator.Instant())
	if err != nil {
		b.Fatal(err)
	}
	defer run.Close()
	dir := b.TempDir()
	cfg := func(destroy bool) athanor.Config {
		return athanor.Config{App: "bench", Target: run.URL, State: dir, Output: io.Discard, Concurrency: 32, Destroy: destroy}
	}
	b.Run("create", func(b *testing.B) {
		for b.Loop() {
			res, err := athanor.Run(context.Background(), cfg(false), program("v1"))
			if err != nil || res.Created != n {
				b.Fatalf("%+v %v", res, err)
			}
			b.StopTimer()
			if _, err := athanor.Run(context.Background(), cfg(true), nil); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(n), "resources/op")
	})
	if _, err := athanor.Run(context.Background(), cfg(false), program("v1")); err != nil {
		b.Fatal(err)
	}
	b.Run("noop", func(b *testing.B) {
		for b.Loop() {
			res, err := athanor.Run(context.Background(), cfg(false), program("v1"))
			if err != nil || res.Unchanged != n || res.Stats.Requests != 0 {
				b.Fatalf("%+v %v", res, err)
			}
		}
		b.ReportMetric(float64(n), "resources/op")
	})
}

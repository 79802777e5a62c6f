package file_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/athanor-dev/athanor/state"
	"github.com/athanor-dev/athanor/state/file"
)

// BenchmarkConcurrentPuts measures durable Puts of small records from many
// goroutines at once, the engine's pattern at high concurrency: each
// goroutine writes its own keys, three generations of each (intent,
// request token, outcome). cpu-µs/put is the process's CPU time (user and
// system) per Put. Run it as
//
//	go test -run XXX -bench ConcurrentPuts ./state/file/
func BenchmarkConcurrentPuts(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			be, err := file.Open(b.TempDir(), "bench", "dev")
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			cpu := cpuTime()
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						n := next.Add(1) - 1
						if n >= int64(b.N) {
							return
						}
						key := fmt.Sprintf("fleet/tpl%05d", n/3)
						scope, id := state.SplitKey(key)
						r := &state.Record{Key: key, Scope: scope, LogicalID: id, Type: "AWS::IoT::JobTemplate",
							Seq: n / 3, Status: state.StatusCreating, Identifier: id,
							Desired: []byte(`{"JobTemplateId":"` + id + `","Document":"{}"}`)}
						if err := be.Put(b.Context(), r); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
			b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/put")
		})
	}
}

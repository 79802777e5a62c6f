package state_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/athanor-dev/athanor/internal/pgtest"
	"github.com/athanor-dev/athanor/state"
	"github.com/athanor-dev/athanor/state/file"
	"github.com/athanor-dev/athanor/state/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// benchRecords is the stage size of issue 5's large deployments.
const benchRecords = 10_000

// BenchmarkStage10k writes 10,000 records into an empty stage and lists
// them, per backend, with one writer and with 16 (the engine's default
// concurrency). Run it as
//
//	go test -run XXX -bench Stage10k -benchtime 1x ./state/
//
// Both backends are durable: the file backend syncs each file and its
// directory; the test PostgreSQL server runs with fsync on.
func BenchmarkStage10k(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B, stage string) state.Backend
	}{
		{"file", func(b *testing.B, stage string) state.Backend {
			be, err := file.Open(b.TempDir(), "bench", stage)
			if err != nil {
				b.Fatal(err)
			}
			return be
		}},
		{"postgres", func(b *testing.B, stage string) state.Backend {
			be, err := postgres.Open(b.Context(), pgtest.URL(b), "bench", stage)
			if err != nil {
				b.Fatal(err)
			}
			return be
		}},
	}
	desired, _ := json.Marshal(map[string]any{
		"JobTemplateId": "device-update-template", "Description": "Basic job template for device updates",
		"Document": `{"operation":"update"}`, "TimeoutConfig": map[string]int{"InProgressTimeoutInMinutes": 60},
		"Tags": []map[string]string{{"Key": "Environment", "Value": "Production"}},
	})
	for _, be := range backends {
		for _, writers := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/writers=%d", be.name, writers), func(b *testing.B) {
				var putTotal, listTotal time.Duration
				for i := 0; i < b.N; i++ {
					st := be.open(b, fmt.Sprintf("s%d-%d-%d", writers, i, time.Now().UnixNano()))
					start := time.Now()
					var wg sync.WaitGroup
					for w := 0; w < writers; w++ {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for n := w; n < benchRecords; n += writers {
								key := fmt.Sprintf("fleet/tpl%05d", n)
								scope, id := state.SplitKey(key)
								r := &state.Record{Key: key, Scope: scope, LogicalID: id, Type: "AWS::IoT::JobTemplate",
									Seq: int64(n), Status: state.StatusCreated, Identifier: id, Desired: desired,
									CreatedAt: start, UpdatedAt: start}
								if err := st.Put(b.Context(), r); err != nil {
									b.Error(err)
									return
								}
							}
						}()
					}
					wg.Wait()
					putTotal += time.Since(start)
					start = time.Now()
					recs, err := st.List(b.Context())
					if err != nil {
						b.Fatal(err)
					}
					listTotal += time.Since(start)
					if len(recs) != benchRecords {
						b.Fatalf("listed %d records, want %d", len(recs), benchRecords)
					}
					st.Close()
				}
				b.ReportMetric(float64(putTotal.Microseconds())/float64(b.N*benchRecords), "µs/put")
				b.ReportMetric(float64(b.N*benchRecords)/putTotal.Seconds(), "puts/s")
				b.ReportMetric(float64(listTotal.Milliseconds())/float64(b.N), "ms/list")
			})
		}
	}
}

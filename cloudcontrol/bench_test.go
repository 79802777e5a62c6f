package cloudcontrol

import "testing"

// BenchmarkApply measures Apply round trips through the real SDK client
// against the loopback fake server: "final" answers the mutation with a
// final event (one request), "poll" needs one status poll (two requests,
// real clock, so the first-poll delay is included — the adaptive policy
// brings it down to the policy's Min once learnt).
func BenchmarkApply(b *testing.B) {
	for _, mode := range []string{"final", "poll"} {
		b.Run(mode, func(b *testing.B) {
			f := newFakeServer(b)
			if mode == "final" {
				f.script("CreateResource", progress("SUCCESS"))
			} else {
				f.script("CreateResource", progress("IN_PROGRESS"))
				f.script("GetResourceRequestStatus", progress("SUCCESS"))
			}
			c := New(testConfig(f.srv.URL), WithConcurrency(32))
			op := createOp()
			b.SetParallelism(16) // 32 goroutines on 2 CPUs: the engine's concurrency
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Apply(b.Context(), op, Hooks{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			s := c.Stats()
			b.ReportMetric(float64(s.Requests)/float64(b.N), "requests/op")
		})
	}
}

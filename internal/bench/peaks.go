package bench

import (
	"runtime/metrics"
	"sync"
	"time"
)

// Peaks are the highest values the Go runtime reported while a phase ran:
// they tell what a peak RSS is made of.
type Peaks struct {
	// Goroutines is the most goroutines alive at once.
	Goroutines int64 `json:"goroutines"`
	// StackBytes is the most memory in goroutine stacks.
	StackBytes int64 `json:"stackBytes"`
	// HeapBytes is the most memory in heap objects, live or not yet swept.
	HeapBytes int64 `json:"heapBytes"`
}

var peakMetrics = []string{
	"/sched/goroutines:goroutines",
	"/memory/classes/heap/stacks:bytes",
	"/memory/classes/heap/objects:bytes",
}

// samplePeaks samples the runtime's metrics every interval until the
// returned function is called, which returns the peaks.
func samplePeaks(interval time.Duration) func() Peaks {
	samples := make([]metrics.Sample, len(peakMetrics))
	for i, name := range peakMetrics {
		samples[i].Name = name
	}
	var (
		mu   sync.Mutex
		p    Peaks
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	read := func() {
		metrics.Read(samples)
		v := func(i int) int64 {
			if samples[i].Value.Kind() != metrics.KindUint64 {
				return 0
			}
			return int64(samples[i].Value.Uint64())
		}
		mu.Lock()
		p.Goroutines = max(p.Goroutines, v(0))
		p.StackBytes = max(p.StackBytes, v(1))
		p.HeapBytes = max(p.HeapBytes, v(2))
		mu.Unlock()
	}
	read()
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				read()
			}
		}
	})
	return func() Peaks {
		close(done)
		wg.Wait()
		read()
		mu.Lock()
		defer mu.Unlock()
		return p
	}
}

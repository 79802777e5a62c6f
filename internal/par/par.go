// Package par splits work over the machine's CPUs.
package par

import (
	"runtime"
	"sync"
)

// For calls fn on contiguous ranges [lo, hi) that together cover [0, n),
// on up to GOMAXPROCS goroutines at once, and returns when every call has.
// Ranges hold at least minChunk items, so a small n runs on the caller's
// goroutine alone, without the cost of starting others.
func For(n, minChunk int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/max(minChunk, 1))
	if workers <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*n/workers, (w+1)*n/workers
		if w == workers-1 {
			fn(lo, hi) // the caller's goroutine takes the last range
			continue
		}
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

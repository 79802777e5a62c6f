package par

import (
	"sync/atomic"
	"testing"
)

// TestForCoversEveryIndexOnce checks that the ranges For hands out cover
// [0, n) exactly once, for sizes below, at and well above one chunk.
func TestForCoversEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 7, 64, 65, 1000, 10007} {
		seen := make([]atomic.Int32, n)
		For(n, 64, func(lo, hi int) {
			if lo >= hi {
				t.Errorf("n=%d: empty range [%d, %d)", n, lo, hi)
			}
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
		})
		for i := range seen {
			if c := seen[i].Load(); c != 1 {
				t.Fatalf("n=%d: index %d visited %d times, want once", n, i, c)
			}
		}
	}
}

package cloudcontrol

import "testing"

// TestOnDeepStack: f runs once, on the caller's goroutine (its panic
// reaches the caller), and can use the stack an operation needs and more.
func TestOnDeepStack(t *testing.T) {
	calls := 0
	onDeepStack(func() { calls++ })
	if calls != 1 {
		t.Fatalf("f ran %d times, want 1", calls)
	}
	var depth int
	onDeepStack(func() { depth = recurse(4096) })
	if depth != 4096 {
		t.Fatalf("recursion under onDeepStack returned %d, want 4096", depth)
	}
	defer func() {
		if r := recover(); r != "from f" {
			t.Fatalf("recovered %v, want f's panic", r)
		}
	}()
	onDeepStack(func() { panic("from f") })
	t.Fatal("onDeepStack returned after f panicked")
}

// recurse uses some 100 bytes of stack per level.
//
//go:noinline
func recurse(n int) int {
	var pad [64]byte
	pad[n%len(pad)] = byte(n)
	if n == 0 {
		return int(pad[0])
	}
	return 1 + recurse(n-1) + int(pad[n%len(pad)]) - int(byte(n))
}

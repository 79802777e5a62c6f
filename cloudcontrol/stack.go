package cloudcontrol

// An operation runs deep: the caller's frames (the engine's, some 10 KB down
// to the closure operation runs), the client's, then the SDK's middleware
// stack, whose call path alone needs about 21 KB (measured with a stack
// canary from the client's first middleware to the deepest frame of a
// CreateResource or GetResourceRequestStatus call): some 35 KB in all. A
// goroutine's stack starts small and doubles when full, copying every frame
// on it, and the garbage collector halves the stack of a goroutine parked
// with less than a quarter of it in use — as an operation's goroutine is
// while it waits for its state write or its next poll. So every operation
// grew its stack from 32 to 64 KB inside the SDK, copying and adjusting a
// hundred frames, and again after each shrink: at N=1,000 on the instant
// profile, runtime.copystack took 16% of the engine's CPU samples (0.37 s
// of 2.36 s over four deploys), more than the state writes.
//
// onDeepStack runs f on a stack grown to 64 KB at once, while only a few
// frames are on it (one cheap copy), with 12 KB kept in use above f, so
// that the goroutine never drops below the quarter at which the collector
// shrinks it: f's calls into the SDK then find the stack they need. Four
// deploys with it spent 0.05 s of 2.10 s in runtime.copystack. Apply and
// Resume use it once they hold their concurrency slot, so that operations
// waiting for one keep small stacks.
//
// The sizes follow the runtime's policy (a stack doubles until the frame
// that overflowed fits; it is halved at a collection when less than a
// quarter is used) and the depth of the SDK's call path; if either changes,
// f still runs correctly, on a stack the runtime sizes as before.
func onDeepStack(f func()) {
	growStack()
	reserveStack(f)
}

// Frame sizes of growStack and reserveStack. A frame of growFrame bytes
// overflows any stack of 32 KB or less, so that the runtime grows it to at
// least 64 KB in one step; reserveFrame keeps a quarter of that in use
// (with the caller's frames) and leaves f the 26 KB it needs below, with
// room for callers 25 KB deep.
const (
	growFrame    = 31 << 10
	reserveFrame = 12 << 10
)

// Their frames hold arrays that are never used: declared in a branch that
// is never taken, they cost no zeroing, but the frame is sized for them
// when the function is entered.
var stackNever bool

//go:noinline
func growStack() {
	if stackNever {
		var buf [growFrame]byte
		keep(buf[:])
	}
}

//go:noinline
func reserveStack(f func()) {
	f()
	if stackNever {
		var buf [reserveFrame]byte
		keep(buf[:])
	}
}

// keep makes its argument used, so that the compiler keeps it.
//
//go:noinline
func keep([]byte) {}

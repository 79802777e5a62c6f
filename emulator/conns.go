package emulator

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
)

// conns bounds and tracks the connections of a Running server: at most max
// are held at once, and Close can end at once those that have not sent a
// request, instead of net/http waiting five seconds for them to become
// idle.
type conns struct {
	max int

	mu      sync.Mutex
	seq     uint64
	open    map[net.Conn]*tracked
	closing bool
}

// tracked is one open connection.
type tracked struct {
	conn    net.Conn
	seq     uint64 // accept order: the lowest is the oldest
	state   http.ConnState
	reading bool // its handler is still receiving the request body
}

// unused reports whether the connection is not being answered: it has not
// sent a request, is idle between requests, or is still sending a request
// body.
func (t *tracked) unused() bool {
	return t.state == http.StateNew || t.state == http.StateIdle || t.state == http.StateActive && t.reading
}

func newConns(max int) *conns {
	return &conns{max: max, open: map[net.Conn]*tracked{}}
}

// connKey is the context key of a request's *tracked connection.
type connKey struct{}

// listener admits the connections its inner listener accepts within the
// bound.
func (c *conns) listener(ln net.Listener) net.Listener { return &limitListener{ln, c} }

type limitListener struct {
	net.Listener
	c *conns
}

// Accept returns the next admitted connection; one that cannot be admitted
// is closed at once, so it holds no file descriptor.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.c.admit(nc) {
			return nc, nil
		}
		nc.Close()
	}
}

// admit records nc, first closing the oldest connection that is not being
// answered when the bound is reached. It reports false when nc must be
// refused: the server is closing, or every connection is being answered.
func (c *conns) admit(nc net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	if len(c.open) >= c.max {
		var victim *tracked
		for _, t := range c.open {
			if t.unused() && (victim == nil || t.seq < victim.seq) {
				victim = t
			}
		}
		if victim == nil {
			return false
		}
		delete(c.open, victim.conn)
		victim.conn.Close()
	}
	c.seq++
	c.open[nc] = &tracked{conn: nc, seq: c.seq, state: http.StateNew}
	return true
}

// connState follows net/http's view of each connection (http.Server's
// ConnState hook).
func (c *conns) connState(nc net.Conn, st http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.open[nc]
	if t == nil {
		return
	}
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(c.open, nc)
	default:
		t.state = st
		if st != http.StateActive {
			t.reading = false
		}
	}
}

// connContext puts the connection's record in its requests' context
// (http.Server's ConnContext hook).
func (c *conns) connContext(ctx context.Context, nc net.Conn) context.Context {
	c.mu.Lock()
	t := c.open[nc]
	c.mu.Unlock()
	if t == nil {
		return ctx
	}
	return context.WithValue(ctx, connKey{}, t)
}

// handler wraps h so that a connection counts as not being answered while
// its request body is still arriving: a client that stalls mid-body can be
// closed to make room for others.
func (c *conns) handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := r.Context().Value(connKey{}).(*tracked)
		if t == nil {
			h.ServeHTTP(w, r)
			return
		}
		c.setReading(t, true)
		defer c.setReading(t, false)
		// A shallow copy: net/http still sees its own body in the original
		// request, and decides from it how to end the connection.
		rr := r.WithContext(r.Context())
		rr.Body = &watchedBody{ReadCloser: r.Body, done: func() { c.setReading(t, false) }}
		h.ServeHTTP(w, rr)
	})
}

func (c *conns) setReading(t *tracked, reading bool) {
	c.mu.Lock()
	t.reading = reading
	c.mu.Unlock()
}

// closeUnused refuses every further connection and closes those that have
// not sent a request, are idle between requests, or are still sending a
// request body (nothing has been done for that request yet): the start of
// a shutdown.
func (c *conns) closeUnused() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closing = true
	for nc, t := range c.open {
		if t.unused() {
			delete(c.open, nc)
			nc.Close()
		}
	}
}

// count returns the number of connections held.
func (c *conns) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.open)
}

// watchedBody calls done once the body has been read to its end or failed.
type watchedBody struct {
	io.ReadCloser
	done func()
	once sync.Once
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(b.done)
	}
	return n, err
}

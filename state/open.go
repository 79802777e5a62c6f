package state

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultURL is the state location used when none is given: the file
// backend in the directory .athanor of the working directory.
const DefaultURL = ".athanor"

// DefaultLease is how long a PostgreSQL lock outlives its holder's last
// heartbeat.
const DefaultLease = 30 * time.Second

// Options configure a backend; set them with Option functions.
type Options struct {
	// LockTimeout is how long Lock waits for a held lock to be released,
	// polling with backoff, before failing with *LockedError. Zero fails at
	// once.
	LockTimeout time.Duration
	// Lease is how long a lock survives without a heartbeat from its holder
	// (backends whose locks outlive processes, such as PostgreSQL). Zero
	// means DefaultLease.
	Lease time.Duration
	// OnLockWait, when set, is called once when Lock finds the stage locked
	// and starts waiting (LockTimeout > 0), with the holder's description,
	// so that a person can be told why the run is not starting.
	OnLockWait func(*LockedError)
}

// Option sets an Option field.
type Option func(*Options)

// WithLockTimeout makes Lock wait up to d for a held lock instead of failing
// at once.
func WithLockTimeout(d time.Duration) Option { return func(o *Options) { o.LockTimeout = d } }

// WithLease sets the lock lease of backends that use one (see
// Options.Lease).
func WithLease(d time.Duration) Option { return func(o *Options) { o.Lease = d } }

// WithLockWait sets Options.OnLockWait.
func WithLockWait(f func(*LockedError)) Option { return func(o *Options) { o.OnLockWait = f } }

// NewOptions applies opts to the defaults.
func NewOptions(opts ...Option) Options {
	var o Options
	for _, f := range opts {
		f(&o)
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	return o
}

// Opener opens the backend of one app and stage at a URL of the scheme it
// was registered for. Backend packages register an Opener in their init
// function; a program selects backends by importing them, as with
// database/sql drivers:
//
//	import (
//		_ "github.com/athanor-dev/athanor/state/file"
//		_ "github.com/athanor-dev/athanor/state/postgres"
//	)
type Opener func(ctx context.Context, u *url.URL, app, stage string, o Options) (Backend, error)

var (
	openersMu sync.RWMutex
	openers   = map[string]Opener{}
)

// Register makes a backend available under a URL scheme ("file",
// "postgres"). It panics when the scheme is registered twice or opener is
// nil.
func Register(scheme string, opener Opener) {
	openersMu.Lock()
	defer openersMu.Unlock()
	if opener == nil {
		panic("state: Register opener is nil")
	}
	scheme = strings.ToLower(scheme)
	if _, dup := openers[scheme]; dup {
		panic("state: Register called twice for scheme " + scheme)
	}
	openers[scheme] = opener
}

// Schemes returns the registered URL schemes, sorted.
func Schemes() []string {
	openersMu.RLock()
	defer openersMu.RUnlock()
	s := make([]string, 0, len(openers))
	for k := range openers {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// Open opens the state of app and stage at location, choosing the backend
// by the location's scheme: a plain path or a file:// URL selects the file
// backend (state/file), postgres:// or postgresql:// the PostgreSQL backend
// (state/postgres), s3:// the S3 backend (state/s3). An empty location
// means DefaultURL. The backend's package must be imported (see Opener):
// for a scheme no linked backend registered, Open fails with an error
// wrapping ErrNoBackend that names the import to add.
func Open(ctx context.Context, location, app, stage string, opts ...Option) (Backend, error) {
	if err := ValidateName("app", app); err != nil {
		return nil, err
	}
	if err := ValidateName("stage", stage); err != nil {
		return nil, err
	}
	u, err := ParseURL(location)
	if err != nil {
		return nil, err
	}
	openersMu.RLock()
	op := openers[u.Scheme]
	openersMu.RUnlock()
	if op == nil {
		return nil, noBackend(location, u.Scheme)
	}
	return op(ctx, u, app, stage, NewOptions(opts...))
}

// ErrNoBackend is wrapped by the error of Open for a location whose scheme
// no backend linked into the program registered.
var ErrNoBackend = errors.New("state: no backend")

// backends are the backends of this module, by the scheme they register:
// their name in messages and their import path.
var backends = map[string]struct{ name, pkg string }{
	"file":     {"file", "github.com/athanor-dev/athanor/state/file"},
	"postgres": {"PostgreSQL", "github.com/athanor-dev/athanor/state/postgres"},
	"s3":       {"S3", "github.com/athanor-dev/athanor/state/s3"},
}

// noBackend is Open's error for a location of a scheme no linked backend
// registered: for a backend of this module, it names the import that links
// it.
func noBackend(location, scheme string) error {
	linked := strings.Join(Schemes(), ", ")
	if linked == "" {
		linked = "none"
	}
	if b, ok := backends[scheme]; ok {
		return fmt.Errorf("%w for %q: this program does not link the %s backend; add `import _ %q` to its main package (backends linked: %s)",
			ErrNoBackend, Redact(location), b.name, b.pkg, linked)
	}
	return fmt.Errorf("%w for %q: no backend handles the scheme %q (backends linked: %s; Athanor provides %s)",
		ErrNoBackend, Redact(location), scheme, linked, strings.Join(slices.Sorted(maps.Keys(backends)), ", "))
}

// ParseURL turns a state location into a URL: "" is DefaultURL, a location
// without a scheme (or a Windows drive path) is a file path, and
// "postgresql" is folded into "postgres". A file URL's Path holds the
// directory.
func ParseURL(location string) (*url.URL, error) {
	if location == "" {
		location = DefaultURL
	}
	scheme, _, found := strings.Cut(location, "://")
	if !found || len(scheme) < 2 || !schemeRE.MatchString(scheme) {
		// No scheme (a drive letter such as C: is no scheme): a path.
		return &url.URL{Scheme: "file", Path: filepath.Clean(location)}, nil
	}
	u, err := url.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("state: bad location %q: %w", Redact(location), err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch u.Scheme {
	case "postgresql":
		u.Scheme = "postgres"
	case "file":
		p := u.Path
		if u.Host != "" && u.Host != "localhost" {
			// file://relative/dir is read as a relative path, as users mean it.
			p = u.Host + p
		}
		if p == "" {
			return nil, fmt.Errorf("state: location %q names no directory", location)
		}
		u.Path, u.Host = filepath.Clean(filepath.FromSlash(p)), ""
	}
	return u, nil
}

// schemeRE matches a URL scheme (RFC 3986).
var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// Redact returns location with any password replaced by "xxxxx", for
// messages.
func Redact(location string) string {
	u, err := url.Parse(location)
	if err != nil || u.User == nil {
		return location
	}
	return u.Redacted()
}

// Error reports the stage and who holds its lock, for example: "stage
// iot-fleet/dev is locked by run 3f2a9c1e… (pid 4242 on host ci-runner-7,
// deploy) since 2026-11-26T14:03:12Z", followed for a leased lock by when
// the lease ends: "; its lease ends at 2026-11-26T14:05:42Z (in 28s)
// unless the holder renews it" (or "ended at", once past).
func (e *LockedError) Error() string {
	h := e.Holder
	if h.ID == "" && h.Host == "" && h.PID == 0 {
		return fmt.Sprintf("stage %s/%s is locked by another run (holder unknown)", e.App, e.Stage)
	}
	id := h.ID
	if len(id) > 8 {
		id = id[:8] + "…"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "stage %s/%s is locked by run %s (pid %d on host %s", e.App, e.Stage, id, h.PID, h.Host)
	if h.Operation != "" {
		b.WriteString(", " + h.Operation)
	}
	b.WriteString(")")
	if !h.Since.IsZero() {
		b.WriteString(" since " + h.Since.UTC().Format(time.RFC3339))
	}
	if !h.Expires.IsZero() {
		exp := h.Expires.UTC().Format(time.RFC3339)
		if !e.Now.IsZero() && !e.Now.Before(h.Expires) {
			fmt.Fprintf(&b, "; its lease ended at %s", exp)
		} else if !e.Now.IsZero() {
			fmt.Fprintf(&b, "; its lease ends at %s (in %v) unless the holder renews it", exp, h.Expires.Sub(e.Now).Round(time.Second))
		} else {
			fmt.Fprintf(&b, "; its lease ends at %s unless the holder renews it", exp)
		}
	}
	return b.String()
}

// Is makes errors.Is(err, ErrLocked) true for a *LockedError.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// ErrHolderAlive is returned by ForceUnlock when the lock's holder is still
// alive and force was not requested.
var ErrHolderAlive = errors.New("state: lock holder is still alive")

// LockManager is implemented by backends whose lock can be inspected and
// broken by hand (athanor state force-unlock). Both built-in backends
// implement it.
type LockManager interface {
	// LockHolder returns the current holder, or nil when nobody holds the
	// lock.
	LockHolder(ctx context.Context) (*LockInfo, error)
	// ForceUnlock removes a lock whose holder is gone. While the holder is
	// alive it refuses with an error wrapping ErrHolderAlive, unless force
	// is true; forcing a live holder's lock takes it away: the holder's
	// writes are refused from then on and its Lock.Lost closes (see Lock),
	// which stops an Athanor run, so it is for a holder known to be stuck.
	// It returns the holder it removed, or nil when the stage was not
	// locked.
	ForceUnlock(ctx context.Context, force bool) (*LockInfo, error)
}

// WaitLock takes a stage lock for the holder info, as every backend's Lock
// does: it refuses an info without an ID (use NewLockInfo), sets a zero
// Since to now, and calls try until it takes the lock, fails with an error
// other than ErrLocked, o.LockTimeout passes or ctx ends, polling with
// exponential backoff from 50 ms up to 2 s. With a zero LockTimeout it
// tries once. On timeout it returns the last *LockedError, which names the
// holder. When it starts waiting it calls o.OnLockWait, if set.
func WaitLock(ctx context.Context, o Options, info LockInfo, try func(LockInfo) (Lock, error)) (Lock, error) {
	if info.ID == "" {
		return nil, errors.New("state: lock holder has no ID (use state.NewLockInfo)")
	}
	if info.Since.IsZero() {
		info.Since = time.Now().UTC().Truncate(time.Second)
	}
	timeout := o.LockTimeout
	l, err := try(info)
	if timeout <= 0 || !errors.Is(err, ErrLocked) {
		return l, err
	}
	var le *LockedError
	if o.OnLockWait != nil && errors.As(err, &le) {
		o.OnLockWait(le)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	delay := 50 * time.Millisecond
	for {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (gave up waiting: %v)", err, ctx.Err())
		case <-deadline.C:
			t.Stop()
			return nil, fmt.Errorf("%w (waited %v)", err, timeout)
		case <-t.C:
		}
		l, err = try(info)
		if !errors.Is(err, ErrLocked) {
			return l, err
		}
		if delay *= 2; delay > 2*time.Second {
			delay = 2 * time.Second
		}
	}
}

// Package emulator is a faithful local AWS Cloud Control API: an
// http.Handler that real AWS clients (aws-sdk-go-v2, the AWS CLI, boto3,
// Terraform's awscc provider) cannot tell from the service for the flows
// Athanor uses.
//
// On one port it answers the eight Cloud Control operations (AWS JSON 1.0),
// STS GetCallerIdentity and AssumeRole (awsQuery) and the IoT job template
// REST API, all on one store. Resource behaviour comes from the
// CloudFormation registry schemas for any type: model validation, generated
// read-only properties, hidden write-only properties, create-only paths,
// RFC 6902 updates. The AWS::IoT::JobTemplate layer adds the IoT API's own
// rules. For the most used types (identities.go), names, identifiers, ARNs
// and other read-only attributes take the shapes AWS gives them, in the
// request's region and account; generated names and identifiers are drawn
// from the seed.
//
// The emulator serves every region and any number of accounts, each
// (account, region) isolated from the others as in AWS: its own resources,
// requests, request tokens, listings and ARNs, the same identifier living
// in several without colliding. A signed request is served in the region
// of its SigV4 credential scope (the Authorization header's
// Credential=AKID/date/REGION/service/aws4_request, or a presigned URL's
// X-Amz-Credential), any name of the shape of an AWS region; a request
// without a signature in Options.Region. The account follows from the
// access key, in this order:
//
//   - temporary credentials the emulator's STS AssumeRole issued (the
//     request carries their session token, X-Amz-Security-Token) belong to
//     the account of the role they assumed;
//   - a key listed in Options.Accounts belongs to the account it maps to
//     (e.g. one key per shared-config profile);
//   - every other key, such as the SDKs' dummy "test", belongs to
//     Options.Account (DefaultAccount unless set).
//
// AssumeRole takes RoleArn, RoleSessionName, ExternalId and DurationSeconds
// (900 to 43200 seconds, 3600 by default, at most 3600 when the caller is
// itself an assumed role) and returns an access key, secret key, session
// token and expiration. The emulator keeps no trust policies: any caller
// may assume any role, except that a role listed in Options.ExternalIDs
// requires its external id. GetCallerIdentity answers the caller's account
// and ARN: arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION for assumed
// credentials, arn:aws:iam::ACCOUNT:user/AKID otherwise. With
// Options.Credentials, issued credentials are verified like the configured
// keys (secret, session token, expiry), as are presigned URLs; without
// them nothing is verified, but a session token the emulator issued still
// chooses its account.
//
// Mutations are asynchronous as in the service: they return a ProgressEvent
// and complete when their simulated latency has passed, computed from
// timestamps rather than by sleeping goroutines. Faults (rate limits,
// synchronous errors, asynchronous failures, dropped connections) are
// injected reproducibly from a seed. With a data directory, resources and
// requests of every account and region survive a restart in a bbolt
// database, and so do the credentials AssumeRole issued; a data directory
// of an earlier emulator, which served one account in one region, is
// upgraded when opened, its contents belonging to Options.Account in
// Options.Region. Finished requests are forgotten after
// Options.RequestRetention (7 days, as the service).
package emulator

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/athanor-dev/athanor/schema"
)

// maxBody bounds a request body: the largest Cloud Control member is 256 KiB
// of properties; the bound leaves room for their escaping in the JSON body.
const maxBody = 1 << 20

// Server is the emulator. It is an http.Handler, safe for concurrent use.
type Server struct {
	opts    Options
	reg     *schema.Registry
	j       *journal
	clock   Clock
	limiter *rate.Limiter

	rngMu  sync.Mutex
	rng    *rand.Rand // seeded: faults and latencies
	faults faultCounters

	namesMu sync.Mutex
	names   *rand.Rand // seeded apart from rng: generated names and identifiers

	storesMu sync.Mutex
	stores   map[scope]*store

	// sessionKey signs the session tokens of the credentials AssumeRole
	// issues (sts.go).
	sessionKey []byte

	closed atomic.Bool
}

// New returns a Server configured by opts. With opts.DataDir it opens (or
// creates) the database there; Close releases it.
func New(opts Options) (*Server, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		opts:  opts,
		reg:   opts.Registry,
		clock: opts.Clock,
		rng:   rand.New(rand.NewPCG(opts.Faults.Seed, opts.Faults.Seed^0x9e3779b97f4a7c15)),
		names: rand.New(rand.NewPCG(opts.Faults.Seed^0x6a09e667f3bcc908, opts.Faults.Seed)),

		stores: map[scope]*store{},
	}
	if f := opts.Faults; f.RateLimit > 0 {
		burst := f.Burst
		if burst <= 0 {
			burst = max(1, int(f.RateLimit))
		}
		s.limiter = rate.NewLimiter(rate.Limit(f.RateLimit), burst)
	}
	if opts.DataDir != "" {
		j, err := openJournal(opts.DataDir, s.home())
		if err != nil {
			return nil, err
		}
		s.j, s.sessionKey = j, j.sessionKey
	} else {
		s.sessionKey = make([]byte, 32)
		crand.Read(s.sessionKey)
	}
	if err := s.load(); err != nil {
		if s.j != nil {
			s.j.close()
		}
		return nil, err
	}
	// Forget at once the requests that expired while the emulator was
	// stopped, so they are never served again.
	now := s.clock.Now()
	for _, st := range s.stores {
		st.settle(now)
	}
	return s, nil
}

// load fills the stores of every scope from the journal.
func (s *Server) load() error {
	if s.j == nil {
		return nil
	}
	for _, b := range []struct {
		bucket []byte
		add    func(*store, []byte) error
	}{{bucketResources, (*store).loadResource}, {bucketRequests, (*store).loadRequest}} {
		err := s.j.load(b.bucket, func(k, v []byte) error {
			sc, _, ok := splitJournalKey(string(k))
			if !ok {
				return fmt.Errorf("emulator: stored record %q of bucket %s names no account and region", k, b.bucket)
			}
			return b.add(s.store(sc), v)
		})
		if err != nil {
			return err
		}
	}
	for _, st := range s.stores {
		st.loaded()
	}
	return nil
}

// Close flushes and closes the store. Requests served after Close fail.
func (s *Server) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if s.j != nil {
		return s.j.close()
	}
	return nil
}

// Region returns the emulator's home region: the region of a request whose
// signature names none (Options.Region). Signed requests are served in the
// region of their credential scope.
func (s *Server) Region() string { return s.opts.Region }

// Account returns the emulator's default account (Options.Account): the
// account of the access keys that Options.Accounts does not map and that
// the emulator's STS did not issue.
func (s *Server) Account() string { return s.opts.Account }

// ServeHTTP routes a request to its door: X-Amz-Target for Cloud Control,
// a form Action for STS, the REST path for IoT.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newUUID()
	d, route := classify(r)
	if r.ContentLength > maxBody {
		writeError(w, d, reqID, tooLarge())
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, d, reqID, tooLarge())
		} else {
			// The client stopped sending (the read deadline passed) or went
			// away; net/http closes the connection after this answer.
			writeError(w, d, reqID, &apiError{Status: http.StatusRequestTimeout, Name: "RequestTimeout", Message: "the request body was not received in full: " + err.Error()})
		}
		return
	}
	if s.closed.Load() {
		writeError(w, d, reqID, internalErr(d))
		return
	}
	if s.dropConnection(w) {
		return
	}
	who, e := s.authenticate(r, body, d)
	if e != nil {
		writeError(w, d, reqID, e)
		return
	}
	if e := s.injectSyncFault(d); e != nil {
		writeError(w, d, reqID, e)
		return
	}
	c := s.newCall(who)
	ctx := r.Context()
	switch d {
	case doorCloudControl:
		c.serveCloudControl(ctx, w, r, reqID, route, body)
	case doorSTS:
		c.serveSTS(w, r, reqID, body)
	default:
		c.serveIoT(ctx, w, r, reqID, body)
	}
}

func tooLarge() *apiError {
	return &apiError{Status: http.StatusRequestEntityTooLarge, Name: "RequestEntityTooLarge", Message: fmt.Sprintf("request body larger than %d bytes", maxBody)}
}

// classify picks the door and, for Cloud Control, the operation name.
func classify(r *http.Request) (door, string) {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return doorCloudControl, t
	}
	p := r.URL.Path
	if strings.HasPrefix(p, "/job-templates") || p == "/tags" || p == "/untag" {
		return doorIoT, ""
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return doorSTS, ""
	}
	if r.URL.Query().Get("Action") != "" {
		return doorSTS, ""
	}
	return doorCloudControl, ""
}

// dropConnection closes the connection without an answer for the configured
// fraction of requests.
func (s *Server) dropConnection(w http.ResponseWriter) bool {
	if s.opts.Faults.DropConnections == 0 || !s.chance(s.opts.Faults.DropConnections) {
		return false
	}
	s.faults.dropped.Add(1)
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // net/http closes the connection
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
	return true
}

// injectSyncFault applies the rate limit and the synchronous fault fractions.
func (s *Server) injectSyncFault(d door) *apiError {
	if s.limiter != nil && !s.limiter.AllowN(s.clock.Now(), 1) {
		s.faults.rateLimited.Add(1)
		return throttleErr(d)
	}
	f := s.opts.Faults
	if f.Throttles > 0 && s.chance(f.Throttles) {
		s.faults.throttles.Add(1)
		return throttleErr(d)
	}
	if f.ServerErrors > 0 && s.chance(f.ServerErrors) {
		s.faults.serverErrors.Add(1)
		return internalErr(d)
	}
	return nil
}

// chance draws from the seeded source: true with probability p.
func (s *Server) chance(p float64) bool {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64() < p
}

// latency draws an operation's duration.
func (s *Server) latency(op string) time.Duration {
	var d Duration
	switch op {
	case opCreate:
		d = s.opts.Latency.Create
	case opUpdate:
		d = s.opts.Latency.Update
	default:
		d = s.opts.Latency.Delete
	}
	if d.Max <= d.Min {
		return d.Min
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return d.draw(s.rng)
}

// asyncFault decides whether a mutation fails asynchronously, and how.
func (s *Server) asyncFault() (code, msg string) {
	f := s.opts.Faults
	if f.AsyncFailures == 0 {
		return "", ""
	}
	codes := f.AsyncCodes
	if len(codes) == 0 {
		codes = []string{"Throttling", "ServiceInternalError", "NotStabilized"}
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	if s.rng.Float64() >= f.AsyncFailures {
		return "", ""
	}
	code = codes[s.rng.IntN(len(codes))]
	switch code {
	case "Throttling":
		msg = "Rate exceeded (Service: Emulator; Status Code: 400; Error Code: ThrottlingException)"
	case "NotStabilized":
		msg = "Resource did not stabilize within the expected time."
	default:
		msg = "Internal service error (injected fault)."
	}
	return code, msg
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Running is an emulator listening on a TCP address.
type Running struct {
	// URL is the endpoint to give clients, e.g. "http://127.0.0.1:4566".
	URL string
	// Server is the emulator being served.
	Server *Server

	srv    *http.Server
	conns  *conns
	served chan error    // Serve's result
	stop   chan struct{} // closed by Close
	once   sync.Once
	err    error
}

// Start creates a Server with opts and serves it on addr (host:port; port 0
// picks a free one; an empty host means 127.0.0.1) until ctx is done or
// Close is called, within opts.Limits: bounded header, body and idle
// times, header size and number of connections.
func Start(ctx context.Context, addr string, opts Options) (*Running, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("emulator: listen: %w", err)
	}
	l := s.opts.Limits
	r := &Running{
		URL:    "http://" + ln.Addr().String(),
		Server: s,
		conns:  newConns(l.MaxConnections),
		served: make(chan error, 1),
		stop:   make(chan struct{}),
	}
	r.srv = &http.Server{
		Handler:           r.conns.handler(s),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ConnState:         r.conns.connState,
		ConnContext:       r.conns.connContext,
	}
	ln = r.conns.listener(ln)
	go func() { r.served <- r.srv.Serve(ln) }()
	go func() {
		select {
		case <-ctx.Done():
			r.Close()
		case <-r.stop:
		}
	}()
	return r, nil
}

// shutdownGrace is how long Close waits for requests being answered.
const shutdownGrace = 5 * time.Second

// Close stops serving: it closes at once the connections that are idle or
// have not sent a request, waits up to five seconds for the requests being
// answered, then closes every connection left, and closes the store. When
// it returns, no connection of the server is open. It is safe to call more
// than once.
func (r *Running) Close() error {
	r.once.Do(func() {
		close(r.stop)
		// net/http's Shutdown treats a connection that has sent nothing as
		// busy for its first five seconds; a client's spare connection
		// (dialled for a request another connection then served) would
		// hold the shutdown that long.
		r.conns.closeUnused()
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		err := r.srv.Shutdown(ctx)
		if err != nil {
			r.srv.Close()
			err = fmt.Errorf("emulator: requests still being answered after %v were cut off: %w", shutdownGrace, err)
		}
		if serr := <-r.served; err == nil && !errors.Is(serr, http.ErrServerClosed) {
			err = serr
		}
		if cerr := r.Server.Close(); err == nil {
			err = cerr
		}
		r.err = err
	})
	return r.err
}

package emulator

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/athanor-dev/athanor/schema"
	"github.com/athanor-dev/athanor/schema/services"
)

// Clock tells the emulator the time. Tests substitute a manual clock to make
// latency and rate limits deterministic.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Duration is a span of simulated work: fixed when Max is zero or equal to
// Min, otherwise drawn uniformly from [Min, Max] with the emulator's seeded
// random source.
type Duration struct {
	Min, Max time.Duration
}

// Fixed returns a Duration of exactly d.
func Fixed(d time.Duration) Duration { return Duration{Min: d, Max: d} }

// Between returns a Duration drawn uniformly from [lo, hi].
func Between(lo, hi time.Duration) Duration { return Duration{Min: lo, Max: hi} }

func (d Duration) draw(r *rand.Rand) time.Duration {
	if d.Max <= d.Min {
		return d.Min
	}
	return d.Min + time.Duration(r.Int64N(int64(d.Max-d.Min)+1))
}

// Latency says how long each asynchronous operation takes before it reaches
// its final status. The zero value completes every operation by the first
// status poll. Latency is simulated with completion timestamps, never with
// sleeping goroutines.
type Latency struct {
	Create, Update, Delete Duration
}

// Faults injects failures, reproducibly for a given Seed. Fractions are in
// [0, 1]; the zero value injects nothing.
type Faults struct {
	// Seed seeds the random source that decides which requests fail and how
	// long operations take, and (through a source of its own) the names and
	// identifiers the emulator generates.
	Seed uint64
	// RateLimit is the number of requests per second the whole API accepts
	// (Cloud Control, IoT and STS together); requests above it are answered
	// with ThrottlingException. Zero means unlimited.
	RateLimit float64
	// Burst is the rate limiter's bucket size; zero means max(1, RateLimit).
	Burst int
	// ServerErrors is the fraction of requests answered with a synchronous
	// HTTP 500 InternalFailure.
	ServerErrors float64
	// Throttles is the fraction of requests answered with a synchronous
	// ThrottlingException, independently of RateLimit.
	Throttles float64
	// AsyncFailures is the fraction of mutations that end FAILED with one of
	// AsyncCodes (without any effect on the resource).
	AsyncFailures float64
	// AsyncCodes lists the HandlerErrorCodes an injected asynchronous failure
	// picks from; empty means Throttling, ServiceInternalError and
	// NotStabilized.
	AsyncCodes []string
	// DropConnections is the fraction of requests whose connection is closed
	// without an answer.
	DropConnections float64
	// UnstableFailures is the fraction of the other mutations that take
	// effect and then end FAILED with NotStabilized, the event naming the
	// resource, as a handler reports a resource that did not stabilise:
	// creates of resources whose identifier the service generates, and
	// updates.
	UnstableFailures float64
}

// Options configures a Server.
type Options struct {
	// Region is the emulator's home region (default us-east-1): the region
	// of a request without a signature. A signed request is served in the
	// region of its credential scope, any region name (see the package
	// documentation).
	Region string
	// Account is the default 12-digit account id (default 123456789012):
	// the account of a request without a signature, and of one signed with
	// an access key that neither Accounts maps nor the emulator's STS
	// issued.
	Account string
	// Accounts maps access key ids to the 12-digit account their requests
	// are served in, e.g. one key per shared-config profile. Temporary
	// credentials from the emulator's STS AssumeRole need no entry: they
	// belong to the account of the role they assumed.
	Accounts map[string]string
	// ExternalIDs maps role ARNs to the external id that AssumeRole must be
	// given to assume them; a role not listed requires none (the emulator
	// keeps no trust policies: any caller may assume any role).
	ExternalIDs map[string]string
	// DataDir, when set, keeps resources and requests in a bbolt database in
	// that directory so that they survive a restart; otherwise they live in
	// memory only.
	DataDir string
	// Registry holds the resource schemas (default services.Default(): the
	// embedded registry with the services' own rules).
	Registry *schema.Registry
	// Latency is how long operations take (default: complete by the first
	// status poll).
	Latency Latency
	// Faults injects failures (default: none).
	Faults Faults
	// Credentials maps access key ids to secret keys. When empty, any SigV4
	// signature (or none) is accepted; otherwise every request must be
	// signed by one of these keys.
	Credentials map[string]string
	// MaxClockSkew is how far a signature's time may be from the emulator's
	// clock (default 15 minutes, as AWS).
	MaxClockSkew time.Duration
	// Clock tells the time (default the system clock).
	Clock Clock
	// RequestRetention is how long a finished request (SUCCESS, FAILED or
	// CANCEL_COMPLETE) is kept after its EventTime: once it is that old,
	// GetResourceRequestStatus answers RequestTokenNotFoundException,
	// ListResourceRequests no longer lists it, its ClientToken starts a new
	// request, and it is removed from the data directory. Requests in
	// progress are never forgotten; resources are unaffected. Zero or
	// negative means DefaultRequestRetention.
	RequestRetention time.Duration
	// Limits bounds what clients can hold of a server started by Start
	// (default DefaultLimits).
	Limits Limits
	// RetryAfter says what the RetryAfter of an event in progress holds
	// (default RetryAfterExact).
	RetryAfter RetryAfterHint
}

// RetryAfterHint says how the emulator fills the RetryAfter of a
// ProgressEvent that is IN_PROGRESS.
type RetryAfterHint string

// RetryAfter hints. The exact completion time lets a client that polls at
// RetryAfter find every operation done with one poll, which real Cloud
// Control, whose hints are coarse or absent, does not; the other two keep
// such a client honest.
const (
	// RetryAfterExact is the operation's completion time, to the
	// millisecond (the default).
	RetryAfterExact RetryAfterHint = "exact"
	// RetryAfterRound is the completion time rounded up to the next whole
	// second.
	RetryAfterRound RetryAfterHint = "round"
	// RetryAfterNone withholds RetryAfter.
	RetryAfterNone RetryAfterHint = "none"
)

// ParseRetryAfterHint returns the hint named s ("" is RetryAfterExact).
func ParseRetryAfterHint(s string) (RetryAfterHint, error) {
	switch h := RetryAfterHint(s); h {
	case "":
		return RetryAfterExact, nil
	case RetryAfterExact, RetryAfterRound, RetryAfterNone:
		return h, nil
	}
	return "", fmt.Errorf("emulator: RetryAfter hint %q: want exact, round or none", s)
}

// Limits bounds the connections of a server started by Start, so that
// stalled or greedy clients cannot exhaust it. Zero fields take the
// DefaultLimits value.
type Limits struct {
	// ReadHeaderTimeout is how long a client may take to send a request's
	// headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is how long a client may take to send a whole request,
	// headers and body; a connection that has not sent its body by then is
	// closed.
	ReadTimeout time.Duration
	// WriteTimeout is how long a client may take to read a response.
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its next
	// request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the size of a request's headers.
	MaxHeaderBytes int
	// MaxConnections bounds the connections held at once. A connection
	// beyond it makes room by closing the oldest one that is not being
	// answered (waiting for a request, idle, or still sending its body);
	// when every connection is being answered, the new one is closed.
	MaxConnections int
}

// DefaultLimits are the limits of a server started by Start. A request
// body is bounded separately: 1 MiB, four times the largest Cloud Control
// member (256 KiB of properties).
var DefaultLimits = Limits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       30 * time.Second,
	WriteTimeout:      30 * time.Second,
	IdleTimeout:       60 * time.Second,
	MaxHeaderBytes:    64 << 10,
	MaxConnections:    4096,
}

// DefaultRequestRetention is how long Cloud Control keeps resource operation
// requests: "Resource operation requests expire after 7 days."
const DefaultRequestRetention = 7 * 24 * time.Hour

// Instant is the default profile: operations complete by the first status
// poll, no rate limit, no faults.
func Instant() Options { return Options{} }

// Realistic is a profile close to the real service: each operation takes
// 1–3 s and the whole API accepts 20 requests per second, answering
// ThrottlingException above it. The seed makes the drawn latencies
// reproducible.
func Realistic(seed uint64) Options {
	d := Between(time.Second, 3*time.Second)
	return Options{
		Latency: Latency{Create: d, Update: d, Delete: d},
		Faults:  Faults{Seed: seed, RateLimit: 20, Burst: 20},
	}
}

// Profile returns the named profile: "instant" or "realistic".
func Profile(name string, seed uint64) (Options, error) {
	switch name {
	case "", "instant":
		return Instant(), nil
	case "realistic":
		return Realistic(seed), nil
	}
	return Options{}, fmt.Errorf("emulator: unknown profile %q (want instant or realistic)", name)
}

// The region and account an emulator answers for unless Options say
// otherwise.
const (
	DefaultRegion  = "us-east-1"
	DefaultAccount = "123456789012"
)

func (o *Options) setDefaults() error {
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.Account == "" {
		o.Account = DefaultAccount
	}
	if len(o.Account) != 12 || !isDigits(o.Account) {
		return fmt.Errorf("emulator: account %q must be 12 digits", o.Account)
	}
	for key, acct := range o.Accounts {
		if len(acct) != 12 || !isDigits(acct) {
			return fmt.Errorf("emulator: Accounts[%q] = %q, want 12 digits", key, acct)
		}
	}
	for arn, ext := range o.ExternalIDs {
		if !roleARN.MatchString(arn) {
			return fmt.Errorf("emulator: ExternalIDs: %q is not the ARN of a role: want arn:<partition>:iam::<12-digit account>:role/[<path>/]<name>", arn)
		}
		if l := len(ext); l < 2 || l > 1224 || !mExternalID.pattern.MatchString(ext) {
			return fmt.Errorf("emulator: ExternalIDs[%q] = %q, want 2 to 1224 characters of [\\w+=,.@:/-]", arn, ext)
		}
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.RequestRetention <= 0 {
		o.RequestRetention = DefaultRequestRetention
	}
	h, err := ParseRetryAfterHint(string(o.RetryAfter))
	if err != nil {
		return err
	}
	o.RetryAfter = h
	if o.MaxClockSkew == 0 {
		o.MaxClockSkew = 15 * time.Minute
	}
	if o.Registry == nil {
		o.Registry = services.Default()
	}
	l, d := &o.Limits, DefaultLimits
	for _, f := range []struct {
		name     string
		val, def *time.Duration
	}{
		{"ReadHeaderTimeout", &l.ReadHeaderTimeout, &d.ReadHeaderTimeout},
		{"ReadTimeout", &l.ReadTimeout, &d.ReadTimeout},
		{"WriteTimeout", &l.WriteTimeout, &d.WriteTimeout},
		{"IdleTimeout", &l.IdleTimeout, &d.IdleTimeout},
	} {
		if *f.val < 0 {
			return fmt.Errorf("emulator: Limits.%s = %v, want a positive duration", f.name, *f.val)
		}
		if *f.val == 0 {
			*f.val = *f.def
		}
	}
	if l.MaxHeaderBytes < 0 || l.MaxConnections < 0 {
		return fmt.Errorf("emulator: Limits.MaxHeaderBytes = %d, Limits.MaxConnections = %d, want positive numbers", l.MaxHeaderBytes, l.MaxConnections)
	}
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxConnections == 0 {
		l.MaxConnections = d.MaxConnections
	}
	f := o.Faults
	for name, v := range map[string]float64{
		"ServerErrors": f.ServerErrors, "Throttles": f.Throttles,
		"AsyncFailures": f.AsyncFailures, "DropConnections": f.DropConnections,
		"UnstableFailures": f.UnstableFailures,
	} {
		if v < 0 || v > 1 {
			return fmt.Errorf("emulator: Faults.%s = %v, want a fraction in [0, 1]", name, v)
		}
	}
	if f.RateLimit < 0 {
		return fmt.Errorf("emulator: Faults.RateLimit = %v, want >= 0", f.RateLimit)
	}
	for _, c := range f.AsyncCodes {
		if !handlerErrorCodes[c] {
			return fmt.Errorf("emulator: Faults.AsyncCodes: %q is not a HandlerErrorCode", c)
		}
	}
	for _, d := range []Duration{o.Latency.Create, o.Latency.Update, o.Latency.Delete} {
		if d.Min < 0 || d.Max < 0 {
			return fmt.Errorf("emulator: negative latency %v..%v", d.Min, d.Max)
		}
	}
	return nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// handlerErrorCodes is the HandlerErrorCode enum of the Cloud Control model.
var handlerErrorCodes = map[string]bool{
	"NotUpdatable": true, "InvalidRequest": true, "AccessDenied": true,
	"UnauthorizedTaggingOperation": true, "InvalidCredentials": true,
	"AlreadyExists": true, "NotFound": true, "ResourceConflict": true,
	"Throttling": true, "ServiceLimitExceeded": true, "NotStabilized": true,
	"GeneralServiceException": true, "ServiceInternalError": true,
	"ServiceTimeout": true, "NetworkFailure": true, "InternalFailure": true,
}

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/athanor-dev/athanor/emulator"
)

func init() {
	commands = append(commands, newEmulatorCommand())
}

// emulatorFlags holds the flags of `athanor emulator`.
type emulatorFlags struct {
	addr, data, region, account, profile string
	credentials                          []string
	credentialsFile                      string
	getenv                               func(string) string // os.Getenv; tests substitute it
	seed                                 uint64
	latency                              string
	latencyCreate                        string
	latencyUpdate                        string
	latencyDelete                        string
	retryAfter                           string
	rateLimit                            float64
	burst                                int
	serverErrors, throttles              float64
	asyncFailures, dropConnections       float64
	asyncCodes                           []string
	requestRetention                     time.Duration
}

// EnvEmulatorCredentials holds AKID:SECRET pairs (separated by commas or
// newlines) that `athanor emulator` accepts, so that secrets need not be on
// the command line, where other local users can read them
// (/proc/<pid>/cmdline).
const EnvEmulatorCredentials = "ATHANOR_EMULATOR_CREDENTIALS"

func newEmulatorCommand() *cobra.Command {
	f := emulatorFlags{getenv: os.Getenv}
	return f.command()
}

// command returns the `athanor emulator` command bound to f.
func (f *emulatorFlags) command() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Serve the local AWS Cloud Control emulator (with STS and the IoT job template API)",
		Long: `Serve a local, faithful AWS Cloud Control API on one port, with STS
GetCallerIdentity and the IoT job template REST API on the same store.

Any AWS client can use it: point its endpoint at the printed URL. Without
credentials any signature is accepted; with them, requests must be SigV4
signed by one of the given keys. Credentials (AKID:SECRET) come from
--credentials-file (one per line; blank lines and lines starting with #
are ignored), from the ATHANOR_EMULATOR_CREDENTIALS environment variable
(separated by commas or newlines), or from --credentials; all that are
given are accepted. Prefer the file or the variable: a command line is
readable by every local user. Serving on an address other than loopback
without credentials lets anyone who can reach it change its resources; the
emulator warns about it. Latencies take a duration ("2s") or a range
("1s-3s"); fault fractions are in [0, 1] and drawn from --seed. Finished
requests are forgotten --request-retention after their last event (7 days,
as Cloud Control); resources stay.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := f.options(cmd)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runEmulator(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), f.addr, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:4566", "address to listen on (host:port; port 0 picks a free one)")
	fl.StringVar(&f.data, "data", "", "directory that keeps resources and requests across restarts (default: memory only)")
	fl.StringVar(&f.region, "region", emulator.DefaultRegion, "region the emulator answers for")
	fl.StringVar(&f.account, "account", emulator.DefaultAccount, "12-digit account id")
	fl.StringArrayVar(&f.credentials, "credentials", nil, "AKID:SECRET accepted for SigV4 (repeatable; none at all: any signature is accepted); visible to local users, prefer --credentials-file or "+EnvEmulatorCredentials)
	fl.StringVar(&f.credentialsFile, "credentials-file", "", "file of AKID:SECRET lines accepted for SigV4 (# starts a comment line)")
	fl.StringVar(&f.profile, "profile", "instant", "base profile: instant (no latency, no limits) or realistic (1-3 s operations, 20 requests/s)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the random choices (latencies within ranges, faults)")
	fl.StringVar(&f.latency, "latency", "", "latency of every operation: a duration or a range lo-hi")
	fl.StringVar(&f.latencyCreate, "latency-create", "", "latency of CREATE operations")
	fl.StringVar(&f.latencyUpdate, "latency-update", "", "latency of UPDATE operations")
	fl.StringVar(&f.latencyDelete, "latency-delete", "", "latency of DELETE operations")
	fl.Float64Var(&f.rateLimit, "rate-limit", 0, "requests per second the API accepts before ThrottlingException (0: unlimited)")
	fl.IntVar(&f.burst, "burst", 0, "rate limiter burst (default: the rate limit)")
	fl.Float64Var(&f.serverErrors, "server-errors", 0, "fraction of requests answered with HTTP 500 InternalFailure")
	fl.Float64Var(&f.throttles, "throttles", 0, "fraction of requests answered with ThrottlingException")
	fl.Float64Var(&f.asyncFailures, "async-failures", 0, "fraction of operations that end FAILED")
	fl.StringSliceVar(&f.asyncCodes, "async-codes", nil, "HandlerErrorCodes of injected async failures (default Throttling,ServiceInternalError,NotStabilized)")
	fl.Float64Var(&f.dropConnections, "drop-connections", 0, "fraction of requests whose connection is closed without an answer")
	fl.StringVar(&f.retryAfter, "retry-after", "exact", "RetryAfter of events in progress: exact (the completion time), round (up to whole seconds, as real hints are coarse) or none")
	fl.DurationVar(&f.requestRetention, "request-retention", emulator.DefaultRequestRetention, "how long finished requests stay visible after their last event, as Cloud Control's 7 days")
	return cmd
}

// options builds the emulator options: the profile, then every flag the
// user set.
func (f *emulatorFlags) options(cmd *cobra.Command) (emulator.Options, error) {
	opts, err := emulator.Profile(f.profile, f.seed)
	if err != nil {
		return opts, err
	}
	changed := cmd.Flags().Changed
	opts.Region, opts.Account, opts.DataDir = f.region, f.account, f.data
	opts.Faults.Seed = f.seed
	creds, err := f.credentialPairs()
	if err != nil {
		return opts, err
	}
	opts.Credentials = creds
	if opts.RetryAfter, err = emulator.ParseRetryAfterHint(f.retryAfter); err != nil {
		return opts, fmt.Errorf("--retry-after: %w", err)
	}
	for _, l := range []struct {
		flag, val string
		dst       []*emulator.Duration
	}{
		{"latency", f.latency, []*emulator.Duration{&opts.Latency.Create, &opts.Latency.Update, &opts.Latency.Delete}},
		{"latency-create", f.latencyCreate, []*emulator.Duration{&opts.Latency.Create}},
		{"latency-update", f.latencyUpdate, []*emulator.Duration{&opts.Latency.Update}},
		{"latency-delete", f.latencyDelete, []*emulator.Duration{&opts.Latency.Delete}},
	} {
		if !changed(l.flag) {
			continue
		}
		d, err := parseLatency(l.val)
		if err != nil {
			return opts, fmt.Errorf("--%s: %w", l.flag, err)
		}
		for _, p := range l.dst {
			*p = d
		}
	}
	if changed("rate-limit") {
		opts.Faults.RateLimit = f.rateLimit
	}
	if changed("burst") {
		opts.Faults.Burst = f.burst
	}
	if changed("server-errors") {
		opts.Faults.ServerErrors = f.serverErrors
	}
	if changed("throttles") {
		opts.Faults.Throttles = f.throttles
	}
	if changed("async-failures") {
		opts.Faults.AsyncFailures = f.asyncFailures
	}
	if changed("async-codes") {
		opts.Faults.AsyncCodes = f.asyncCodes
	}
	if changed("drop-connections") {
		opts.Faults.DropConnections = f.dropConnections
	}
	if changed("request-retention") {
		if f.requestRetention <= 0 {
			return opts, fmt.Errorf("--request-retention %v: want a positive duration", f.requestRetention)
		}
		opts.RequestRetention = f.requestRetention
	}
	return opts, nil
}

// credentialPairs gathers the credentials of --credentials-file, the
// environment and --credentials; nil when none is given.
func (f *emulatorFlags) credentialPairs() (map[string]string, error) {
	var creds map[string]string
	add := func(source, pair string) error {
		akid, secret, ok := strings.Cut(pair, ":")
		if !ok || akid == "" || secret == "" || strings.ContainsAny(pair, " \t") {
			// Never echo the value: it may hold a secret.
			return fmt.Errorf("%s: want AKID:SECRET (no spaces), got a value of %d characters", source, len(pair))
		}
		if creds == nil {
			creds = map[string]string{}
		}
		creds[akid] = secret
		return nil
	}
	if f.credentialsFile != "" {
		data, err := os.ReadFile(f.credentialsFile)
		if err != nil {
			return nil, fmt.Errorf("--credentials-file: %w", err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if err := add(fmt.Sprintf("--credentials-file %s line %d", f.credentialsFile, i+1), line); err != nil {
				return nil, err
			}
		}
		if creds == nil {
			return nil, fmt.Errorf("--credentials-file %s: no AKID:SECRET line", f.credentialsFile)
		}
	}
	getenv := f.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := getenv(EnvEmulatorCredentials); strings.TrimSpace(v) != "" {
		for i, pair := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
			if pair = strings.TrimSpace(pair); pair == "" {
				continue
			}
			if err := add(fmt.Sprintf("%s entry %d", EnvEmulatorCredentials, i+1), pair); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range f.credentials {
		if err := add("--credentials", c); err != nil {
			return nil, err
		}
	}
	return creds, nil
}

// parseLatency reads "2s" or a range "1s-3s" (documented), also written
// "1s..3s".
func parseLatency(s string) (emulator.Duration, error) {
	lo, hi, isRange := strings.Cut(s, "..")
	if !isRange {
		lo, hi, isRange = strings.Cut(s, "-")
	}
	min, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil {
		return emulator.Duration{}, fmt.Errorf("%q: want a duration (2s) or a range (1s-3s): %w", s, err)
	}
	if !isRange {
		return emulator.Fixed(min), nil
	}
	max, err := time.ParseDuration(strings.TrimSpace(hi))
	if err != nil {
		return emulator.Duration{}, fmt.Errorf("%q: want a duration (2s) or a range (1s-3s): %w", s, err)
	}
	if max < min {
		return emulator.Duration{}, fmt.Errorf("%q: the range ends before it starts", s)
	}
	return emulator.Between(min, max), nil
}

// runEmulator serves until ctx is done. It warns on errOut when the
// emulator is reachable beyond loopback without credentials.
func runEmulator(ctx context.Context, out, errOut io.Writer, addr string, opts emulator.Options) error {
	r, err := emulator.Start(ctx, addr, opts)
	if err != nil {
		return err
	}
	if len(opts.Credentials) == 0 && !loopback(r.URL) {
		fmt.Fprintf(errOut, `WARNING: the emulator serves %s beyond loopback WITHOUT credentials.
WARNING: anyone who can reach this address can create, change and delete its resources.
WARNING: listen on 127.0.0.1, or give credentials (--credentials-file or %s).
`, r.URL, EnvEmulatorCredentials)
	}
	region := r.Server.Region()
	fmt.Fprintf(out, "Athanor Cloud Control emulator listening on %s (region %s, account %s)\n", r.URL, region, r.Server.Account())
	fmt.Fprint(out, hints(r.URL, region))
	if len(opts.Credentials) > 0 {
		fmt.Fprintln(out, "\nSigV4 is verified: use one of the configured keys instead of test/test.")
	}
	fmt.Fprintln(out, "\nPress Ctrl-C to stop.")
	<-ctx.Done()
	if err := r.Close(); err != nil {
		return fmt.Errorf("emulator: stop: %w", err)
	}
	fmt.Fprintln(out, "emulator stopped")
	return nil
}

// hints tells how to point AWS clients at the emulator at url. The region
// goes in both variables: the SDKs and the AWS CLI v2 read AWS_REGION, the
// AWS CLI v1 only AWS_DEFAULT_REGION. The commands name the endpoint
// themselves: AWS_ENDPOINT_URL is read by the SDKs and recent AWS CLIs but
// not by older ones, such as the 2.9 that Debian 12 packages.
func hints(url, region string) string {
	return fmt.Sprintf(`
Point AWS clients at it (Cloud Control, STS and IoT job templates share the endpoint):

  export AWS_ENDPOINT_URL=%[1]s
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  export AWS_REGION=%[2]s AWS_DEFAULT_REGION=%[2]s

  aws --endpoint-url %[1]s cloudcontrol list-resources --type-name AWS::IoT::JobTemplate
  aws --endpoint-url %[1]s iot list-job-templates

Deploy to it with --target %[1]s (e.g. go run ./examples/jobtemplates --target %[1]s).
The SDKs and recent AWS CLIs read AWS_ENDPOINT_URL; older CLIs (such as the
2.9 of Debian 12) need --endpoint-url, and older SDKs the endpoint per service
(AWS_ENDPOINT_URL_CLOUDCONTROL, AWS_ENDPOINT_URL_IOT, AWS_ENDPOINT_URL_STS).
aws-sdk-go-v2: cloudcontrol.NewFromConfig(cfg, func(o *cloudcontrol.Options) {
	o.BaseEndpoint = aws.String("%[1]s") })
`, url, region)
}

// loopback reports whether the emulator at url (http://host:port, as the
// listener reports it) is reachable from this machine only.
func loopback(url string) bool {
	host, _, err := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

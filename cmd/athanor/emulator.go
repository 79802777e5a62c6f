package main

import (
	"context"
	"fmt"
	"io"
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
	seed                                 uint64
	latency                              string
	latencyCreate                        string
	latencyUpdate                        string
	latencyDelete                        string
	rateLimit                            float64
	burst                                int
	serverErrors, throttles              float64
	asyncFailures, dropConnections       float64
	asyncCodes                           []string
	requestRetention                     time.Duration
}

func newEmulatorCommand() *cobra.Command {
	var f emulatorFlags
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
--credentials any signature is accepted; with them, requests must be SigV4
signed by one of the given keys. Latencies take a duration ("2s") or a range
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
			return runEmulator(ctx, cmd.OutOrStdout(), f.addr, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:4566", "address to listen on (host:port; port 0 picks a free one)")
	fl.StringVar(&f.data, "data", "", "directory that keeps resources and requests across restarts (default: memory only)")
	fl.StringVar(&f.region, "region", "us-east-1", "region the emulator answers for")
	fl.StringVar(&f.account, "account", "123456789012", "12-digit account id")
	fl.StringArrayVar(&f.credentials, "credentials", nil, "AKID:SECRET accepted for SigV4 (repeatable; none: any signature is accepted)")
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
	if len(f.credentials) > 0 {
		opts.Credentials = map[string]string{}
		for _, c := range f.credentials {
			akid, secret, ok := strings.Cut(c, ":")
			if !ok || akid == "" || secret == "" {
				return opts, fmt.Errorf("--credentials %q: want AKID:SECRET", c)
			}
			opts.Credentials[akid] = secret
		}
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

// parseLatency reads "2s", "1s-3s" or "1s..3s".
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

// runEmulator serves until ctx is done.
func runEmulator(ctx context.Context, out io.Writer, addr string, opts emulator.Options) error {
	r, err := emulator.Start(ctx, addr, opts)
	if err != nil {
		return err
	}
	region := r.Server.Region()
	fmt.Fprintf(out, "Athanor Cloud Control emulator listening on %s (region %s, account %s)\n", r.URL, region, r.Server.Account())
	fmt.Fprintf(out, `
Point AWS clients at it (Cloud Control, STS and IoT job templates share the endpoint):

  export AWS_ENDPOINT_URL=%[1]s
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=%[2]s

  aws cloudcontrol list-resources --type-name AWS::IoT::JobTemplate
  aws iot list-job-templates

Older clients need the endpoint per service: AWS_ENDPOINT_URL_CLOUDCONTROL,
AWS_ENDPOINT_URL_CLOUDCONTROLAPI, or --endpoint-url %[1]s for the AWS CLI.
aws-sdk-go-v2: cloudcontrol.NewFromConfig(cfg, func(o *cloudcontrol.Options) {
	o.BaseEndpoint = aws.String("%[1]s") })
`, r.URL, region)
	if len(opts.Credentials) > 0 {
		fmt.Fprintln(out, "\nSigV4 is verified: use one of the --credentials keys instead of test/test.")
	}
	fmt.Fprintln(out, "\nPress Ctrl-C to stop.")
	<-ctx.Done()
	if err := r.Close(); err != nil {
		return fmt.Errorf("emulator: stop: %w", err)
	}
	fmt.Fprintln(out, "emulator stopped")
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/athanor-dev/athanor/emulator"
	"github.com/athanor-dev/athanor/internal/bench"
)

func init() {
	commands = append(commands, benchCommand(), benchWorkerCommand())
}

// benchFlags are the flags of athanor bench.
type benchFlags struct {
	profile     string
	ns          string
	concurrency int
	seed        uint64
	latency     string
	rate        float64
	burst       int
	steps       string
	retryAfter  string
	poll        time.Duration
	jsonOut     bool
	smoke       bool
	inProcess   bool
	profileDir  string
	quiet       bool
}

func benchCommand() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the engine against a bare SDK loop and the API's limits",
		Long: `bench starts a Cloud Control emulator on loopback with a latency and rate-limit
profile and measures, for each N: the engine's deploy of N AWS::IoT::JobTemplate
resources, a no-op redeploy, a replace-all and a destroy; the same deploy and
destroy by a bare aws-sdk-go-v2 loop (the baseline); and the bound, the least
time the profile's limits allow:

  bound = max((2·chain·N − burst)/rate, ⌈N/concurrency⌉·chain·minLatency)

with chain 1 for a create or delete and 2 for a replacement (delete, then
create); without --concurrency (the engine's default settings: an adaptive
bound) the second term is chain·minLatency, the physical bound. Calls are
counted at the emulator. Each phase runs in its own worker process, so that
its peak RSS and CPU time are its own.

Profiles: instant (operations end by the first poll, no rate limit),
realistic (1–3 s per operation, seeded; 20 requests/s for the whole API) and
latency (every operation takes 1 s, no rate limit: the bound is one second
per dependent step). --latency, --rate and --burst adjust any of them (the
report then says "custom"); --profile custom starts from instant.

--retry-after sets what the emulator's events in progress say in RetryAfter:
exact (the completion time, which flatters a client that polls then), round
(up to whole seconds) or none; a comma-separated list runs each in turn.

It exits non-zero when a phase fails or resources are lost or duplicated;
missed performance targets are reported, not fatal.`,
		Example: `  athanor bench --profile instant --n 1000 --concurrency 32
  athanor bench --profile realistic --n 1000 --seed 7 --json
  athanor bench --profile latency --n 100 --retry-after exact,none
  athanor bench --profile custom --latency 200ms-500ms --rate 50 --n 100
  athanor bench --smoke`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.profile, "profile", "instant", "emulator profile: instant, realistic, latency or custom")
	fl.StringVar(&f.ns, "n", "100,1000", "numbers of job templates, comma-separated (e.g. 100,1000,10000)")
	fl.IntVar(&f.concurrency, "concurrency", bench.DefaultConcurrency, "fixed operations in flight, for the engine and the baseline (0: the engine's default, adaptive)")
	fl.StringVar(&f.retryAfter, "retry-after", "exact", "the emulator's RetryAfter hints, comma-separated, each a run: exact, round or none")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the realistic latencies")
	fl.StringVar(&f.latency, "latency", "", "operation latency: a duration or a range MIN-MAX (e.g. 1s-3s)")
	fl.Float64Var(&f.rate, "rate", 0, "requests per second the whole API accepts (0: unlimited)")
	fl.IntVar(&f.burst, "burst", 0, "rate limiter burst (default: the rate)")
	fl.StringVar(&f.steps, "steps", "", "steps to run, comma-separated: baseline,deploy,noop,replace,destroy (default: all; no baseline under a rate limit)")
	fl.DurationVar(&f.poll, "poll", bench.DefaultPollInterval, "the baseline's fixed polling interval")
	fl.BoolVar(&f.jsonOut, "json", false, "write the reports as JSON")
	fl.BoolVar(&f.smoke, "smoke", false, "quick correctness run for CI: N=10, instant, concurrency 4")
	fl.BoolVar(&f.inProcess, "in-process", false, "run phases in this process (RSS and CPU then include the emulator)")
	fl.BoolVar(&f.quiet, "quiet", false, "do not write progress lines to standard error")
	fl.StringVar(&f.profileDir, "pprof", "", "directory to write a CPU and a heap profile of each phase to")
	return cmd
}

func runBench(cmd *cobra.Command, f benchFlags) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.smoke {
		f.profile, f.ns, f.concurrency = "instant", "10", 4
		f.latency, f.rate, f.burst, f.steps, f.retryAfter = "", 0, 0, "", "exact"
	}
	ns, err := parseNs(f.ns)
	if err != nil {
		return err
	}
	var hints []emulator.RetryAfterHint
	for _, s := range strings.Split(f.retryAfter, ",") {
		h, err := emulator.ParseRetryAfterHint(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("bench: --retry-after: %w", err)
		}
		hints = append(hints, h)
	}
	base := bench.Options{
		Profile: f.profile, Seed: f.seed, Concurrency: f.concurrency,
		PollInterval: f.poll, ProfileDir: f.profileDir,
	}
	if base.Emulator, base.Profile, err = benchEmulator(cmd, f); err != nil {
		return err
	}
	if f.steps != "" {
		for _, s := range strings.Split(f.steps, ",") {
			st, err := bench.ParseStep(strings.TrimSpace(s))
			if err != nil {
				return err
			}
			base.Steps = append(base.Steps, st)
		}
	}
	if f.profileDir != "" {
		if err := os.MkdirAll(f.profileDir, 0o755); err != nil {
			return err
		}
	}
	if !f.inProcess {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find this executable for worker processes: %w (or use --in-process)", err)
		}
		base.Worker = func(ctx context.Context) *exec.Cmd { return exec.CommandContext(ctx, exe, "bench-worker") }
	}
	if !f.quiet {
		base.Log = cmd.ErrOrStderr()
	}
	var reports []*bench.Report
	problems := 0
runs:
	for _, n := range ns {
		for _, h := range hints {
			o := base
			o.N, o.RetryAfter = n, h
			rep, err := bench.Run(ctx, o)
			if err != nil {
				return err
			}
			reports = append(reports, rep)
			problems += len(rep.Problems)
			if ctx.Err() != nil {
				break runs
			}
		}
	}
	out := cmd.OutOrStdout()
	if f.jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Runs []*bench.Report `json:"runs"`
		}{reports}); err != nil {
			return err
		}
	} else if err := bench.WriteText(out, reports...); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bench: interrupted: %w", err)
	}
	if problems > 0 {
		return fmt.Errorf("bench: %d problems: the measurements are not valid", problems)
	}
	return nil
}

// benchEmulator returns the emulator options the flags ask for (nil for a
// named profile as it is) and the profile's label.
func benchEmulator(cmd *cobra.Command, f benchFlags) (*emulator.Options, string, error) {
	custom := f.profile == "custom"
	fl := cmd.Flags()
	if !custom && !fl.Changed("latency") && !fl.Changed("rate") && !fl.Changed("burst") {
		if _, err := bench.ProfileOptions(f.profile, f.seed); err != nil {
			return nil, "", fmt.Errorf("bench: --profile: %w", err)
		}
		return nil, f.profile, nil
	}
	name := f.profile
	if custom {
		name = "instant"
	}
	eo, err := bench.ProfileOptions(name, f.seed)
	if err != nil {
		return nil, "", fmt.Errorf("bench: --profile %q: want instant, realistic, latency or custom", f.profile)
	}
	if f.latency != "" {
		d, err := parseBenchLatency(f.latency)
		if err != nil {
			return nil, "", err
		}
		eo.Latency = emulator.Latency{Create: d, Update: d, Delete: d}
	}
	eo.Faults.Seed = f.seed
	if fl.Changed("rate") {
		if f.rate < 0 {
			return nil, "", fmt.Errorf("bench: --rate %g: want ≥ 0", f.rate)
		}
		eo.Faults.RateLimit = f.rate
		eo.Faults.Burst = 0
	}
	if fl.Changed("burst") {
		if f.burst < 1 {
			return nil, "", fmt.Errorf("bench: --burst %d: want ≥ 1", f.burst)
		}
		eo.Faults.Burst = f.burst
	}
	return &eo, "custom", nil
}

// parseNs parses a comma-separated list of positive counts.
func parseNs(s string) ([]int, error) {
	var ns []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(strings.ReplaceAll(part, "_", ""))
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bench: --n %q: want positive integers separated by commas", s)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// parseBenchLatency parses --latency as the emulator does: "MIN-MAX"
// (also "MIN..MAX") or a single duration.
func parseBenchLatency(s string) (emulator.Duration, error) {
	d, err := parseLatency(s)
	if err != nil {
		return emulator.Duration{}, fmt.Errorf("bench: --latency: %w", err)
	}
	return d, nil
}

// benchWorkerCommand is the hidden command a bench run starts to carry out
// one phase in a process of its own.
func benchWorkerCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "bench-worker",
		Short:  "Run one benchmark phase read from standard input (used by bench)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.ServeWorker(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
}

package athanor

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/athanor-dev/athanor/internal/engine"
)

// Environment variables read by ParseConfig; flags take precedence.
const (
	EnvStage       = "ATHANOR_STAGE"
	EnvTarget      = "ATHANOR_TARGET"
	EnvState       = "ATHANOR_STATE"
	EnvConcurrency = "ATHANOR_CONCURRENCY"
	EnvPlan        = "ATHANOR_PLAN"
	EnvDestroy     = "ATHANOR_DESTROY"
	EnvRefresh     = "ATHANOR_REFRESH"
	EnvJSON        = "ATHANOR_JSON"
	EnvLockTimeout = "ATHANOR_LOCK_TIMEOUT"
	EnvLockLease   = "ATHANOR_LOCK_LEASE"
	EnvHeartbeat   = "ATHANOR_HEARTBEAT"
	EnvYes         = "ATHANOR_YES"
)

// Main is the entry point of an Athanor program: it reads the command line
// (see ParseConfig), runs fn as a deploy, plan or destroy of the stage, and
// exits — with status 1 when the run failed, 2 on bad usage. The first
// SIGINT or SIGTERM stops the run: it starts nothing new, reports each
// operation in flight as interrupted (recorded, resumed by the next run) and
// exits with ExitInterrupted (130); a second signal exits at once.
func Main(app string, fn func(*App) error) {
	os.Exit(run1(app, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, fn))
}

func run1(app string, args []string, getenv func(string) string, stdout, stderr io.Writer, fn func(*App) error) int {
	cfg, err := ParseConfig(app, args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	cfg.Output = stdout
	if !cfg.Yes {
		cfg.Confirm = terminalConfirm(os.Stdin, stdout)
	}
	notes := &noteWriter{w: stderr}
	if _, ok := engine.Terminal(stderr); ok {
		// Output and notes share the terminal: notes go above the live view.
		cfg.onReporter = notes.rep.Store
	}
	ctx, stop := interruptible(context.Background(), app, notes, func() { os.Exit(ExitInterrupted) })
	defer stop()
	res, err := Run(ctx, cfg, fn)
	if err != nil {
		if res == nil || cfg.Graph != "" {
			// Failed before any output (bad state location, stage locked,
			// ...), or a graph's plan failed, whose text was not shown.
			fmt.Fprintln(stderr, err)
		}
		if errors.Is(err, ErrInterrupted) {
			return ExitInterrupted
		}
		return 1
	}
	return 0
}

// terminalConfirm returns the question Main asks before applying a plan
// when in and out are both a terminal (nil otherwise: scripts and CI
// proceed without asking). Only "yes" or "y" applies the plan.
func terminalConfirm(in *os.File, out io.Writer) func(*Plan) (bool, error) {
	if _, ok := engine.Terminal(out); !ok {
		return nil
	}
	if _, ok := engine.Terminal(in); !ok {
		return nil
	}
	return func(*Plan) (bool, error) { return askYes(in, out) }
}

// askYes asks on out whether to apply the plan and reads the answer, one
// line, from in.
func askYes(in io.Reader, out io.Writer) (bool, error) {
	fmt.Fprint(out, "Apply these changes? Only 'yes' applies them: ")
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "yes", "y":
		return true, nil
	}
	return false, nil
}

// noteWriter writes Main's notes (a signal received) to w, or through the
// run's reporter while it draws a live view on the same terminal.
type noteWriter struct {
	w   io.Writer
	rep atomic.Pointer[engine.Reporter]
}

func (n *noteWriter) Write(p []byte) (int, error) {
	if r := n.rep.Load(); r != nil && r.Live() {
		r.Note(string(p))
		return len(p), nil
	}
	return n.w.Write(p)
}

// ExitInterrupted is Main's exit status after SIGINT or SIGTERM: 128 plus
// SIGINT's number, as shells report a program stopped by Ctrl-C.
const ExitInterrupted = 130

// interruptible returns a context cancelled, with cause ErrInterrupted, by
// the first SIGINT or SIGTERM; the run then starts nothing new and records
// what is in flight. A second signal calls exit at once: every state write
// is atomic, so the state stays consistent, and the next run resumes the
// operations it finds pending.
func interruptible(parent context.Context, app string, stderr io.Writer, exit func()) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			fmt.Fprintf(stderr, "\n%s: %v: stopping; operations in flight are recorded for the next run (send it again to exit at once)\n", app, sig)
			cancel(ErrInterrupted)
		case <-done:
			return
		}
		select {
		case <-sigs:
			exit()
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// ParseConfig builds a run's Config from command-line arguments and the
// environment (getenv, usually os.Getenv):
//
//	--stage NAME        stage to deploy (ATHANOR_STAGE; default "dev")
//	--plan              show what would change, change nothing (ATHANOR_PLAN)
//	--out FILE          with --plan, save the plan to FILE
//	--apply FILE        apply the plan saved in FILE exactly (refused if the
//	                    stage's state or the program's changes differ)
//	--yes               apply without asking (ATHANOR_YES); on a terminal a run
//	                    shows its plan and asks first
//	--destroy           delete every resource of the stage (ATHANOR_DESTROY)
//	--refresh           read resources back first; report and repair drift (ATHANOR_REFRESH)
//	--target TARGET     "local" (embedded emulator, default), "aws", or an endpoint URL
//	                    (ATHANOR_TARGET; AWS_ENDPOINT_URL_CLOUDCONTROL when unset)
//	--state LOCATION    state directory (default .athanor), postgres:// or s3://bucket/prefix URL (ATHANOR_STATE)
//	--concurrency N     Cloud Control operations in flight (ATHANOR_CONCURRENCY)
//	--json              machine-readable output (ATHANOR_JSON)
//	--graph FORMAT      plan, and print the plan's dependency graph as "dot" or
//	                    "mermaid" instead of the plan text
//	--heartbeat D       without a terminal, a "still creating" line per operation
//	                    in flight every D (ATHANOR_HEARTBEAT; default 10s, 0: none)
//	--lock-timeout D    wait up to D for another run's stage lock (ATHANOR_LOCK_TIMEOUT)
//	--lock-lease D      lease of a shared (PostgreSQL) lock: how long a crashed
//	                    run keeps others out (ATHANOR_LOCK_LEASE; default 30s)
//
// Usage errors are written to usage (nil discards them); -h gives
// flag.ErrHelp.
func ParseConfig(app string, args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if usage == nil {
		usage = io.Discard
	}
	cfg := Config{App: app, Stage: getenv(EnvStage), Target: getenv(EnvTarget), State: getenv(EnvState)}
	if cfg.Stage == "" {
		cfg.Stage = DefaultStage
	}
	var err error
	envBool := func(name string) bool {
		v := getenv(name)
		if v == "" || err != nil {
			return false
		}
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			err = fmt.Errorf("%s=%q: want true or false", name, v)
		}
		return b
	}
	cfg.Plan, cfg.Destroy, cfg.Refresh, cfg.JSON = envBool(EnvPlan), envBool(EnvDestroy), envBool(EnvRefresh), envBool(EnvJSON)
	cfg.Yes = envBool(EnvYes)
	if v := getenv(EnvConcurrency); v != "" && err == nil {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 {
			err = fmt.Errorf("%s=%q: want a positive integer", EnvConcurrency, v)
		}
		cfg.Concurrency = n
	}
	envDuration := func(name string) time.Duration {
		v := getenv(name)
		if v == "" || err != nil {
			return 0
		}
		d, perr := time.ParseDuration(v)
		if perr != nil || d < 0 {
			err = fmt.Errorf("%s=%q: want a duration such as 30s or 2m", name, v)
		}
		return d
	}
	cfg.LockTimeout, cfg.LockLease = envDuration(EnvLockTimeout), envDuration(EnvLockLease)
	heartbeat := DefaultHeartbeat
	if v := getenv(EnvHeartbeat); v != "" {
		heartbeat = envDuration(EnvHeartbeat)
	}
	if err != nil {
		return Config{}, err
	}
	fs := flag.NewFlagSet(app, flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&cfg.Stage, "stage", cfg.Stage, "stage to deploy")
	fs.BoolVar(&cfg.Plan, "plan", cfg.Plan, "show what would change, change nothing")
	fs.StringVar(&cfg.Out, "out", "", "with --plan: save the plan to this file")
	fs.StringVar(&cfg.ApplyPlan, "apply", "", "apply the plan saved in this file exactly")
	fs.BoolVar(&cfg.Yes, "yes", cfg.Yes, "apply without asking (on a terminal a run shows its plan and asks first)")
	fs.BoolVar(&cfg.Destroy, "destroy", cfg.Destroy, "delete every resource of the stage")
	fs.BoolVar(&cfg.Refresh, "refresh", cfg.Refresh, "read every resource back first; report drift, recreate what was deleted")
	fs.StringVar(&cfg.Target, "target", cfg.Target, `"local" (embedded emulator), "aws", or a Cloud Control endpoint URL`)
	fs.StringVar(&cfg.State, "state", cfg.State, "state directory, or a postgres:// or s3://bucket/prefix URL (default .athanor)")
	fs.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "fixed number of Cloud Control operations in flight (default: adaptive, up to 1024)")
	fs.BoolVar(&cfg.JSON, "json", cfg.JSON, "write JSON lines instead of text")
	fs.StringVar(&cfg.Graph, "graph", "", `plan, and print the plan's dependency graph ("dot" or "mermaid") instead of the plan text`)
	fs.DurationVar(&cfg.LockTimeout, "lock-timeout", cfg.LockTimeout, "wait this long for another run's stage lock instead of failing at once")
	fs.DurationVar(&cfg.LockLease, "lock-lease", cfg.LockLease, "lease of a shared (PostgreSQL) stage lock: how long a crashed run keeps others out (default 30s)")
	fs.DurationVar(&heartbeat, "heartbeat", heartbeat, `without a terminal, write a "still creating" line per operation in flight at this interval (0: none)`)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	cfg.Heartbeat = heartbeat
	if heartbeat == 0 {
		cfg.Heartbeat = -1 // none
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("%s: unexpected argument %q", app, fs.Arg(0))
	}
	if cfg.LockTimeout < 0 || cfg.LockLease < 0 || heartbeat < 0 {
		return Config{}, fmt.Errorf("%s: --lock-timeout, --lock-lease and --heartbeat must not be negative", app)
	}
	if cfg.Graph != "" && cfg.Graph != "dot" && cfg.Graph != "mermaid" {
		return Config{}, fmt.Errorf("%s: --graph %q: want dot or mermaid", app, cfg.Graph)
	}
	if cfg.Out != "" && !cfg.Plan {
		return Config{}, fmt.Errorf("%s: --out saves a plan: give it with --plan", app)
	}
	if cfg.ApplyPlan != "" && (cfg.Plan || cfg.Destroy) {
		return Config{}, fmt.Errorf("%s: --apply applies a saved plan (a destroy's too): not with --plan or --destroy", app)
	}
	if cfg.Concurrency < 0 {
		return Config{}, fmt.Errorf("%s: --concurrency %d: want a positive integer", app, cfg.Concurrency)
	}
	return cfg, nil
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/state"
	_ "github.com/athanor-dev/athanor/state/file"     // file backend
	_ "github.com/athanor-dev/athanor/state/postgres" // PostgreSQL backend
)

func init() {
	commands = append(commands, newStateCommand())
}

// stateFlags are the flags every `athanor state` subcommand shares.
type stateFlags struct {
	app, stage, location string
	lockTimeout          time.Duration
}

// open opens the state the flags name.
func (f *stateFlags) open(ctx context.Context) (state.Backend, error) {
	return openState(ctx, f.location, f.app, f.stage, f.lockTimeout)
}

func openState(ctx context.Context, location, app, stage string, lockTimeout time.Duration) (state.Backend, error) {
	if app == "" {
		return nil, errors.New("no app given: pass --app NAME (or set ATHANOR_APP)")
	}
	return state.Open(ctx, location, app, stage, state.WithLockTimeout(lockTimeout))
}

// locked runs fn with the stage lock of b held for operation.
func locked(ctx context.Context, b state.Backend, operation string, fn func() error) (err error) {
	l, err := b.Lock(ctx, state.NewLockInfo(operation))
	if err != nil {
		return err
	}
	defer func() {
		if uerr := l.Unlock(context.WithoutCancel(ctx)); uerr != nil && err == nil {
			err = uerr
		}
	}()
	return fn()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// isTerminal reports whether r is an interactive terminal; a variable so
// tests can pretend.
var isTerminal = func(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newStateCommand() *cobra.Command {
	f := &stateFlags{}
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Inspect and edit the recorded state of an app's stage, move it between backends",
		Long: `Inspect and edit the state Athanor records for an app and stage, in the file
backend (a directory, .athanor by default), PostgreSQL (a postgres:// URL) or
an S3 bucket (s3://bucket/prefix; with bucket versioning on, history and
restore reach earlier versions of records).

Editing commands (rm, mv, import, migrate, rebind, restore) take the stage
lock, so they never interleave with a deploy. None of them touches Cloud
Control (rebind asks STS which account the target is).`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.app, "app", os.Getenv("ATHANOR_APP"), "app name, as given to athanor.Main (ATHANOR_APP)")
	pf.StringVar(&f.stage, "stage", envOr("ATHANOR_STAGE", "dev"), "stage name (ATHANOR_STAGE)")
	pf.StringVar(&f.location, "state", envOr("ATHANOR_STATE", state.DefaultURL), "state directory, postgres:// or s3://bucket/prefix URL (ATHANOR_STATE)")
	pf.DurationVar(&f.lockTimeout, "lock-timeout", 0, "wait this long for a held stage lock instead of failing at once")
	cmd.AddCommand(
		stateListCommand(f), stateShowCommand(f), stateRmCommand(f), stateMvCommand(f),
		stateExportCommand(f), stateImportCommand(f), stateMigrateCommand(f), stateForceUnlockCommand(f),
		stateRebindCommand(f), stateHistoryCommand(f), stateRestoreCommand(f),
	)
	return cmd
}

func stateListCommand(f *stateFlags) *cobra.Command {
	var scope string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the records of the stage in creation order",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			b, err := f.open(ctx)
			if err != nil {
				return err
			}
			defer b.Close()
			recs, err := b.List(ctx)
			if err != nil {
				return err
			}
			recs = state.FilterScope(recs, scope)
			out := cmd.OutOrStdout()
			if asJSON {
				if recs == nil {
					recs = []*state.Record{}
				}
				shown := make([]*state.Record, len(recs))
				for i, r := range recs {
					shown[i] = masked(r)
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(shown)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tKEY\tTYPE\tSTATUS\tIDENTIFIER")
			for _, r := range recs {
				status := string(r.Status)
				if r.Pending != nil {
					status += " (" + r.Pending.Operation + " pending)"
				}
				if n := len(r.Retired); n > 0 {
					status += fmt.Sprintf(" (%d retired)", n)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.Seq, r.Key, r.Type, status, r.Identifier)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if lm, ok := b.(state.LockManager); ok {
				if h, err := lm.LockHolder(ctx); err == nil && h != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), (&state.LockedError{App: f.app, Stage: f.stage, Holder: *h}).Error())
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&scope, "scope", "", "only records in this scope path (and the scopes below it)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the records as a JSON array")
	return cmd
}

func stateShowCommand(f *stateFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show [KEY]",
		Short: "Print the stage's target binding and counts, or one record as JSON",
		Long: `Without KEY, print the stage: the target it is bound to (kind, endpoint,
partition, account, region, since when), its record count and exports. With
KEY, print that record as JSON.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			b, err := f.open(ctx)
			if err != nil {
				return err
			}
			defer b.Close()
			if len(args) == 0 {
				return showStage(ctx, cmd.OutOrStdout(), b, f.app, f.stage)
			}
			r, err := b.Get(ctx, args[0])
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(masked(r))
		},
	}
}

// showStage prints the stage's binding, record count and exports.
func showStage(ctx context.Context, out io.Writer, b state.Backend, app, stage string) error {
	recs, err := b.List(ctx)
	if err != nil {
		return err
	}
	m, err := b.GetMeta(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "stage:\t%s/%s\n", app, stage)
	if t := m.Target; t != nil {
		fmt.Fprintf(tw, "target:\t%s\n", t)
		kind := t.Kind
		if t.Endpoint != "" {
			kind += " " + t.Endpoint
		}
		fmt.Fprintf(tw, "  kind:\t%s\n", kind)
		fmt.Fprintf(tw, "  partition:\t%s\n", t.Partition)
		fmt.Fprintf(tw, "  account:\t%s\n", t.Account)
		fmt.Fprintf(tw, "  region:\t%s\n", t.Region)
		fmt.Fprintf(tw, "  bound:\t%s\n", t.BoundAt.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintf(tw, "target:\tnot bound (the next deploy or destroy binds the stage to its target)\n")
	}
	fmt.Fprintf(tw, "records:\t%d\n", len(recs))
	names := make([]string, 0, len(m.Exports))
	for k := range m.Exports {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(tw, "export %s:\t%s\n", k, m.Exports[k])
	}
	if !m.UpdatedAt.IsZero() {
		fmt.Fprintf(tw, "updated:\t%s\n", m.UpdatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func stateRebindCommand(f *stateFlags) *cobra.Command {
	var target string
	cmd := &cobra.Command{
		Use:   "rebind --target TARGET",
		Short: "Bind the stage to the current identity of a target, after a deliberate move",
		Long: `Bind the stage to TARGET ("local", "aws" or a Cloud Control endpoint URL, as
a program's --target): its kind, endpoint, partition, account and region, as
STS GetCallerIdentity answers them now. Runs refuse a target other than the
one their stage is bound to; rebind after a deliberate move only, such as an
account restored from a backup or resources moved to a new endpoint, since
the next run trusts the recorded resources to exist at TARGET (--refresh
reads them back and recreates what is missing). It takes the stage lock and
reads or changes nothing in Cloud Control.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target == "" {
				return errors.New("no target given: pass --target local, --target aws or --target URL (or set ATHANOR_TARGET)")
			}
			if f.app == "" {
				return errors.New("no app given: pass --app NAME (or set ATHANOR_APP)")
			}
			cfg := athanor.Config{App: f.app, Stage: f.stage, State: f.location, Target: target, LockTimeout: f.lockTimeout}
			old, now, err := athanor.Rebind(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case old == nil:
				fmt.Fprintf(out, "bound %s/%s (not bound before) to %s\n", f.app, f.stage, now)
			case old.Same(now):
				fmt.Fprintf(out, "%s/%s is already bound to %s; nothing changed\n", f.app, f.stage, now)
			default:
				fmt.Fprintf(out, "rebound %s/%s: %s → %s\n", f.app, f.stage, old, now)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "target", os.Getenv("ATHANOR_TARGET"), `target to bind to: "local", "aws" or an endpoint URL (ATHANOR_TARGET)`)
	return cmd
}

func stateRmCommand(f *stateFlags) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "rm KEY...",
		Short: "Forget records without touching the cloud",
		Long: `Forget records: the resources stay in the cloud, but Athanor no longer
manages them (a later deploy that declares them again creates them anew, or
adopts them). Asks for confirmation unless --yes; without a terminal to ask
on, --yes is required.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			b, err := f.open(ctx)
			if err != nil {
				return err
			}
			defer b.Close()
			return locked(ctx, b, "state rm", func() error {
				for _, k := range args {
					if _, err := b.Get(ctx, k); err != nil {
						return err
					}
				}
				if !yes {
					q := fmt.Sprintf("Forget %d record(s) of %s/%s (%s)? The cloud resources are not deleted.", len(args), f.app, f.stage, strings.Join(args, ", "))
					if err := confirm(cmd, q); err != nil {
						return err
					}
				}
				for _, k := range args {
					if err := b.Delete(ctx, k); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "forgot %s\n", k)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// confirm asks question on the terminal and fails unless the answer is yes.
func confirm(cmd *cobra.Command, question string) error {
	in := cmd.InOrStdin()
	if !isTerminal(in) {
		return errors.New("refusing without confirmation: standard input is not a terminal; pass --yes")
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s [y/N] ", question)
	answer, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return errors.New("not confirmed; nothing changed")
}

func stateMvCommand(f *stateFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "mv OLD NEW",
		Short: "Rename a record's key (scope path and logical id)",
		Long: `Rename a record, for a resource whose logical id or scope changed in the
program: the next deploy then finds it under its new name instead of
replacing it. NEW must not exist. The record is written under NEW before OLD
is removed, so an interruption never loses it.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			oldKey, newKey := args[0], args[1]
			if err := state.ValidateKey(newKey); err != nil {
				return err
			}
			b, err := f.open(ctx)
			if err != nil {
				return err
			}
			defer b.Close()
			return locked(ctx, b, "state mv", func() error {
				r, err := b.Get(ctx, oldKey)
				if err != nil {
					return err
				}
				if _, err := b.Get(ctx, newKey); err == nil {
					return fmt.Errorf("a record %q already exists", newKey)
				} else if !errors.Is(err, state.ErrNotFound) {
					return err
				}
				r.Key = newKey
				r.Scope, r.LogicalID = state.SplitKey(newKey)
				r.UpdatedAt = time.Now().UTC()
				if err := b.Put(ctx, r); err != nil {
					return err
				}
				if err := b.Delete(ctx, oldKey); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "moved %s to %s\n", oldKey, newKey)
				return nil
			})
		},
	}
}

// exportDoc is the JSON document of export and import.
type exportDoc struct {
	FormatVersion int               `json:"formatVersion"`
	App           string            `json:"app"`
	Stage         string            `json:"stage"`
	Meta          json.RawMessage   `json:"meta"`
	Records       []json.RawMessage `json:"records"`
}

func exportStage(ctx context.Context, b state.Backend, app, stage string) (*exportDoc, error) {
	recs, err := b.List(ctx)
	if err != nil {
		return nil, err
	}
	m, err := b.GetMeta(ctx)
	if err != nil {
		return nil, err
	}
	doc := &exportDoc{FormatVersion: state.FormatVersion, App: app, Stage: stage, Records: []json.RawMessage{}}
	if doc.Meta, err = state.EncodeMeta(m); err != nil {
		return nil, err
	}
	for _, r := range recs {
		data, err := state.EncodeRecord(r)
		if err != nil {
			return nil, err
		}
		doc.Records = append(doc.Records, data)
	}
	return doc, nil
}

func stateExportCommand(f *stateFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write every record and the metadata of the stage as one JSON document",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			b, err := f.open(ctx)
			if err != nil {
				return err
			}
			defer b.Close()
			doc, err := exportStage(ctx, b, f.app, f.stage)
			if err != nil {
				return err
			}
			data, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				return err
			}
			data = append(data, '\n')
			if output == "" || output == "-" {
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			return os.WriteFile(output, data, 0o600)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

// decodeExport parses an export document, upgrading records of older
// format versions.
func decodeExport(data []byte) ([]*state.Record, *state.Meta, error) {
	var doc exportDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("not an athanor state export: %w", err)
	}
	m := state.NewMeta()
	if len(doc.Meta) > 0 {
		var err error
		if m, err = state.DecodeMeta(doc.Meta); err != nil {
			return nil, nil, fmt.Errorf("meta: %w", err)
		}
	}
	recs := make([]*state.Record, 0, len(doc.Records))
	seen := map[string]bool{}
	for i, raw := range doc.Records {
		r, err := state.DecodeRecord(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("records[%d]: %w", i, err)
		}
		if seen[r.Key] {
			return nil, nil, fmt.Errorf("records[%d]: key %q appears twice", i, r.Key)
		}
		seen[r.Key] = true
		recs = append(recs, r)
	}
	return recs, m, nil
}

// replaceStage writes recs and m into b, which must hold no records unless
// force, in which case records not in recs are deleted. Then it re-reads
// the stage and verifies it equals recs and m.
func replaceStage(ctx context.Context, b state.Backend, recs []*state.Record, m *state.Meta, force bool) error {
	existing, err := b.List(ctx)
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(recs))
	for _, r := range recs {
		want[r.Key] = true
	}
	if len(existing) > 0 && !force {
		return fmt.Errorf("the destination stage already has %d record(s); pass --force to replace them", len(existing))
	}
	for _, r := range recs {
		if err := b.Put(ctx, r); err != nil {
			return err
		}
	}
	for _, r := range existing {
		if !want[r.Key] {
			if err := b.Delete(ctx, r.Key); err != nil {
				return err
			}
		}
	}
	if err := b.PutMeta(ctx, m); err != nil {
		return err
	}
	return verifyStage(ctx, b, recs, m)
}

// verifyStage re-reads b and compares it with recs and m.
func verifyStage(ctx context.Context, b state.Backend, recs []*state.Record, m *state.Meta) error {
	got, err := b.List(ctx)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if len(got) != len(recs) {
		return fmt.Errorf("verify: the destination holds %d records, want %d", len(got), len(recs))
	}
	byKey := make(map[string]*state.Record, len(got))
	for _, r := range got {
		byKey[r.Key] = r
	}
	for _, r := range recs {
		if !state.Equal(byKey[r.Key], r) {
			return fmt.Errorf("verify: record %q differs after the copy", r.Key)
		}
	}
	gm, err := b.GetMeta(ctx)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if !metaEqual(gm, m) {
		return errors.New("verify: stage metadata differs after the copy")
	}
	return nil
}

func metaEqual(a, b *state.Meta) bool {
	if a.NextSeq != b.NextSeq || !a.UpdatedAt.Equal(b.UpdatedAt) || len(a.Exports) != len(b.Exports) {
		return false
	}
	if (a.Target == nil) != (b.Target == nil) ||
		(a.Target != nil && (!a.Target.Same(*b.Target) || !a.Target.BoundAt.Equal(b.Target.BoundAt))) {
		return false
	}
	for k, v := range a.Exports {
		w, ok := b.Exports[k]
		if !ok || !state.EqualJSON(v, w) {
			return false
		}
	}
	return true
}

func stateImportCommand(f *stateFlags) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "import [FILE]",
		Short: "Load records and metadata from an export document (FILE or standard input)",
		Long: `Load an export document into the stage named by the flags (which may differ
from the one exported). The stage must be empty unless --force, which replaces
its records. The result is read back and verified.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var data []byte
			var err error
			if len(args) == 0 || args[0] == "-" {
				data, err = io.ReadAll(cmd.InOrStdin())
			} else {
				data, err = os.ReadFile(args[0])
			}
			if err != nil {
				return err
			}
			recs, m, err := decodeExport(data)
			if err != nil {
				return err
			}
			b, err := f.open(ctx)
			if err != nil {
				return err
			}
			defer b.Close()
			return locked(ctx, b, "state import", func() error {
				if err := replaceStage(ctx, b, recs, m, force); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "imported %d record(s) into %s/%s (verified)\n", len(recs), f.app, f.stage)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace the records of a stage that is not empty")
	return cmd
}

func stateMigrateCommand(f *stateFlags) *cobra.Command {
	var from, to string
	var force bool
	cmd := &cobra.Command{
		Use:   "migrate --from STATE --to STATE",
		Short: "Copy every record and the metadata of the stage from one backend to another",
		Long: `Copy the stage's records and metadata from one state location to another
between any two backends (for example from .athanor to postgres://... or
s3://bucket/prefix), holding both stage locks, then read the copy back and
compare it with the source before reporting success. The source is left as
it was. The destination must be empty unless --force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if from == "" || to == "" {
				return errors.New("both --from and --to are required")
			}
			fu, err := state.ParseURL(from)
			if err != nil {
				return err
			}
			tu, err := state.ParseURL(to)
			if err != nil {
				return err
			}
			if fu.String() == tu.String() {
				return fmt.Errorf("--from and --to name the same state (%s)", state.Redact(from))
			}
			src, err := openState(ctx, from, f.app, f.stage, f.lockTimeout)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			defer src.Close()
			dst, err := openState(ctx, to, f.app, f.stage, f.lockTimeout)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			defer dst.Close()
			return locked(ctx, src, "state migrate", func() error {
				return locked(ctx, dst, "state migrate", func() error {
					recs, err := src.List(ctx)
					if err != nil {
						return err
					}
					m, err := src.GetMeta(ctx)
					if err != nil {
						return err
					}
					if err := replaceStage(ctx, dst, recs, m, force); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "migrated %d record(s) of %s/%s from %s to %s (verified)\n",
						len(recs), f.app, f.stage, state.Redact(from), state.Redact(to))
					return nil
				})
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "state to copy from (directory, postgres:// or s3:// URL)")
	cmd.Flags().StringVar(&to, "to", "", "state to copy to (directory, postgres:// or s3:// URL)")
	cmd.Flags().BoolVar(&force, "force", false, "replace the records of a destination stage that is not empty")
	return cmd
}

func stateForceUnlockCommand(f *stateFlags) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "force-unlock",
		Short: "Remove the stage lock of a run that is gone",
		Long: `Remove the stage lock left by a run that is gone. It refuses while the
holder is alive (file backend: its process holds the lock; PostgreSQL and
S3: it keeps renewing its lease). --force removes it anyway, for a holder
known to be stuck: the holder's later state writes are then refused (they
are fenced by its lock) and it stops at its next write or lock check, so the
two runs do not interleave, but an operation it had already sent to Cloud
Control runs on until the next run resumes it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			b, err := f.open(ctx)
			if err != nil {
				return err
			}
			defer b.Close()
			lm, ok := b.(state.LockManager)
			if !ok {
				return fmt.Errorf("the backend of %s cannot unlock by hand", state.Redact(f.location))
			}
			h, err := lm.ForceUnlock(ctx, force)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if h == nil {
				fmt.Fprintf(out, "stage %s/%s was not locked\n", f.app, f.stage)
				return nil
			}
			fmt.Fprintf(out, "removed the lock of run %s (pid %d on host %s, %s, since %s)\n",
				h.ID, h.PID, h.Host, h.Operation, h.Since.UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "remove the lock even though its holder is alive")
	return cmd
}

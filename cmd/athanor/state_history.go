package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/athanor-dev/athanor/state"
	s3state "github.com/athanor-dev/athanor/state/s3" // S3 backend
)

// versionedState is a backend that keeps earlier versions of records (the
// S3 backend on a bucket with versioning on).
type versionedState interface {
	Versions(ctx context.Context, key string) ([]s3state.Version, error)
	GetVersion(ctx context.Context, key, versionID string) (*state.Record, error)
}

var _ versionedState = (*s3state.Backend)(nil)

// versioned returns b as a versionedState, or an error saying which
// backends keep versions.
func versioned(b state.Backend, location string) (versionedState, error) {
	v, ok := b.(versionedState)
	if !ok {
		return nil, fmt.Errorf("the state at %s keeps no earlier versions of records: only the S3 backend (s3://bucket/prefix) on a bucket with versioning on does", state.Redact(location))
	}
	return v, nil
}

func stateHistoryCommand(f *stateFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history [KEY]",
		Short: "List the earlier versions of the stage's records (S3 with bucket versioning)",
		Long: `List the stored versions of one record, or of every record of the stage,
newest first: version id, when it was written, and whether it is the current
version or a deletion. Versions are kept by the S3 backend when the bucket
has versioning enabled (aws s3api put-bucket-versioning --bucket BUCKET
--versioning-configuration Status=Enabled); the other backends keep none.
Restore one with athanor state restore KEY --version ID.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			b, err := f.open(ctx)
			if err != nil {
				return err
			}
			defer b.Close()
			v, err := versioned(b, f.location)
			if err != nil {
				return err
			}
			key := ""
			if len(args) == 1 {
				key = args[0]
			}
			vs, err := v.Versions(ctx, key)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if vs == nil {
					vs = []s3state.Version{}
				}
				return enc.Encode(vs)
			}
			if len(vs) == 0 {
				if key != "" {
					fmt.Fprintf(out, "no versions of record %q in %s/%s\n", key, f.app, f.stage)
				} else {
					fmt.Fprintf(out, "no record versions in %s/%s\n", f.app, f.stage)
				}
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tVERSION\tWRITTEN\tSTATE")
			for _, x := range vs {
				st := ""
				switch {
				case x.Deleted && x.Latest:
					st = "deleted (current)"
				case x.Deleted:
					st = "deleted"
				case x.Latest:
					st = "current"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.Key, x.VersionID, x.LastModified.UTC().Format(time.RFC3339), st)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the versions as JSON")
	return cmd
}

func stateRestoreCommand(f *stateFlags) *cobra.Command {
	var version string
	var yes bool
	cmd := &cobra.Command{
		Use:   "restore KEY --version ID",
		Short: "Make an earlier version of a record current again (S3 with bucket versioning)",
		Long: `Write an earlier version of a record (one athanor state history lists) as the
record's current version, under the stage lock. Nothing in the cloud changes:
the next deploy compares the restored record with the declaration and the
cloud as it would any record. The version that was current stays in the
history, so a restore can itself be undone. Asks for confirmation unless
--yes; without a terminal to ask on, --yes is required.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if version == "" {
				return fmt.Errorf("no version given: pass --version ID (athanor state history %s lists them)", args[0])
			}
			b, err := f.open(ctx)
			if err != nil {
				return err
			}
			defer b.Close()
			v, err := versioned(b, f.location)
			if err != nil {
				return err
			}
			key := args[0]
			return locked(ctx, b, "state restore", func() error {
				r, err := v.GetVersion(ctx, key, version)
				if err != nil {
					return err
				}
				if !yes {
					q := fmt.Sprintf("Make version %s of record %q (%s, status %s, identifier %q) current in %s/%s? The cloud is not touched.",
						version, key, r.Type, r.Status, r.Identifier, f.app, f.stage)
					if err := confirm(cmd, q); err != nil {
						return err
					}
				}
				if err := b.Put(ctx, r); err != nil {
					return err
				}
				got, err := b.Get(ctx, key)
				if err != nil {
					return fmt.Errorf("verify: %w", err)
				}
				if !state.Equal(got, r) {
					return fmt.Errorf("verify: record %q differs from version %s after the restore", key, version)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "restored %s to version %s (verified)\n", key, version)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "version id to restore (from athanor state history)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

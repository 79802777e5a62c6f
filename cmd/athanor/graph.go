package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/athanor-dev/athanor/internal/graph"
	"github.com/athanor-dev/athanor/state"
)

func init() {
	commands = append(commands, newGraphCommand())
}

func newGraphCommand() *cobra.Command {
	var app, stage, location, format, scope string
	cmd := &cobra.Command{
		Use:   "graph --app APP [--stage STAGE] [--format dot|mermaid]",
		Short: "Print a stage's dependency graph from its state, as DOT or Mermaid",
		Long: `Print the dependency graph of an app's stage as its state records it: a node
per resource with its type, identifier and status, a dashed node per retired
resource still to delete, and an edge from each resource to each resource it
depends on (deploys create the dependency first, destroys delete it last).

Graphviz DOT by default (render with: dot -Tsvg -o graph.svg); --format
mermaid prints a Mermaid flowchart, which GitHub renders in a mermaid code
block. For the graph of what a program would do, run the program with
--graph dot or --graph mermaid. Reads the state only, without the lock.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			// Checked before opening the state, which may be remote.
			if err := graph.CheckFormat(format); err != nil {
				return err
			}
			b, err := openState(ctx, location, app, stage, 0)
			if err != nil {
				return err
			}
			defer b.Close()
			recs, err := b.List(ctx)
			if err != nil {
				return err
			}
			return graph.FromRecords(app+"/"+stage, state.FilterScope(recs, scope)).Write(cmd.OutOrStdout(), format)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&app, "app", os.Getenv("ATHANOR_APP"), "app name, as given to athanor.Main (ATHANOR_APP)")
	fl.StringVar(&stage, "stage", envOr("ATHANOR_STAGE", "dev"), "stage name (ATHANOR_STAGE)")
	fl.StringVar(&location, "state", envOr("ATHANOR_STATE", state.DefaultURL), "state directory or postgres:// URL (ATHANOR_STATE)")
	fl.StringVar(&format, "format", graph.FormatDOT, "output format: dot or mermaid")
	fl.StringVar(&scope, "scope", "", "only records in this scope path (and the scopes below it)")
	return cmd
}

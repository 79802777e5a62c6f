// Command athanor is Athanor's command line: the local Cloud Control
// emulator, state inspection and migration, import of existing resources
// (writing the program that declares them), and benchmarks.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// commands holds the subcommands; each is added by an init function in its
// own file (emulator.go, state.go, bench.go, ...).
var commands []*cobra.Command

func main() {
	root := &cobra.Command{
		Use:           "athanor",
		Short:         "Infrastructure as Go code for AWS, through the Cloud Control API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(commands...)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "athanor:", err)
		os.Exit(1)
	}
}

// Command gentyped generates Athanor's typed resource packages from a
// directory of CloudFormation registry schemas.
//
// Usage:
//
//	gentyped [-schemas DIR] [-out DIR] PATTERN...
//
// PATTERN selects registry types by name in path.Match syntax, e.g.
// 'AWS::IoT::*' or 'AWS::Logs::LogGroup'. The schema directory holds one
// JSON document per type: a registry schema, or the output of
// `aws cloudformation describe-type`. It defaults to $ATHANOR_SCHEMAS, else
// ../shared/schemas/cloudformation beside the module root. Each service
// becomes a package under -out (default "."): AWS::IoT::* → ./iot. Types
// the registry gives no create handler are left out.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/athanor-dev/athanor/internal/gen"

	"github.com/athanor-dev/athanor/internal/repo"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gentyped:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gentyped", flag.ContinueOnError)
	schemas := fs.String("schemas", "", "directory of registry schemas (default $ATHANOR_SCHEMAS or ../shared/schemas/cloudformation beside the module root)")
	out := fs.String("out", ".", "output root; each service becomes a package directory under it")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gentyped [-schemas DIR] [-out DIR] PATTERN...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("no type patterns given")
	}
	dir, err := repo.Schemas(*schemas)
	if err != nil {
		return err
	}
	all, err := gen.LoadDir(dir)
	if err != nil {
		return err
	}
	selected, err := gen.Select(all, fs.Args())
	if err != nil {
		return err
	}
	// Types without a create handler get no package code.
	selected, _ = gen.Provisionable(selected)
	files, err := gen.Generate(selected)
	if err != nil {
		return err
	}
	return gen.Write(*out, files)
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/internal/gen"
	"github.com/athanor-dev/athanor/schema"
	"github.com/athanor-dev/athanor/state"
)

func init() {
	commands = append(commands, newImportCommand())
}

// importGroup is one registry type of an import and its identifiers.
type importGroup struct {
	typeName string
	ids      []string
}

// parseImportArgs splits TYPE [ID...] [TYPE [ID...]]... into groups: an
// argument holding "::" starts a type.
func parseImportArgs(args []string, all bool) ([]importGroup, error) {
	var groups []importGroup
	for _, a := range args {
		if strings.Contains(a, "::") {
			groups = append(groups, importGroup{typeName: a})
			continue
		}
		if len(groups) == 0 {
			return nil, fmt.Errorf("%q comes before any type: give a registry type first (e.g. AWS::IoT::JobTemplate), then its identifiers", a)
		}
		if all {
			return nil, fmt.Errorf("identifier %q given with --all: --all imports every resource of each type, so give types only", a)
		}
		g := &groups[len(groups)-1]
		g.ids = append(g.ids, a)
	}
	if len(groups) == 0 {
		return nil, errors.New("no type given: athanor import TYPE IDENTIFIER... (or --all TYPE...)")
	}
	if !all {
		for _, g := range groups {
			if len(g.ids) == 0 {
				return nil, fmt.Errorf("no identifier given for %s: name the resources to import, or pass --all to import every one", g.typeName)
			}
		}
	}
	return groups, nil
}

func newImportCommand() *cobra.Command {
	var (
		app, stage, location, target, out string
		all                               bool
		lockTimeout                       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "import TYPE IDENTIFIER... [TYPE IDENTIFIER...]... | import --all TYPE...",
		Short: "Adopt existing resources into a stage and write the Go program that declares them",
		Long: `Adopt resources that exist at the target into the stage's state, with no
mutating call, and write a typed Go program that declares exactly what
exists: a package main using the typed packages (aws/<service>), formatted
with gofmt, that compiles as is. Its next run is a no-op, with no Cloud
Control mutation; change a value in it and the run plans exactly that
change.

Each TYPE (a registry type, e.g. AWS::IoT::JobTemplate) is followed by the
identifiers of its resources (Cloud Control primary identifiers); --all
imports every resource of each TYPE (Cloud Control ListResources, every
page) that the stage does not hold yet. Each resource is read with Cloud
Control GetResource and recorded as a deploy adopting it records it: its
readable properties, less the read-only ones, as its desired state, the
read-only ones as its outputs. Its logical id is derived from its
identifier (letters and digits in lower camel case, made unique). The
stage lock is held while records are written; a resource named that the
stage already holds is refused, and logical ids the stage uses are not
reused.

Write-only properties are never returned by Cloud Control. For
AWS::IoT::JobTemplate they are read with the IoT API's DescribeJobTemplate
(the document or document source, the timeout, abort, rollout, retry,
presigned-URL and maintenance-window settings), on the same endpoint and
with the same credentials. A write-only value that cannot be recovered is
left unset, in state as in the program, and the program says so at its
field: the next run sees no change there until a value is set.

The program declares the imported resources only. When the stage already
holds other records, merge the program with the one that declares them:
a run of the program alone would delete them.

--target and --state are those of the program's runs: "local" (the
embedded emulator of the stage under the state directory), "aws", or a
Cloud Control endpoint URL. The stage is bound to the target if it is not
yet, and a stage bound to another target is refused.`,
		Example: `  athanor import --app fleet --target aws --out main.go AWS::IoT::JobTemplate device-update ota-rollout
  athanor import --app fleet --all AWS::IoT::JobTemplate AWS::Logs::LogGroup > main.go`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			groups, err := parseImportArgs(args, all)
			if err != nil {
				return err
			}
			if app == "" {
				return errors.New("no app given: pass --app NAME (or set ATHANOR_APP), the name the program gives athanor.Main")
			}
			cfg := athanor.Config{App: app, Stage: stage, State: location, Target: target, LockTimeout: lockTimeout, Output: io.Discard}
			return runImport(cmd.Context(), cfg, groups, out, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&app, "app", os.Getenv("ATHANOR_APP"), "app name, as the program gives athanor.Main (ATHANOR_APP)")
	f.StringVar(&stage, "stage", envOr("ATHANOR_STAGE", athanor.DefaultStage), "stage name (ATHANOR_STAGE)")
	f.StringVar(&location, "state", envOr("ATHANOR_STATE", state.DefaultURL), "state directory, postgres:// or s3://bucket/prefix URL (ATHANOR_STATE)")
	f.StringVar(&target, "target", os.Getenv("ATHANOR_TARGET"), `"local" (default), "aws" or a Cloud Control endpoint URL (ATHANOR_TARGET)`)
	f.StringVarP(&out, "out", "o", "", "write the program to this file instead of standard output")
	f.BoolVar(&all, "all", false, "import every resource of each TYPE (ListResources)")
	f.DurationVar(&lockTimeout, "lock-timeout", 0, "wait this long for a held stage lock instead of failing at once")
	return cmd
}

// imported is one resource being imported.
type imported struct {
	s        *schema.Schema
	id       string
	key      string
	desired  map[string]any
	outputs  map[string]any
	missing  map[string]string
	declared map[string]any
}

func runImport(ctx context.Context, cfg athanor.Config, groups []importGroup, outFile string, stdout, stderr io.Writer) (err error) {
	conn, err := athanor.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := conn.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	return locked(ctx, conn.State, "import", func() error {
		recs, err := conn.State.List(ctx)
		if err != nil {
			return fmt.Errorf("read state: %w", err)
		}
		meta, err := conn.State.GetMeta(ctx)
		if err != nil {
			return fmt.Errorf("read state: %w", err)
		}
		if meta == nil {
			meta = state.NewMeta()
		}
		held := map[string]string{}
		keys := namespace{}
		for _, r := range recs {
			keys[r.Key] = true
			if r.Identifier != "" {
				held[r.Type+"\x00"+r.Identifier] = r.Key
			}
		}
		var items []*imported
		seen := map[string]bool{}
		for _, g := range groups {
			s, err := conn.Registry.Lookup(g.typeName)
			if err != nil {
				return err
			}
			if err := gen.Typed(s); err != nil {
				return fmt.Errorf("cannot import %s: %w", s.TypeName, err)
			}
			ids := g.ids
			if ids == nil {
				if ids, err = listIdentifiers(ctx, conn, s.TypeName); err != nil {
					return err
				}
				if len(ids) == 0 {
					fmt.Fprintf(stderr, "no resource of %s at the target\n", s.TypeName)
				}
			}
			for _, id := range ids {
				if k, ok := held[s.TypeName+"\x00"+id]; ok {
					if g.ids == nil {
						fmt.Fprintf(stderr, "skipped %s (%s) %s: the stage already holds it\n", k, s.TypeName, id)
						continue
					}
					return fmt.Errorf("%s %s is already in stage %s/%s, as %s: nothing was imported", s.TypeName, id, cfg.App, stageName(cfg), k)
				}
				if seen[s.TypeName+"\x00"+id] {
					continue
				}
				seen[s.TypeName+"\x00"+id] = true
				it, err := readResource(ctx, conn, s, id)
				if err != nil {
					return err
				}
				it.key = keys.claim(logicalID(id, s.TypeName))
				items = append(items, it)
			}
		}
		if len(items) == 0 {
			return errors.New("nothing to import: every resource named is in the stage already, or the type has none at the target")
		}
		prog, err := program(cfg, items, len(recs))
		if err != nil {
			return err
		}
		// The program is written to a temporary file first, renamed into
		// place once the records are: a failure leaves neither half.
		var tmp *os.File
		if outFile != "" && outFile != "-" {
			if tmp, err = os.CreateTemp(filepath.Dir(outFile), "."+filepath.Base(outFile)+".*"); err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			if _, err := tmp.Write(prog); err != nil {
				tmp.Close()
				return err
			}
			if err := tmp.Close(); err != nil {
				return err
			}
		}
		now := time.Now().UTC()
		for i, it := range items {
			desired, err := json.Marshal(it.declared)
			if err != nil {
				return err
			}
			outputs, err := json.Marshal(it.outputs)
			if err != nil {
				return err
			}
			rec := &state.Record{
				FormatVersion: state.FormatVersion, Key: it.key, LogicalID: it.key, Type: it.s.TypeName,
				Seq: meta.NextSeq + int64(i), Status: state.StatusCreated, Identifier: it.id,
				Desired: desired, Outputs: outputs, CreatedAt: now, UpdatedAt: now,
			}
			if err := conn.State.Put(ctx, rec); err != nil {
				return fmt.Errorf("write state: %w", err)
			}
		}
		meta.NextSeq += int64(len(items))
		meta.UpdatedAt = now
		if err := conn.State.PutMeta(ctx, meta); err != nil {
			return fmt.Errorf("write state: %w", err)
		}
		if tmp != nil {
			if err := os.Rename(tmp.Name(), outFile); err != nil {
				return fmt.Errorf("the records are written, but not the program: %w", err)
			}
		} else if _, err := stdout.Write(prog); err != nil {
			return err
		}
		for _, it := range items {
			fmt.Fprintf(stderr, "imported %s (%s) %s\n", it.key, it.s.TypeName, it.id)
			for _, p := range sortedKeys(it.missing) {
				fmt.Fprintf(stderr, "  %s: not recovered (write-only); the program says so at the field\n", p)
			}
		}
		if len(recs) > 0 {
			fmt.Fprintf(stderr, "the stage already held %d other record(s): merge the program with the one that declares them, or its run deletes them\n", len(recs))
		}
		return nil
	})
}

func stageName(cfg athanor.Config) string {
	if cfg.Stage == "" {
		return athanor.DefaultStage
	}
	return cfg.Stage
}

// listIdentifiers returns the identifiers of every resource of typeName at
// the target, sorted.
func listIdentifiers(ctx context.Context, conn *athanor.Connection, typeName string) ([]string, error) {
	ids := []string{}
	for r, err := range conn.Client.List(ctx, typeName) {
		if err != nil {
			return nil, err
		}
		ids = append(ids, r.Identifier)
	}
	sort.Strings(ids)
	return ids, nil
}

// readResource reads a resource (Cloud Control GetResource, and the
// service's API for write-only values it gives back) and works out its
// desired state and outputs as a deploy adopting it records them.
func readResource(ctx context.Context, conn *athanor.Connection, s *schema.Schema, id string) (*imported, error) {
	raw, err := conn.Client.Get(ctx, s.TypeName, id)
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", s.TypeName, id, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var live map[string]any
	if err := dec.Decode(&live); err != nil {
		return nil, fmt.Errorf("read %s %s: the resource model is not a JSON object: %w", s.TypeName, id, err)
	}
	live = schema.NormalizeModel(live)
	it := &imported{s: s, id: id, outputs: outputsOf(s, live), missing: map[string]string{}}
	it.desired = s.WithoutReadOnly(live)
	if it.desired == nil {
		it.desired = map[string]any{}
	}
	answered := map[string]bool{}
	if read, ok := writeOnlyReaders[s.TypeName]; ok {
		if answered, err = read(ctx, conn.Client, id, it.desired); err != nil {
			return nil, fmt.Errorf("read the write-only properties of %s %s: %w", s.TypeName, id, err)
		}
	}
	for _, wo := range s.WriteOnly {
		p := strings.TrimPrefix(wo, "/properties")
		if answered[p] || holds(it.desired, p) {
			continue
		}
		why, ok := unrecoverable[s.TypeName][p]
		if !ok {
			why = "write-only: Cloud Control never returns it, so it was not recovered; set it to declare it (the next run then plans that change)"
		}
		it.missing[p] = why
	}
	return it, nil
}

// holds reports whether model has a value at the model path p (for a path
// through array items, "*", at its top-level property): a read that does
// return a write-only value.
func holds(model map[string]any, p string) bool {
	var cur any = model
	for _, t := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if t == "*" {
			return true
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[t]; !ok {
			return false
		}
	}
	return true
}

// program writes the program declaring items, and sets each item's
// declared model (what the program sends, which the record holds).
func program(cfg athanor.Config, items []*imported, others int) ([]byte, error) {
	decls := make([]gen.Declaration, len(items))
	for i, it := range items {
		decls[i] = gen.Declaration{
			LogicalID: it.key, Schema: it.s, Props: it.desired, Missing: it.missing,
			Comment: fmt.Sprintf("Imported %s %s.", it.s.TypeName, it.id),
		}
	}
	header := []string{
		fmt.Sprintf("Command main declares the resources `athanor import` adopted into stage %s of app %s, as they were then.", stageName(cfg), cfg.App),
	}
	if others > 0 {
		header = append(header, fmt.Sprintf("The stage held %d other record(s) before: merge this program with the one that declares them, since a run of this one alone deletes them.", others))
	}
	prog, err := gen.WriteProgram(gen.ProgramOptions{App: cfg.App, Header: header}, decls)
	if err != nil {
		return nil, err
	}
	for i, it := range items {
		it.declared = prog.Declared[i]
	}
	return prog.Source, nil
}

// outputsOf returns the read-only values of model, as the engine records
// a resource's outputs: each read-only path's value, and for a path
// through an array the whole top-level property.
func outputsOf(s *schema.Schema, model map[string]any) map[string]any {
	out := map[string]any{}
	for _, ro := range s.ReadOnly {
		toks := strings.Split(strings.TrimPrefix(strings.TrimPrefix(ro, "/properties"), "/"), "/")
		if len(toks) == 0 || toks[0] == "" {
			continue
		}
		if strings.Contains(ro, "*") {
			if v, ok := model[toks[0]]; ok {
				out[toks[0]] = v
			}
			continue
		}
		var cur any = model
		ok := true
		for _, t := range toks {
			m, isMap := cur.(map[string]any)
			if !isMap {
				ok = false
				break
			}
			if cur, ok = m[t]; !ok {
				break
			}
		}
		if !ok {
			continue
		}
		dst := out
		for _, t := range toks[:len(toks)-1] {
			next, isMap := dst[t].(map[string]any)
			if !isMap {
				next = map[string]any{}
				dst[t] = next
			}
			dst = next
		}
		dst[toks[len(toks)-1]] = cur
	}
	return out
}

// logicalID derives a logical id from an identifier: its letters and
// digits in lower camel case (an ARN's resource part only), at most 64
// characters, starting with a letter; else the type's resource name.
func logicalID(id, typeName string) string {
	if strings.HasPrefix(id, "arn:") {
		if i := strings.LastIndexAny(id, ":/"); i >= 0 && i+1 < len(id) {
			id = id[i+1:]
		}
	}
	var b strings.Builder
	for i, part := range strings.FieldsFunc(id, func(r rune) bool {
		return r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r))
	}) {
		if i == 0 {
			b.WriteString(strings.ToLower(part[:1]) + part[1:])
		} else {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	name := b.String()
	if len(name) > 64 {
		name = name[:64]
	}
	short := typeName[strings.LastIndex(typeName, "::")+2:]
	short = strings.ToLower(short[:1]) + short[1:]
	switch {
	case name == "":
		return short
	case unicode.IsDigit(rune(name[0])):
		return short + strings.ToUpper(name[:1]) + name[1:]
	}
	return name
}

// namespace hands out unique logical ids.
type namespace map[string]bool

// claim returns name if free, else name followed by the smallest number
// from 2 that makes it free, and marks it taken.
func (ns namespace) claim(name string) string {
	c := name
	for i := 2; ns[c]; i++ {
		c = fmt.Sprintf("%s%d", name, i)
	}
	ns[c] = true
	return c
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package gen

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor/schema"
)

// exportedAPI parses the Go files under root and returns, per file
// (slash-separated, relative to root), its exported identifiers with their
// declarations: top-level types, constants, variables and functions,
// methods (Type.Method) and struct fields (Type.Field, with their tags).
func exportedAPI(t *testing.T, root string) map[string]map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	text := func(n ast.Node) string {
		var b bytes.Buffer
		if err := printer.Fprint(&b, fset, n); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	out := map[string]map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		ids := map[string]string{}
		out[filepath.ToSlash(rel)] = ids
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				name := d.Name.Name
				if d.Recv != nil {
					name = text(d.Recv.List[0].Type) + "." + name
				}
				ids[name] = text(d.Type)
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						st, ok := s.Type.(*ast.StructType)
						if !ok {
							ids[s.Name.Name] = "type " + text(s.Type)
							continue
						}
						ids[s.Name.Name] = "struct"
						for _, fl := range st.Fields.List {
							sig := text(fl.Type)
							if fl.Tag != nil {
								sig += " " + fl.Tag.Value
							}
							for _, n := range fl.Names {
								if n.IsExported() {
									ids[s.Name.Name+"."+n.Name] = sig
								}
							}
						}
					case *ast.ValueSpec:
						for i, n := range s.Names {
							if !n.IsExported() {
								continue
							}
							sig := d.Tok.String()
							if s.Type != nil {
								sig += " " + text(s.Type)
							}
							if i < len(s.Values) {
								sig += " = " + text(s.Values[i])
							}
							ids[n.Name] = sig
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNamesStableAcrossSubsets generates a subset of the registry's
// creatable types and all of them, in two temporary directories, and requires every exported
// identifier the subset declares to be declared identically by the full
// generation, file by file: adding the other types renames nothing. The
// subset splits the pairs whose names would clash (AWS::IoT::Thing without
// AWS::IoT::ThingType, AWS::IAM::Role without AWS::IAM::RolePolicy, ...)
// and takes every third other type.
func TestNamesStableAcrossSubsets(t *testing.T) {
	if testing.Short() {
		t.Skip("generates every registry type")
	}
	all, full := committedFiles(t)
	keep := map[string]bool{
		"AWS::IoT::JobTemplate": true, "AWS::IoT::Thing": true, "AWS::IAM::Role": true,
		"AWS::EC2::SecurityGroup": true, "AWS::MediaConnect::Flow": true, "AWS::Lex::BotAlias": true,
		"AWS::Logs::LogGroup": true, "AWS::S3::Bucket": true, "AWS::SNS::Topic": true,
	}
	drop := map[string]bool{
		"AWS::IoT::ThingType": true, "AWS::IoT::ThingGroup": true, "AWS::IAM::RolePolicy": true,
		"AWS::EC2::SecurityGroupEgress": true, "AWS::EC2::SecurityGroupIngress": true,
		"AWS::MediaConnect::FlowSource": true, "AWS::Lex::Bot": true,
	}
	var subset []*schema.Schema
	for i, s := range all {
		if keep[s.TypeName] || (!drop[s.TypeName] && i%3 == 0) {
			subset = append(subset, s)
		}
	}
	write := func(files []File) map[string]map[string]string {
		root := t.TempDir()
		if err := Write(root, files); err != nil {
			t.Fatal(err)
		}
		return exportedAPI(t, root)
	}
	files, err := Generate(subset)
	if err != nil {
		t.Fatal(err)
	}
	part, whole := write(files), write(full)
	paths := make([]string, 0, len(part))
	for p := range part {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	compared := 0
	for _, p := range paths {
		got, ok := whole[p]
		if !ok {
			t.Errorf("%s: generated from the subset, not from the whole registry", p)
			continue
		}
		for id, sig := range part[p] {
			compared++
			if g, ok := got[id]; !ok {
				t.Errorf("%s: %s (%s) is not declared when the whole registry is generated", p, id, sig)
			} else if g != sig {
				t.Errorf("%s: %s is %s from the subset, %s from the whole registry", p, id, sig, g)
			}
		}
		if strings.HasSuffix(p, "/doc.go") {
			continue
		}
		for id := range got {
			if _, ok := part[p][id]; !ok {
				t.Errorf("%s: %s is declared only when the whole registry is generated", p, id)
			}
		}
	}
	if len(part) < 300 || compared < 10000 {
		t.Fatalf("compared %d identifiers in %d files: the subset is too small to prove anything", compared, len(part))
	}
	t.Logf("%d of %d types; %d identifiers in %d files identical", len(subset), len(all), compared, len(part))
	for _, id := range []string{"ThingTypeName", "JobTemplateAbortConfig", "JobTemplateActionCancel"} {
		found := false
		for p, ids := range part {
			if strings.HasPrefix(p, "iot/") {
				_, ok := ids[id]
				found = found || ok
			}
		}
		if !found {
			t.Errorf("the subset's iot package lacks %s", id)
		}
	}
}

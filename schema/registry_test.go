package schema

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// registryTypes is the number of types of the CloudFormation registry the
// embedded tables were generated from.
const registryTypes = 1489

func TestDefaultEveryTypeLooksUpAndParses(t *testing.T) {
	names := Default().TypeNames()
	if len(names) != registryTypes {
		t.Errorf("Default holds %d types, want %d", len(names), registryTypes)
	}
	if !slices.IsSorted(names) {
		t.Error("TypeNames is not sorted")
	}
	for _, name := range names {
		s, err := Lookup(name)
		if err != nil {
			t.Errorf("Lookup(%q): %v", name, err)
			continue
		}
		if s.TypeName != name || s.Root == nil || len(s.PrimaryIdentifier) == 0 {
			t.Errorf("Lookup(%q) = %s with root %v and primary identifier %q", name, s.TypeName, s.Root != nil, s.PrimaryIdentifier)
		}
	}
}

func TestLookupUnknownType(t *testing.T) {
	_, err := Lookup("AWS::Nope::Nothing")
	if !errors.Is(err, ErrUnknownType) || !strings.Contains(err.Error(), "AWS::Nope::Nothing") {
		t.Errorf("Lookup(unknown) = %v, want ErrUnknownType naming the type", err)
	}
}

func TestLookupConcurrent(t *testing.T) {
	const n = 16
	got := make([]*Schema, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Default().Lookup("AWS::Lambda::Function")
			if err != nil {
				t.Error(err)
			}
			got[i] = s
			_ = s.Violations(map[string]any{"FunctionName": "f"})
		}()
	}
	wg.Wait()
	for _, s := range got[1:] {
		if s != got[0] {
			t.Fatal("concurrent lookups returned different schemas: a type was parsed twice")
		}
	}
}

// TestEmbeddedTablesMatchRegistry loads the registry directory and
// requires every embedded schema to parse into exactly the same model as
// the original document: stripping prose loses no fact.
func TestEmbeddedTablesMatchRegistry(t *testing.T) {
	dir := schemasDir(t)
	reg, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(reg.TypeNames(), Default().TypeNames()) {
		t.Fatalf("embedded types differ from %s: regenerate with go generate ./schema/...", dir)
	}
	for _, name := range reg.TypeNames() {
		want, err := reg.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		got := lookup(t, name)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the embedded schema differs from the registry document", name)
		}
	}
}

func TestEveryRegistryPatternCompiles(t *testing.T) {
	patterns := map[string]bool{}
	for _, name := range Default().TypeNames() {
		s := lookup(t, name)
		seen := map[*Node]bool{}
		var walk func(n *Node)
		walk = func(n *Node) {
			if n == nil || seen[n] {
				return
			}
			seen[n] = true
			if n.Pattern != "" {
				patterns[n.Pattern] = true
			}
			for pat, c := range n.PatternProperties {
				patterns[pat] = true
				walk(c)
			}
			for _, c := range n.Properties {
				walk(c)
			}
			for _, c := range n.DependentSchemas {
				walk(c)
			}
			walk(n.Items)
			for _, list := range [][]*Node{n.OneOf, n.AnyOf, n.AllOf} {
				for _, c := range list {
					walk(c)
				}
			}
		}
		walk(s.Root)
		for _, d := range s.Definitions {
			walk(d)
		}
	}
	fallback := 0
	for p := range patterns {
		m := compilePattern(p)
		if m.err != nil {
			t.Errorf("pattern %q: %v", p, m.err)
		}
		if m.re2 != nil {
			fallback++
		}
	}
	t.Logf("%d distinct patterns; %d need regexp2", len(patterns), fallback)
	if len(patterns) < 1000 {
		t.Errorf("found only %d patterns: the walk misses nodes", len(patterns))
	}
}

func TestLoadDirErrors(t *testing.T) {
	if _, err := LoadDir(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("LoadDir(absent directory) succeeded")
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "Broken.json"), []byte(`{"typeName": `), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(bad); err == nil || !strings.Contains(err.Error(), "Broken.json") {
		t.Errorf("LoadDir(broken) = %v, want an error naming the file", err)
	}
	dup := t.TempDir()
	doc := []byte(`{"typeName": "Test::Dup::Thing", "properties": {"Id": {"type": "string"}}, "primaryIdentifier": ["/properties/Id"]}`)
	for _, f := range []string{"a.json", "b.json"} {
		if err := os.WriteFile(filepath.Join(dup, f), doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LoadDir(dup); err == nil || !strings.Contains(err.Error(), "Test::Dup::Thing") {
		t.Errorf("LoadDir(duplicates) = %v, want an error naming the type", err)
	}
	empty, err := LoadDir(t.TempDir())
	if err != nil || len(empty.TypeNames()) != 0 {
		t.Errorf("LoadDir(empty) = %v, %v", empty, err)
	}
}

func TestLoadDirJobTemplate(t *testing.T) {
	reg, err := LoadDir(schemasDir(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := reg.Lookup(jobTemplate)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ValidateDesired(readModel(t, filepath.Join(seedDir, "advanced.json"))); err != nil {
		t.Error(err)
	}
}

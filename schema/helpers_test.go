package schema

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/athanor-dev/athanor/internal/repo"
)

// schemasDir returns the registry schema directory: $ATHANOR_SCHEMAS, or
// ../shared/schemas/cloudformation beside the module root. It skips the
// test when the directory is absent.
func schemasDir(t testing.TB) string {
	t.Helper()
	dir, err := repo.SchemaDir("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("registry schema directory %s is absent (set %s to run this test): %v", dir, repo.EnvSchemas, err)
	}
	return dir
}

// lookup returns an embedded schema.
func lookup(t testing.TB, typeName string) *Schema {
	t.Helper()
	s, err := Lookup(typeName)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", typeName, err)
	}
	return s
}

// decode parses a JSON object as encoding/json does into any.
func decode(t testing.TB, data string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return m
}

// readModel reads a JSON desired state from testdata.
func readModel(t testing.TB, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, string(data))
}

// mustParse parses an inline schema document.
func mustParse(t testing.TB, doc string) *Schema {
	t.Helper()
	s, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

// violationLines renders violations one per line.
func violationLines(vs []Violation) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}

// merge returns base with the members of patch set; a null member removes
// the key.
func merge(base, patch map[string]any) map[string]any {
	out := NormalizeModel(base)
	for k, v := range patch {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

func jsonNumber(s string) json.Number { return json.Number(s) }

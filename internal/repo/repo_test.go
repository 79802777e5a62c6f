package repo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRootFindsGoModAbove(t *testing.T) {
	top := t.TempDir()
	if err := os.WriteFile(filepath.Join(top, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(top, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := Root(deep)
	if err != nil || got != top {
		t.Fatalf("Root(%s) = %q, %v; want %q", deep, got, err, top)
	}
	t.Setenv(EnvSchemas, "")
	dir, err := SchemaDir(deep)
	if want := filepath.Join(top, "..", "shared", "schemas", "cloudformation"); err != nil || dir != want {
		t.Fatalf("SchemaDir = %q, %v; want %q", dir, err, want)
	}
	t.Setenv(EnvSchemas, "/elsewhere")
	if dir, err := SchemaDir(deep); err != nil || dir != "/elsewhere" {
		t.Fatalf("SchemaDir with %s set = %q, %v", EnvSchemas, dir, err)
	}
}

func TestRootWithoutGoMod(t *testing.T) {
	if _, err := Root(t.TempDir()); err == nil {
		t.Fatal("Root found a go.mod above a fresh temporary directory")
	}
}

func TestSchemasExplainsAbsence(t *testing.T) {
	empty := t.TempDir()
	missing := filepath.Join(empty, "nothing-here")
	t.Setenv(EnvSchemas, missing)
	_, err := Schemas("")
	for _, want := range []string{missing, "from " + EnvSchemas, "does not exist", "go run ./internal/tools/fetchschemas", "aws cloudformation describe-type", EnvSchemas + "=DIR make generate"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Schemas with %s=%s: error %v lacks %q", EnvSchemas, missing, err, want)
		}
	}
	if _, err := Schemas(empty); err == nil || !strings.Contains(err.Error(), "holds no *.json file") || !strings.Contains(err.Error(), "given with -schemas") {
		t.Errorf("Schemas(empty dir) = %v, want an error saying it holds no schema", err)
	}
	if err := os.WriteFile(filepath.Join(empty, "AWS_IoT_JobTemplate.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if dir, err := Schemas(empty); err != nil || dir != empty {
		t.Errorf("Schemas(dir with a schema) = %q, %v; want %q", dir, err, empty)
	}
	t.Setenv(EnvSchemas, "")
	t.Chdir(empty) // no go.mod above a temporary directory
	if _, err := Schemas(""); err == nil || !strings.Contains(err.Error(), EnvSchemas) {
		t.Errorf("Schemas outside a module = %v, want an error naming %s", err, EnvSchemas)
	}
}

package repo

import (
	"os"
	"path/filepath"
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

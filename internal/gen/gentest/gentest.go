// Package gentest builds Go code against the Athanor module in a temporary
// module, for tests that prove generated code compiles (or, on purpose,
// does not).
package gentest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/athanor-dev/athanor/internal/repo"
)

// ModulePath is the module path of the temporary modules.
const ModulePath = "example.com/athanortest"

// NewModule writes a temporary module whose go.mod requires the Athanor
// module through a replace directive pointing at the repository root, and
// the given files (slash-separated paths relative to the module root). It
// returns the module's directory.
func NewModule(t testing.TB, files map[string][]byte) string {
	t.Helper()
	root, err := repo.Root("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module " + ModulePath + "\n\ngo 1.26\n\n" +
		"require github.com/athanor-dev/athanor v0.0.0-00010101000000-000000000000\n\n" +
		"replace github.com/athanor-dev/athanor => " + root + "\n"
	write(t, filepath.Join(dir, "go.mod"), []byte(gomod))
	if sum, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
		write(t, filepath.Join(dir, "go.sum"), sum)
	}
	for name, data := range files {
		write(t, filepath.Join(dir, filepath.FromSlash(name)), data)
	}
	return dir
}

// Go runs the go command with args in dir and returns its combined output
// and error. The module's requirements may be completed from the main
// module's go.sum (GOFLAGS=-mod=mod); workspaces are off.
func Go(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

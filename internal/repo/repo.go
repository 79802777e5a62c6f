// Package repo finds the Athanor repository and the reference data beside
// it, for the generators and the tests.
package repo

import (
	"fmt"
	"os"
	"path/filepath"
)

// EnvSchemas names the environment variable that points the generators and
// tests at a directory of CloudFormation registry schemas.
const EnvSchemas = "ATHANOR_SCHEMAS"

// Root returns the directory of the go.mod file at or above dir ("" for the
// working directory).
func Root(dir string) (string, error) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod at or above %s", abs)
		}
		d = parent
	}
}

// SchemaDir returns the registry schema directory: $ATHANOR_SCHEMAS when
// set, else ../shared/schemas/cloudformation beside the repository that
// holds dir ("" for the working directory). The directory may not exist.
func SchemaDir(dir string) (string, error) {
	if env := os.Getenv(EnvSchemas); env != "" {
		return env, nil
	}
	root, err := Root(dir)
	if err != nil {
		return "", fmt.Errorf("%w (set %s to a directory of registry schemas)", err, EnvSchemas)
	}
	return filepath.Join(root, "..", "shared", "schemas", "cloudformation"), nil
}

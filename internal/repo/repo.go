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

// FetchHint tells where registry schemas come from, for errors about a
// missing schema directory.
const FetchHint = "the schemas are AWS's CloudFormation resource schemas: fetch the archive AWS publishes per region with (from the repository root)\n" +
	"\tgo run ./internal/tools/fetchschemas -region us-east-1 -out DIR\n" +
	"(or save `aws cloudformation describe-type --type RESOURCE --type-name TYPE --query Schema --output text` per type into DIR/*.json),\n" +
	"then point " + EnvSchemas + " at DIR (e.g. " + EnvSchemas + "=DIR make generate)"

// Schemas resolves the registry schema directory for a generator: dir when
// given (a -schemas flag), else SchemaDir(""). It fails, naming where the
// directory came from, ATHANOR_SCHEMAS and how to fetch the schemas
// (FetchHint), when the directory does not exist or holds no *.json file.
func Schemas(dir string) (string, error) {
	from := "given with -schemas"
	switch {
	case dir != "":
	case os.Getenv(EnvSchemas) != "":
		from = "from " + EnvSchemas
	default:
		from = EnvSchemas + " is unset, so the default beside the repository applies"
	}
	if dir == "" {
		var err error
		if dir, err = SchemaDir(""); err != nil {
			return "", err
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		why := "holds no *.json file"
		if fi, err := os.Stat(dir); err != nil {
			why = "does not exist"
		} else if !fi.IsDir() {
			why = "is not a directory"
		}
		return "", fmt.Errorf("no registry schemas: %s (%s) %s;\n%s", dir, from, why, FetchHint)
	}
	return dir, nil
}

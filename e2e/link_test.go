package e2e

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestLinkedBackends: state backends are linked only into programs that
// import them, as database/sql drivers are. The athanor package, and so
// examples/jobtemplates (a user program on the default file state), link
// the file backend and the embedded emulator (the default target) but
// neither PostgreSQL's driver (pgx) nor the S3 SDK; the athanor command,
// whose state commands work on any backend, links all three backends.
func TestLinkedBackends(t *testing.T) {
	const (
		mod      = "github.com/athanor-dev/athanor"
		emulator = mod + "/emulator"
		file     = mod + "/state/file"
		postgres = mod + "/state/postgres"
		s3       = mod + "/state/s3"
		pgx      = "github.com/jackc/pgx"
		s3SDK    = "github.com/aws/aws-sdk-go-v2/service/s3"
	)
	list := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}",
		"..", "../examples/jobtemplates", "../cmd/athanor")
	var stderr bytes.Buffer
	list.Stderr = &stderr
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	deps := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			deps[f[0]] = f[1:]
		}
	}
	// under reports whether pkg is path or a package under it.
	under := func(pkg, path string) bool { return pkg == path || strings.HasPrefix(pkg, path+"/") }
	for _, pkg := range []string{mod, mod + "/examples/jobtemplates"} {
		d, ok := deps[pkg]
		if !ok {
			t.Fatalf("go list printed no line for %s:\n%s", pkg, out)
		}
		for _, want := range []string{emulator, file} {
			if !slices.Contains(d, want) {
				t.Errorf("%s does not link %s", pkg, want)
			}
		}
		for _, dep := range d {
			for _, unwanted := range []string{pgx, s3SDK, postgres, s3} {
				if under(dep, unwanted) {
					t.Errorf("%s links %s", pkg, dep)
				}
			}
		}
	}
	cmd := mod + "/cmd/athanor"
	for _, want := range []string{file, postgres, s3} {
		if !slices.Contains(deps[cmd], want) {
			t.Errorf("%s does not link %s", cmd, want)
		}
	}
}

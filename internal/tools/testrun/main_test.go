package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// module writes a throwaway module with the given test files (package
// path → file content) and returns its directory.
func module(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.test/m\n\ngo 1.22\n")
	for name, content := range files {
		write(name, content)
	}
	return dir
}

// runIn runs testrun on ./... of dir and returns its exit status and output.
func runIn(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	t.Chdir(dir)
	t.Setenv("GOFLAGS", "-mod=mod")
	var out, errOut bytes.Buffer
	code := run(append(args, "./..."), &out, &errOut)
	return code, out.String() + errOut.String()
}

const passing = `package a

import "testing"

func TestOne(t *testing.T) { t.Log("quiet when passing") }

func TestSkipped(t *testing.T) { t.Skip("needs a database") }

func TestSubtests(t *testing.T) {
	t.Run("x", func(t *testing.T) {})
	t.Run("y", func(t *testing.T) { t.Skip("not on this system") })
}
`

func TestPassingRunListsSkipsAndEndsWithTheCount(t *testing.T) {
	dir := module(t, map[string]string{"a/a_test.go": passing, "b/b.go": "package b\n"})
	code, out := runIn(t, dir)
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; last != "3 passed, 0 failed" {
		t.Errorf("last line %q, want the count \"3 passed, 0 failed\":\n%s", last, out)
	}
	for _, want := range []string{
		"ok  \texample.test/m/a\t",
		"example.test/m/b\t[no test files]",
		"skipped 2 tests:\n",
		"  example.test/m/a TestSkipped: a_test.go:7: needs a database\n",
		"  example.test/m/a TestSubtests/y: a_test.go:11: not on this system\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"quiet when passing", "=== RUN", "--- PASS"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("output of a passing run shows %q, which go test without -v hides:\n%s", unwanted, out)
		}
	}
}

func TestFailingRunExitsWithGoTestsStatus(t *testing.T) {
	dir := module(t, map[string]string{
		"a/a_test.go": passing,
		"f/f_test.go": "package f\n\nimport \"testing\"\n\nfunc TestBroken(t *testing.T) { t.Log(\"context\"); t.Fatal(\"want 2, got 3\") }\n",
	})
	code, out := runIn(t, dir)
	if code == 0 {
		t.Fatalf("exit 0 for a failing test:\n%s", out)
	}
	for _, want := range []string{"--- FAIL: TestBroken", "f_test.go:5: context", "want 2, got 3", "FAIL\texample.test/m/f", "skipped 2 tests:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(out, "3 passed, 1 failed\n") {
		t.Errorf("output does not end with the count \"3 passed, 1 failed\":\n%s", out)
	}

	// A build error fails the run too, and shows the compiler's message.
	dir = module(t, map[string]string{"c/c_test.go": "package c\n\nimport \"testing\"\n\nfunc TestX(t *testing.T) { undefined() }\n"})
	code, out = runIn(t, dir)
	if code == 0 || !strings.Contains(out, "undefined: undefined") {
		t.Errorf("build error: exit %d, output:\n%s", code, out)
	}
}

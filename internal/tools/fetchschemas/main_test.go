package main

import (
	"archive/zip"
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// entry is one file of a test archive.
type entry struct {
	name, body string
	dir        bool
}

func archive(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.dir {
			if _, err := zw.Create(e.name + "/"); err != nil {
				t.Fatal(err)
			}
			continue
		}
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// serve serves body as the schema archive and counts the requests for it;
// any other path is a 404.
func serve(t *testing.T, body []byte) (string, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/"+ArchiveName {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		w.Header().Set("Content-Type", "application/zip")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &hits
}

func fetchArgs(base, out string, extra ...string) []string {
	return append([]string{"-base-url", base + "/", "-out", out}, extra...)
}

const jobTemplate = `{"typeName": "AWS::IoT::JobTemplate", "properties": {}}`

func TestFetchUnpacksTheArchive(t *testing.T) {
	base, hits := serve(t, archive(t,
		entry{name: "aws-iot-jobtemplate.json", body: jobTemplate},
		entry{name: "sub", dir: true},
		entry{name: "sub/aws-logs-loggroup.json", body: `{"typeName": "AWS::Logs::LogGroup"}`},
		entry{name: "README.txt", body: "not a schema"},
	))
	out := filepath.Join(t.TempDir(), "schemas")
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), fetchArgs(base, out), &stdout, &stderr); err != nil {
		t.Fatalf("fetch: %v\n%s", err, stderr.String())
	}
	if hits.Load() != 1 {
		t.Errorf("archive fetched %d times, want once", hits.Load())
	}
	for name, want := range map[string]string{"aws-iot-jobtemplate.json": jobTemplate, "sub/aws-logs-loggroup.json": `{"typeName": "AWS::Logs::LogGroup"}`} {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "README.txt")); !os.IsNotExist(err) {
		t.Errorf("a non-schema entry was written (stat: %v)", err)
	}
	if want := "2 schemas from " + base + "/" + ArchiveName; !strings.Contains(stdout.String(), want) || !strings.Contains(stdout.String(), "ATHANOR_SCHEMAS="+out) {
		t.Errorf("output %q lacks %q and the ATHANOR_SCHEMAS hint", stdout.String(), want)
	}
}

func TestFetchRefusesHostileArchives(t *testing.T) {
	big := `{"pad": "` + strings.Repeat("x", 2000) + `"}`
	for _, tc := range []struct {
		name    string
		entries []entry
		extra   []string
		want    string
	}{
		{"parent directory", []entry{{name: "ok.json", body: "{}"}, {name: "../escape.json", body: "{}"}}, nil, `"../escape.json": names a path outside`},
		{"nested parent", []entry{{name: "a/../../escape.json", body: "{}"}}, nil, "names a path outside"},
		{"absolute", []entry{{name: "/tmp/escape.json", body: "{}"}}, nil, "names a path outside"},
		{"backslash", []entry{{name: `..\escape.json`, body: "{}"}}, nil, "names a path outside"},
		{"file too large", []entry{{name: "big.json", body: big}}, []string{"-max-file", "1000"}, "more than -max-file 1000 bytes"},
		{"total too large", []entry{{name: "a.json", body: big}, {name: "b.json", body: big}}, []string{"-max-total", "3000"}, `"b.json": unpacks to more than -max-total`},
		{"archive too large", []entry{{name: "a.json", body: big}}, []string{"-max-archive", "100"}, "more than -max-archive 100"},
		{"not JSON", []entry{{name: "a.json", body: "<html>"}}, nil, `"a.json": not a JSON schema`},
		{"no schema", []entry{{name: "a.txt", body: "x"}}, nil, "no *.json schema"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, _ := serve(t, archive(t, tc.entries...))
			parent := t.TempDir()
			out := filepath.Join(parent, "schemas")
			err := run(t.Context(), fetchArgs(base, out, tc.extra...), &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(parent, "escape.json")); !os.IsNotExist(err) {
				t.Errorf("an entry escaped the output directory (stat: %v)", err)
			}
		})
	}
}

func TestFetchReportsServerAndUsageErrors(t *testing.T) {
	base, _ := serve(t, archive(t, entry{name: "a.json", body: "{}"}))
	out := t.TempDir()
	err := run(t.Context(), []string{"-base-url", base + "/elsewhere", "-out", out}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), base+"/elsewhere/"+ArchiveName) {
		t.Errorf("missing archive: err = %v, want the status and the URL", err)
	}
	notZip := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>error page</html>")) }))
	defer notZip.Close()
	if err := run(t.Context(), fetchArgs(notZip.URL, out), &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "not a zip archive") {
		t.Errorf("an HTML page: err = %v, want not a zip archive", err)
	}
	if err := run(t.Context(), []string{"-base-url", base}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "-out DIR") {
		t.Errorf("no -out: err = %v", err)
	}
	if err := run(t.Context(), []string{"-region", "us-east-1.evil.example/x", "-out", out}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "want a region name") {
		t.Errorf("a region that is a host name: err = %v", err)
	}
}

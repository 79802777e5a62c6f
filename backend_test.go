package athanor

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/athanor-dev/athanor/state"
)

// TestUnlinkedStateBackend: the package links only the file backend, so a
// run whose state location needs another (this test binary imports neither
// state/postgres nor state/s3) fails before it changes anything: the
// program's function is not called, the target gets no request, nothing is
// printed. Its error is state.Open's, unchanged but for Run's prefix,
// naming the import that links the backend.
func TestUnlinkedStateBackend(t *testing.T) {
	var requests atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "no request expected", http.StatusTeapot)
	}))
	defer target.Close()
	tests := []struct{ location, shown, backend, pkg string }{
		{"postgres://athanor:secret@127.0.0.1:1/athanor", "postgres://athanor:xxxxx@127.0.0.1:1/athanor", "PostgreSQL", "github.com/athanor-dev/athanor/state/postgres"},
		{"postgresql://127.0.0.1:1/athanor?sslmode=disable", "postgresql://127.0.0.1:1/athanor?sslmode=disable", "PostgreSQL", "github.com/athanor-dev/athanor/state/postgres"},
		{"s3://team-bucket/athanor", "s3://team-bucket/athanor", "S3", "github.com/athanor-dev/athanor/state/s3"},
	}
	for _, tc := range tests {
		t.Run(tc.shown, func(t *testing.T) {
			called := false
			var out bytes.Buffer
			cfg := Config{App: "app", Stage: "dev", Target: target.URL, State: tc.location, Output: &out}
			res, err := Run(t.Context(), cfg, func(*App) error { called = true; return nil })
			want := "athanor: open state: state: no backend for " + strconv.Quote(tc.shown) +
				": this program does not link the " + tc.backend + " backend; add `import _ " + strconv.Quote(tc.pkg) +
				"` to its main package (backends linked: file)"
			if err == nil || err.Error() != want {
				t.Fatalf("Run error = %v\nwant             %s", err, want)
			}
			if !errors.Is(err, state.ErrNoBackend) {
				t.Errorf("errors.Is(err, state.ErrNoBackend) = false: %v", err)
			}
			if res != nil {
				t.Errorf("Run returned a result %+v with the error", res)
			}
			if called {
				t.Error("the program's function was called")
			}
			if out.Len() != 0 {
				t.Errorf("Run printed %q", out.String())
			}
		})
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the target got %d requests", n)
	}
}

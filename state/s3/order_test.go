package s3

import (
	"slices"
	"testing"
	"time"
)

// TestOrder: versions come out by key, each key's newest first, whether
// the server listed them newest first (S3) or oldest first (some
// S3-compatible servers), with delete markers merged in by time even when
// several writes share one second.
func TestOrder(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	v := func(key, id string, sec int, latest, deleted bool) Version {
		return Version{Key: key, VersionID: id, LastModified: t0.Add(time.Duration(sec) * time.Second), Latest: latest, Deleted: deleted}
	}
	want := []string{"a/4", "a/3", "a/2", "a/1", "b/2", "b/1"}
	newestFirst := []Version{
		v("b", "2", 5, true, false), v("b", "1", 5, false, false),
		v("a", "3", 1, false, false), v("a", "2", 1, false, false), v("a", "1", 0, false, false),
		v("a", "4", 2, true, true),
	}
	oldestFirst := []Version{
		v("a", "1", 0, false, false), v("a", "2", 1, false, false), v("a", "3", 1, false, false),
		v("b", "1", 5, false, false), v("b", "2", 5, true, false),
		v("a", "4", 2, true, true),
	}
	for name, in := range map[string][]Version{"newest first": newestFirst, "oldest first": oldestFirst} {
		var got []string
		for _, x := range order(slices.Clone(in)) {
			got = append(got, x.Key+"/"+x.VersionID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: order = %v, want %v", name, got, want)
		}
	}
}

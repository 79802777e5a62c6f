package schema

import (
	"slices"
	"strconv"
	"strings"
)

// Closest returns up to n of candidates nearest to name, nearest first, for
// "did you mean" hints: those equal to it but for case, then those within a
// small edit distance (a quarter of name's length, at least 2), ties in the
// candidates' order, and only those at most one edit further than the
// nearest. It returns none when nothing is near.
func Closest(candidates []string, name string, n int) []string {
	type scored struct {
		s    string
		dist int
		i    int
	}
	limit := max(2, len(name)/4)
	lower := strings.ToLower(name)
	var near []scored
	for i, c := range candidates {
		if c == name {
			continue
		}
		d := editDistance(strings.ToLower(c), lower, limit)
		if d <= limit {
			near = append(near, scored{c, d, i})
		}
	}
	slices.SortStableFunc(near, func(a, b scored) int { return a.dist - b.dist })
	out := make([]string, 0, min(n, len(near)))
	for _, s := range near {
		// Only the nearest (and those one edit further): a case-only
		// difference stands alone.
		if len(out) == n || near[0].dist == 0 && s.dist > 0 || s.dist > near[0].dist+1 {
			break
		}
		out = append(out, s.s)
	}
	return out
}

// editDistance is the Levenshtein distance of a and b (in bytes), or a value
// above limit as soon as it is certain to exceed it.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			best = min(best, cur[j])
		}
		if best > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// quoteList renders names as "a", "b" or "c".
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

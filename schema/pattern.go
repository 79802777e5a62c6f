package schema

import (
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/dlclark/regexp2"
)

// Registry patterns are ECMAScript regular expressions, applied unanchored
// (a value matches when the pattern matches anywhere in it, as JSON Schema
// specifies). Most of them are also valid RE2 syntax, so they compile with
// Go's regexp, which runs in linear time. The rest (lookarounds,
// backreferences, possessive forms) compile with regexp2 in ECMAScript mode,
// or in its default mode for the few that use .NET/Java-only constructs such
// as \p{...} classes; regexp2 matching is bounded by patternMatchTimeout so
// that a hostile value cannot stall validation.

// patternMatchTimeout bounds one regexp2 match.
const patternMatchTimeout = time.Second

// matcher is one compiled pattern.
type matcher struct {
	re  *regexp.Regexp
	re2 *regexp2.Regexp
	err error // the pattern compiles with neither engine
}

// match reports whether s matches the pattern anywhere.
func (m *matcher) match(s string) (bool, error) {
	switch {
	case m.err != nil:
		return false, m.err
	case m.re != nil:
		return m.re.MatchString(s), nil
	default:
		ok, err := m.re2.MatchString(s)
		if err != nil {
			return false, fmt.Errorf("pattern match: %w", err)
		}
		return ok, nil
	}
}

// patterns caches compiled patterns by source text: every pattern compiles
// once per process, whichever schema uses it.
var patterns sync.Map // string -> *matcher

// compilePattern returns the compiled form of pattern, from the cache when
// it was compiled before.
func compilePattern(pattern string) *matcher {
	if m, ok := patterns.Load(pattern); ok {
		return m.(*matcher)
	}
	m := &matcher{}
	if re, err := regexp.Compile(pattern); err == nil {
		m.re = re
	} else if re2, err2 := regexp2.Compile(pattern, regexp2.ECMAScript); err2 == nil {
		re2.MatchTimeout = patternMatchTimeout
		m.re2 = re2
	} else if re2, err3 := regexp2.Compile(pattern, regexp2.None); err3 == nil {
		re2.MatchTimeout = patternMatchTimeout
		m.re2 = re2
	} else {
		m.err = fmt.Errorf("pattern %s compiles neither as RE2 (%v) nor as ECMAScript (%v)", pattern, err, err2)
	}
	actual, _ := patterns.LoadOrStore(pattern, m)
	return actual.(*matcher)
}

// CompilePattern compiles a registry pattern as validation does, reporting
// an error when no supported engine accepts it.
func CompilePattern(pattern string) error {
	return compilePattern(pattern).err
}

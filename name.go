package athanor

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/athanor-dev/athanor/schema"
)

// DefaultNameLength is the longest name App.PhysicalName returns when no NameFor
// option names the property the name goes into: 63 characters, the limit of
// a DNS label and of many AWS resource names.
const DefaultNameLength = 63

// NameOption adjusts how App.PhysicalName fits a name to where it goes.
type NameOption func(*nameOptions)

type nameOptions struct {
	typeName, property string
	maxLength          int
}

// NameFor fits the name to property of the registry type typeName: its
// length limit and the characters its pattern allows are read from the
// type's schema (a property whose schema states neither keeps the defaults:
// letters, digits and '-', at most DefaultNameLength). property is a top-level property name ("JobTemplateId") or
// a JSON pointer into the properties ("/LoggingConfig/LogGroupName"). For
// example, for a job template:
//
//	iot.JobTemplateArgs{
//		JobTemplateId: app.PhysicalName("device-update", athanor.NameFor(iot.JobTemplateType, "JobTemplateId")),
//		...
//	}
//
// A type or property the registry does not know fails the run with an error
// naming it.
func NameFor(typeName, property string) NameOption {
	return func(o *nameOptions) { o.typeName, o.property = typeName, property }
}

// MaxNameLength bounds the name's length in bytes, instead of (or below) the
// property's own limit.
func MaxNameLength(n int) NameOption {
	return func(o *nameOptions) { o.maxLength = n }
}

// PhysicalName returns a physical name for a resource of this stage, derived from
// base, the app and the stage, so that two stages of one program deploy side
// by side on one account without their user-chosen names colliding:
//
//	app.PhysicalName("device-update")  // "device-update-dev" in stage dev, "device-update-prod" in prod
//
// The rule, which never changes for the same inputs:
//
//  1. The name is base + "-" + stage.
//  2. Characters the target does not allow are replaced: upper-case letters
//     become lower-case where only lower case is allowed, any other
//     character becomes '-' (or '_' where '-' is not allowed, or is dropped
//     where neither is), except at the start or next to another separator. Without
//     NameFor the allowed characters are ASCII letters, digits and '-'.
//  3. A name longer than the limit (the property's maxLength with NameFor,
//     else DefaultNameLength; MaxNameLength lowers it) is cut and ends with '-'
//     and 8 hexadecimal digits of a SHA-256 hash of the app, the stage and
//     base, so that names cut to the same prefix stay distinct.
//
// The app's name is not part of the readable name (it would make most
// names too long for their properties); give each app its own base names
// when several apps share an account and a stage name.
func (a *App) PhysicalName(base string, opts ...NameOption) string {
	var o nameOptions
	for _, opt := range opts {
		opt(&o)
	}
	rule := defaultNameRule()
	if o.typeName != "" {
		r, err := propertyNameRule(a.run.reg, o.typeName, o.property)
		if err != nil {
			a.run.fail(fmt.Errorf("athanor: PhysicalName(%q): %w", base, err))
		} else {
			rule = r
		}
	}
	if o.maxLength > 0 && (rule.max == 0 || o.maxLength < rule.max) {
		rule.max = o.maxLength
	}
	return rule.name(a.run.name, a.run.stage, base)
}

// nameRule is what a name must fit: the characters allowed and the longest
// length (0: no limit).
type nameRule struct {
	allowed func(rune) bool
	max     int
}

func defaultNameRule() nameRule {
	return nameRule{allowed: func(r rune) bool {
		return r < utf8.RuneSelf && (r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}, max: DefaultNameLength}
}

// propertyNameRule reads the rule of property of typeName from the registry.
func propertyNameRule(reg *schema.Registry, typeName, property string) (nameRule, error) {
	s, err := reg.Lookup(typeName)
	if err != nil {
		return nameRule{}, err
	}
	ptr := property
	if !strings.HasPrefix(ptr, "/") {
		ptr = "/" + ptr
	}
	n := s.Root
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		var next *schema.Node
		if n != nil {
			if c, ok := n.Properties[tok]; ok {
				next = c
			} else if n.Items != nil {
				if c, ok := n.Items.Properties[tok]; ok {
					next = c
				}
			}
		}
		if next == nil {
			return nameRule{}, fmt.Errorf("%s has no property %s (properties: %s)", typeName, ptr, strings.Join(s.Root.PropertyNames(), ", "))
		}
		n = next
	}
	if len(n.Types) > 0 && !n.HasType("string") {
		return nameRule{}, fmt.Errorf("%s property %s is not a string (type %s)", typeName, ptr, strings.Join(n.Types, "|"))
	}
	rule := nameRule{allowed: patternChars(n.Pattern)}
	if rule.allowed == nil {
		rule.allowed = defaultNameRule().allowed
	}
	rule.max = DefaultNameLength
	if n.MaxLength != nil {
		rule.max = *n.MaxLength
	}
	return rule, nil
}

// patternChars returns the set of characters a pattern can match anywhere:
// the union of its character classes and literals. It returns nil when the
// pattern is empty, cannot be parsed, or matches any character (".").
func patternChars(pattern string) func(rune) bool {
	if pattern == "" {
		return nil
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	var ranges [][2]rune
	anything := false
	var walk func(*syntax.Regexp)
	walk = func(r *syntax.Regexp) {
		switch r.Op {
		case syntax.OpLiteral:
			for _, c := range r.Rune {
				ranges = append(ranges, [2]rune{c, c})
				if r.Flags&syntax.FoldCase != 0 {
					ranges = append(ranges, [2]rune{unicode.SimpleFold(c), unicode.SimpleFold(c)})
				}
			}
		case syntax.OpCharClass:
			for i := 0; i+1 < len(r.Rune); i += 2 {
				ranges = append(ranges, [2]rune{r.Rune[i], r.Rune[i+1]})
			}
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			anything = true
		}
		for _, sub := range r.Sub {
			walk(sub)
		}
	}
	walk(re)
	if anything || len(ranges) == 0 {
		return nil
	}
	return func(c rune) bool {
		for _, rg := range ranges {
			if rg[0] <= c && c <= rg[1] {
				return true
			}
		}
		return false
	}
}

// name applies the rule (see App.PhysicalName).
func (r nameRule) name(app, stage, base string) string {
	sep := rune(0)
	switch {
	case r.allowed('-'):
		sep = '-'
	case r.allowed('_'):
		sep = '_'
	}
	var b strings.Builder
	replaced := false
	for _, c := range base + "-" + stage {
		switch {
		case c == sep && replaced:
			// A separator right after a replacement: one is enough.
		case r.allowed(c):
			b.WriteRune(c)
			replaced = false
		case r.allowed(unicode.ToLower(c)):
			b.WriteRune(unicode.ToLower(c))
			replaced = false
		case sep != 0 && !replaced && b.Len() > 0 && !strings.HasSuffix(b.String(), string(sep)):
			b.WriteRune(sep)
			replaced = true
		}
	}
	out := b.String()
	if r.max <= 0 || len(out) <= r.max {
		return out
	}
	sum := sha256.Sum256([]byte(app + "\x00" + stage + "\x00" + base))
	suffix := hex.EncodeToString(sum[:])[:8]
	if sep != 0 {
		suffix = string(sep) + suffix
	}
	keep := r.max - len(suffix)
	if keep < 0 {
		return suffix[len(suffix)-r.max:]
	}
	prefix := out[:keep]
	for !utf8.ValidString(prefix) {
		prefix = prefix[:len(prefix)-1]
	}
	if sep != 0 {
		prefix = strings.TrimRight(prefix, string(sep))
	}
	return prefix + suffix
}

package gen

import (
	"go/token"
	"strconv"
	"strings"
	"unicode"
)

// exportedName turns a registry name (a property, definition or type name)
// into an exported Go identifier that keeps the registry's spelling: the
// first letter is upper-cased, characters that cannot appear in an
// identifier are dropped and the letter after each of them is upper-cased.
// "JobTemplateId" stays "JobTemplateId"; "aws:cdk-path" becomes "AwsCdkPath".
func exportedName(s string) string {
	var b strings.Builder
	upper := true
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	name := b.String()
	switch {
	case name == "":
		return "Value"
	case unicode.IsDigit(rune(name[0])):
		return "N" + name
	}
	return name
}

// enumValueName turns an enum value into the suffix of its Go name:
// "TIMED_OUT" becomes "TimedOut", "t2.micro" "T2Micro", "GitHub" "GitHub".
func enumValueName(s string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool {
		return r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r))
	}) {
		if strings.ToUpper(part) == part || strings.ToLower(part) == part {
			part = strings.ToLower(part)
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// packageName turns a service name ("IoT", "ApiGatewayV2") into a Go
// package name ("iot", "apigatewayv2").
func packageName(service string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(service) {
		if r <= unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
	}
	name := b.String()
	if name == "" || unicode.IsDigit(rune(name[0])) {
		name = "svc" + name
	}
	if token.IsKeyword(name) {
		name += "svc"
	}
	return name
}

// namespace hands out unique identifiers in one Go scope (a package's
// top-level declarations, or the fields of one struct).
type namespace map[string]bool

// claim returns name if it is free, else name followed by the smallest
// number from 2 that makes it free, and marks the result as taken.
func (ns namespace) claim(name string) string {
	if !ns[name] {
		ns[name] = true
		return name
	}
	for i := 2; ; i++ {
		c := name + strconv.Itoa(i)
		if !ns[c] {
			ns[c] = true
			return c
		}
	}
}

package schema

import (
	"slices"
	"strings"
	"testing"
)

// keywordSchema exercises the draft-07 keywords the registry uses beyond
// JobTemplate's: type lists, patternProperties, const, multipleOf,
// exclusive bounds, property counts, dependencies, oneOf/anyOf/allOf and
// recursive definitions.
const keywordSchema = `{
  "typeName": "Test::Keywords::Thing",
  "definitions": {
    "Tree": {
      "type": "object",
      "properties": {
        "Name": {"type": "string", "minLength": 1},
        "Children": {"type": "array", "items": {"$ref": "#/definitions/Tree"}}
      },
      "required": ["Name"],
      "additionalProperties": false
    },
    "S3": {"type": "object", "properties": {"Bucket": {"type": "string"}}, "required": ["Bucket"], "additionalProperties": false},
    "Http": {"type": "object", "properties": {"Url": {"type": "string", "pattern": "^https://"}}, "required": ["Url"], "additionalProperties": false}
  },
  "properties": {
    "Id": {"type": "string"},
    "Mixed": {"type": ["object", "string"]},
    "Labels": {
      "type": "object",
      "patternProperties": {"^[a-z]+$": {"type": "string", "maxLength": 3}},
      "additionalProperties": false,
      "minProperties": 1,
      "maxProperties": 2
    },
    "Kind": {"const": "fixed"},
    "Step": {"type": "number", "multipleOf": 0.5, "exclusiveMinimum": 0, "exclusiveMaximum": 10},
    "Name": {"type": "string", "minLength": 2, "maxLength": 3},
    "Lookahead": {"type": "string", "pattern": "^(?!aws:)[a-z:]+$"},
    "Pair": {"type": "object", "properties": {"A": {"type": "string"}, "B": {"type": "string"}}, "dependencies": {"A": ["B"]}},
    "Tree": {"$ref": "#/definitions/Tree"},
    "Target": {"oneOf": [{"$ref": "#/definitions/S3"}, {"$ref": "#/definitions/Http"}]},
    "Either": {"type": "object", "properties": {"X": {"type": "string"}, "Y": {"type": "string"}}, "anyOf": [{"required": ["X"]}, {"required": ["Y"]}]},
    "Both": {"allOf": [{"type": "string", "minLength": 2}, {"type": "string", "pattern": "^[a-z]+$"}]},
    "Set": {"type": "array", "uniqueItems": true, "items": {"type": "integer"}}
  },
  "additionalProperties": false,
  "primaryIdentifier": ["/properties/Id"]
}`

func TestValidateKeywords(t *testing.T) {
	s := mustParse(t, keywordSchema)
	tests := []struct {
		name  string
		model string
		want  []string
	}{
		{"valid", `{"Id": "x", "Mixed": {"a": 1}, "Labels": {"ab": "c"}, "Kind": "fixed", "Step": 2.5, "Name": "éé",
			"Lookahead": "tag:x", "Pair": {"A": "a", "B": "b"}, "Tree": {"Name": "r", "Children": [{"Name": "c", "Children": []}]},
			"Target": {"Bucket": "b"}, "Either": {"Y": "y"}, "Both": "ab", "Set": [1, 2]}`, nil},
		{"type list accepts string", `{"Mixed": "s"}`, nil},
		{"type list", `{"Mixed": 3}`, []string{"/Mixed: expected object or string, got integer 3"}},
		{"pattern properties", `{"Labels": {"ab": "long", "AB": "c"}}`, []string{
			`/Labels: unknown property "AB" (allowed: names matching ^[a-z]+$)`,
			"/Labels/ab: 4 characters, at most 3 allowed"}},
		{"min properties", `{"Labels": {}}`, []string{"/Labels: 0 properties, at least 1 required"}},
		{"max properties", `{"Labels": {"a": "1", "b": "2", "c": "3"}}`, []string{"/Labels: 3 properties, at most 2 allowed"}},
		{"const", `{"Kind": "other"}`, []string{`/Kind: "other" is not the allowed value "fixed"`}},
		{"multipleOf", `{"Step": 2.25}`, []string{"/Step: 2.25 is not a multiple of 0.5"}},
		{"exclusive minimum", `{"Step": 0}`, []string{"/Step: 0 must be greater than 0"}},
		{"exclusive maximum", `{"Step": 10}`, []string{"/Step: 10 must be less than 10"}},
		{"lengths count characters", `{"Name": "ééé"}`, nil},
		{"length of characters not bytes", `{"Name": "éééé"}`, []string{"/Name: 4 characters, at most 3 allowed"}},
		{"ECMAScript lookahead", `{"Lookahead": "aws:x"}`, []string{`/Lookahead: "aws:x" does not match pattern ^(?!aws:)[a-z:]+$`}},
		{"dependencies", `{"Pair": {"A": "a"}}`, []string{"/Pair/B: required property is missing (A is set)"}},
		{"recursive definitions", `{"Tree": {"Name": "r", "Children": [{"Children": [{"Name": ""}]}]}}`, []string{
			"/Tree/Children/0/Children/0/Name: 0 characters, at least 1 required",
			"/Tree/Children/0/Name: required property is missing"}},
		{"oneOf none", `{"Target": {"Url": "http://x"}}`, []string{
			`/Target: matches none of the 2 oneOf alternatives; tried 0 (S3), 1 (Http); closest is 1 (Http): /Target/Url: "http://x" does not match pattern ^https://`}},
		{"oneOf wrong type", `{"Target": "s3://b"}`, []string{
			`/Target: matches none of the 2 oneOf alternatives; tried 0 (S3), 1 (Http); closest is 0 (S3): /Target: expected object, got string "s3://b"`}},
		{"oneOf several", `{"Target": {}}`, []string{
			`/Target: matches none of the 2 oneOf alternatives; tried 0 (S3), 1 (Http); closest is 0 (S3): /Target/Bucket: required property is missing`}},
		{"anyOf none", `{"Either": {}}`, []string{
			"/Either: matches none of the 2 anyOf alternatives; tried 0, 1; closest is 0: /Either/X: required property is missing"}},
		{"allOf", `{"Both": "A"}`, []string{
			`/Both: "A" does not match pattern ^[a-z]+$`,
			"/Both: 1 characters, at least 2 required"}},
		{"unique items by JSON value", `{"Set": [1, 2, 1.0]}`, []string{"/Set: items 0 and 2 are equal; items must be unique"}},
		{"items type", `{"Set": [1, "2"]}`, []string{`/Set/1: expected integer, got string "2"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := violationLines(s.Violations(decode(t, tt.model)))
			if !slices.Equal(got, tt.want) {
				t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestOneOfSeveralMatch(t *testing.T) {
	s := mustParse(t, `{"typeName": "Test::One::Of", "properties": {"P": {"type": "object",
		"oneOf": [{"required": ["A"]}, {"required": ["B"]}]}}, "primaryIdentifier": ["/properties/P"]}`)
	got := violationLines(s.Violations(decode(t, `{"P": {"A": 1, "B": 2}}`)))
	want := []string{"/P: matches 2 oneOf alternatives (0, 1); exactly one must match"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestViolationsSortNumerically(t *testing.T) {
	vs := []Violation{{"/Tags/10/Key", "b"}, {"/Tags/2/Key", "a"}, {"/A", "z"}, {"/", "root"}}
	got := violationLines(sortViolations(vs))
	want := []string{"/: root", "/A: z", "/Tags/2/Key: a", "/Tags/10/Key: b"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

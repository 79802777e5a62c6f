package schema

import (
	"fmt"
	"strconv"
)

// Service rules are facts a service enforces beyond its registry schema.
// The engine checks them before any call (ValidateDesired) and the emulator
// answers as the service would. Each rule names the API model shape it comes
// from; the models are the botocore service definitions (for IoT,
// iot-2015-05-28.service-2.json).
//
// Checked against the IoT model and deliberately absent: a maximum for
// MaximumPerMinute (shape MaxJobExecutionsPerMin has only "min": 1) and a
// pattern for MaintenanceWindows StartTime (shape CronExpression has only
// "min": 1 and "max": 256).

// serviceRule is one service fact about the values at a registry pointer.
type serviceRule struct {
	// shape cites the API model shape the rule comes from.
	shape string
	// pointer is the registry pointer of the values checked ("*" for any
	// array element); "" for the model itself.
	pointer string
	// check returns the violations of one value at path of a model of s,
	// which renders values for messages (masking write-only values).
	check func(v any, path string, s *Schema) []Violation
}

// serviceRules holds the rules by resource type.
var serviceRules = map[string][]serviceRule{
	"AWS::IoT::JobTemplate": {
		{shape: "iot-2015-05-28#CreateJobTemplateRequest (document, documentSource, jobArn)", check: documentRule},
		// IoT applies its patterns to the whole value; the registry's copy
		// is unanchored, so it accepts "a b".
		{shape: "iot-2015-05-28#JobTemplateId", pointer: "/properties/JobTemplateId", check: wholePattern(`^[a-zA-Z0-9_-]+$`)},
		{shape: "iot-2015-05-28#JobDescription", pointer: "/properties/Description", check: wholePattern(`^[^\p{C}]+$`)},
		{shape: "iot-2015-05-28#IncrementFactor", pointer: "/properties/JobExecutionsRolloutConfig/ExponentialRolloutRate/IncrementFactor", check: minimum(1.1)},
		{shape: "iot-2015-05-28#RolloutRatePerMinute", pointer: "/properties/JobExecutionsRolloutConfig/ExponentialRolloutRate/BaseRatePerMinute", check: maximum(1000)},
		{shape: "iot-2015-05-28#JobExecutionsRetryConfig", pointer: "/properties/JobExecutionsRetryConfig", check: required("RetryCriteriaList")},
		{shape: "iot-2015-05-28#RetryCriteria", pointer: "/properties/JobExecutionsRetryConfig/RetryCriteriaList/*", check: required("FailureType", "NumberOfRetries")},
		{shape: "iot-2015-05-28#MaintenanceWindow", pointer: "/properties/MaintenanceWindows/*", check: required("StartTime", "DurationInMinutes")},
		{shape: "iot-2015-05-28#PackageVersionArn", pointer: "/properties/DestinationPackageVersions/*", check: wholePattern(`^arn:[!-~]+$`)},
		{shape: "iot-2015-05-28#TagKey", pointer: "/properties/Tags/*/Key", check: wholePattern(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)},
	},
}

// ServiceViolations returns the violations of the type's service rules:
// what the service itself rejects beyond the registry schema, sorted by
// path. It checks values of the right JSON type only; type errors are the
// schema's to report.
func (s *Schema) ServiceViolations(model map[string]any) []Violation {
	rules := serviceRules[s.TypeName]
	if len(rules) == 0 {
		return nil
	}
	var out []Violation
	for _, r := range rules {
		if r.pointer == "" {
			out = append(out, r.check(model, "", s)...)
			continue
		}
		for _, p := range presentPaths(model, pointerTokens(r.pointer)) {
			out = append(out, r.check(valueAtPath(model, p), p, s)...)
		}
	}
	return sortViolations(out)
}

// ServiceRuleShapes lists the API model shapes the type's service rules
// come from, in table order.
func (s *Schema) ServiceRuleShapes() []string {
	var out []string
	for _, r := range serviceRules[s.TypeName] {
		out = append(out, r.shape)
	}
	return out
}

// valueAtPath returns the value at a model JSON pointer, through objects and
// arrays.
func valueAtPath(model map[string]any, path string) any {
	var cur any = model
	for _, t := range pathTokens(path) {
		switch x := cur.(type) {
		case map[string]any:
			cur = x[t]
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			cur = x[i]
		default:
			return nil
		}
	}
	return cur
}

// documentRule: a job template takes its document from Document,
// DocumentSource or an existing job (JobArn), and not from both Document
// and DocumentSource.
func documentRule(v any, _ string, _ *Schema) []Violation {
	m, _ := v.(map[string]any)
	_, doc := m["Document"]
	_, src := m["DocumentSource"]
	_, job := m["JobArn"]
	switch {
	case doc && src:
		return []Violation{{Path: "/DocumentSource", Message: "give either Document or DocumentSource, not both"}}
	case !doc && !src && !job:
		return []Violation{{Path: "/Document", Message: "required property is missing (give Document, DocumentSource or JobArn)"}}
	}
	return nil
}

// wholePattern checks strings against an anchored pattern.
func wholePattern(pattern string) func(any, string, *Schema) []Violation {
	return func(v any, path string, sch *Schema) []Violation {
		s, ok := v.(string)
		if !ok {
			return nil
		}
		if ok, err := compilePattern(pattern).match(s); err != nil || !ok {
			return []Violation{{Path: displayPath(path), Message: fmt.Sprintf("%s does not match pattern %s", sch.show(path, s), pattern)}}
		}
		return nil
	}
}

// minimum checks numbers against an inclusive lower bound.
func minimum(min float64) func(any, string, *Schema) []Violation {
	return func(v any, path string, sch *Schema) []Violation {
		if f, ok := toFloat(v); ok && f < min {
			return []Violation{{Path: displayPath(path), Message: fmt.Sprintf("%s is less than the minimum %s", sch.show(path, f), formatNumber(min))}}
		}
		return nil
	}
}

// maximum checks numbers against an inclusive upper bound.
func maximum(max float64) func(any, string, *Schema) []Violation {
	return func(v any, path string, sch *Schema) []Violation {
		if f, ok := toFloat(v); ok && f > max {
			return []Violation{{Path: displayPath(path), Message: fmt.Sprintf("%s is greater than the maximum %s", sch.show(path, f), formatNumber(max))}}
		}
		return nil
	}
}

// required checks that an object has the named members.
func required(names ...string) func(any, string, *Schema) []Violation {
	return func(v any, path string, _ *Schema) []Violation {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		var out []Violation
		for _, n := range names {
			if _, ok := m[n]; !ok {
				out = append(out, Violation{Path: childPath(path, n), Message: "required property is missing"})
			}
		}
		return out
	}
}

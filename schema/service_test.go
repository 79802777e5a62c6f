package schema

import (
	"errors"
	"strings"
	"testing"
)

// TestWithRules gives a type a rule through a registry: lookups in that
// registry enforce it, in ServiceViolations and ValidateDesired alike,
// while the registry it came from stays without rules.
func TestWithRules(t *testing.T) {
	const logGroup = "AWS::Logs::LogGroup"
	reg := Default().WithRules(Rules{logGroup: {
		{Shape: "test#LogGroupName", Pointer: "/properties/LogGroupName", Check: WholePattern(`^/team/`)},
		{Shape: "test#Retention", Pointer: "/properties/RetentionInDays", Check: Maximum(30)},
	}})
	s, err := reg.Lookup(logGroup)
	if err != nil {
		t.Fatal(err)
	}
	model := decode(t, `{"LogGroupName": "/other/x", "RetentionInDays": 60}`)
	got := strings.Join(violationLines(s.ServiceViolations(model)), "\n")
	want := "/LogGroupName: \"/other/x\" does not match pattern ^/team/\n/RetentionInDays: 60 is greater than the maximum 30"
	if got != want {
		t.Errorf("ServiceViolations:\n%s\nwant:\n%s", got, want)
	}
	var verr *ValidationError
	if err := s.ValidateDesired(model); !errors.As(err, &verr) || len(verr.Violations) != 2 {
		t.Errorf("ValidateDesired = %v, want the two rule violations", err)
	}
	if shapes := strings.Join(s.ServiceRuleShapes(), ","); shapes != "test#LogGroupName,test#Retention" {
		t.Errorf("ServiceRuleShapes = %s", shapes)
	}
	if again, _ := reg.Lookup(logGroup); again != s {
		t.Error("a second lookup made another copy of the ruled schema")
	}
	if plain := lookup(t, logGroup); plain.ServiceViolations(model) != nil || plain.ValidateDesired(model) != nil {
		t.Error("the registry WithRules was called on enforces the rules too")
	}
	// Types without rules are the base registry's own schemas.
	if a, b := lookup(t, "AWS::IoT::Thing"), must(reg.Lookup("AWS::IoT::Thing")); a != b {
		t.Error("a type without rules was copied")
	}
	if _, err := reg.Lookup("AWS::No::Such"); !errors.Is(err, ErrUnknownType) {
		t.Errorf("unknown type: %v", err)
	}
	if len(reg.TypeNames()) != len(Default().TypeNames()) {
		t.Error("WithRules changed the type names")
	}
}

func must(s *Schema, err error) *Schema {
	if err != nil {
		panic(err)
	}
	return s
}

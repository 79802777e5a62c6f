package services

import (
	"testing"

	"github.com/athanor-dev/athanor/schema"
)

// TestDefaultCarriesEveryServicesRules: each type with rules in All has
// them in Default, the embedded registry itself has none, and All is a copy.
func TestDefaultCarriesEveryServicesRules(t *testing.T) {
	all := All()
	if len(all["AWS::IoT::JobTemplate"]) != len(IoT["AWS::IoT::JobTemplate"]) || len(all) == 0 {
		t.Fatalf("All() = %d types, want IoT's among them", len(all))
	}
	for typeName, rules := range all {
		s, err := Default().Lookup(typeName)
		if err != nil {
			t.Fatalf("%s: %v", typeName, err)
		}
		if got := len(s.ServiceRuleShapes()); got != len(rules) {
			t.Errorf("%s: Default() enforces %d rules, want %d", typeName, got, len(rules))
		}
		plain, err := schema.Default().Lookup(typeName)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(plain.ServiceRuleShapes()); n != 0 {
			t.Errorf("%s: schema.Default() enforces %d service rules, want none", typeName, n)
		}
	}
	delete(all, "AWS::IoT::JobTemplate")
	if len(All()["AWS::IoT::JobTemplate"]) == 0 {
		t.Error("changing All's result changed the rules")
	}
}

package schema

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServiceRulesMatchIoTModel checks the JobTemplate service rules
// against the IoT API model they cite.
func TestServiceRulesMatchIoTModel(t *testing.T) {
	path := filepath.Join(filepath.Dir(schemasDir(t)), "api", "iot-2015-05-28.service-2.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("IoT API model %s is absent: %v", path, err)
	}
	var model struct {
		Shapes map[string]struct {
			Type     string   `json:"type"`
			Pattern  *string  `json:"pattern"`
			Min      *float64 `json:"min"`
			Max      *float64 `json:"max"`
			Required []string `json:"required"`
		} `json:"shapes"`
	}
	if err := json.Unmarshal(data, &model); err != nil {
		t.Fatal(err)
	}
	s := lookup(t, jobTemplate)
	for _, cited := range s.ServiceRuleShapes() {
		name, ok := strings.CutPrefix(cited, "iot-2015-05-28#")
		name, _, _ = strings.Cut(name, " ")
		if _, exists := model.Shapes[name]; !ok || !exists {
			t.Errorf("rule cites %q, which the IoT model does not define", cited)
		}
	}
	shape := model.Shapes
	checks := []struct {
		what string
		ok   bool
	}{
		{"JobTemplateId pattern", shape["JobTemplateId"].Pattern != nil && *shape["JobTemplateId"].Pattern == "[a-zA-Z0-9_-]+"},
		{"JobDescription pattern", shape["JobDescription"].Pattern != nil && *shape["JobDescription"].Pattern == `[^\p{C}]+`},
		{"IncrementFactor min 1.1", shape["IncrementFactor"].Min != nil && *shape["IncrementFactor"].Min == 1.1},
		{"RolloutRatePerMinute max 1000", shape["RolloutRatePerMinute"].Max != nil && *shape["RolloutRatePerMinute"].Max == 1000},
		{"PackageVersionArn pattern", shape["PackageVersionArn"].Pattern != nil && *shape["PackageVersionArn"].Pattern == "^arn:[!-~]+$"},
		{"TagKey pattern", shape["TagKey"].Pattern != nil && *shape["TagKey"].Pattern == `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`},
		{"RetryCriteria required", strings.Join(shape["RetryCriteria"].Required, ",") == "failureType,numberOfRetries"},
		{"MaintenanceWindow required", strings.Join(shape["MaintenanceWindow"].Required, ",") == "startTime,durationInMinutes"},
		{"JobExecutionsRetryConfig required", strings.Join(shape["JobExecutionsRetryConfig"].Required, ",") == "criteriaList"},
		// Deliberately not rules: the model sets no such limits.
		{"MaxJobExecutionsPerMin has no max", shape["MaxJobExecutionsPerMin"].Max == nil},
		{"CronExpression has no pattern", shape["CronExpression"].Pattern == nil},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("the IoT model no longer supports the rule table: %s", c.what)
		}
	}
}

func TestServiceViolationsOnly(t *testing.T) {
	s := lookup(t, jobTemplate)
	// ServiceViolations alone reports what IoT rejects even where the
	// registry schema also does, as the emulator needs.
	got := violationLines(s.ServiceViolations(decode(t, `{"JobTemplateId": "", "Description": "d",
		"JobExecutionsRolloutConfig": {"ExponentialRolloutRate": {"BaseRatePerMinute": 2000, "IncrementFactor": 1}}}`)))
	want := []string{
		"/Document: required property is missing (give Document, DocumentSource or JobArn)",
		`/JobExecutionsRolloutConfig/ExponentialRolloutRate/BaseRatePerMinute: (sensitive) is greater than the maximum 1000`,
		"/JobExecutionsRolloutConfig/ExponentialRolloutRate/IncrementFactor: (sensitive) is less than the minimum 1.1",
		`/JobTemplateId: "" does not match pattern ^[a-zA-Z0-9_-]+$`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ServiceViolations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if vs := lookup(t, "AWS::Logs::LogGroup").ServiceViolations(map[string]any{}); vs != nil {
		t.Errorf("LogGroup has no service rules, got %v", vs)
	}
}

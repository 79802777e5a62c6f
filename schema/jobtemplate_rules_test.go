package schema_test

// The JobTemplate's validation with IoT's own rules (package
// schema/services) as the engine and the emulator see it: the registry
// schema's constraints and the service's, case by case. An external test
// package, since schema/services imports schema; the helpers come from
// export_test.go.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor/schema"
	"github.com/athanor-dev/athanor/schema/services"
)

const jobTemplate = "AWS::IoT::JobTemplate"

var seedWrongDir = filepath.Join("testdata", "seed-wrong")

// ruled returns a schema of the embedded registry with the services' rules.
func ruled(t testing.TB, typeName string) *schema.Schema {
	t.Helper()
	s, err := services.Default().Lookup(typeName)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", typeName, err)
	}
	return s
}

func TestSeedWrongShapesRejected(t *testing.T) {
	s := ruled(t, jobTemplate)
	files, err := filepath.Glob(filepath.Join(seedWrongDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no seed-wrong files: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			model := schema.ReadModel(t, f)
			want, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".want")
			if err != nil {
				t.Fatal(err)
			}
			err = s.ValidateDesired(model)
			var verr *schema.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("ValidateDesired = %v, want a *schema.ValidationError", err)
			}
			got := strings.Join(schema.ViolationLines(verr.Violations), "\n")
			if got != strings.TrimSpace(string(want)) {
				t.Errorf("violations:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestValidationErrorText(t *testing.T) {
	s := ruled(t, jobTemplate)
	err := s.ValidateDesired(schema.ReadModel(t, filepath.Join(seedWrongDir, "retry-attempts.json")))
	want := `AWS::IoT::JobTemplate: /JobExecutionsRetryConfig: unknown property "RetryAttempts" (allowed: RetryCriteriaList)
AWS::IoT::JobTemplate: /JobExecutionsRetryConfig/RetryCriteriaList: required property is missing`
	if err == nil || err.Error() != want {
		t.Errorf("Error() = %v\nwant:\n%s", err, want)
	}
}

// TestInvalidJobTemplates covers every constraint of DESIGN.md's
// JobTemplate section: each case changes a valid desired state and names
// the exact violations expected.
func TestInvalidJobTemplates(t *testing.T) {
	s := ruled(t, jobTemplate)
	base := map[string]any{
		"JobTemplateId": "tpl",
		"Description":   "a template",
		"Document":      `{"operation":"update"}`,
	}
	long := func(n int) string { return strings.Repeat("x", n) }
	tags := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`{"Key":"k%d","Value":"v"}`, i)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	tests := []struct {
		name  string
		patch string // JSON members set on the base; null removes one
		want  []string
	}{
		{"missing JobTemplateId", `{"JobTemplateId": null}`, []string{
			"/JobTemplateId: required property is missing"}},
		{"missing Description", `{"Description": null}`, []string{
			"/Description: required property is missing"}},
		{"empty JobTemplateId", `{"JobTemplateId": ""}`, []string{
			`/JobTemplateId: "" does not match pattern [a-zA-Z0-9_-]+`,
			"/JobTemplateId: 0 characters, at least 1 required"}},
		{"JobTemplateId too long", fmt.Sprintf(`{"JobTemplateId": %q}`, long(65)), []string{
			"/JobTemplateId: 65 characters, at most 64 allowed"}},
		{"JobTemplateId with a space (IoT anchors the pattern)", `{"JobTemplateId": "a b"}`, []string{
			`/JobTemplateId: "a b" does not match pattern ^[a-zA-Z0-9_-]+$`}},
		{"JobTemplateId of symbols", `{"JobTemplateId": "!!!"}`, []string{
			`/JobTemplateId: "!!!" does not match pattern [a-zA-Z0-9_-]+`}},
		{"JobTemplateId not a string", `{"JobTemplateId": 5}`, []string{
			"/JobTemplateId: expected string, got integer 5"}},
		{"Description too long", fmt.Sprintf(`{"Description": %q}`, long(2029)), []string{
			"/Description: 2029 characters, at most 2028 allowed"}},
		{"Description with a control character", `{"Description": "line\nbreak"}`, []string{
			`/Description: "line\nbreak" does not match pattern ^[^\p{C}]+$`}},
		{"empty Description", `{"Description": ""}`, []string{
			`/Description: "" does not match pattern [^\p{C}]+`}},
		{"read-only Arn set", `{"Arn": "arn:aws:iot:us-east-1:123456789012:jobtemplate/tpl"}`, []string{
			"/Arn: read-only property cannot be set"}},
		{"unknown property", `{"Name": "x"}`, []string{
			`/: unknown property "Name" (allowed: AbortConfig, Arn, Description, DestinationPackageVersions, Document, DocumentSource, JobArn, JobExecutionsRetryConfig, JobExecutionsRolloutConfig, JobTemplateId, MaintenanceWindows, PresignedUrlConfig, Tags, TimeoutConfig)`}},
		{"no document", `{"Document": null}`, []string{
			"/Document: required property is missing (give Document, DocumentSource or JobArn)"}},
		{"JobArn stands for the document", `{"Document": null, "JobArn": "arn:aws:iot:us-east-1:123456789012:job/j"}`, nil},
		{"Document and DocumentSource", `{"DocumentSource": "https://b.s3.amazonaws.com/d.json"}`, []string{
			"/DocumentSource: give either Document or DocumentSource, not both"}},
		{"Document too long", fmt.Sprintf(`{"Document": %q}`, long(32769)), []string{
			"/Document: 32769 characters, at most 32768 allowed"}},
		{"empty DocumentSource", `{"Document": null, "DocumentSource": ""}`, []string{
			"/DocumentSource: 0 characters, at least 1 required"}},
		{"JobArn not a string", `{"JobArn": true}`, []string{
			"/JobArn: expected string, got boolean (sensitive)"}},
		{"TimeoutConfig without its timeout", `{"TimeoutConfig": {}}`, []string{
			"/TimeoutConfig/InProgressTimeoutInMinutes: required property is missing"}},
		{"timeout below 1", `{"TimeoutConfig": {"InProgressTimeoutInMinutes": 0}}`, []string{
			"/TimeoutConfig/InProgressTimeoutInMinutes: (sensitive) is less than the minimum 1"}},
		{"timeout above 10080", `{"TimeoutConfig": {"InProgressTimeoutInMinutes": 10081}}`, []string{
			"/TimeoutConfig/InProgressTimeoutInMinutes: (sensitive) is greater than the maximum 10080"}},
		{"timeout not an integer", `{"TimeoutConfig": {"InProgressTimeoutInMinutes": 1.5}}`, []string{
			"/TimeoutConfig/InProgressTimeoutInMinutes: expected integer, got number (sensitive)"}},
		{"TimeoutConfig not an object", `{"TimeoutConfig": "60"}`, []string{
			`/TimeoutConfig: expected object, got string (sensitive)`}},
		{"AbortConfig without CriteriaList", `{"AbortConfig": {}}`, []string{
			"/AbortConfig/CriteriaList: required property is missing"}},
		{"empty CriteriaList", `{"AbortConfig": {"CriteriaList": []}}`, []string{
			"/AbortConfig/CriteriaList: 0 items, at least 1 required"}},
		{"abort criteria missing everything", `{"AbortConfig": {"CriteriaList": [{}]}}`, []string{
			"/AbortConfig/CriteriaList/0/Action: required property is missing",
			"/AbortConfig/CriteriaList/0/FailureType: required property is missing",
			"/AbortConfig/CriteriaList/0/MinNumberOfExecutedThings: required property is missing",
			"/AbortConfig/CriteriaList/0/ThresholdPercentage: required property is missing"}},
		{"abort Action ABORT", `{"AbortConfig": {"CriteriaList": [{"Action": "ABORT", "FailureType": "FAILED", "MinNumberOfExecutedThings": 1, "ThresholdPercentage": 10}]}}`, []string{
			`/AbortConfig/CriteriaList/0/Action: (sensitive) is not one of [CANCEL]`}},
		{"abort FailureType unknown", `{"AbortConfig": {"CriteriaList": [{"Action": "CANCEL", "FailureType": "CRASHED", "MinNumberOfExecutedThings": 1, "ThresholdPercentage": 10}]}}`, []string{
			`/AbortConfig/CriteriaList/0/FailureType: (sensitive) is not one of [FAILED, REJECTED, TIMED_OUT, ALL]`}},
		{"abort MinNumberOfExecutedThings 0", `{"AbortConfig": {"CriteriaList": [{"Action": "CANCEL", "FailureType": "ALL", "MinNumberOfExecutedThings": 0, "ThresholdPercentage": 10}]}}`, []string{
			"/AbortConfig/CriteriaList/0/MinNumberOfExecutedThings: (sensitive) is less than the minimum 1"}},
		{"abort ThresholdPercentage above 100", `{"AbortConfig": {"CriteriaList": [{"Action": "CANCEL", "FailureType": "ALL", "MinNumberOfExecutedThings": 1, "ThresholdPercentage": 100.5}]}}`, []string{
			"/AbortConfig/CriteriaList/0/ThresholdPercentage: (sensitive) is greater than the maximum 100"}},
		{"rollout MaximumPerMinute 0", `{"JobExecutionsRolloutConfig": {"MaximumPerMinute": 0}}`, []string{
			"/JobExecutionsRolloutConfig/MaximumPerMinute: (sensitive) is less than the minimum 1"}},
		{"rollout MinimumPerMinute", `{"JobExecutionsRolloutConfig": {"MaximumPerMinute": 10, "MinimumPerMinute": 1}}`, []string{
			`/JobExecutionsRolloutConfig: unknown property "MinimumPerMinute" (allowed: ExponentialRolloutRate, MaximumPerMinute)`}},
		{"exponential rate missing members", `{"JobExecutionsRolloutConfig": {"ExponentialRolloutRate": {}}}`, []string{
			"/JobExecutionsRolloutConfig/ExponentialRolloutRate/BaseRatePerMinute: required property is missing",
			"/JobExecutionsRolloutConfig/ExponentialRolloutRate/IncrementFactor: required property is missing",
			"/JobExecutionsRolloutConfig/ExponentialRolloutRate/RateIncreaseCriteria: required property is missing"}},
		{"BaseRatePerMinute 0", `{"JobExecutionsRolloutConfig": {"ExponentialRolloutRate": {"BaseRatePerMinute": 0, "IncrementFactor": 2, "RateIncreaseCriteria": {}}}}`, []string{
			"/JobExecutionsRolloutConfig/ExponentialRolloutRate/BaseRatePerMinute: (sensitive) is less than the minimum 1"}},
		{"BaseRatePerMinute above IoT's 1000", `{"JobExecutionsRolloutConfig": {"ExponentialRolloutRate": {"BaseRatePerMinute": 1001, "IncrementFactor": 2, "RateIncreaseCriteria": {}}}}`, []string{
			"/JobExecutionsRolloutConfig/ExponentialRolloutRate/BaseRatePerMinute: (sensitive) is greater than the maximum 1000"}},
		{"IncrementFactor below IoT's 1.1", `{"JobExecutionsRolloutConfig": {"ExponentialRolloutRate": {"BaseRatePerMinute": 5, "IncrementFactor": 1.05, "RateIncreaseCriteria": {}}}}`, []string{
			"/JobExecutionsRolloutConfig/ExponentialRolloutRate/IncrementFactor: (sensitive) is less than the minimum 1.1"}},
		{"IncrementFactor below 1", `{"JobExecutionsRolloutConfig": {"ExponentialRolloutRate": {"BaseRatePerMinute": 5, "IncrementFactor": 0.5, "RateIncreaseCriteria": {}}}}`, []string{
			"/JobExecutionsRolloutConfig/ExponentialRolloutRate/IncrementFactor: (sensitive) is less than the minimum 1"}},
		{"IncrementFactor above 5", `{"JobExecutionsRolloutConfig": {"ExponentialRolloutRate": {"BaseRatePerMinute": 5, "IncrementFactor": 5.5, "RateIncreaseCriteria": {}}}}`, []string{
			"/JobExecutionsRolloutConfig/ExponentialRolloutRate/IncrementFactor: (sensitive) is greater than the maximum 5"}},
		{"rate increase criteria below 1", `{"JobExecutionsRolloutConfig": {"ExponentialRolloutRate": {"BaseRatePerMinute": 5, "IncrementFactor": 2, "RateIncreaseCriteria": {"NumberOfNotifiedThings": 0, "NumberOfSucceededThings": 0}}}}`, []string{
			"/JobExecutionsRolloutConfig/ExponentialRolloutRate/RateIncreaseCriteria/NumberOfNotifiedThings: (sensitive) is less than the minimum 1",
			"/JobExecutionsRolloutConfig/ExponentialRolloutRate/RateIncreaseCriteria/NumberOfSucceededThings: (sensitive) is less than the minimum 1"}},
		{"rate increase criteria unknown member", `{"JobExecutionsRolloutConfig": {"ExponentialRolloutRate": {"BaseRatePerMinute": 5, "IncrementFactor": 2, "RateIncreaseCriteria": {"NumberOfFailedThings": 1}}}}`, []string{
			`/JobExecutionsRolloutConfig/ExponentialRolloutRate/RateIncreaseCriteria: unknown property "NumberOfFailedThings" (allowed: NumberOfNotifiedThings, NumberOfSucceededThings)`}},
		{"PresignedUrlConfig without RoleArn", `{"PresignedUrlConfig": {"ExpiresInSec": 60}}`, []string{
			"/PresignedUrlConfig/RoleArn: required property is missing"}},
		{"RoleArn too short", `{"PresignedUrlConfig": {"RoleArn": "arn:aws:iam::1:r"}}`, []string{
			"/PresignedUrlConfig/RoleArn: 16 characters, at least 20 required"}},
		{"RoleArn too long", fmt.Sprintf(`{"PresignedUrlConfig": {"RoleArn": %q}}`, long(2049)), []string{
			"/PresignedUrlConfig/RoleArn: 2049 characters, at most 2048 allowed"}},
		{"ExpiresInSec below 60", `{"PresignedUrlConfig": {"RoleArn": "arn:aws:iam::123456789012:role/r", "ExpiresInSec": 59}}`, []string{
			"/PresignedUrlConfig/ExpiresInSec: (sensitive) is less than the minimum 60"}},
		{"ExpiresInSec above 3600", `{"PresignedUrlConfig": {"RoleArn": "arn:aws:iam::123456789012:role/r", "ExpiresInSec": 3601}}`, []string{
			"/PresignedUrlConfig/ExpiresInSec: (sensitive) is greater than the maximum 3600"}},
		{"RetryAttempts", `{"JobExecutionsRetryConfig": {"RetryAttempts": 3}}`, []string{
			`/JobExecutionsRetryConfig: unknown property "RetryAttempts" (allowed: RetryCriteriaList)`,
			"/JobExecutionsRetryConfig/RetryCriteriaList: required property is missing"}},
		{"empty RetryCriteriaList", `{"JobExecutionsRetryConfig": {"RetryCriteriaList": []}}`, []string{
			"/JobExecutionsRetryConfig/RetryCriteriaList: 0 items, at least 1 required"}},
		{"three retry criteria", `{"JobExecutionsRetryConfig": {"RetryCriteriaList": [{"FailureType": "FAILED", "NumberOfRetries": 1}, {"FailureType": "TIMED_OUT", "NumberOfRetries": 1}, {"FailureType": "ALL", "NumberOfRetries": 1}]}}`, []string{
			"/JobExecutionsRetryConfig/RetryCriteriaList: 3 items, at most 2 allowed"}},
		{"retry FailureType REJECTED", `{"JobExecutionsRetryConfig": {"RetryCriteriaList": [{"FailureType": "REJECTED", "NumberOfRetries": 1}]}}`, []string{
			`/JobExecutionsRetryConfig/RetryCriteriaList/0/FailureType: (sensitive) is not one of [FAILED, TIMED_OUT, ALL]`}},
		{"NumberOfRetries above 10", `{"JobExecutionsRetryConfig": {"RetryCriteriaList": [{"FailureType": "FAILED", "NumberOfRetries": 11}]}}`, []string{
			"/JobExecutionsRetryConfig/RetryCriteriaList/0/NumberOfRetries: (sensitive) is greater than the maximum 10"}},
		{"NumberOfRetries negative", `{"JobExecutionsRetryConfig": {"RetryCriteriaList": [{"FailureType": "FAILED", "NumberOfRetries": -1}]}}`, []string{
			"/JobExecutionsRetryConfig/RetryCriteriaList/0/NumberOfRetries: (sensitive) is less than the minimum 0"}},
		{"retry criteria incomplete for IoT", `{"JobExecutionsRetryConfig": {"RetryCriteriaList": [{"FailureType": "FAILED"}]}}`, []string{
			"/JobExecutionsRetryConfig/RetryCriteriaList/0/NumberOfRetries: required property is missing"}},
		{"maintenance window EndTime", `{"MaintenanceWindows": [{"StartTime": "cron(0 0 ? * SUN *)", "EndTime": "2023-10-01T02:00:00Z"}]}`, []string{
			`/MaintenanceWindows/0: unknown property "EndTime" (allowed: DurationInMinutes, StartTime)`,
			"/MaintenanceWindows/0/DurationInMinutes: required property is missing"}},
		{"empty StartTime", `{"MaintenanceWindows": [{"StartTime": "", "DurationInMinutes": 60}]}`, []string{
			"/MaintenanceWindows/0/StartTime: 0 characters, at least 1 required"}},
		{"StartTime too long", fmt.Sprintf(`{"MaintenanceWindows": [{"StartTime": %q, "DurationInMinutes": 60}]}`, long(257)), []string{
			"/MaintenanceWindows/0/StartTime: 257 characters, at most 256 allowed"}},
		{"DurationInMinutes 0", `{"MaintenanceWindows": [{"StartTime": "cron(0 0 ? * SUN *)", "DurationInMinutes": 0}]}`, []string{
			"/MaintenanceWindows/0/DurationInMinutes: (sensitive) is less than the minimum 1"}},
		{"DurationInMinutes above 1430", `{"MaintenanceWindows": [{"StartTime": "cron(0 0 ? * SUN *)", "DurationInMinutes": 1431}]}`, []string{
			"/MaintenanceWindows/0/DurationInMinutes: (sensitive) is greater than the maximum 1430"}},
		{"empty package version", `{"DestinationPackageVersions": [""]}`, []string{
			"/DestinationPackageVersions/0: 0 characters, at least 1 required"}},
		{"package version too long", fmt.Sprintf(`{"DestinationPackageVersions": [%q]}`, "arn:"+long(1597)), []string{
			"/DestinationPackageVersions/0: 1601 characters, at most 1600 allowed"}},
		{"package version not an ARN", `{"DestinationPackageVersions": ["my-package"]}`, []string{
			`/DestinationPackageVersions/0: (sensitive) does not match pattern ^arn:[!-~]+$`}},
		{"51 tags", fmt.Sprintf(`{"Tags": %s}`, tags(51)), []string{
			"/Tags: 51 items, at most 50 allowed"}},
		{"duplicate tags", `{"Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}]}`, []string{
			"/Tags: items 0 and 2 are equal; items must be unique"}},
		{"tag without Value", `{"Tags": [{"Key": "a"}]}`, []string{
			"/Tags/0/Value: required property is missing"}},
		{"empty tag key and value", `{"Tags": [{"Key": "", "Value": ""}]}`, []string{
			"/Tags/0/Key: 0 characters, at least 1 required",
			"/Tags/0/Value: 0 characters, at least 1 required"}},
		{"tag key and value too long", fmt.Sprintf(`{"Tags": [{"Key": %q, "Value": %q}]}`, long(129), long(257)), []string{
			"/Tags/0/Key: 129 characters, at most 128 allowed",
			"/Tags/0/Value: 257 characters, at most 256 allowed"}},
		{"tag key IoT refuses", `{"Tags": [{"Key": "cost#center", "Value": "1"}]}`, []string{
			`/Tags/0/Key: "cost#center" does not match pattern ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`}},
		{"tag with an extra member", `{"Tags": [{"Key": "a", "Value": "1", "Owner": "me"}]}`, []string{
			`/Tags/0: unknown property "Owner" (allowed: Key, Value)`}},
		{"Tags not an array", `{"Tags": {"Key": "a", "Value": "1"}}`, []string{
			"/Tags: expected array, got object"}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		if seen[tt.name] {
			t.Fatalf("duplicate case %q", tt.name)
		}
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			model := schema.Merge(base, schema.Decode(t, tt.patch))
			got := schema.ViolationLines(s.DesiredViolations(model))
			if !slices.Equal(got, tt.want) {
				t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			err := s.ValidateDesired(model)
			if (err == nil) != (len(tt.want) == 0) {
				t.Errorf("ValidateDesired = %v, want an error exactly when violations are expected", err)
			}
		})
	}
	if invalid := len(tests) - 1; invalid < 30 {
		t.Fatalf("only %d invalid cases, want at least 30", invalid)
	}
}

// TestServiceRulesMatchIoTModel checks the JobTemplate service rules
// against the IoT API model they cite.
func TestServiceRulesMatchIoTModel(t *testing.T) {
	path := filepath.Join(filepath.Dir(schema.SchemasDir(t)), "api", "iot-2015-05-28.service-2.json")
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
	s := ruled(t, jobTemplate)
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
	s := ruled(t, jobTemplate)
	// ServiceViolations alone reports what IoT rejects even where the
	// registry schema also does, as the emulator needs.
	got := schema.ViolationLines(s.ServiceViolations(schema.Decode(t, `{"JobTemplateId": "", "Description": "d",
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
	if vs := ruled(t, "AWS::Logs::LogGroup").ServiceViolations(map[string]any{}); vs != nil {
		t.Errorf("LogGroup has no service rules, got %v", vs)
	}
}

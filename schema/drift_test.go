package schema

import (
	"reflect"
	"testing"
)

func TestDrift(t *testing.T) {
	jt := lookup(t, jobTemplate)
	lg := lookup(t, "AWS::Logs::LogGroup")
	recordedJT := `{"JobTemplateId": "t", "Description": "d", "Document": "{}", "TimeoutConfig": {"InProgressTimeoutInMinutes": 5},
		"Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}`
	tests := []struct {
		name     string
		s        *Schema
		recorded string
		live     string
		want     []DriftEntry
	}{
		{"write-only absent from the read", jt, recordedJT,
			`{"Arn": "arn:aws:iot:us-east-1:123456789012:jobtemplate/t", "JobTemplateId": "t", "Description": "d", "Tags": [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}]}`,
			nil},
		{"description changed out of band", jt, recordedJT,
			`{"JobTemplateId": "t", "Description": "edited", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}`,
			[]DriftEntry{{Path: "/Description", Recorded: "d", Live: "edited"}}},
		{"tag removed out of band", jt, recordedJT,
			`{"JobTemplateId": "t", "Description": "d", "Tags": [{"Key": "a", "Value": "1"}]}`,
			[]DriftEntry{{Path: "/Tags",
				Recorded: []any{map[string]any{"Key": "a", "Value": "1"}, map[string]any{"Key": "b", "Value": "2"}},
				Live:     []any{map[string]any{"Key": "a", "Value": "1"}}}}},
		{"tags deleted", jt, recordedJT, `{"JobTemplateId": "t", "Description": "d"}`,
			[]DriftEntry{{Path: "/Tags", Recorded: []any{map[string]any{"Key": "a", "Value": "1"}, map[string]any{"Key": "b", "Value": "2"}}}}},
		{"service defaults are not drift", lg, `{"LogGroupName": "app", "RetentionInDays": 7}`,
			`{"LogGroupName": "app", "RetentionInDays": 7, "LogGroupClass": "STANDARD", "Arn": "arn:aws:logs:us-east-1:123456789012:log-group:app:*"}`,
			nil},
		{"retention changed and name", lg, `{"LogGroupName": "app", "RetentionInDays": 7}`,
			`{"LogGroupName": "app2", "RetentionInDays": 30}`,
			[]DriftEntry{{Path: "/LogGroupName", Recorded: "app", Live: "app2"}, {Path: "/RetentionInDays", Recorded: 7.0, Live: 30.0}}},
		{"nested defaults inside objects", lg, `{"DataProtectionPolicy": {"Name": "p"}}`,
			`{"DataProtectionPolicy": {"Name": "p", "Version": "2021-06-01"}}`, nil},
		{"nested member changed", lg, `{"DataProtectionPolicy": {"Name": "p", "Statement": [1, 2]}}`,
			`{"DataProtectionPolicy": {"Name": "q", "Statement": [2, 1]}}`,
			[]DriftEntry{{Path: "/DataProtectionPolicy/Name", Recorded: "p", Live: "q"}, {Path: "/DataProtectionPolicy/Statement/0", Recorded: 1.0, Live: 2.0}, {Path: "/DataProtectionPolicy/Statement/1", Recorded: 2.0, Live: 1.0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.s.Drift(decode(t, tt.recorded), decode(t, tt.live))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Drift = %#v\nwant    %#v", got, tt.want)
			}
		})
	}
}

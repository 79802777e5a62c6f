package iot_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/athanor-dev/athanor/aws/iot"
)

// The four examples of the seed documentation page, written against the
// typed package with their shapes corrected as DESIGN.md tabulates.
func seedExamples() map[string]iot.JobTemplateArgs {
	return map[string]iot.JobTemplateArgs{
		"minimal": {
			Description:   "Basic job template for device updates",
			JobTemplateId: "device-update-template",
			Document:      iot.InlineDocument(`{"operation":"update"}`),
			TimeoutConfig: iot.JobTemplateTimeoutConfig{InProgressTimeoutInMinutes: 60},
			Tags:          []iot.JobTemplateTag{{Key: "Environment", Value: "Production"}},
		},
		"advanced": {
			Description:   "Advanced job template for device maintenance",
			JobTemplateId: "maintenance-job-template",
			Document:      iot.InlineDocument(`{"operation":"updateFirmware","version":"1.2.3"}`),
			JobExecutionsRetryConfig: &iot.JobTemplateJobExecutionsRetryConfig{
				RetryCriteriaList: []iot.JobTemplateRetryCriteria{
					{FailureType: iot.JobTemplateJobRetryFailureTypeFailed, NumberOfRetries: new(3)},
				},
			},
			AbortConfig: iot.JobTemplateAbortConfig{
				CriteriaList: []iot.JobTemplateAbortCriteria{{
					Action:                    iot.JobTemplateActionCancel,
					FailureType:               iot.JobTemplateFailureTypeFailed,
					MinNumberOfExecutedThings: 10,
					ThresholdPercentage:       20,
				}},
			},
			MaintenanceWindows: []iot.JobTemplateMaintenanceWindow{
				{StartTime: "cron(0 0 ? * SUN *)", DurationInMinutes: 120},
			},
		},
		"presigned": {
			Description:   "Job template with presigned URL for document access",
			JobTemplateId: "presigned-url-job-template",
			Document:      iot.DocumentSource("https://my-bucket.s3.amazonaws.com/job-documents/updateFirmware.json"),
			PresignedUrlConfig: iot.JobTemplatePresignedUrlConfig{
				ExpiresInSec: 3600,
				RoleArn:      "arn:aws:iam::123456789012:role/service-role/IoTJobRole",
			},
		},
		"rollout": {
			Description:   "Job template with rollout configuration",
			JobTemplateId: "rollout-job-template",
			Document:      iot.InlineDocument(`{"operation":"update"}`),
			JobExecutionsRolloutConfig: &iot.JobTemplateJobExecutionsRolloutConfig{
				MaximumPerMinute: 10,
				ExponentialRolloutRate: iot.JobTemplateExponentialRolloutRate{
					BaseRatePerMinute:    5,
					IncrementFactor:      2,
					RateIncreaseCriteria: iot.JobTemplateRateIncreaseCriteria{NumberOfNotifiedThings: 10},
				},
			},
			JobExecutionsRetryConfig: &iot.JobTemplateJobExecutionsRetryConfig{
				RetryCriteriaList: []iot.JobTemplateRetryCriteria{
					{FailureType: iot.JobTemplateJobRetryFailureTypeAll, NumberOfRetries: new(5)},
				},
			},
		},
	}
}

// seedJSON reads the untyped form of a seed example that the schema
// package validates.
func seedJSON(t *testing.T, name string) any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "schema", "testdata", "seed", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSeedExamplesMarshalToSeedJSON(t *testing.T) {
	for name, args := range seedExamples() {
		t.Run(name, func(t *testing.T) {
			data, err := json.Marshal(args)
			if err != nil {
				t.Fatal(err)
			}
			var got any
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			if want := seedJSON(t, name); !reflect.DeepEqual(got, want) {
				t.Errorf("typed example marshals to\n%s\nwant the JSON of schema/testdata/seed/%s.json", data, name)
			}
		})
	}
}

func TestJobTemplateArgsRoundTrip(t *testing.T) {
	for name, args := range seedExamples() {
		t.Run(name, func(t *testing.T) {
			data, err := json.Marshal(args)
			if err != nil {
				t.Fatal(err)
			}
			var back iot.JobTemplateArgs
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, args) {
				t.Errorf("round trip gave %+v, want %+v", back, args)
			}
		})
	}
}

func TestJobTemplateArgsDocumentExclusive(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    iot.JobDocument
		wantErr bool
	}{
		{"inline", `{"Document":"{}"}`, iot.InlineDocument("{}"), false},
		{"source", `{"DocumentSource":"https://b/k"}`, iot.DocumentSource("https://b/k"), false},
		{"neither", `{"JobArn":"arn:aws:iot:us-east-1:1:job/j"}`, nil, false},
		{"both", `{"Document":"{}","DocumentSource":"https://b/k"}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a iot.JobTemplateArgs
			err := json.Unmarshal([]byte(tt.json), &a)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error decoding %s", tt.json)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Document != tt.want {
				t.Errorf("Document = %#v, want %#v", a.Document, tt.want)
			}
		})
	}
}

func TestEnums(t *testing.T) {
	if got := iot.JobTemplateFailureTypeTimedOut.String(); got != "TIMED_OUT" {
		t.Errorf("String() = %q", got)
	}
	if got := iot.JobTemplateFailureTypeValues(); len(got) != 4 || got[3] != iot.JobTemplateFailureTypeAll {
		t.Errorf("FailureTypeValues() = %v", got)
	}
	// The escape hatch reaches values the registry does not list; they
	// marshal as given and decode back.
	data, err := json.Marshal(iot.JobTemplateAbortCriteria{Action: iot.JobTemplateActionOf("PAUSE")})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"Action":"PAUSE","ThresholdPercentage":0}`; string(data) != want {
		t.Errorf("marshal = %s, want %s", data, want)
	}
	var c iot.JobTemplateAbortCriteria
	if err := json.Unmarshal([]byte(`{"Action":"CANCEL","FailureType":"REJECTED"}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.Action != iot.JobTemplateActionCancel || c.FailureType != iot.JobTemplateFailureTypeRejected {
		t.Errorf("decoded %+v", c)
	}
	if err := json.Unmarshal([]byte(`{"Action":7}`), &c); err == nil {
		t.Error("a number decoded into a string enum")
	}
	// The zero value is unset: omitted.
	data, err = json.Marshal(iot.JobTemplateRetryCriteria{NumberOfRetries: new(0)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"NumberOfRetries":0}`; string(data) != want {
		t.Errorf("marshal = %s, want %s", data, want)
	}
}

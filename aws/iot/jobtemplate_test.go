package iot_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/aws/iot"
)

// recorder is an athanor.Declarer that records the declaration and answers
// with a canned resource or error.
type recorder struct {
	typeName, logicalID string
	props               any
	opts                int
	res                 *athanor.Resource
	err                 error
}

func (r *recorder) Declare(typeName, logicalID string, props any, opts ...athanor.ResourceOption) (*athanor.Resource, error) {
	r.typeName, r.logicalID, r.props, r.opts = typeName, logicalID, props, len(opts)
	return r.res, r.err
}

func TestNewJobTemplate(t *testing.T) {
	args := seedExamples()["minimal"]
	arn := "arn:aws:iot:us-east-1:123456789012:jobtemplate/device-update-template"
	res := &athanor.Resource{
		Type:       iot.JobTemplateType,
		LogicalID:  "basicJobTemplate",
		Identifier: "device-update-template",
		Outputs:    map[string]any{"Arn": arn},
	}
	rec := &recorder{res: res}
	tpl, err := iot.NewJobTemplate(rec, "basicJobTemplate", args, athanor.Adopt())
	if err != nil {
		t.Fatal(err)
	}
	if rec.typeName != "AWS::IoT::JobTemplate" || rec.logicalID != "basicJobTemplate" || rec.opts != 1 {
		t.Errorf("Declare(%q, %q, opts=%d)", rec.typeName, rec.logicalID, rec.opts)
	}
	if !reflect.DeepEqual(rec.props, args) {
		t.Errorf("declared props %#v, want the args", rec.props)
	}
	if tpl.Arn != arn || tpl.JobTemplateId != "device-update-template" || tpl.Resource != res || tpl.Identifier != "device-update-template" {
		t.Errorf("outputs = %+v", tpl)
	}
}

func TestNewJobTemplateOutputs(t *testing.T) {
	args := iot.JobTemplateArgs{JobTemplateId: "declared", Description: "d"}
	tests := []struct {
		name    string
		outputs map[string]any
		wantArn string
		wantID  string
		wantErr string
	}{
		{"no outputs", nil, "", "declared", ""},
		{"identifier returned", map[string]any{"JobTemplateId": "returned"}, "", "returned", ""},
		{"unknown in a preview", map[string]any{"Arn": athanor.UnknownPrefix + ": t.Arn)"}, athanor.UnknownPrefix + ": t.Arn)", "declared", ""},
		{"wrong type", map[string]any{"Arn": 42.0}, "", "", "output Arn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{res: &athanor.Resource{Type: iot.JobTemplateType, LogicalID: "t", Outputs: tt.outputs}}
			tpl, err := iot.NewJobTemplate(rec, "t", args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to name %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tpl.Arn != tt.wantArn || tpl.JobTemplateId != tt.wantID {
				t.Errorf("Arn %q JobTemplateId %q, want %q %q", tpl.Arn, tpl.JobTemplateId, tt.wantArn, tt.wantID)
			}
		})
	}
}

func TestNewJobTemplateError(t *testing.T) {
	want := errors.New("validation failed")
	tpl, err := iot.NewJobTemplate(&recorder{err: want}, "t", iot.JobTemplateArgs{})
	if !errors.Is(err, want) || tpl != nil {
		t.Errorf("NewJobTemplate = %v, %v; want nil, %v", tpl, err, want)
	}
}

func ExampleJobTemplateArgs() {
	args := iot.JobTemplateArgs{
		JobTemplateId: "device-update-template",
		Description:   "Basic job template for device updates",
		Document:      iot.InlineDocument(`{"operation":"update"}`),
		TimeoutConfig: iot.JobTemplateTimeoutConfig{InProgressTimeoutInMinutes: 60},
		JobExecutionsRetryConfig: &iot.JobTemplateJobExecutionsRetryConfig{
			RetryCriteriaList: []iot.JobTemplateRetryCriteria{{FailureType: iot.JobTemplateJobRetryFailureTypeFailed, NumberOfRetries: new(3)}},
		},
		Tags: []iot.JobTemplateTag{{Key: "Environment", Value: "Production"}},
	}
	data, err := json.MarshalIndent(args, "", "  ")
	if err != nil {
		panic(err)
	}
	fmt.Println(string(data))
	// Output:
	// {
	//   "Description": "Basic job template for device updates",
	//   "JobTemplateId": "device-update-template",
	//   "JobExecutionsRetryConfig": {
	//     "RetryCriteriaList": [
	//       {
	//         "FailureType": "FAILED",
	//         "NumberOfRetries": 3
	//       }
	//     ]
	//   },
	//   "Tags": [
	//     {
	//       "Key": "Environment",
	//       "Value": "Production"
	//     }
	//   ],
	//   "TimeoutConfig": {
	//     "InProgressTimeoutInMinutes": 60
	//   },
	//   "Document": "{\"operation\":\"update\"}"
	// }
}

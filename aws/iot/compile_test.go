package iot_test

import (
	"strings"
	"testing"

	"github.com/athanor-dev/athanor/internal/gen/gentest"
)

// advancedBody is the seed's advanced example, corrected. Each
// does-not-compile case below puts one of the seed's mistakes back.
const advancedBody = `
	Description:   "Advanced job template for device maintenance",
	JobTemplateId: "maintenance-job-template",
	Document:      iot.InlineDocument("{\"operation\":\"updateFirmware\"}"),
	JobExecutionsRetryConfig: &iot.JobTemplateJobExecutionsRetryConfig{
		RetryCriteriaList: []iot.JobTemplateRetryCriteria{{FailureType: iot.JobTemplateJobRetryFailureTypeFailed, NumberOfRetries: new(3)}},
	},
	AbortConfig: iot.JobTemplateAbortConfig{CriteriaList: []iot.JobTemplateAbortCriteria{{
		Action:                    iot.JobTemplateActionCancel,
		FailureType:               iot.JobTemplateFailureTypeFailed,
		MinNumberOfExecutedThings: 10,
		ThresholdPercentage:       20,
	}}},
	MaintenanceWindows: []iot.JobTemplateMaintenanceWindow{{StartTime: "cron(0 0 ? * SUN *)", DurationInMinutes: 120}},
	JobExecutionsRolloutConfig: &iot.JobTemplateJobExecutionsRolloutConfig{MaximumPerMinute: 10},
`

func program(body string) []byte {
	return programWith(body, "")
}

// programWith is program with statements after the args.
func programWith(body, stmts string) []byte {
	return []byte(`package main

import (
	"encoding/json"
	"fmt"

	"github.com/athanor-dev/athanor/aws/iot"
)

func main() {
	args := iot.JobTemplateArgs{` + body + `}
	` + stmts + `
	b, _ := json.Marshal(args)
	fmt.Println(string(b))
}
`)
}

// TestSeedMistakesDoNotCompile writes each of the seed's wrong shapes
// against the typed package and expects the compiler to reject it with the
// relevant message; the corrected program must compile, so that the test
// cannot pass for the wrong reason.
func TestSeedMistakesDoNotCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a temporary module")
	}
	tests := []struct {
		name      string
		old, new  string // replacement in advancedBody
		stmts     string // statements after the args
		wantError string
	}{
		{
			// Enum values are constants: a program cannot redefine one.
			name:      "AssignEnumValue",
			stmts:     `p := &iot.JobTemplateActionCancel; _ = p`,
			wantError: "cannot take address of iot.JobTemplateActionCancel (constant",
		},
		{
			// Nor make one from a string other than through ...Of.
			name:      "ConvertStringToEnum",
			stmts:     `args.AbortConfig.CriteriaList[0].Action = iot.JobTemplateAction("PAUSE")`,
			wantError: "cannot convert \"PAUSE\" (untyped string constant) to type iot.JobTemplateAction",
		},
		{
			name:      "RetryAttempts",
			old:       `RetryCriteriaList: []iot.JobTemplateRetryCriteria{{FailureType: iot.JobTemplateJobRetryFailureTypeFailed, NumberOfRetries: new(3)}},`,
			new:       `RetryAttempts: 3,`,
			wantError: "unknown field RetryAttempts in struct literal of type iot.JobTemplateJobExecutionsRetryConfig",
		},
		{
			name:      "ActionABORT",
			old:       `Action:                    iot.JobTemplateActionCancel,`,
			new:       `Action: "ABORT",`,
			wantError: `cannot use "ABORT" (constant of type string) as iot.JobTemplateAction value in struct literal: string does not implement iot.JobTemplateAction`,
		},
		{
			name:      "ActionCANCELString",
			old:       `Action:                    iot.JobTemplateActionCancel,`,
			new:       `Action: "CANCEL",`,
			wantError: `cannot use "CANCEL" (constant of type string) as iot.JobTemplateAction value in struct literal: string does not implement iot.JobTemplateAction`,
		},
		{
			name:      "FailureTypeString",
			old:       `FailureType:               iot.JobTemplateFailureTypeFailed,`,
			new:       `FailureType: "FAILED",`,
			wantError: `cannot use "FAILED" (constant of type string) as iot.JobTemplateFailureType value in struct literal: string does not implement iot.JobTemplateFailureType`,
		},
		{
			name:      "MaintenanceWindowEndTime",
			old:       `{StartTime: "cron(0 0 ? * SUN *)", DurationInMinutes: 120}`,
			new:       `{StartTime: "2023-10-01T00:00:00Z", EndTime: "2023-10-01T02:00:00Z"}`,
			wantError: "unknown field EndTime in struct literal of type iot.JobTemplateMaintenanceWindow",
		},
		{
			name:      "MinimumPerMinute",
			old:       `{MaximumPerMinute: 10}`,
			new:       `{MaximumPerMinute: 10, MinimumPerMinute: 1}`,
			wantError: "unknown field MinimumPerMinute in struct literal of type iot.JobTemplateJobExecutionsRolloutConfig",
		},
		{
			name:      "DocumentAndDocumentSource",
			old:       `Document:      iot.InlineDocument("{\"operation\":\"updateFirmware\"}"),`,
			new:       `Document: iot.InlineDocument("{}"), DocumentSource: iot.DocumentSource("https://my-bucket.s3.amazonaws.com/doc.json"),`,
			wantError: "unknown field DocumentSource in struct literal of type iot.JobTemplateArgs",
		},
		{
			name:      "DocumentGivenTwice",
			old:       `Document:      iot.InlineDocument("{\"operation\":\"updateFirmware\"}"),`,
			new:       `Document: iot.InlineDocument("{}"), Document: iot.DocumentSource("https://my-bucket.s3.amazonaws.com/doc.json"),`,
			wantError: "duplicate field name Document in struct literal",
		},
		{
			name:      "DocumentPlainString",
			old:       `Document:      iot.InlineDocument("{\"operation\":\"updateFirmware\"}"),`,
			new:       `Document: "{}",`,
			wantError: "as iot.JobDocument value in struct literal: string does not implement iot.JobDocument",
		},
	}
	files := map[string][]byte{"control/main.go": program(advancedBody)}
	for _, tt := range tests {
		if !strings.Contains(advancedBody, tt.old) {
			t.Fatalf("%s: the control program lacks %q", tt.name, tt.old)
		}
		files["bad/"+strings.ToLower(tt.name)+"/main.go"] = programWith(strings.Replace(advancedBody, tt.old, tt.new, 1), tt.stmts)
	}
	dir := gentest.NewModule(t, files)
	if out, err := gentest.Go(t, dir, "vet", "./control"); err != nil {
		t.Fatalf("the corrected program does not compile: %v\n%s", err, out)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := gentest.Go(t, dir, "vet", "./bad/"+strings.ToLower(tt.name))
			if err == nil {
				t.Fatalf("the program compiles:\n%s", files["bad/"+strings.ToLower(tt.name)+"/main.go"])
			}
			if !strings.Contains(out, tt.wantError) {
				t.Errorf("compiler output lacks %q:\n%s", tt.wantError, out)
			}
		})
	}
}

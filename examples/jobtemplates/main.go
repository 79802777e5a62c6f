// Command jobtemplates deploys the four AWS IoT job templates of the
// original documentation page, with their property shapes corrected against
// the AWS::IoT::JobTemplate schema, and prints their ARNs.
//
//	go run ./examples/jobtemplates             # deploy to the embedded emulator
//	go run ./examples/jobtemplates             # again: nothing changes
//	go run ./examples/jobtemplates --plan      # show what would change
//	go run ./examples/jobtemplates --destroy   # remove them
//
// Add --target aws to deploy to your AWS account instead, and --stage NAME
// to deploy another copy beside the first. The state is kept in .athanor,
// by the one state backend the athanor package links; to share it in
// PostgreSQL or S3 (--state postgres://... or s3://bucket/prefix), add
// import _ "github.com/athanor-dev/athanor/state/postgres" (or state/s3).
package main

import (
	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/aws/iot"
)

func main() {
	athanor.Main("jobtemplates", Templates)
}

// Templates declares the four job templates in parallel and exports their
// ARNs. Their JobTemplateIds are derived per stage (app.PhysicalName), so
// stages deploy side by side on one account: "device-update-template-dev"
// in stage dev, "device-update-template-prod" in prod.
func Templates(app *athanor.App) error {
	id := func(base string) string {
		return app.PhysicalName(base, athanor.NameFor(iot.JobTemplateType, "JobTemplateId"))
	}
	declare := func(logicalID string, args iot.JobTemplateArgs) {
		app.Go(func() error {
			tpl, err := iot.NewJobTemplate(app, logicalID, args)
			if err != nil {
				return err
			}
			app.Export(logicalID+"Arn", tpl.Arn)
			return nil
		})
	}

	// Minimal example.
	declare("basicJobTemplate", iot.JobTemplateArgs{
		Description:   "Basic job template for device updates",
		JobTemplateId: id("device-update-template"),
		Document:      iot.InlineDocument(`{"operation":"update"}`),
		TimeoutConfig: iot.JobTemplateTimeoutConfig{InProgressTimeoutInMinutes: 60},
		Tags:          []iot.JobTemplateTag{{Key: "Environment", Value: "Production"}},
	})

	// Advanced configuration. The seed gave both Document and
	// DocumentSource (a template takes one), a retry config with
	// "RetryAttempts" (the schema has RetryCriteriaList), an abort criterion
	// with Action "ABORT" (only CANCEL exists, and MinNumberOfExecutedThings
	// and ThresholdPercentage are required) and maintenance windows with an
	// end time (a window is a cron start and a duration).
	declare("advancedJobTemplate", iot.JobTemplateArgs{
		Description:   "Advanced job template for device maintenance",
		JobTemplateId: id("maintenance-job-template"),
		Document:      iot.InlineDocument(`{"operation":"updateFirmware","version":"1.2.3"}`),
		JobExecutionsRetryConfig: &iot.JobTemplateJobExecutionsRetryConfig{
			RetryCriteriaList: []iot.JobTemplateRetryCriteria{{FailureType: iot.JobTemplateJobRetryFailureTypeFailed, NumberOfRetries: ptr(3)}},
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
	})

	// Presigned URL configuration for document access.
	declare("presignedUrlJobTemplate", iot.JobTemplateArgs{
		Description:   "Job template with presigned URL for document access",
		JobTemplateId: id("presigned-url-job-template"),
		Document:      iot.DocumentSource("https://my-bucket.s3.amazonaws.com/job-documents/updateFirmware.json"),
		PresignedUrlConfig: iot.JobTemplatePresignedUrlConfig{
			ExpiresInSec: 3600,
			RoleArn:      "arn:aws:iam::123456789012:role/service-role/IoTJobRole",
		},
	})

	// Rollout with retries. The seed's "MinimumPerMinute" does not exist:
	// the other member of a rollout config is ExponentialRolloutRate.
	declare("rolloutJobTemplate", iot.JobTemplateArgs{
		Description:   "Job template with rollout configuration",
		JobTemplateId: id("rollout-job-template"),
		Document:      iot.InlineDocument(`{"operation":"rollout"}`),
		JobExecutionsRolloutConfig: &iot.JobTemplateJobExecutionsRolloutConfig{
			MaximumPerMinute: 10,
		},
		JobExecutionsRetryConfig: &iot.JobTemplateJobExecutionsRetryConfig{
			RetryCriteriaList: []iot.JobTemplateRetryCriteria{{FailureType: iot.JobTemplateJobRetryFailureTypeFailed, NumberOfRetries: ptr(5)}},
		},
	})
	return nil
}

func ptr[T any](v T) *T { return &v }

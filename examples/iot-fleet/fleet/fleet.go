// Package fleet is the stack of the iot-fleet example: job documents in S3,
// a role for presigned URLs and notifications, an SNS topic, a topic rule
// and the job templates, each fed from the others' typed outputs.
package fleet

import (
	"maps"
	"slices"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/aws/iam"
	"github.com/athanor-dev/athanor/aws/iot"
	"github.com/athanor-dev/athanor/aws/s3"
	"github.com/athanor-dev/athanor/aws/sns"
)

// DocumentPrefix is the key prefix of the job documents in the bucket.
const DocumentPrefix = "job-documents/"

// RolePath is the IAM path of the role AWS IoT assumes.
const RolePath = "/service-role/"

// Templates are the job templates the stack declares, by logical id, with
// the key of each one's document under DocumentPrefix.
var Templates = map[string]string{
	"firmwareUpdate": "firmware-update.json",
	"configRollout":  "config-rollout.json",
}

// Stack declares the fleet's resources and exports the ARNs of the bucket
// (bucketArn), the topic (topicArn), the role (roleArn) and each template
// (<logical id>Arn).
func Stack(app *athanor.App) error {
	// The bucket and the topic depend on nothing: declare them in parallel.
	var bucket *s3.Bucket
	var topic *sns.Topic
	app.Go(func() error {
		var err error
		bucket, err = s3.NewBucket(app, "jobDocuments", s3.BucketArgs{
			BucketName: new(app.PhysicalName("fleet-job-documents", athanor.NameFor(s3.BucketType, "BucketName"))),
			VersioningConfiguration: s3.BucketVersioningConfiguration{
				Status: s3.BucketVersioningConfigurationStatusEnabled,
			},
			PublicAccessBlockConfiguration: &s3.BucketPublicAccessBlockConfiguration{
				BlockPublicAcls: new(true), BlockPublicPolicy: new(true),
				IgnorePublicAcls: new(true), RestrictPublicBuckets: new(true),
			},
		})
		return err
	})
	app.Go(func() error {
		var err error
		topic, err = sns.NewTopic(app, "jobNotifications", sns.TopicArgs{
			TopicName:   new(app.PhysicalName("fleet-job-notifications", athanor.NameFor(sns.TopicType, "TopicName"))),
			DisplayName: new("Fleet job notifications"),
		})
		return err
	})
	if err := app.Wait(); err != nil {
		return err
	}
	app.Export("bucketArn", bucket.Arn)
	app.Export("topicArn", topic.TopicArn)

	// AWS IoT assumes the role to presign the job documents' URLs and to
	// publish to the topic. The policy's object ARN is the bucket's with a
	// suffix: the engine finds the bucket's ARN inside it, so the role
	// depends on the bucket.
	role, err := iam.NewRole(app, "jobsRole", iam.RoleArgs{
		RoleName: new(app.PhysicalName("FleetJobsRole", athanor.NameFor(iam.RoleType, "RoleName"))),
		Path:     new(RolePath),
		AssumeRolePolicyDocument: map[string]any{
			"Version": "2012-10-17",
			"Statement": []any{map[string]any{
				"Effect":    "Allow",
				"Principal": map[string]any{"Service": "iot.amazonaws.com"},
				"Action":    "sts:AssumeRole",
			}},
		},
		Policies: []iam.RolePolicyProperty{
			{PolicyName: "read-job-documents", PolicyDocument: allow("s3:GetObject", bucket.Arn+"/"+DocumentPrefix+"*")},
			{PolicyName: "publish-job-notifications", PolicyDocument: allow("sns:Publish", topic.TopicArn)},
		},
	})
	if err != nil {
		return err
	}
	app.Export("roleArn", role.Arn)

	// AWS IoT publishes job events on reserved MQTT topics; this rule
	// forwards those of the fleet's jobs to the topic, as the role.
	app.Go(func() error {
		_, err := iot.NewTopicRule(app, "jobEvents", iot.TopicRuleArgs{
			RuleName: new(app.PhysicalName("fleet_job_events", athanor.NameFor(iot.TopicRuleType, "RuleName"))),
			TopicRulePayload: iot.TopicRulePayload{
				Sql:          "SELECT * FROM '$aws/events/job/#'",
				RuleDisabled: new(false),
				Actions: []iot.TopicRuleAction{{
					Sns: &iot.TopicRuleSnsAction{TargetArn: topic.TopicArn, RoleArn: role.Arn, MessageFormat: new("JSON")},
				}},
			},
		})
		return err
	})

	// The templates read their documents from the bucket, through URLs
	// presigned with the role. The URL holds the bucket's domain name, so
	// each template depends on the bucket (and on the role).
	for _, logicalID := range slices.Sorted(maps.Keys(Templates)) {
		key := Templates[logicalID]
		app.Go(func() error {
			tpl, err := iot.NewJobTemplate(app, logicalID, iot.JobTemplateArgs{
				JobTemplateId: app.PhysicalName("fleet-"+logicalID, athanor.NameFor(iot.JobTemplateType, "JobTemplateId")),
				Description:   "Fleet job " + logicalID + ", document " + key,
				Document:      iot.DocumentSource("https://" + bucket.RegionalDomainName + "/" + DocumentPrefix + key),
				PresignedUrlConfig: iot.JobTemplatePresignedUrlConfig{
					RoleArn:      role.Arn,
					ExpiresInSec: 3600,
				},
				TimeoutConfig: iot.JobTemplateTimeoutConfig{InProgressTimeoutInMinutes: 60},
				AbortConfig: iot.JobTemplateAbortConfig{CriteriaList: []iot.JobTemplateAbortCriteria{{
					Action:                    iot.JobTemplateActionCancel,
					FailureType:               iot.JobTemplateFailureTypeFailed,
					MinNumberOfExecutedThings: 10,
					ThresholdPercentage:       20,
				}}},
			})
			if err != nil {
				return err
			}
			app.Export(logicalID+"Arn", tpl.Arn)
			return nil
		})
	}
	return nil
}

// allow is an IAM policy document allowing action on resource.
func allow(action, resource string) map[string]any {
	return map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect":   "Allow",
			"Action":   action,
			"Resource": resource,
		}},
	}
}

// Package services holds the rules AWS services enforce beyond their
// CloudFormation registry schemas, as schema.Rules, and the registry that
// carries them (Default): the embedded registry with every service's rules,
// which the engine and the emulator use unless given another.
//
// Each rule names the API model shape it comes from; the models are the
// botocore service definitions (for IoT, iot-2015-05-28.service-2.json).
// The generic layer (schema.Rule, the checks, Registry.WithRules) stays in
// package schema.
package services

import (
	"maps"
	"sync"

	"github.com/athanor-dev/athanor/schema"
)

// IoT holds AWS IoT's rules.
//
// Checked against the IoT model and deliberately absent: a maximum for
// MaximumPerMinute (shape MaxJobExecutionsPerMin has only "min": 1) and a
// pattern for MaintenanceWindows StartTime (shape CronExpression has only
// "min": 1 and "max": 256).
var IoT = schema.Rules{
	"AWS::IoT::JobTemplate": {
		{Shape: "iot-2015-05-28#CreateJobTemplateRequest (document, documentSource, jobArn)", Check: jobTemplateDocument},
		// IoT applies its patterns to the whole value; the registry's copy
		// is unanchored, so it accepts "a b".
		{Shape: "iot-2015-05-28#JobTemplateId", Pointer: "/properties/JobTemplateId", Check: schema.WholePattern(`^[a-zA-Z0-9_-]+$`)},
		{Shape: "iot-2015-05-28#JobDescription", Pointer: "/properties/Description", Check: schema.WholePattern(`^[^\p{C}]+$`)},
		{Shape: "iot-2015-05-28#IncrementFactor", Pointer: "/properties/JobExecutionsRolloutConfig/ExponentialRolloutRate/IncrementFactor", Check: schema.Minimum(1.1)},
		{Shape: "iot-2015-05-28#RolloutRatePerMinute", Pointer: "/properties/JobExecutionsRolloutConfig/ExponentialRolloutRate/BaseRatePerMinute", Check: schema.Maximum(1000)},
		{Shape: "iot-2015-05-28#JobExecutionsRetryConfig", Pointer: "/properties/JobExecutionsRetryConfig", Check: schema.Required("RetryCriteriaList")},
		{Shape: "iot-2015-05-28#RetryCriteria", Pointer: "/properties/JobExecutionsRetryConfig/RetryCriteriaList/*", Check: schema.Required("FailureType", "NumberOfRetries")},
		{Shape: "iot-2015-05-28#MaintenanceWindow", Pointer: "/properties/MaintenanceWindows/*", Check: schema.Required("StartTime", "DurationInMinutes")},
		{Shape: "iot-2015-05-28#PackageVersionArn", Pointer: "/properties/DestinationPackageVersions/*", Check: schema.WholePattern(`^arn:[!-~]+$`)},
		{Shape: "iot-2015-05-28#TagKey", Pointer: "/properties/Tags/*/Key", Check: schema.WholePattern(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)},
	},
}

// jobTemplateDocument: a job template takes its document from Document,
// DocumentSource or an existing job (JobArn), and not from both Document
// and DocumentSource.
func jobTemplateDocument(v any, _ string, _ *schema.Schema) []schema.Violation {
	m, _ := v.(map[string]any)
	_, doc := m["Document"]
	_, src := m["DocumentSource"]
	_, job := m["JobArn"]
	switch {
	case doc && src:
		return []schema.Violation{{Path: "/DocumentSource", Message: "give either Document or DocumentSource, not both"}}
	case !doc && !src && !job:
		return []schema.Violation{{Path: "/Document", Message: "required property is missing (give Document, DocumentSource or JobArn)"}}
	}
	return nil
}

// All returns every service's rules.
func All() schema.Rules {
	all := schema.Rules{}
	for _, rs := range []schema.Rules{IoT} {
		maps.Copy(all, rs)
	}
	return all
}

// Default returns the embedded registry (schema.Default) with every
// service's rules.
func Default() *schema.Registry { return defaultRegistry() }

var defaultRegistry = sync.OnceValue(func() *schema.Registry { return schema.Default().WithRules(All()) })

package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/athanor-dev/athanor/cloudcontrol"
)

// writeOnlyReader recovers write-only values of one registry type, which
// Cloud Control never returns, from the service's own API. It sets what it
// recovers in desired and returns the model paths it answers for (set, or
// unset because the resource has none), so that the others are reported
// as not recovered.
type writeOnlyReader func(ctx context.Context, c *cloudcontrol.Client, identifier string, desired map[string]any) (map[string]bool, error)

// writeOnlyReaders are the types whose write-only values a service API
// gives back.
var writeOnlyReaders = map[string]writeOnlyReader{
	"AWS::IoT::JobTemplate": jobTemplateWriteOnly,
}

// unrecoverable explains, per type and model path, why a write-only value
// cannot be read back even with the service's API.
var unrecoverable = map[string]map[string]string{
	"AWS::IoT::JobTemplate": {
		"/JobArn": "write-only, and DescribeJobTemplate does not return it (the job the template was made from): not recovered; if the template was created from a job, set JobArn (the next run then plans that change)",
	},
}

// iotClient is an AWS IoT client with the configuration, credentials and
// endpoint of c: the emulator serves the IoT API on the Cloud Control port,
// and AWS in the same region.
func iotClient(c *cloudcontrol.Client) *iot.Client {
	o := c.SDK().Options()
	return iot.New(iot.Options{
		Region: o.Region, Credentials: o.Credentials, BaseEndpoint: o.BaseEndpoint, HTTPClient: o.HTTPClient,
		AppID: o.AppID, Logger: o.Logger, ClientLogMode: o.ClientLogMode,
	})
}

// jobTemplateWriteOnly reads a job template's document and configurations
// with IoT DescribeJobTemplate, a read.
func jobTemplateWriteOnly(ctx context.Context, c *cloudcontrol.Client, id string, desired map[string]any) (map[string]bool, error) {
	out, err := iotClient(c).DescribeJobTemplate(ctx, &iot.DescribeJobTemplateInput{JobTemplateId: aws.String(id)})
	if err != nil {
		return nil, fmt.Errorf("IoT DescribeJobTemplate %s: %w", id, err)
	}
	if out.Document != nil {
		desired["Document"] = *out.Document
	}
	if out.DocumentSource != nil {
		desired["DocumentSource"] = *out.DocumentSource
	}
	if t := out.TimeoutConfig; t != nil {
		m := map[string]any{}
		putInt(m, "InProgressTimeoutInMinutes", t.InProgressTimeoutInMinutes)
		desired["TimeoutConfig"] = m
	}
	if a := out.AbortConfig; a != nil {
		list := []any{}
		for _, c := range a.CriteriaList {
			m := map[string]any{}
			putString(m, "Action", string(c.Action))
			putString(m, "FailureType", string(c.FailureType))
			putInt(m, "MinNumberOfExecutedThings", c.MinNumberOfExecutedThings)
			if c.ThresholdPercentage != nil {
				m["ThresholdPercentage"] = *c.ThresholdPercentage
			}
			list = append(list, m)
		}
		desired["AbortConfig"] = map[string]any{"CriteriaList": list}
	}
	if r := out.JobExecutionsRolloutConfig; r != nil {
		desired["JobExecutionsRolloutConfig"] = rolloutModel(r)
	}
	if p := out.PresignedUrlConfig; p != nil {
		m := map[string]any{}
		if p.RoleArn != nil {
			m["RoleArn"] = *p.RoleArn
		}
		putInt(m, "ExpiresInSec", p.ExpiresInSec)
		desired["PresignedUrlConfig"] = m
	}
	if r := out.JobExecutionsRetryConfig; r != nil {
		list := []any{}
		for _, c := range r.CriteriaList {
			m := map[string]any{}
			putString(m, "FailureType", string(c.FailureType))
			putInt(m, "NumberOfRetries", c.NumberOfRetries)
			list = append(list, m)
		}
		m := map[string]any{}
		if len(list) > 0 {
			m["RetryCriteriaList"] = list
		}
		desired["JobExecutionsRetryConfig"] = m
	}
	if out.MaintenanceWindows != nil {
		list := []any{}
		for _, w := range out.MaintenanceWindows {
			m := map[string]any{}
			if w.StartTime != nil {
				m["StartTime"] = *w.StartTime
			}
			putInt(m, "DurationInMinutes", w.DurationInMinutes)
			list = append(list, m)
		}
		desired["MaintenanceWindows"] = list
	}
	if out.DestinationPackageVersions != nil {
		list := make([]any, len(out.DestinationPackageVersions))
		for i, v := range out.DestinationPackageVersions {
			list[i] = v
		}
		desired["DestinationPackageVersions"] = list
	}
	answered := map[string]bool{}
	for _, p := range []string{"Document", "DocumentSource", "TimeoutConfig", "AbortConfig", "JobExecutionsRolloutConfig",
		"PresignedUrlConfig", "JobExecutionsRetryConfig", "MaintenanceWindows", "DestinationPackageVersions"} {
		answered["/"+p] = true
	}
	return answered, nil
}

// rolloutModel is the registry model of an IoT rollout configuration
// (exponentialRate is the registry's ExponentialRolloutRate).
func rolloutModel(r *types.JobExecutionsRolloutConfig) map[string]any {
	m := map[string]any{}
	putInt(m, "MaximumPerMinute", r.MaximumPerMinute)
	if e := r.ExponentialRate; e != nil {
		x := map[string]any{}
		putInt(x, "BaseRatePerMinute", e.BaseRatePerMinute)
		if e.IncrementFactor != nil {
			x["IncrementFactor"] = *e.IncrementFactor
		}
		if c := e.RateIncreaseCriteria; c != nil {
			y := map[string]any{}
			putInt(y, "NumberOfNotifiedThings", c.NumberOfNotifiedThings)
			putInt(y, "NumberOfSucceededThings", c.NumberOfSucceededThings)
			x["RateIncreaseCriteria"] = y
		}
		m["ExponentialRolloutRate"] = x
	}
	return m
}

// putInt sets m[name] to *v as a model number, unless v is nil.
func putInt[T int32 | int64](m map[string]any, name string, v *T) {
	if v != nil {
		m[name] = float64(*v)
	}
}

// putString sets m[name] to v unless it is empty (an enum the answer does
// not carry).
func putString(m map[string]any, name, v string) {
	if v != "" {
		m[name] = v
	}
}

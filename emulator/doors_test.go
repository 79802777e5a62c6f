package emulator

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	cctypes "github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestIoTJobTemplates(t *testing.T) {
	te := startEmulator(t, Options{})
	ctx := context.Background()

	created, err := te.iot.CreateJobTemplate(ctx, &iot.CreateJobTemplateInput{
		JobTemplateId: aws.String("from-iot"),
		Description:   aws.String("made through the IoT API"),
		Document:      aws.String(`{"op":"reboot"}`),
		JobExecutionsRolloutConfig: &iottypes.JobExecutionsRolloutConfig{
			ExponentialRate: &iottypes.ExponentialRolloutRate{
				BaseRatePerMinute: aws.Int32(5), IncrementFactor: aws.Float64(1.5),
				RateIncreaseCriteria: &iottypes.RateIncreaseCriteria{NumberOfNotifiedThings: aws.Int32(10)},
			},
		},
		JobExecutionsRetryConfig: &iottypes.JobExecutionsRetryConfig{CriteriaList: []iottypes.RetryCriteria{
			{FailureType: iottypes.RetryableFailureTypeTimedOut, NumberOfRetries: aws.Int32(2)},
		}},
		Tags: []iottypes.Tag{{Key: aws.String("owner"), Value: aws.String("fleet")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:iot:us-east-1:123456789012:jobtemplate/from-iot"
	if aws.ToString(created.JobTemplateArn) != arn {
		t.Fatalf("arn %s", aws.ToString(created.JobTemplateArn))
	}
	// Cloud Control sees it in the registry's shape.
	props := te.get(t, jobTemplate, "from-iot")
	if keys(props) != "Arn,Description,JobTemplateId,Tags" || props["Arn"] != arn {
		t.Fatalf("Cloud Control read: %v", props)
	}
	_, err = te.iot.CreateJobTemplate(ctx, &iot.CreateJobTemplateInput{JobTemplateId: aws.String("from-iot"), Description: aws.String("d"), Document: aws.String("{}")})
	wantAPIError(t, err, "ConflictException")

	// The IoT API's stricter rules.
	for name, in := range map[string]*iot.CreateJobTemplateInput{
		"increment factor": {JobTemplateId: aws.String("bad-1"), Description: aws.String("d"), Document: aws.String("{}"),
			JobExecutionsRolloutConfig: &iottypes.JobExecutionsRolloutConfig{ExponentialRate: &iottypes.ExponentialRolloutRate{
				BaseRatePerMinute: aws.Int32(5), IncrementFactor: aws.Float64(1.05), RateIncreaseCriteria: &iottypes.RateIncreaseCriteria{NumberOfNotifiedThings: aws.Int32(1)},
			}}},
		"no document": {JobTemplateId: aws.String("bad-2"), Description: aws.String("d")},
		"bad id":      {JobTemplateId: aws.String("bad.id"), Description: aws.String("d"), Document: aws.String("{}")},
	} {
		_, err := te.iot.CreateJobTemplate(ctx, in)
		if err == nil || apiCode(t, err) != "InvalidRequestException" {
			t.Errorf("%s: got %v, want InvalidRequestException", name, err)
		}
	}

	// A template created through Cloud Control, described through IoT.
	te.final(t, te.create(t, jobTemplate, fullJobTemplate("from-cc")), cctypes.OperationStatusSuccess)
	desc, err := te.iot.DescribeJobTemplate(ctx, &iot.DescribeJobTemplateInput{JobTemplateId: aws.String("from-cc")})
	if err != nil {
		t.Fatal(err)
	}
	if desc.AbortConfig == nil || len(desc.AbortConfig.CriteriaList) != 1 || desc.AbortConfig.CriteriaList[0].Action != iottypes.AbortActionCancel ||
		len(desc.MaintenanceWindows) != 1 || aws.ToString(desc.MaintenanceWindows[0].StartTime) != "cron(0 2 ? * SUN *)" ||
		desc.PresignedUrlConfig == nil || aws.ToInt64(desc.PresignedUrlConfig.ExpiresInSec) != 600 {
		t.Fatalf("DescribeJobTemplate: %+v", desc)
	}

	// Tags, changed behind Cloud Control's back.
	ccArn := "arn:aws:iot:us-east-1:123456789012:jobtemplate/from-cc"
	if _, err := te.iot.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(ccArn), Tags: []iottypes.Tag{
		{Key: aws.String("Environment"), Value: aws.String("Staging")}, {Key: aws.String("extra"), Value: aws.String("1")},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := te.iot.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: aws.String(ccArn), TagKeys: []string{"extra"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := te.iot.ListTagsForResource(ctx, &iot.ListTagsForResourceInput{ResourceArn: aws.String(ccArn)})
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "Staging" {
		t.Fatalf("tags %+v", tags.Tags)
	}
	if got := mustJSONString(t, te.get(t, jobTemplate, "from-cc")["Tags"]); got != `[{"Key":"Environment","Value":"Staging"}]` {
		t.Fatalf("Cloud Control tags %s", got)
	}
	_, err = te.iot.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(ccArn + "-missing"), Tags: []iottypes.Tag{{Key: aws.String("k")}}})
	wantAPIError(t, err, "ResourceNotFoundException")

	// Listing pages through both templates.
	var ids []string
	var next *string
	for {
		out, err := te.iot.ListJobTemplates(ctx, &iot.ListJobTemplatesInput{MaxResults: aws.Int32(1), NextToken: next})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.JobTemplates {
			ids = append(ids, aws.ToString(s.JobTemplateId))
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	if strings.Join(ids, ",") != "from-cc,from-iot" {
		t.Fatalf("listed %v", ids)
	}

	// Deleted behind the engine's back: Cloud Control no longer finds it.
	if _, err := te.iot.DeleteJobTemplate(ctx, &iot.DeleteJobTemplateInput{JobTemplateId: aws.String("from-cc")}); err != nil {
		t.Fatal(err)
	}
	_, err = te.cc.GetResource(ctx, &cloudcontrol.GetResourceInput{TypeName: aws.String(jobTemplate), Identifier: aws.String("from-cc")})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = te.iot.DescribeJobTemplate(ctx, &iot.DescribeJobTemplateInput{JobTemplateId: aws.String("from-cc")})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = te.iot.DeleteJobTemplate(ctx, &iot.DeleteJobTemplateInput{JobTemplateId: aws.String("from-cc")})
	wantAPIError(t, err, "ResourceNotFoundException")
}

func TestSTSGetCallerIdentity(t *testing.T) {
	te := startEmulator(t, Options{Account: "111122223333"})
	out, err := te.sts.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "111122223333" || aws.ToString(out.UserId) != "AKIDEXAMPLE" ||
		aws.ToString(out.Arn) != "arn:aws:iam::111122223333:user/AKIDEXAMPLE" {
		t.Fatalf("GetCallerIdentity: %s %s %s", aws.ToString(out.Account), aws.ToString(out.UserId), aws.ToString(out.Arn))
	}
}

func TestSigV4(t *testing.T) {
	clock := newManualClock()
	clock.t = time.Now().UTC()
	te := startEmulator(t, Options{Clock: clock, Credentials: map[string]string{"AKIDGOOD": "right-secret"}})
	ctx := context.Background()
	call := func(creds aws.CredentialsProvider, region string) (ccErr, iotErr, stsErr error) {
		cc, io, st := clients(te.url, region, creds)
		_, ccErr = cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(logGroup)})
		_, iotErr = io.ListJobTemplates(ctx, &iot.ListJobTemplatesInput{})
		_, stsErr = st.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		return
	}
	tests := []struct {
		name                     string
		creds                    aws.CredentialsProvider
		region                   string
		advance                  time.Duration
		wantCC, wantIoT, wantSTS string
	}{
		{"valid", staticCreds("AKIDGOOD", "right-secret"), "us-east-1", 0, "", "", ""},
		{"unknown key", staticCreds("AKIDBAD", "right-secret"), "us-east-1", 0, "UnrecognizedClientException", "UnrecognizedClientException", "InvalidClientTokenId"},
		{"wrong secret", staticCreds("AKIDGOOD", "wrong"), "us-east-1", 0, "InvalidSignatureException", "InvalidSignatureException", "SignatureDoesNotMatch"},
		{"not a region", staticCreds("AKIDGOOD", "right-secret"), "moon-base", 0, "InvalidSignatureException", "InvalidSignatureException", "SignatureDoesNotMatch"},
		{"clock skew", staticCreds("AKIDGOOD", "right-secret"), "us-east-1", time.Hour, "InvalidSignatureException", "InvalidSignatureException", "SignatureDoesNotMatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(tt.advance)
			defer clock.Advance(-tt.advance)
			ccE, iotE, stsE := call(tt.creds, tt.region)
			for _, c := range []struct {
				door string
				err  error
				want string
			}{{"cloudcontrol", ccE, tt.wantCC}, {"iot", iotE, tt.wantIoT}, {"sts", stsE, tt.wantSTS}} {
				switch {
				case c.want == "" && c.err != nil:
					t.Errorf("%s: %v", c.door, c.err)
				case c.want != "" && (c.err == nil || apiCode(t, c.err) != c.want):
					t.Errorf("%s: got %v, want %s", c.door, c.err, c.want)
				}
			}
		})
	}
	// Without a signature at all.
	status, m := post(t, te.url, "CloudApiService.ListResources", `{"TypeName":"AWS::Logs::LogGroup"}`)
	if status != 400 || m["__type"] != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned request: %d %v", status, m)
	}
}

func TestStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := Start(ctx, "127.0.0.1:0", Instant())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.URL, "http://127.0.0.1:") {
		t.Fatalf("URL %s", r.URL)
	}
	cc, _, _ := clients(r.URL, "us-east-1", staticCreds("a", "b"))
	if _, err := cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(logGroup)}); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(logGroup)}); err == nil {
		t.Fatal("the emulator still answers after Close")
	}
}

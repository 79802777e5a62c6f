package emulator

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	cctypes "github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

const (
	jobTemplate = "AWS::IoT::JobTemplate"
	logGroup    = "AWS::Logs::LogGroup"
)

// fullJobTemplate sets every writable JobTemplate property with valid values.
func fullJobTemplate(id string) map[string]any {
	return map[string]any{
		"JobTemplateId": id,
		"Description":   "Basic job template for device updates",
		"Document":      `{"operation":"update"}`,
		"TimeoutConfig": map[string]any{"InProgressTimeoutInMinutes": 60},
		"AbortConfig": map[string]any{"CriteriaList": []any{map[string]any{
			"Action": "CANCEL", "FailureType": "FAILED", "MinNumberOfExecutedThings": 10, "ThresholdPercentage": 25.5,
		}}},
		"JobExecutionsRolloutConfig": map[string]any{
			"MaximumPerMinute": 100,
			"ExponentialRolloutRate": map[string]any{
				"BaseRatePerMinute": 10, "IncrementFactor": 2,
				"RateIncreaseCriteria": map[string]any{"NumberOfNotifiedThings": 5},
			},
		},
		"JobExecutionsRetryConfig": map[string]any{"RetryCriteriaList": []any{
			map[string]any{"FailureType": "FAILED", "NumberOfRetries": 3},
		}},
		"PresignedUrlConfig": map[string]any{"RoleArn": "arn:aws:iam::123456789012:role/presign", "ExpiresInSec": 600},
		"MaintenanceWindows": []any{map[string]any{"StartTime": "cron(0 2 ? * SUN *)", "DurationInMinutes": 60}},
		"Tags":               []any{map[string]any{"Key": "Environment", "Value": "Production"}},
	}
}

func TestJobTemplateLifecycle(t *testing.T) {
	te := startEmulator(t, Options{})
	ctx := context.Background()

	ev := te.create(t, jobTemplate, fullJobTemplate("device-update-template"))
	if ev.OperationStatus != cctypes.OperationStatusInProgress || ev.Operation != cctypes.OperationCreate {
		t.Fatalf("first event: %s %s, want CREATE IN_PROGRESS", ev.Operation, ev.OperationStatus)
	}
	if aws.ToString(ev.Identifier) != "device-update-template" || aws.ToString(ev.RequestToken) == "" || ev.EventTime == nil {
		t.Fatalf("first event: identifier %q token %q time %v", aws.ToString(ev.Identifier), aws.ToString(ev.RequestToken), ev.EventTime)
	}
	if d := time.Since(*ev.EventTime); d < -time.Minute || d > time.Minute {
		t.Fatalf("EventTime %v is not now: the SDK did not read epoch seconds", ev.EventTime)
	}
	done := te.final(t, ev, cctypes.OperationStatusSuccess)
	wantArn := "arn:aws:iot:us-east-1:123456789012:jobtemplate/device-update-template"
	model := decodeProps(t, done.ResourceModel)
	if model["Arn"] != wantArn {
		t.Fatalf("ResourceModel Arn = %v, want %s", model["Arn"], wantArn)
	}

	// Reads give only readable properties, by plain and JSON identifier.
	for _, id := range []string{"device-update-template", `{"JobTemplateId":"device-update-template"}`} {
		props := te.get(t, jobTemplate, id)
		if got := keys(props); got != "Arn,Description,JobTemplateId,Tags" {
			t.Fatalf("GetResource(%s) properties %s, want Arn,Description,JobTemplateId,Tags", id, got)
		}
		if props["Arn"] != wantArn {
			t.Fatalf("Arn = %v", props["Arn"])
		}
	}
	list, err := te.cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(jobTemplate)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.ResourceDescriptions) != 1 || keys(decodeProps(t, list.ResourceDescriptions[0].Properties)) != "Arn,Description,JobTemplateId,Tags" {
		t.Fatalf("ListResources: %+v", list.ResourceDescriptions)
	}

	// The IoT API sees the write-only properties Cloud Control keeps.
	desc, err := te.iot.DescribeJobTemplate(ctx, &iot.DescribeJobTemplateInput{JobTemplateId: aws.String("device-update-template")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(desc.Document) != `{"operation":"update"}` || aws.ToString(desc.JobTemplateArn) != wantArn ||
		desc.TimeoutConfig == nil || aws.ToInt64(desc.TimeoutConfig.InProgressTimeoutInMinutes) != 60 ||
		desc.JobExecutionsRolloutConfig == nil || desc.JobExecutionsRolloutConfig.ExponentialRate == nil ||
		aws.ToFloat64(desc.JobExecutionsRolloutConfig.ExponentialRate.IncrementFactor) != 2 ||
		desc.JobExecutionsRetryConfig == nil || len(desc.JobExecutionsRetryConfig.CriteriaList) != 1 ||
		desc.CreatedAt == nil {
		t.Fatalf("DescribeJobTemplate: %+v", desc)
	}

	// No update handler; a second create of the same id fails.
	_, err = te.cc.UpdateResource(ctx, &cloudcontrol.UpdateResourceInput{
		TypeName: aws.String(jobTemplate), Identifier: aws.String("device-update-template"),
		PatchDocument: aws.String(`[{"op":"replace","path":"/Description","value":"x"}]`),
	})
	wantAPIError(t, err, "UnsupportedActionException")
	again := te.final(t, te.create(t, jobTemplate, fullJobTemplate("device-update-template")), cctypes.OperationStatusFailed)
	if again.ErrorCode != cctypes.HandlerErrorCodeAlreadyExists {
		t.Fatalf("second create: %s, want AlreadyExists", again.ErrorCode)
	}

	// Delete, then the resource is gone and a second delete is NotFound.
	te.final(t, te.del(t, jobTemplate, "device-update-template"), cctypes.OperationStatusSuccess)
	_, err = te.cc.GetResource(ctx, &cloudcontrol.GetResourceInput{TypeName: aws.String(jobTemplate), Identifier: aws.String("device-update-template")})
	wantAPIError(t, err, "ResourceNotFoundException")
	gone := te.final(t, te.del(t, jobTemplate, "device-update-template"), cctypes.OperationStatusFailed)
	if gone.ErrorCode != cctypes.HandlerErrorCodeNotFound {
		t.Fatalf("delete of a missing resource: %s, want NotFound", gone.ErrorCode)
	}
}

func TestJobTemplateValidation(t *testing.T) {
	te := startEmulator(t, Options{})
	tests := []struct {
		name   string
		change func(m map[string]any)
		want   []string // substrings of the StatusMessage
	}{
		{"seed abort action", func(m map[string]any) {
			m["AbortConfig"] = map[string]any{"CriteriaList": []any{map[string]any{"FailureType": "FAILED", "Action": "ABORT"}}}
		}, []string{"Model validation failed", "#/AbortConfig/CriteriaList/0/Action", "#/AbortConfig/CriteriaList/0/MinNumberOfExecutedThings"}},
		{"seed retry attempts", func(m map[string]any) {
			m["JobExecutionsRetryConfig"] = map[string]any{"RetryAttempts": 3}
		}, []string{"Model validation failed", "#/JobExecutionsRetryConfig", "RetryAttempts"}},
		{"timeout out of range", func(m map[string]any) {
			m["TimeoutConfig"] = map[string]any{"InProgressTimeoutInMinutes": 20000}
		}, []string{"Model validation failed", "#/TimeoutConfig/InProgressTimeoutInMinutes"}},
		{"read-only Arn", func(m map[string]any) { m["Arn"] = "arn:aws:iot:us-east-1:123456789012:jobtemplate/x" },
			[]string{"Model validation failed", "#/Arn"}},
		{"missing description", func(m map[string]any) { delete(m, "Description") },
			[]string{"Model validation failed", "Description"}},
		// The IoT API's own rules, answered as IoT does.
		{"unanchored id", func(m map[string]any) { m["JobTemplateId"] = "bad id" },
			[]string{"validation error detected", "jobTemplateId"}},
		{"increment factor below IoT minimum", func(m map[string]any) {
			m["JobExecutionsRolloutConfig"].(map[string]any)["ExponentialRolloutRate"].(map[string]any)["IncrementFactor"] = 1.05
		}, []string{"validation error detected", "jobExecutionsRolloutConfig.exponentialRate.incrementFactor", "1.1"}},
		{"base rate above IoT maximum", func(m map[string]any) {
			m["JobExecutionsRolloutConfig"].(map[string]any)["ExponentialRolloutRate"].(map[string]any)["BaseRatePerMinute"] = 1001
		}, []string{"jobExecutionsRolloutConfig.exponentialRate.baseRatePerMinute", "1000"}},
		{"document and document source", func(m map[string]any) { m["DocumentSource"] = "https://s3.amazonaws.com/b/doc.json" },
			[]string{"documentSource", "not both"}},
		{"no document", func(m map[string]any) { delete(m, "Document") },
			[]string{"document", "JobArn"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fullJobTemplate("template-" + string(rune('a'+i)))
			tt.change(m)
			ev := te.final(t, te.create(t, jobTemplate, m), cctypes.OperationStatusFailed)
			if ev.ErrorCode != cctypes.HandlerErrorCodeInvalidRequest {
				t.Fatalf("ErrorCode %s, want InvalidRequest", ev.ErrorCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(aws.ToString(ev.StatusMessage), w) {
					t.Errorf("StatusMessage %q does not mention %q", aws.ToString(ev.StatusMessage), w)
				}
			}
		})
	}
	list, err := te.cc.ListResources(context.Background(), &cloudcontrol.ListResourcesInput{TypeName: aws.String(jobTemplate)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.ResourceDescriptions) != 0 {
		t.Fatalf("invalid templates were stored: %+v", list.ResourceDescriptions)
	}
}

func TestLogGroupUpdate(t *testing.T) {
	te := startEmulator(t, Options{Region: "eu-west-1", Account: "210987654321"})
	ctx := context.Background()
	te.final(t, te.create(t, logGroup, map[string]any{
		"LogGroupName":    "app-logs",
		"RetentionInDays": 7,
		"Tags":            []any{map[string]any{"Key": "team", "Value": "core"}},
	}), cctypes.OperationStatusSuccess)
	props := te.get(t, logGroup, "app-logs")
	if props["Arn"] != "arn:aws:logs:eu-west-1:210987654321:log-group:app-logs:*" || props["LogGroupClass"] != "STANDARD" {
		t.Fatalf("created log group: %v", props)
	}

	update := func(patch string) (*cctypes.ProgressEvent, error) {
		out, err := te.cc.UpdateResource(ctx, &cloudcontrol.UpdateResourceInput{
			TypeName: aws.String(logGroup), Identifier: aws.String("app-logs"), PatchDocument: aws.String(patch),
		})
		if err != nil {
			return nil, err
		}
		return out.ProgressEvent, nil
	}
	ev, err := update(`[{"op":"replace","path":"/RetentionInDays","value":30},
		{"op":"add","path":"/Tags/-","value":{"Key":"env","Value":"prod"}},
		{"op":"replace","path":"/Tags/0/Value","value":"platform"}]`)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Operation != cctypes.OperationUpdate || aws.ToString(ev.Identifier) != "app-logs" {
		t.Fatalf("update event: %+v", ev)
	}
	te.final(t, ev, cctypes.OperationStatusSuccess)
	props = te.get(t, logGroup, "app-logs")
	wantTags := `[{"Key":"team","Value":"platform"},{"Key":"env","Value":"prod"}]`
	if props["RetentionInDays"] != 30.0 || mustJSONString(t, props["Tags"]) != wantTags {
		t.Fatalf("after update: retention %v tags %s", props["RetentionInDays"], mustJSONString(t, props["Tags"]))
	}

	_, err = update(`[{"op":"replace","path":"/LogGroupName","value":"other"}]`)
	wantAPIError(t, err, "NotUpdatableException")
	_, err = update(`[{"op":"replace","path":"/Arn","value":"arn:aws:logs:eu-west-1:210987654321:log-group:x:*"}]`)
	wantAPIError(t, err, "NotUpdatableException")
	_, err = update(`{"op":"replace"}`)
	wantAPIError(t, err, "InvalidRequestException")
	_, err = update(`[{"op":"remove","path":"/KmsKeyId"}]`)
	wantAPIError(t, err, "InvalidRequestException")

	ev, err = update(`[{"op":"replace","path":"/RetentionInDays","value":8}]`)
	if err != nil {
		t.Fatal(err)
	}
	failed := te.final(t, ev, cctypes.OperationStatusFailed)
	if failed.ErrorCode != cctypes.HandlerErrorCodeInvalidRequest || !strings.Contains(aws.ToString(failed.StatusMessage), "#/RetentionInDays") {
		t.Fatalf("invalid update: %s %s", failed.ErrorCode, aws.ToString(failed.StatusMessage))
	}
	if te.get(t, logGroup, "app-logs")["RetentionInDays"] != 30.0 {
		t.Fatal("a failed update changed the resource")
	}

	out, err := te.cc.UpdateResource(ctx, &cloudcontrol.UpdateResourceInput{
		TypeName: aws.String(logGroup), Identifier: aws.String("missing"), PatchDocument: aws.String(`[{"op":"replace","path":"/RetentionInDays","value":1}]`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if ev := te.final(t, out.ProgressEvent, cctypes.OperationStatusFailed); ev.ErrorCode != cctypes.HandlerErrorCodeNotFound {
		t.Fatalf("update of a missing resource: %s", ev.ErrorCode)
	}
}

func TestGeneratedIdentifier(t *testing.T) {
	clock := newManualClock()
	te := startEmulator(t, Options{Clock: clock, Latency: Latency{Create: Fixed(2 * time.Second)}})
	ev := te.create(t, logGroup, map[string]any{"RetentionInDays": 1})
	if ev.Identifier != nil {
		t.Fatalf("a generated identifier is shown before the create succeeds: %q", *ev.Identifier)
	}
	clock.Advance(2 * time.Second)
	done := te.final(t, ev, cctypes.OperationStatusSuccess)
	id := aws.ToString(done.Identifier)
	if !regexp.MustCompile(`^CloudControl-LogGroup-[A-Z0-9]{13}$`).MatchString(id) {
		t.Fatalf("generated identifier %q, want CloudControl-LogGroup-<13 random>", id)
	}
	if got := te.get(t, logGroup, id)["LogGroupName"]; got != id {
		t.Fatalf("LogGroupName %v, want %s", got, id)
	}
}

func TestClientToken(t *testing.T) {
	te := startEmulator(t, Options{})
	ctx := context.Background()
	in := &cloudcontrol.CreateResourceInput{
		TypeName: aws.String(logGroup), DesiredState: aws.String(`{"LogGroupName":"idem"}`), ClientToken: aws.String("token-1"),
	}
	first, err := te.cc.CreateResource(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	second, err := te.cc.CreateResource(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(first.ProgressEvent.RequestToken) != aws.ToString(second.ProgressEvent.RequestToken) {
		t.Fatal("the same ClientToken and request gave a new request")
	}
	if second.ProgressEvent.OperationStatus != cctypes.OperationStatusSuccess {
		t.Fatalf("the repeated request reports %s, want the original's SUCCESS", second.ProgressEvent.OperationStatus)
	}
	in.DesiredState = aws.String(`{"LogGroupName":"other"}`)
	_, err = te.cc.CreateResource(ctx, in)
	wantAPIError(t, err, "ClientTokenConflictException")
}

func TestLatencyConcurrencyAndCancel(t *testing.T) {
	clock := newManualClock()
	te := startEmulator(t, Options{Clock: clock, Latency: Latency{Create: Fixed(10 * time.Second), Delete: Fixed(time.Second)}})
	ctx := context.Background()

	ev := te.create(t, logGroup, map[string]any{"LogGroupName": "slow"})
	poll := te.status(t, ev.RequestToken)
	if poll.OperationStatus != cctypes.OperationStatusInProgress || poll.RetryAfter == nil || !poll.RetryAfter.Equal(clock.Now().Add(10*time.Second)) {
		t.Fatalf("poll before completion: %s RetryAfter %v", poll.OperationStatus, poll.RetryAfter)
	}
	_, err := te.cc.GetResource(ctx, &cloudcontrol.GetResourceInput{TypeName: aws.String(logGroup), Identifier: aws.String("slow")})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = te.cc.DeleteResource(ctx, &cloudcontrol.DeleteResourceInput{TypeName: aws.String(logGroup), Identifier: aws.String("slow")})
	wantAPIError(t, err, "ConcurrentOperationException")
	_, err = te.cc.CreateResource(ctx, &cloudcontrol.CreateResourceInput{TypeName: aws.String(logGroup), DesiredState: aws.String(`{"LogGroupName":"slow"}`)})
	wantAPIError(t, err, "ConcurrentOperationException")

	clock.Advance(10 * time.Second)
	te.final(t, ev, cctypes.OperationStatusSuccess)
	te.get(t, logGroup, "slow")

	// Cancel a create still in progress: it never takes effect.
	ev = te.create(t, logGroup, map[string]any{"LogGroupName": "cancelled"})
	out, err := te.cc.CancelResourceRequest(ctx, &cloudcontrol.CancelResourceRequestInput{RequestToken: ev.RequestToken})
	if err != nil {
		t.Fatal(err)
	}
	if out.ProgressEvent.OperationStatus != cctypes.OperationStatusCancelComplete {
		t.Fatalf("cancel: %s", out.ProgressEvent.OperationStatus)
	}
	clock.Advance(time.Minute)
	te.final(t, ev, cctypes.OperationStatusCancelComplete)
	_, err = te.cc.GetResource(ctx, &cloudcontrol.GetResourceInput{TypeName: aws.String(logGroup), Identifier: aws.String("cancelled")})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = te.cc.CancelResourceRequest(ctx, &cloudcontrol.CancelResourceRequestInput{RequestToken: ev.RequestToken})
	wantAPIError(t, err, "ConcurrentModificationException")
	_, err = te.cc.CancelResourceRequest(ctx, &cloudcontrol.CancelResourceRequestInput{RequestToken: aws.String("no-such-token")})
	wantAPIError(t, err, "RequestTokenNotFoundException")
	_, err = te.cc.GetResourceRequestStatus(ctx, &cloudcontrol.GetResourceRequestStatusInput{RequestToken: aws.String("no-such-token")})
	wantAPIError(t, err, "RequestTokenNotFoundException")
}

func TestListResourcesPagination(t *testing.T) {
	te := startEmulator(t, Options{})
	ctx := context.Background()
	for _, name := range []string{"e", "c", "a", "d", "b"} {
		te.final(t, te.create(t, logGroup, map[string]any{"LogGroupName": name, "RetentionInDays": 1}), cctypes.OperationStatusSuccess)
	}
	var got []string
	var token *string
	for pages := 0; ; pages++ {
		out, err := te.cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(logGroup), MaxResults: aws.Int32(2), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range out.ResourceDescriptions {
			got = append(got, aws.ToString(d.Identifier))
		}
		if token = out.NextToken; token == nil {
			if pages != 2 {
				t.Fatalf("%d pages, want 3", pages+1)
			}
			break
		}
	}
	if strings.Join(got, ",") != "a,b,c,d,e" {
		t.Fatalf("listed %v", got)
	}
	out, err := te.cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(logGroup), ResourceModel: aws.String(`{"LogGroupName":"c"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ResourceDescriptions) != 1 || aws.ToString(out.ResourceDescriptions[0].Identifier) != "c" {
		t.Fatalf("filtered list: %+v", out.ResourceDescriptions)
	}
}

func TestListResourceRequests(t *testing.T) {
	te := startEmulator(t, Options{})
	ctx := context.Background()
	te.final(t, te.create(t, logGroup, map[string]any{"LogGroupName": "one"}), cctypes.OperationStatusSuccess)
	te.final(t, te.create(t, logGroup, map[string]any{"LogGroupName": "two"}), cctypes.OperationStatusSuccess)
	te.final(t, te.del(t, logGroup, "one"), cctypes.OperationStatusSuccess)
	te.final(t, te.del(t, logGroup, "one"), cctypes.OperationStatusFailed)

	list := func(f *cctypes.ResourceRequestStatusFilter, max int32) []cctypes.ProgressEvent {
		var all []cctypes.ProgressEvent
		var token *string
		for {
			out, err := te.cc.ListResourceRequests(ctx, &cloudcontrol.ListResourceRequestsInput{ResourceRequestStatusFilter: f, MaxResults: aws.Int32(max), NextToken: token})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, out.ResourceRequestStatusSummaries...)
			if token = out.NextToken; token == nil {
				return all
			}
		}
	}
	if got := list(nil, 1); len(got) != 4 || got[0].Operation != cctypes.OperationDelete || got[3].Operation != cctypes.OperationCreate {
		t.Fatalf("all requests, newest first: %+v", got)
	}
	deletes := list(&cctypes.ResourceRequestStatusFilter{Operations: []cctypes.Operation{cctypes.OperationDelete}}, 10)
	if len(deletes) != 2 {
		t.Fatalf("%d deletes, want 2", len(deletes))
	}
	failed := list(&cctypes.ResourceRequestStatusFilter{
		Operations: []cctypes.Operation{cctypes.OperationDelete}, OperationStatuses: []cctypes.OperationStatus{cctypes.OperationStatusFailed},
	}, 10)
	if len(failed) != 1 || failed[0].ErrorCode != cctypes.HandlerErrorCodeNotFound {
		t.Fatalf("failed deletes: %+v", failed)
	}
	_, err := te.cc.ListResourceRequests(ctx, &cloudcontrol.ListResourceRequestsInput{
		ResourceRequestStatusFilter: &cctypes.ResourceRequestStatusFilter{Operations: []cctypes.Operation{"RENAME"}},
	})
	wantAPIError(t, err, "ValidationException")
}

func TestSynchronousErrors(t *testing.T) {
	te := startEmulator(t, Options{})
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"type name pattern", func() error {
			_, err := te.cc.GetResource(ctx, &cloudcontrol.GetResourceInput{TypeName: aws.String("not-a-type-name"), Identifier: aws.String("x")})
			return err
		}, "ValidationException"},
		{"max results", func() error {
			_, err := te.cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(logGroup), MaxResults: aws.Int32(101)})
			return err
		}, "ValidationException"},
		{"client token pattern", func() error {
			_, err := te.cc.CreateResource(ctx, &cloudcontrol.CreateResourceInput{TypeName: aws.String(logGroup), DesiredState: aws.String("{}"), ClientToken: aws.String("bad token!")})
			return err
		}, "ValidationException"},
		{"unknown type", func() error {
			_, err := te.cc.CreateResource(ctx, &cloudcontrol.CreateResourceInput{TypeName: aws.String("AWS::Nope::Nothing"), DesiredState: aws.String("{}")})
			return err
		}, "TypeNotFoundException"},
		{"desired state not JSON", func() error {
			_, err := te.cc.CreateResource(ctx, &cloudcontrol.CreateResourceInput{TypeName: aws.String(logGroup), DesiredState: aws.String("{")})
			return err
		}, "InvalidRequestException"},
		{"missing resource", func() error {
			_, err := te.cc.GetResource(ctx, &cloudcontrol.GetResourceInput{TypeName: aws.String(logGroup), Identifier: aws.String("absent")})
			return err
		}, "ResourceNotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantAPIError(t, tt.call(), tt.want) })
	}
}

// TestGeneratedReadOnlyProperties uses a type whose primary identifier is
// read-only (generated) and whose tags cannot be updated.
func TestGeneratedReadOnlyProperties(t *testing.T) {
	const assessment = "AWS::AuditManager::Assessment"
	te := startEmulator(t, Options{})
	ev := te.create(t, assessment, map[string]any{"Name": "audit", "Tags": []any{map[string]any{"Key": "k", "Value": "v"}}})
	if ev.Identifier != nil {
		t.Fatalf("generated identifier shown early: %s", *ev.Identifier)
	}
	done := te.final(t, ev, cctypes.OperationStatusSuccess)
	id := aws.ToString(done.Identifier)
	props := te.get(t, assessment, id)
	if props["AssessmentId"] != id || len(id) != 36 {
		t.Fatalf("AssessmentId %v, identifier %s", props["AssessmentId"], id)
	}
	if arn, _ := props["Arn"].(string); !strings.HasPrefix(arn, "arn:aws:auditmanager:us-east-1:123456789012:") || !strings.HasSuffix(arn, id) {
		t.Fatalf("Arn %v", props["Arn"])
	}
	if ct, _ := props["CreationTime"].(float64); time.Since(time.Unix(int64(ct), 0)).Abs() > time.Hour {
		t.Fatalf("CreationTime %v is not epoch seconds of now", props["CreationTime"])
	}
	_, err := te.cc.UpdateResource(context.Background(), &cloudcontrol.UpdateResourceInput{
		TypeName: aws.String(assessment), Identifier: aws.String(id),
		PatchDocument: aws.String(`[{"op":"add","path":"/Tags/-","value":{"Key":"k2","Value":"v"}}]`),
	})
	wantAPIError(t, err, "NotUpdatableException")
	out, err := te.cc.UpdateResource(context.Background(), &cloudcontrol.UpdateResourceInput{
		TypeName: aws.String(assessment), Identifier: aws.String(id),
		PatchDocument: aws.String(`[{"op":"add","path":"/Description","value":"quarterly"}]`),
	})
	if err != nil {
		t.Fatal(err)
	}
	te.final(t, out.ProgressEvent, cctypes.OperationStatusSuccess)
	// Description is write-only: kept, never read back.
	if got := te.get(t, assessment, id); got["Description"] != nil || got["Name"] != nil || got["AssessmentId"] != id {
		t.Fatalf("after update, read: %v", got)
	}
	if stored := te.srv.homeStore().get(resourceKey{assessment, id}).Model; stored["Description"] != "quarterly" || stored["Name"] != "audit" {
		t.Fatalf("after update, stored: %v", stored)
	}
}

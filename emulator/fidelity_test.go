package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/athanor-dev/athanor/internal/repo"
)

// apiModel reads a botocore service model from ../api beside the registry
// schema directory, skipping the test when it is absent.
func apiModel(t *testing.T, file string) map[string]any {
	t.Helper()
	dir, err := repo.SchemaDir("")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "..", "api", file))
	if err != nil {
		t.Skipf("API model %s is absent (set %s beside an api directory to run this test): %v", file, repo.EnvSchemas, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return m
}

// TestModelFaultsAnswer5xx: every Cloud Control exception the model marks as
// the server's fault answers a 5xx status, and the others a 4xx; SDKs decide
// retries by the status.
func TestModelFaultsAnswer5xx(t *testing.T) {
	m := apiModel(t, "cloudcontrol-2021-09-30.service-2.json")
	shapes := m["shapes"].(map[string]any)
	n := 0
	for name, v := range shapes {
		shape := v.(map[string]any)
		if shape["exception"] != true {
			continue
		}
		n++
		got := ccErr(name, "x").Status
		if fault := shape["fault"] == true; fault != (got >= 500) {
			t.Errorf("%s: fault %v in the model, status %d", name, fault, got)
		}
	}
	if n == 0 {
		t.Fatal("the model has no exceptions")
	}
}

// TestCancelFinishedIs500 drives the one fault the emulator answers on its
// own, ConcurrentModificationException, over the wire.
func TestCancelFinishedIs500(t *testing.T) {
	te := startEmulator(t, Options{})
	status, m := post(t, te.url, "CloudApiService.CreateResource",
		`{"TypeName":"AWS::Logs::LogGroup","DesiredState":"{\"LogGroupName\":\"done\"}"}`)
	if status != http.StatusOK {
		t.Fatalf("create: %d %v", status, m)
	}
	token := m["ProgressEvent"].(map[string]any)["RequestToken"].(string)
	if ev := te.status(t, aws.String(token)); ev.OperationStatus != "SUCCESS" {
		t.Fatalf("status %s", ev.OperationStatus)
	}
	status, m = post(t, te.url, "CloudApiService.CancelResourceRequest", `{"RequestToken":"`+token+`"}`)
	if status != http.StatusInternalServerError || m["__type"] != "com.amazon.cloudapiservice#ConcurrentModificationException" {
		t.Fatalf("cancel of a finished request: %d %v", status, m)
	}
}

// TestMemberNamesExact: AWS JSON 1.0 member names are case-sensitive. A
// member spelled otherwise is unknown, so ignored, and the modelled one is
// missing.
func TestMemberNamesExact(t *testing.T) {
	te := startEmulator(t, Options{})
	tests := []struct {
		name, target, body string
		status             int
		message            string
	}{
		{"lowerCamel members", "CloudApiService.GetResource", `{"typeName":"AWS::Logs::LogGroup","identifier":"x"}`, 400,
			"2 validation errors detected: Value null at 'typeName' failed to satisfy constraint: Member must not be null; Value null at 'identifier'"},
		{"upper-case member", "CloudApiService.GetResourceRequestStatus", `{"REQUESTTOKEN":"abc"}`, 400,
			"Value null at 'requestToken'"},
		{"nested member checked", "CloudApiService.ListResourceRequests", `{"ResourceRequestStatusFilter":{"Operations":["BOGUS"]}}`, 400,
			"Value 'BOGUS' at 'resourceRequestStatusFilter.operations.1.member'"},
		{"nested member misspelt is ignored", "CloudApiService.ListResourceRequests", `{"ResourceRequestStatusFilter":{"operations":["BOGUS"]}}`, 200, ""},
		{"outer member misspelt is ignored", "CloudApiService.ListResourceRequests", `{"resourceRequestStatusFilter":{"Operations":["BOGUS"]}}`, 200, ""},
		{"null filter is absent", "CloudApiService.ListResourceRequests", `{"ResourceRequestStatusFilter":null}`, 200, ""},
		{"filter not an object", "CloudApiService.ListResourceRequests", `{"ResourceRequestStatusFilter":["CREATE"]}`, 400, ""},
		{"body not an object", "CloudApiService.ListResourceRequests", `["CREATE"]`, 400, "Could not deserialize the request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m := post(t, te.url, tt.target, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, m)
			}
			if msg, _ := m["Message"].(string); !strings.Contains(msg, tt.message) {
				t.Fatalf("Message %q does not contain %q", msg, tt.message)
			}
		})
	}
}

// TestJSON11ContentTypeAccepted: the AWS CLI and some SDKs send
// application/x-amz-json-1.1; the target header decides the operation.
func TestJSON11ContentTypeAccepted(t *testing.T) {
	te := startEmulator(t, Options{})
	for _, ct := range []string{"application/x-amz-json-1.0", "application/x-amz-json-1.1", ""} {
		req, err := http.NewRequest(http.MethodPost, te.url, strings.NewReader(`{"TypeName":"AWS::Logs::LogGroup"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Amz-Target", "CloudApiService.ListResources")
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"ResourceDescriptions":[]`) {
			t.Errorf("Content-Type %q: %d %s", ct, resp.StatusCode, b)
		}
	}
}

// TestIoTConflictResourceID: the IoT model's ConflictException carries
// resourceId, which the SDK exposes.
func TestIoTConflictResourceID(t *testing.T) {
	te := startEmulator(t, Options{})
	ctx := context.Background()
	in := &iot.CreateJobTemplateInput{JobTemplateId: aws.String("dup"), Description: aws.String("d"), Document: aws.String("{}")}
	if _, err := te.iot.CreateJobTemplate(ctx, in); err != nil {
		t.Fatal(err)
	}
	_, err := te.iot.CreateJobTemplate(ctx, in)
	var conflict *iottypes.ConflictException
	if !errors.As(err, &conflict) {
		t.Fatalf("want ConflictException, got %v", err)
	}
	if aws.ToString(conflict.ResourceId) != "dup" {
		t.Fatalf("resourceId %q, want dup", aws.ToString(conflict.ResourceId))
	}
}

// TestIoTValidation: IoT input constraints from the model, answered as
// InvalidRequestException (400) in coral's words.
func TestIoTValidation(t *testing.T) {
	te := startEmulator(t, Options{})
	ctx := context.Background()
	if _, err := te.iot.CreateJobTemplate(ctx, &iot.CreateJobTemplateInput{JobTemplateId: aws.String("tagged"), Description: aws.String("d"), Document: aws.String("{}")}); err != nil {
		t.Fatal(err)
	}
	arn := aws.String("arn:aws:iot:us-east-1:123456789012:jobtemplate/tagged")
	tests := []struct {
		name    string
		call    func() error
		message string
	}{
		{"maxResults too large", func() error {
			_, err := te.iot.ListJobTemplates(ctx, &iot.ListJobTemplatesInput{MaxResults: aws.Int32(251)})
			return err
		}, "Value '251' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 250"},
		{"maxResults too small", func() error {
			_, err := te.iot.ListJobTemplates(ctx, &iot.ListJobTemplatesInput{MaxResults: aws.Int32(0)})
			return err
		}, "Member must have value greater than or equal to 1"},
		{"tag key pattern", func() error {
			_, err := te.iot.TagResource(ctx, &iot.TagResourceInput{ResourceArn: arn, Tags: []iottypes.Tag{{Key: aws.String("a#b"), Value: aws.String("v")}}})
			return err
		}, "at 'tags.1.member.Key' failed to satisfy constraint: Member must satisfy regular expression pattern"},
		{"tag value too long", func() error {
			_, err := te.iot.TagResource(ctx, &iot.TagResourceInput{ResourceArn: arn, Tags: []iottypes.Tag{{Key: aws.String("k"), Value: aws.String(strings.Repeat("v", 257))}}})
			return err
		}, "at 'tags.1.member.Value' failed to satisfy constraint: Member must have length less than or equal to 256"},
		{"untag key pattern", func() error {
			_, err := te.iot.UntagResource(ctx, &iot.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"ok", "a#b"}})
			return err
		}, "at 'tagKeys.2.member' failed to satisfy constraint: Member must satisfy regular expression pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var inv *iottypes.InvalidRequestException
			if !errors.As(err, &inv) {
				t.Fatalf("want InvalidRequestException, got %v", err)
			}
			if !strings.Contains(inv.ErrorMessage(), tt.message) {
				t.Fatalf("message %q does not contain %q", inv.ErrorMessage(), tt.message)
			}
		})
	}
	// A missing key, which the SDK refuses before sending.
	resp, err := http.Post(te.url+"/tags", "application/json", strings.NewReader(`{"resourceArn":"`+*arn+`","tags":[{"Key":"ok"},{"Value":"v"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-Errortype") != "InvalidRequestException" ||
		!strings.Contains(string(b), `"message":"1 validation error detected: Value null at 'tags.2.member.Key'`) {
		t.Fatalf("missing tag key: %d %s %s", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), b)
	}
	// Unicode letters, spaces and the listed punctuation are valid keys.
	if _, err := te.iot.TagResource(ctx, &iot.TagResourceInput{ResourceArn: arn, Tags: []iottypes.Tag{{Key: aws.String("Équipe a_b.c:d/e=f+g-h@i"), Value: aws.String("")}}}); err != nil {
		t.Fatalf("valid tag key refused: %v", err)
	}
}

package emulator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	cctypes "github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"
	"github.com/aws/smithy-go"

	"github.com/athanor-dev/athanor/schema"
)

// TestPatchPathsArePointers: a patch path or from that is not an RFC 6901
// pointer is refused with a ValidationException naming it, before the
// create-only and read-only checks could be misled (the patch library
// applies "x/LogGroupName" as "/LogGroupName"), and nothing changes.
func TestPatchPathsArePointers(t *testing.T) {
	te := startEmulator(t, Instant())
	ctx := context.Background()
	te.final(t, te.create(t, logGroup, map[string]any{"LogGroupName": "app-logs", "RetentionInDays": 7}), cctypes.OperationStatusSuccess)
	topic := te.final(t, te.create(t, "AWS::SNS::Topic", map[string]any{"DisplayName": "t"}), cctypes.OperationStatusSuccess)
	topicArn := aws.ToString(topic.Identifier)

	update := func(typeName, id, patch string) error {
		_, err := te.cc.UpdateResource(ctx, &cloudcontrol.UpdateResourceInput{
			TypeName: aws.String(typeName), Identifier: aws.String(id), PatchDocument: aws.String(patch),
		})
		return err
	}
	for _, tt := range []struct {
		typeName, id, patch, named string
	}{
		{logGroup, "app-logs", `[{"op":"replace","path":"x/LogGroupName","value":"other"}]`, "x/LogGroupName"},
		{logGroup, "app-logs", `[{"op":"replace","path":"LogGroupName","value":"other"}]`, "LogGroupName"},
		{logGroup, "app-logs", `[{"op":"replace","path":"x/Arn","value":"arn:aws:logs:us-east-1:123456789012:log-group:x:*"}]`, "x/Arn"},
		{logGroup, "app-logs", `[{"op":"add","path":"/Retention~2InDays","value":1}]`, "/Retention~2InDays"},
		{logGroup, "app-logs", `[{"op":"add","path":"/RetentionInDays~","value":1}]`, "/RetentionInDays~"},
		{logGroup, "app-logs", `[{"op":"move","from":"x/LogGroupName","path":"/LogGroupClass"}]`, "x/LogGroupName"},
		{logGroup, "app-logs", `[{"op":"copy","from":"x/RetentionInDays","path":"/DataProtectionPolicy"}]`, "x/RetentionInDays"},
		{"AWS::SNS::Topic", topicArn, `[{"op":"replace","path":"x/TopicArn","value":"arn:aws:sns:us-east-1:123456789012:stolen"}]`, "x/TopicArn"},
	} {
		err := update(tt.typeName, tt.id, tt.patch)
		wantAPIError(t, err, "ValidationException")
		var ae smithy.APIError
		errorAs(err, &ae)
		if !strings.Contains(ae.ErrorMessage(), "'"+tt.named+"'") || !strings.Contains(ae.ErrorMessage(), "JSON pointer") {
			t.Errorf("%s: the error does not name %q as a non-pointer: %s", tt.patch, tt.named, ae.ErrorMessage())
		}
	}
	if lg := te.get(t, logGroup, "app-logs"); lg["LogGroupName"] != "app-logs" || lg["RetentionInDays"] != 7.0 {
		t.Fatalf("the log group changed: %v", lg)
	}
	if tp := te.get(t, "AWS::SNS::Topic", topicArn); tp["TopicArn"] != topicArn {
		t.Fatalf("the topic's identifier changed: %v", tp)
	}
	// The same operations as pointers are judged by the usual checks.
	wantAPIError(t, update(logGroup, "app-logs", `[{"op":"replace","path":"/LogGroupName","value":"other"}]`), "NotUpdatableException")
	wantAPIError(t, update("AWS::SNS::Topic", topicArn, `[{"op":"replace","path":"/TopicArn","value":"x"}]`), "NotUpdatableException")
	wantAPIError(t, update(logGroup, "app-logs", `[{"op":"copy","from":"","path":"/DataProtectionPolicy"}]`), "InvalidRequestException")
	ev, err := te.cc.UpdateResource(ctx, &cloudcontrol.UpdateResourceInput{
		TypeName: aws.String(logGroup), Identifier: aws.String("app-logs"),
		PatchDocument: aws.String(`[{"op":"copy","from":"/RetentionInDays","path":"/RetentionInDays"}]`),
	})
	if err != nil {
		t.Fatalf("a valid copy: %v", err)
	}
	te.final(t, ev.ProgressEvent, cctypes.OperationStatusSuccess)
}

// signedRaw sends a request signed (with key AKIDGOOD) over only the
// headers in signed; the headers in unsigned are added after signing. It
// returns the status and the error type of the answer ("" on success).
func signedRaw(t *testing.T, te *testEmulator, service, method, path, body string, signed, unsigned map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, te.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range signed {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: "AKIDGOOD", SecretAccessKey: "right-secret"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	for k, v := range unsigned {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	if strings.HasPrefix(string(b), "<") { // STS answers XML
		var x struct {
			Error struct{ Code, Message string }
		}
		xml.Unmarshal(b, &x)
		return resp.StatusCode, x.Error.Code + ": " + x.Error.Message
	}
	var m struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	json.Unmarshal(b, &m)
	if m.Type == "" {
		m.Type = resp.Header.Get("X-Amzn-Errortype")
	}
	return resp.StatusCode, m.Type + ": " + m.Message + " " + string(b)
}

// TestSignedHeadersRequired: with verification on, a signature must cover
// the headers that route and interpret a request. A GetResource signed
// over host and x-amz-date only, replayed as DeleteResource by changing the
// unsigned X-Amz-Target, is refused and deletes nothing.
func TestSignedHeadersRequired(t *testing.T) {
	te := startEmulator(t, Options{Credentials: map[string]string{"AKIDGOOD": "right-secret", "AKIDEXAMPLE": "secret"}})
	te.final(t, te.create(t, logGroup, map[string]any{"LogGroupName": "victim"}), cctypes.OperationStatusSuccess)
	get := `{"TypeName":"AWS::Logs::LogGroup","Identifier":"victim"}`
	const json10 = "application/x-amz-json-1.0"

	// Signed as it should be, the request is served.
	if status, e := signedRaw(t, te, "cloudcontrolapi", "POST", "/", get,
		map[string]string{"X-Amz-Target": "CloudApiService.GetResource", "Content-Type": json10}, nil); status != 200 {
		t.Fatalf("a request signing every required header: %d %s", status, e)
	}
	for _, tt := range []struct {
		name, missing    string
		signed, unsigned map[string]string
	}{
		{"target unsigned (replayed as delete)", "X-Amz-Target",
			map[string]string{"Content-Type": json10},
			map[string]string{"X-Amz-Target": "CloudApiService.DeleteResource"}},
		{"only host and date", "X-Amz-Target", nil,
			map[string]string{"X-Amz-Target": "CloudApiService.DeleteResource", "Content-Type": json10}},
		{"content type unsigned", "Content-Type",
			map[string]string{"X-Amz-Target": "CloudApiService.DeleteResource"},
			map[string]string{"Content-Type": json10}},
	} {
		status, e := signedRaw(t, te, "cloudcontrolapi", "POST", "/", get, tt.signed, tt.unsigned)
		if status != 400 || !strings.HasPrefix(e, "InvalidSignatureException") || !strings.Contains(e, "'"+tt.missing+"' must be a SignedHeader") {
			t.Errorf("%s: %d %s", tt.name, status, e)
		}
	}
	if te.get(t, logGroup, "victim") == nil {
		t.Fatal("the log group was deleted")
	}

	// STS: a form post must sign its Content-Type; a query GET has no body.
	form := "Action=GetCallerIdentity&Version=2011-06-15"
	const formType = "application/x-www-form-urlencoded; charset=utf-8"
	if status, e := signedRaw(t, te, "sts", "POST", "/", form, map[string]string{"Content-Type": formType}, nil); status != 200 {
		t.Fatalf("STS form post signing Content-Type: %d %s", status, e)
	}
	if status, e := signedRaw(t, te, "sts", "POST", "/", form, nil, map[string]string{"Content-Type": formType}); status != 403 || !strings.Contains(e, "'Content-Type' must be a SignedHeader") {
		t.Errorf("STS form post with Content-Type unsigned: %d %s", status, e)
	}
	if status, e := signedRaw(t, te, "sts", "GET", "/?"+form, "", nil, nil); status != 200 {
		t.Fatalf("STS query GET signing host only: %d %s", status, e)
	}

	// IoT REST: a body must come with a signed Content-Type.
	tpl := `{"description":"d","document":"{\"operation\":\"update\"}"}`
	if status, e := signedRaw(t, te, "iot", "PUT", "/job-templates/signed", tpl, map[string]string{"Content-Type": "application/json"}, nil); status != 200 {
		t.Fatalf("IoT create signing Content-Type: %d %s", status, e)
	}
	if status, e := signedRaw(t, te, "iot", "PUT", "/job-templates/unsigned", tpl, nil, map[string]string{"Content-Type": "application/json"}); status != 403 || !strings.Contains(e, "'Content-Type' must be a SignedHeader") {
		t.Errorf("IoT create with Content-Type unsigned: %d %s", status, e)
	}
	if status, e := signedRaw(t, te, "iot", "GET", "/job-templates/signed", "", nil, nil); status != 200 {
		t.Fatalf("IoT describe signing host only: %d %s", status, e)
	}
}

// looseRegistry holds Test::Loose::Thing, whose schema lists its primary
// identifier neither create-only nor read-only, and a create-only property
// nested in a writable object.
func looseRegistry(t *testing.T) *schema.Registry {
	t.Helper()
	dir := t.TempDir()
	doc := `{"typeName":"Test::Loose::Thing","description":"a loose schema",
		"properties":{"Name":{"type":"string"},"Note":{"type":"string"},
			"Config":{"type":"object","additionalProperties":false,"properties":{"Zone":{"type":"string"},"Size":{"type":"integer"}}}},
		"primaryIdentifier":["/properties/Name"],"required":["Name"],
		"createOnlyProperties":["/properties/Config/Zone"],
		"handlers":{"create":{"permissions":[]},"read":{"permissions":[]},"update":{"permissions":[]},"delete":{"permissions":[]},"list":{"permissions":[]}}}`
	if err := os.WriteFile(filepath.Join(dir, "thing.json"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	reg, err := schema.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestPatchCannotBypassChecks: an update cannot change the primary
// identifier even where the schema does not list it create-only or
// read-only, nor change a create-only property through its parent.
func TestPatchCannotBypassChecks(t *testing.T) {
	const thing = "Test::Loose::Thing"
	te := startEmulator(t, Options{Registry: looseRegistry(t)})
	te.final(t, te.create(t, thing, map[string]any{"Name": "a", "Note": "n", "Config": map[string]any{"Zone": "z1", "Size": 1}}), cctypes.OperationStatusSuccess)
	update := func(patch string) (*cctypes.ProgressEvent, error) {
		out, err := te.cc.UpdateResource(context.Background(), &cloudcontrol.UpdateResourceInput{
			TypeName: aws.String(thing), Identifier: aws.String("a"), PatchDocument: aws.String(patch),
		})
		if err != nil {
			return nil, err
		}
		return out.ProgressEvent, nil
	}
	_, err := update(`[{"op":"replace","path":"/Name","value":"b"}]`)
	wantAPIError(t, err, "NotUpdatableException")
	_, err = update(`[{"op":"replace","path":"/Config","value":{"Zone":"z2","Size":1}}]`)
	wantAPIError(t, err, "NotUpdatableException")
	if !strings.Contains(err.Error(), "/properties/Config/Zone") {
		t.Fatalf("the refusal does not name the create-only property: %v", err)
	}
	_, err = update(`[{"op":"remove","path":"/Config"}]`)
	wantAPIError(t, err, "NotUpdatableException")
	if got := te.get(t, thing, "a"); got["Name"] != "a" || mustJSONString(t, got["Config"]) != `{"Size":1,"Zone":"z1"}` {
		t.Fatalf("after the refused updates: %v", got)
	}
	// Changes that leave the identifier and the create-only values alone
	// are applied.
	ev, err := update(`[{"op":"replace","path":"/Note","value":"m"},{"op":"replace","path":"/Config","value":{"Zone":"z1","Size":2}}]`)
	if err != nil {
		t.Fatalf("an update of other properties: %v", err)
	}
	te.final(t, ev, cctypes.OperationStatusSuccess)
	if got := te.get(t, thing, "a"); got["Note"] != "m" || mustJSONString(t, got["Config"]) != `{"Size":2,"Zone":"z1"}` {
		t.Fatalf("after the update: %v", got)
	}
}

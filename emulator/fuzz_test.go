package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor/schema"
)

var ccOperations = []string{
	"CreateResource", "GetResource", "UpdateResource", "DeleteResource",
	"ListResources", "GetResourceRequestStatus", "ListResourceRequests", "CancelResourceRequest",
}

// FuzzCloudControlRequest feeds arbitrary bodies to every operation: the
// emulator must answer each with a well-formed AWS JSON 1.0 response.
func FuzzCloudControlRequest(f *testing.F) {
	seeds := []string{
		`{"TypeName":"AWS::Logs::LogGroup","DesiredState":"{\"LogGroupName\":\"a\"}"}`,
		`{"TypeName":"AWS::IoT::JobTemplate","DesiredState":"{\"JobTemplateId\":\"t\",\"Description\":\"d\",\"Document\":\"{}\"}","ClientToken":"c1"}`,
		`{"TypeName":"AWS::Logs::LogGroup","Identifier":"a","PatchDocument":"[{\"op\":\"replace\",\"path\":\"/RetentionInDays\",\"value\":1}]"}`,
		`{"TypeName":"AWS::Logs::LogGroup","Identifier":"{\"LogGroupName\":\"a\"}"}`,
		`{"TypeName":"AWS::Logs::LogGroup","MaxResults":1,"NextToken":"YQ","ResourceModel":"{}"}`,
		`{"RequestToken":"x"}`,
		`{"ResourceRequestStatusFilter":{"Operations":["CREATE"],"OperationStatuses":["FAILED"]},"MaxResults":2,"NextToken":"AAAAAAAAAAE="}`,
		`[]`, `null`, `{"TypeName":1}`, ``,
	}
	for i, s := range seeds {
		for op := range ccOperations {
			if op%3 == i%3 {
				f.Add(uint8(op), []byte(s))
			}
		}
	}
	srv, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		target := "CloudApiService." + ccOperations[int(op)%len(ccOperations)]
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: answer %q is not a JSON object: %v", target, rec.Body.String(), err)
		}
		switch {
		case rec.Code == http.StatusOK:
			if _, isErr := out["__type"]; isErr {
				t.Fatalf("%s: 200 with an error body %v", target, out)
			}
		case rec.Code >= 400 && rec.Code < 600:
			if typ, _ := out["__type"].(string); typ == "" {
				t.Fatalf("%s: %d without __type: %v", target, rec.Code, out)
			}
			if rec.Code >= 500 {
				t.Fatalf("%s: server error %d for a client's body: %v", target, rec.Code, out)
			}
		default:
			t.Fatalf("%s: status %d", target, rec.Code)
		}
	})
}

// FuzzIdentifier parses identifiers of a simple and a compound type: a
// canonical identifier parses back to itself.
func FuzzIdentifier(f *testing.F) {
	for _, s := range []string{"a", "a|b", `{"JobTemplateId":"x"}`, `{"ApiMappingId":"m","DomainName":"d"}`, "|", "", `{"a":1}`, `"x"`, "a|b|c"} {
		f.Add(s)
	}
	reg := schema.Default()
	var schemas []*schema.Schema
	for _, name := range []string{jobTemplate, "AWS::ApiGatewayV2::ApiMapping"} {
		s, err := reg.Lookup(name)
		if err != nil {
			f.Fatal(err)
		}
		schemas = append(schemas, s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		for _, sch := range schemas {
			c, err := canonicalID(sch, id)
			if err != nil {
				continue
			}
			again, err := canonicalID(sch, c)
			if err != nil || again != c {
				t.Fatalf("%s: %q -> %q -> %q, %v", sch.TypeName, id, c, again, err)
			}
		}
	})
}

// FuzzPatch applies arbitrary patch documents to a log group: whatever the
// patch, it never changes the create-only name or the read-only ARN, and
// an accepted patch yields a JSON object.
func FuzzPatch(f *testing.F) {
	for _, s := range []string{
		`[{"op":"replace","path":"/RetentionInDays","value":30}]`,
		`[{"op":"add","path":"/Tags/-","value":{"Key":"k","Value":"v"}}]`,
		`[{"op":"remove","path":"/Tags/0"}]`,
		`[{"op":"move","from":"/Tags","path":"/X"}]`,
		`[{"op":"copy","from":"/LogGroupName","path":"/KmsKeyId"}]`,
		`[{"op":"test","path":"/LogGroupName","value":"name"}]`,
		`[{"op":"replace","path":"/LogGroupName/","value":"x"}]`,
		`[{"op":"replace","path":"","value":{}}]`,
		`{}`, `[]`, `[1]`,
	} {
		f.Add(s)
	}
	sch, err := schema.Default().Lookup(logGroup)
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	model := map[string]any{
		"LogGroupName": "name", "RetentionInDays": 7.0, "LogGroupClass": "STANDARD",
		"Arn":  "arn:aws:logs:us-east-1:123456789012:log-group:name:*",
		"Tags": []any{map[string]any{"Key": "a", "Value": "b"}},
	}
	before := mustJSON(model)
	f.Fuzz(func(t *testing.T, doc string) {
		patch, e := decodePatch(sch, doc)
		if e != nil {
			return
		}
		out, e := srv.applyPatch(sch, model, patch)
		if mustJSON(model) != before {
			t.Fatalf("the patch changed its input model")
		}
		if e != nil {
			if !strings.HasSuffix(e.Type, "InvalidRequestException") {
				t.Fatalf("apply error %v", e)
			}
			return
		}
		if out["LogGroupName"] != "name" || out["Arn"] != model["Arn"] {
			t.Fatalf("patch %s changed a protected property: %v", doc, out)
		}
	})
}

// FuzzAuthorization parses arbitrary Authorization headers without panicking.
func FuzzAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20250301/us-east-1/cloudcontrolapi/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("a", 64))
	f.Add("AWS4-HMAC-SHA256 Credential=/, SignedHeaders=, Signature=")
	f.Add("Basic Zm9v")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err == nil && (a.AccessKey == "" || len(a.Signature) != 64 || len(a.SignedHeaders) == 0) {
			t.Fatalf("accepted an incomplete header %q: %+v", h, a)
		}
	})
}

package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// post sends a raw AWS JSON 1.0 call.
func post(t *testing.T, url, target, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
		t.Fatalf("Content-Type %q", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("answer %q is not JSON: %v", b, err)
	}
	return resp.StatusCode, m
}

// TestWireErrors checks the exact __type names and HTTP statuses the
// service answers, which SDKs other than Go's read too.
func TestWireErrors(t *testing.T) {
	te := startEmulator(t, Options{})
	tests := []struct {
		name, target, body string
		status             int
		typ                string
		message            string
	}{
		{"missing type name", "CloudApiService.GetResource", `{"Identifier":"x"}`, 400,
			"com.amazon.coral.validate#ValidationException", "1 validation error detected: Value null at 'typeName' failed to satisfy constraint: Member must not be null"},
		{"two violations", "CloudApiService.GetResource", `{"TypeName":"short","Identifier":""}`, 400,
			"com.amazon.coral.validate#ValidationException", "4 validation errors detected: "},
		{"request token pattern", "CloudApiService.GetResourceRequestStatus", `{"RequestToken":"a b"}`, 400,
			"com.amazon.coral.validate#ValidationException", "Member must satisfy regular expression pattern: [-A-Za-z0-9+/=]+"},
		{"not JSON", "CloudApiService.GetResource", `{`, 400, "com.amazon.coral.service#SerializationException", ""},
		{"wrong member type", "CloudApiService.ListResources", `{"TypeName":"AWS::Logs::LogGroup","MaxResults":"ten"}`, 400,
			"com.amazon.coral.service#SerializationException", ""},
		{"unknown operation", "CloudApiService.DescribeEverything", `{}`, 400, "com.amazon.coral.service#UnknownOperationException", ""},
		{"unknown type", "CloudApiService.GetResource", `{"TypeName":"AWS::Nope::Nothing","Identifier":"x"}`, 404,
			"com.amazon.cloudapiservice#TypeNotFoundException", ""},
		{"not found", "CloudApiService.GetResource", `{"TypeName":"AWS::Logs::LogGroup","Identifier":"x"}`, 404,
			"com.amazon.cloudapiservice#ResourceNotFoundException", "Resource of type 'AWS::Logs::LogGroup' with identifier 'x' was not found."},
		{"no update handler", "CloudApiService.UpdateResource", `{"TypeName":"AWS::IoT::JobTemplate","Identifier":"x","PatchDocument":"[]"}`, 405,
			"com.amazon.cloudapiservice#UnsupportedActionException", ""},
		{"token not found", "CloudApiService.GetResourceRequestStatus", `{"RequestToken":"abc"}`, 404,
			"com.amazon.cloudapiservice#RequestTokenNotFoundException", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m := post(t, te.url, tt.target, tt.body)
			if status != tt.status || m["__type"] != tt.typ {
				t.Fatalf("got %d %v, want %d %s", status, m["__type"], tt.status, tt.typ)
			}
			if msg, _ := m["Message"].(string); !strings.Contains(msg, tt.message) {
				t.Fatalf("Message %q does not contain %q", msg, tt.message)
			}
		})
	}
}

// TestQueryStringTolerated: some clients post to "/?Action=..&Version=..".
func TestQueryStringTolerated(t *testing.T) {
	te := startEmulator(t, Options{})
	status, m := post(t, te.url+"/?Action=CreateResource&Version=2021-09-30", "CloudApiService.CreateResource",
		`{"TypeName":"AWS::Logs::LogGroup","DesiredState":"{\"LogGroupName\":\"q\"}"}`)
	if status != 200 {
		t.Fatalf("status %d: %v", status, m)
	}
	ev := m["ProgressEvent"].(map[string]any)
	if _, ok := ev["EventTime"].(float64); !ok {
		t.Fatalf("EventTime %v is not epoch seconds", ev["EventTime"])
	}
}

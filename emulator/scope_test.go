package emulator

import (
	"net/http"
	"strings"
	"testing"
)

// TestSigningScope: each door accepts signatures scoped to its own service
// name; the IoT door also accepts "execute-api", as AWS IoT does (the AWS
// CLI v2 signs IoT requests with it). Cloud Control and STS do not.
func TestSigningScope(t *testing.T) {
	te := startEmulator(t, Options{Credentials: map[string]string{"AKIDGOOD": "right-secret"}})
	const json10 = "application/x-amz-json-1.0"
	cc := func(service string) (int, string) {
		return signedRaw(t, te, service, http.MethodPost, "/", `{"TypeName":"AWS::Logs::LogGroup"}`,
			map[string]string{"Content-Type": json10, "X-Amz-Target": "CloudApiService.ListResources"}, nil)
	}
	iotCall := func(service string) (int, string) {
		return signedRaw(t, te, service, http.MethodGet, "/job-templates", "", nil, nil)
	}
	sts := func(service string) (int, string) {
		return signedRaw(t, te, service, http.MethodPost, "/", "Action=GetCallerIdentity&Version=2011-06-15",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, nil)
	}
	for _, tt := range []struct {
		door    string
		call    func(string) (int, string)
		service string
		want    string // error type; "" for success
	}{
		{"cloudcontrol", cc, "cloudcontrolapi", ""},
		{"cloudcontrol", cc, "execute-api", "InvalidSignatureException"},
		{"cloudcontrol", cc, "iot", "InvalidSignatureException"},
		{"iot", iotCall, "iot", ""},
		{"iot", iotCall, "execute-api", ""},
		{"iot", iotCall, "cloudcontrolapi", "InvalidSignatureException"},
		{"sts", sts, "sts", ""},
		{"sts", sts, "execute-api", "SignatureDoesNotMatch"},
	} {
		status, got := tt.call(tt.service)
		switch {
		case tt.want == "" && got != "":
			t.Errorf("%s signed for %s: %d %s, want success", tt.door, tt.service, status, got)
		case tt.want != "" && !strings.Contains(got, tt.want):
			t.Errorf("%s signed for %s: %d %q, want %s", tt.door, tt.service, status, got, tt.want)
		case tt.want != "" && !strings.Contains(got, "Credential should be scoped to correct service"):
			t.Errorf("%s signed for %s: %q does not say which service the scope must name", tt.door, tt.service, got)
		}
	}
}

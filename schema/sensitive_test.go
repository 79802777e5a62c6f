package schema

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// sensitiveSchema has write-only values at the top, nested in an object,
// under array elements and inside a oneOf.
const sensitiveSchema = `{
  "typeName": "Test::Sensitive::Thing",
  "definitions": {
    "Login": {"type": "object", "properties": {"Password": {"type": "string", "minLength": 8, "pattern": "^[^ ]+$"}, "Reset": {"type": "boolean"}}, "additionalProperties": false},
    "Key": {"type": "object", "properties": {"Secret": {"type": "string", "enum": ["a", "b"]}}, "required": ["Secret"], "additionalProperties": false},
    "Token": {"type": "object", "properties": {"Token": {"type": "string", "pattern": "^t-"}}, "required": ["Token"], "additionalProperties": false}
  },
  "properties": {
    "Name": {"type": "string", "pattern": "^[a-z]+$"},
    "Secret": {"type": "string", "pattern": "^[a-z]+$"},
    "Login": {"$ref": "#/definitions/Login"},
    "Keys": {"type": "array", "items": {"$ref": "#/definitions/Key"}},
    "Auth": {"oneOf": [{"$ref": "#/definitions/Key"}, {"$ref": "#/definitions/Token"}]},
    "Count": {"type": "integer", "maximum": 3}
  },
  "additionalProperties": false,
  "primaryIdentifier": ["/properties/Name"],
  "writeOnlyProperties": ["/properties/Secret", "/properties/Login/Password", "/properties/Keys/*/Secret", "/properties/Auth", "/properties/Count"]
}`

func TestMaskWriteOnly(t *testing.T) {
	s := mustParse(t, sensitiveSchema)
	model := decode(t, `{"Name": "n", "Secret": "s3", "Login": {"Password": "hunter2", "Reset": true},
		"Keys": [{"Secret": "k0"}, {"Secret": "k1"}], "Auth": {"Token": "t-x"}}`)
	before := decode(t, `{"Name": "n", "Secret": "s3", "Login": {"Password": "hunter2", "Reset": true},
		"Keys": [{"Secret": "k0"}, {"Secret": "k1"}], "Auth": {"Token": "t-x"}}`)
	tests := []struct {
		path string
		v    any
		want string // JSON
	}{
		{"", model, `{"Auth":"(sensitive)","Keys":[{"Secret":"(sensitive)"},{"Secret":"(sensitive)"}],"Login":{"Password":"(sensitive)","Reset":true},"Name":"n","Secret":"(sensitive)"}`},
		{"/Secret", "s3", `"(sensitive)"`},
		{"/Login", model["Login"], `{"Password":"(sensitive)","Reset":true}`},
		{"/Login/Password", "hunter2", `"(sensitive)"`},
		{"/Login/Reset", true, `true`},
		{"/Keys", model["Keys"], `[{"Secret":"(sensitive)"},{"Secret":"(sensitive)"}]`},
		{"/Keys/1", map[string]any{"Secret": "k1"}, `{"Secret":"(sensitive)"}`},
		{"/Keys/-", map[string]any{"Secret": "k2"}, `{"Secret":"(sensitive)"}`},
		{"/Auth/Token", "t-x", `"(sensitive)"`},
		{"/Name", "n", `"n"`},
	}
	for _, tt := range tests {
		got, err := json.Marshal(s.MaskWriteOnly(tt.path, tt.v))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("MaskWriteOnly(%q) = %s, want %s", tt.path, got, tt.want)
		}
	}
	if !reflect.DeepEqual(model, before) {
		t.Fatalf("MaskWriteOnly modified its argument: %v", model)
	}
	var none *Schema
	if got := none.MaskWriteOnly("", model); !reflect.DeepEqual(got, model) {
		t.Fatalf("a nil schema masked %v", got)
	}
}

func TestMaskPatch(t *testing.T) {
	s := mustParse(t, sensitiveSchema)
	ops := []PatchOp{
		{Op: "replace", Path: "/Secret", Value: "new-secret"},
		{Op: "add", Path: "/Login", Value: map[string]any{"Password": "hunter2-SECOND", "Reset": false}},
		{Op: "add", Path: "/Keys/-", Value: map[string]any{"Secret": "k9"}},
		{Op: "remove", Path: "/Auth"},
		{Op: "replace", Path: "/Name", Value: "m"},
	}
	masked := s.MaskPatch(ops)
	got, _ := json.Marshal(masked)
	want := `[{"op":"replace","path":"/Secret","value":"(sensitive)"},{"op":"add","path":"/Login","value":{"Password":"(sensitive)","Reset":false}},{"op":"add","path":"/Keys/-","value":{"Secret":"(sensitive)"}},{"op":"remove","path":"/Auth"},{"op":"replace","path":"/Name","value":"m"}]`
	if string(got) != want {
		t.Fatalf("MaskPatch:\n%s\nwant:\n%s", got, want)
	}
	if ops[0].Value != "new-secret" || ops[1].Value.(map[string]any)["Password"] != "hunter2-SECOND" {
		t.Fatalf("MaskPatch modified its argument: %v", ops)
	}
}

func TestWriteOnlyStrings(t *testing.T) {
	s := mustParse(t, sensitiveSchema)
	model := decode(t, `{"Name": "n", "Secret": "s3", "Login": {"Password": "hunter2", "Reset": true},
		"Keys": [{"Secret": "k0"}, {"Secret": ""}], "Auth": {"Token": "t-x"}, "Count": 2}`)
	got := s.WriteOnlyStrings(model)
	want := []string{"hunter2", "t-x", "k0", "s3"}
	if !slices.Equal(got, want) {
		t.Fatalf("WriteOnlyStrings = %q, want %q", got, want)
	}
}

// TestViolationsDoNotQuoteWriteOnlyValues: a violation at, below or above a
// write-only value names the path and what is allowed but never prints
// the value, also within the explanation of failed oneOf alternatives.
func TestViolationsDoNotQuoteWriteOnlyValues(t *testing.T) {
	s := mustParse(t, sensitiveSchema)
	model := decode(t, `{"Name": "N N", "Secret": "Hunter 2", "Login": {"Password": "hunter 2"},
		"Keys": [{"Secret": "zzz-secret"}, {"Secret": 42}], "Auth": {"Token": "x-secret-token"}, "Count": 1234}`)
	got := violationLines(s.Violations(model))
	want := []string{
		`/Auth: matches none of the 2 oneOf alternatives; tried 0 (Key), 1 (Token); closest is 1 (Token): /Auth/Token: (sensitive) does not match pattern ^t-`,
		`/Count: (sensitive) is greater than the maximum 3`,
		`/Keys/0/Secret: (sensitive) is not one of [a, b]`,
		`/Keys/1/Secret: expected string, got integer (sensitive)`,
		`/Login/Password: (sensitive) does not match pattern ^[^ ]+$`,
		`/Name: "N N" does not match pattern ^[a-z]+$`,
		`/Secret: (sensitive) does not match pattern ^[a-z]+$`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, secret := range []string{"Hunter", "hunter", "zzz", "42", "x-secret", "1234"} {
		if text := s.Validate(model).Error(); strings.Contains(text, secret) {
			t.Errorf("the error quotes %q:\n%s", secret, text)
		}
	}
}

// TestRegistryWriteOnlyValuesMasked: the registry's secret-bearing types.
func TestRegistryWriteOnlyValuesMasked(t *testing.T) {
	user := lookup(t, "AWS::IAM::User")
	err := user.ValidateDesired(map[string]any{"UserName": "u", "LoginProfile": map[string]any{"Password": 424242.0}})
	if err == nil || !strings.Contains(err.Error(), "/LoginProfile/Password: expected string, got integer (sensitive)") || strings.Contains(err.Error(), "424242") {
		t.Fatalf("IAM user: %v", err)
	}
	secret := lookup(t, "AWS::SecretsManager::Secret")
	ops := secret.MaskPatch([]PatchOp{{Op: "replace", Path: "/SecretString", Value: "hunter2-SECOND"}})
	if ops[0].Value != Sensitive {
		t.Fatalf("SecretString in a patch: %v", ops[0].Value)
	}
	err = secret.ValidateDesired(map[string]any{"Name": "s", "SecretString": []any{"hunter2"}})
	if err == nil || !strings.Contains(err.Error(), "/SecretString: expected string, got array") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("secret: %v", err)
	}
}

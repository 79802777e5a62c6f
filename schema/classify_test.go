package schema

import (
	"errors"
	"reflect"
	"testing"
)

func TestClassifyPaths(t *testing.T) {
	jt := lookup(t, jobTemplate)
	s := mustParse(t, orderedSchema)
	tests := []struct {
		s                               *Schema
		path                            string
		createOnly, readOnly, writeOnly bool
	}{
		{jt, "/JobTemplateId", true, false, false},
		{jt, "/Arn", false, true, false},
		{jt, "/Document", true, false, true},
		{jt, "/TimeoutConfig/InProgressTimeoutInMinutes", true, false, true},
		{jt, "/AbortConfig/CriteriaList/0/Action", true, false, true},
		{jt, "/Tags/0/Key", true, false, false},
		{jt, "/Description", true, false, false},
		{jt, "/", false, false, false},
		{jt, "/Unknown", false, false, false},
		{s, "/Config/Engine", true, false, false},
		{s, "/Config", false, false, false},
		{s, "/Config/Size", false, false, false},
		{s, "/Steps/3/Name", true, false, false},
		{s, "/Steps/3/Size", false, false, false},
	}
	for _, tt := range tests {
		if got := tt.s.IsCreateOnly(tt.path); got != tt.createOnly {
			t.Errorf("%s IsCreateOnly(%q) = %v", tt.s.TypeName, tt.path, got)
		}
		if got := tt.s.IsReadOnly(tt.path); got != tt.readOnly {
			t.Errorf("%s IsReadOnly(%q) = %v", tt.s.TypeName, tt.path, got)
		}
		if got := tt.s.IsWriteOnly(tt.path); got != tt.writeOnly {
			t.Errorf("%s IsWriteOnly(%q) = %v", tt.s.TypeName, tt.path, got)
		}
	}
}

func TestPointerTokens(t *testing.T) {
	tests := map[string][]string{
		"/properties/A":                     {"A"},
		"/properties/A/B":                   {"A", "B"},
		"/properties/A/properties/B":        {"A", "B"},
		"/properties/A/*/B":                 {"A", "*", "B"},
		"/properties/A/properties":          {"A", "properties"},
		"/properties/a~1b":                  {"a/b"},
		"/properties/Tags/*/properties/Key": {"Tags", "*", "Key"},
	}
	for ptr, want := range tests {
		if got := pointerTokens(ptr); !reflect.DeepEqual(got, want) {
			t.Errorf("pointerTokens(%q) = %q, want %q", ptr, got, want)
		}
	}
}

const compoundSchema = `{
  "typeName": "Test::Compound::Thing",
  "properties": {"Api": {"type": "string"}, "Stage": {"type": "string"}, "Arn": {"type": "string"}, "Port": {"type": "integer"},
    "Device": {"type": "object", "properties": {"Name": {"type": "string"}}}},
  "primaryIdentifier": ["/properties/Api", "/properties/Stage"],
  "additionalIdentifiers": [["/properties/Arn"]]
}`

func TestIdentifier(t *testing.T) {
	jt := lookup(t, jobTemplate)
	c := mustParse(t, compoundSchema)
	nested := mustParse(t, `{"typeName": "Test::Nested::Id", "properties": {"Device": {"type": "object"}, "Port": {"type": "integer"}},
		"primaryIdentifier": ["/properties/Device/Name", "/properties/Port"]}`)
	tests := []struct {
		s       *Schema
		model   string
		want    string
		wantErr bool
	}{
		{jt, `{"JobTemplateId": "tpl", "Description": "d"}`, "tpl", false},
		{jt, `{"Description": "d"}`, "", true},
		{jt, `{"JobTemplateId": ""}`, "", true},
		{c, `{"Api": "a1", "Stage": "prod"}`, "a1|prod", false},
		{c, `{"Api": "a1"}`, "", true},
		{nested, `{"Device": {"Name": "d"}, "Port": 443}`, "d|443", false},
		{nested, `{"Device": {"Name": {"x": 1}}, "Port": 443}`, "", true},
	}
	for _, tt := range tests {
		got, err := tt.s.Identifier(decode(t, tt.model))
		if tt.wantErr {
			if !errors.Is(err, ErrInvalidIdentifier) {
				t.Errorf("%s Identifier(%s) = %q, %v; want ErrInvalidIdentifier", tt.s.TypeName, tt.model, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s Identifier(%s) = %q, %v; want %q", tt.s.TypeName, tt.model, got, err, tt.want)
		}
	}
}

func TestParseIdentifier(t *testing.T) {
	jt := lookup(t, jobTemplate)
	c := mustParse(t, compoundSchema)
	tests := []struct {
		s       *Schema
		id      string
		want    map[string]any
		wantErr bool
	}{
		{jt, "tpl", map[string]any{"JobTemplateId": "tpl"}, false},
		{jt, "a|b", map[string]any{"JobTemplateId": "a|b"}, false},
		{jt, `{"JobTemplateId": "tpl"}`, map[string]any{"JobTemplateId": "tpl"}, false},
		{jt, ` {"JobTemplateId":"x"} `, map[string]any{"JobTemplateId": "x"}, false},
		{jt, `{"Description": "tpl"}`, nil, true},
		{jt, `{"JobTemplateId": "tpl", "Description": "d"}`, nil, true},
		{jt, `{"JobTemplateId": {"a": 1}}`, nil, true},
		{jt, `{"JobTemplateId": "tpl"} trailing`, nil, true},
		{jt, `{not json`, nil, true},
		{jt, "", nil, true},
		{c, "a1|prod", map[string]any{"Api": "a1", "Stage": "prod"}, false},
		{c, "a1", nil, true},
		{c, "a1|prod|x", nil, true},
		{c, "a1|", nil, true},
		{c, `{"Api": "a1", "Stage": "prod"}`, map[string]any{"Api": "a1", "Stage": "prod"}, false},
		{c, `{"Arn": "arn:x"}`, map[string]any{"Arn": "arn:x"}, false},
		{c, `{"Api": "a1"}`, nil, true},
	}
	for _, tt := range tests {
		got, err := tt.s.ParseIdentifier(tt.id)
		if tt.wantErr {
			if !errors.Is(err, ErrInvalidIdentifier) {
				t.Errorf("%s ParseIdentifier(%q) = %v, %v; want ErrInvalidIdentifier", tt.s.TypeName, tt.id, got, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s ParseIdentifier(%q) = %v, %v; want %v", tt.s.TypeName, tt.id, got, err, tt.want)
		}
	}
}

func TestIdentifierRoundTrip(t *testing.T) {
	c := mustParse(t, compoundSchema)
	model := map[string]any{"Api": "a1", "Stage": "prod", "Port": 1}
	id, err := c.Identifier(model)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.ParseIdentifier(id)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"Api": "a1", "Stage": "prod"}; !reflect.DeepEqual(got, want) {
		t.Errorf("round trip = %v, want %v", got, want)
	}
}

func TestWithoutWriteOnlyAndReadOnly(t *testing.T) {
	jt := lookup(t, jobTemplate)
	model := map[string]any{
		"Arn":           "arn:aws:iot:us-east-1:123456789012:jobtemplate/t",
		"JobTemplateId": "t",
		"Description":   "d",
		"Document":      "{}",
		"TimeoutConfig": map[string]any{"InProgressTimeoutInMinutes": 5},
		"Tags":          []any{map[string]any{"Key": "k", "Value": "v"}},
	}
	readable := jt.WithoutWriteOnly(model)
	if want := decode(t, `{"Arn": "arn:aws:iot:us-east-1:123456789012:jobtemplate/t", "JobTemplateId": "t", "Description": "d", "Tags": [{"Key": "k", "Value": "v"}]}`); !reflect.DeepEqual(readable, want) {
		t.Errorf("WithoutWriteOnly = %v, want %v", readable, want)
	}
	desired := jt.WithoutReadOnly(model)
	if _, ok := desired["Arn"]; ok || len(desired) != 5 {
		t.Errorf("WithoutReadOnly = %v", desired)
	}
	// Deep copies: changing the copies leaves the model alone.
	readable["Tags"].([]any)[0].(map[string]any)["Key"] = "changed"
	desired["TimeoutConfig"].(map[string]any)["InProgressTimeoutInMinutes"] = 9.0
	if model["Tags"].([]any)[0].(map[string]any)["Key"] != "k" || model["TimeoutConfig"].(map[string]any)["InProgressTimeoutInMinutes"] != 5 {
		t.Errorf("the copies share memory with the model: %v", model)
	}

	s := mustParse(t, `{"typeName": "Test::Nested::WriteOnly", "properties": {"Users": {"type": "array", "items": {"type": "object"}}},
		"writeOnlyProperties": ["/properties/Users/*/Password"], "primaryIdentifier": ["/properties/Users"]}`)
	got := s.WithoutWriteOnly(decode(t, `{"Users": [{"Name": "a", "Password": "p"}, {"Name": "b"}]}`))
	if want := decode(t, `{"Users": [{"Name": "a"}, {"Name": "b"}]}`); !reflect.DeepEqual(got, want) {
		t.Errorf("nested WithoutWriteOnly = %v, want %v", got, want)
	}
}

func TestHandlersAndTagging(t *testing.T) {
	jt := lookup(t, jobTemplate)
	if jt.Handlers != (Handlers{Create: true, Read: true, Delete: true, List: true}) {
		t.Errorf("JobTemplate handlers = %+v", jt.Handlers)
	}
	if !jt.Tagging.Taggable || jt.Tagging.TagUpdatable || jt.Tagging.TagProperty != "/properties/Tags" {
		t.Errorf("JobTemplate tagging = %+v", jt.Tagging)
	}
	lg := lookup(t, "AWS::Logs::LogGroup")
	if !lg.Handlers.Update || !lg.Tagging.TagUpdatable {
		t.Errorf("LogGroup handlers %+v tagging %+v", lg.Handlers, lg.Tagging)
	}
	if jt.DocumentationURL == "" {
		t.Error("JobTemplate has no documentation URL")
	}
}

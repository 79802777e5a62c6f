package schema

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// checkPatch applies the change's patch to recorded with evanphx/json-patch
// and requires the result to equal desired (read-only properties aside).
func checkPatch(t *testing.T, s *Schema, ch Change, recorded, desired map[string]any) {
	t.Helper()
	doc, err := json.Marshal(s.WithoutReadOnly(recorded))
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatch.DecodePatch(ch.PatchJSON())
	if err != nil {
		t.Fatalf("decode patch %s: %v", ch.PatchJSON(), err)
	}
	got, err := patch.Apply(doc)
	if err != nil {
		t.Fatalf("apply patch %s to %s: %v", ch.PatchJSON(), doc, err)
	}
	want, err := json.Marshal(s.WithoutReadOnly(desired))
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if ch.Action != NoChange && !Equal(g, w) {
		t.Errorf("patch %s turns %s into %s, want %s", ch.PatchJSON(), doc, got, want)
	}
	if ch.Action == NoChange && len(ch.Patch) != 0 {
		t.Errorf("NoChange carries a patch: %s", ch.PatchJSON())
	}
}

func TestDiffJobTemplateReplacesOnAnyChange(t *testing.T) {
	s := lookup(t, jobTemplate)
	minimal := readModel(t, filepath.Join(seedDir, "minimal.json"))
	advanced := readModel(t, filepath.Join(seedDir, "advanced.json"))
	tests := []struct {
		name         string
		recorded     map[string]any
		patch        string
		paths        []string
		replacePaths []string
	}{
		{"Description", minimal, `{"Description": "changed"}`, []string{"/Description"}, []string{"/Description"}},
		{"JobTemplateId", minimal, `{"JobTemplateId": "other-id"}`, []string{"/JobTemplateId"}, []string{"/JobTemplateId"}},
		{"Document", minimal, `{"Document": "{\"operation\":\"reboot\"}"}`, []string{"/Document"}, []string{"/Document"}},
		{"Document to DocumentSource", minimal, `{"Document": null, "DocumentSource": "https://b.s3.amazonaws.com/d"}`,
			[]string{"/Document", "/DocumentSource"}, []string{"/Document", "/DocumentSource"}},
		{"timeout", minimal, `{"TimeoutConfig": {"InProgressTimeoutInMinutes": 30}}`,
			[]string{"/TimeoutConfig/InProgressTimeoutInMinutes"}, []string{"/TimeoutConfig"}},
		{"TimeoutConfig removed", minimal, `{"TimeoutConfig": null}`, []string{"/TimeoutConfig"}, []string{"/TimeoutConfig"}},
		{"tag value", minimal, `{"Tags": [{"Key": "Environment", "Value": "Staging"}]}`, []string{"/Tags"}, []string{"/Tags"}},
		{"tag added", minimal, `{"Tags": [{"Key": "Environment", "Value": "Production"}, {"Key": "Team", "Value": "iot"}]}`, []string{"/Tags"}, []string{"/Tags"}},
		{"Tags removed", minimal, `{"Tags": null}`, []string{"/Tags"}, []string{"/Tags"}},
		{"PresignedUrlConfig added", minimal, `{"PresignedUrlConfig": {"RoleArn": "arn:aws:iam::123456789012:role/r"}}`, []string{"/PresignedUrlConfig"}, []string{"/PresignedUrlConfig"}},
		{"abort threshold", advanced, `{"AbortConfig": {"CriteriaList": [{"Action": "CANCEL", "FailureType": "FAILED", "MinNumberOfExecutedThings": 10, "ThresholdPercentage": 30}]}}`,
			[]string{"/AbortConfig/CriteriaList"}, []string{"/AbortConfig"}},
		{"retries", advanced, `{"JobExecutionsRetryConfig": {"RetryCriteriaList": [{"FailureType": "FAILED", "NumberOfRetries": 4}]}}`,
			[]string{"/JobExecutionsRetryConfig/RetryCriteriaList"}, []string{"/JobExecutionsRetryConfig"}},
		{"maintenance window", advanced, `{"MaintenanceWindows": [{"StartTime": "cron(0 0 ? * SUN *)", "DurationInMinutes": 60}]}`,
			[]string{"/MaintenanceWindows"}, []string{"/MaintenanceWindows"}},
		{"rollout added", advanced, `{"JobExecutionsRolloutConfig": {"MaximumPerMinute": 5}}`, []string{"/JobExecutionsRolloutConfig"}, []string{"/JobExecutionsRolloutConfig"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desired := merge(tt.recorded, decode(t, tt.patch))
			ch, err := s.Diff(tt.recorded, desired)
			if err != nil {
				t.Fatal(err)
			}
			if ch.Action != Replace {
				t.Errorf("Action = %v, want replace", ch.Action)
			}
			if !slices.Equal(ch.Paths, tt.paths) {
				t.Errorf("Paths = %q, want %q", ch.Paths, tt.paths)
			}
			if !slices.Equal(ch.ReplacePaths, tt.replacePaths) {
				t.Errorf("ReplacePaths = %q, want %q", ch.ReplacePaths, tt.replacePaths)
			}
			checkPatch(t, s, ch, tt.recorded, desired)
		})
	}
}

func TestDiffNoChange(t *testing.T) {
	s := lookup(t, jobTemplate)
	tests := []struct {
		name              string
		recorded, desired string
	}{
		{"identical", `{"JobTemplateId": "t", "Description": "d"}`, `{"JobTemplateId": "t", "Description": "d"}`},
		{"reordered tags",
			`{"JobTemplateId": "t", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}, {"Key": "c", "Value": "3"}]}`,
			`{"JobTemplateId": "t", "Tags": [{"Key": "c", "Value": "3"}, {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}`},
		{"reordered retry criteria",
			`{"JobExecutionsRetryConfig": {"RetryCriteriaList": [{"FailureType": "FAILED", "NumberOfRetries": 1}, {"FailureType": "TIMED_OUT", "NumberOfRetries": 2}]}}`,
			`{"JobExecutionsRetryConfig": {"RetryCriteriaList": [{"NumberOfRetries": 2, "FailureType": "TIMED_OUT"}, {"FailureType": "FAILED", "NumberOfRetries": 1}]}}`},
		{"numbers by value", `{"TimeoutConfig": {"InProgressTimeoutInMinutes": 60}}`, `{"TimeoutConfig": {"InProgressTimeoutInMinutes": 60.0}}`},
		{"read-only Arn recorded", `{"JobTemplateId": "t", "Arn": "arn:aws:iot:us-east-1:123456789012:jobtemplate/t"}`, `{"JobTemplateId": "t"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := s.Diff(decode(t, tt.recorded), decode(t, tt.desired))
			if err != nil {
				t.Fatal(err)
			}
			if ch.Action != NoChange || len(ch.Paths) != 0 || len(ch.Patch) != 0 {
				t.Errorf("Diff = %+v, want no change", ch)
			}
		})
	}
	// Go integers and json.Number compare by value too.
	ch, err := s.Diff(
		map[string]any{"TimeoutConfig": map[string]any{"InProgressTimeoutInMinutes": 60}},
		map[string]any{"TimeoutConfig": map[string]any{"InProgressTimeoutInMinutes": jsonNumber("60")}},
	)
	if err != nil || ch.Action != NoChange {
		t.Errorf("Diff(int, json.Number) = %+v, %v; want no change", ch, err)
	}
}

func TestDiffLogGroup(t *testing.T) {
	s := lookup(t, "AWS::Logs::LogGroup")
	recorded := `{"LogGroupName": "app", "RetentionInDays": 7, "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "core"}]}`
	tests := []struct {
		name         string
		patch        string
		action       Action
		wantPatch    string
		paths        []string
		replacePaths []string
	}{
		{"retention changed", `{"RetentionInDays": 30}`, Update,
			`[{"op":"replace","path":"/RetentionInDays","value":30}]`, []string{"/RetentionInDays"}, nil},
		{"retention removed", `{"RetentionInDays": null}`, Update,
			`[{"op":"remove","path":"/RetentionInDays"}]`, []string{"/RetentionInDays"}, nil},
		{"class added", `{"LogGroupClass": "INFREQUENT_ACCESS"}`, Update,
			`[{"op":"add","path":"/LogGroupClass","value":"INFREQUENT_ACCESS"}]`, []string{"/LogGroupClass"}, nil},
		{"tag value changed", `{"Tags": [{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "dev"}]}`, Update,
			`[{"op":"replace","path":"/Tags","value":[{"Key":"team","Value":"core"},{"Key":"env","Value":"dev"}]}]`, []string{"/Tags"}, nil},
		{"tag added", `{"Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "core"}, {"Key": "cost", "Value": "42"}]}`, Update,
			`[{"op":"replace","path":"/Tags","value":[{"Key":"env","Value":"prod"},{"Key":"team","Value":"core"},{"Key":"cost","Value":"42"}]}]`, []string{"/Tags"}, nil},
		{"retention and tags", `{"RetentionInDays": 14, "Tags": [{"Key": "env", "Value": "prod"}]}`, Update,
			`[{"op":"replace","path":"/RetentionInDays","value":14},{"op":"replace","path":"/Tags","value":[{"Key":"env","Value":"prod"}]}]`,
			[]string{"/RetentionInDays", "/Tags"}, nil},
		{"tags reordered", `{"Tags": [{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "prod"}]}`, NoChange, `[]`, nil, nil},
		{"name changed", `{"LogGroupName": "app2"}`, Replace,
			`[{"op":"replace","path":"/LogGroupName","value":"app2"}]`, []string{"/LogGroupName"}, []string{"/LogGroupName"}},
		{"name and retention changed", `{"LogGroupName": "app2", "RetentionInDays": 30}`, Replace,
			`[{"op":"replace","path":"/LogGroupName","value":"app2"},{"op":"replace","path":"/RetentionInDays","value":30}]`,
			[]string{"/LogGroupName", "/RetentionInDays"}, []string{"/LogGroupName"}},
		{"data protection policy nested", `{"DataProtectionPolicy": {"Name": "p", "Statement": [1, 2]}}`, Update,
			`[{"op":"add","path":"/DataProtectionPolicy","value":{"Name":"p","Statement":[1,2]}}]`, []string{"/DataProtectionPolicy"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := decode(t, recorded)
			desired := merge(rec, decode(t, tt.patch))
			ch, err := s.Diff(rec, desired)
			if err != nil {
				t.Fatal(err)
			}
			if ch.Action != tt.action {
				t.Errorf("Action = %v, want %v", ch.Action, tt.action)
			}
			if got := string(ch.PatchJSON()); got != tt.wantPatch {
				t.Errorf("patch = %s\nwant    %s", got, tt.wantPatch)
			}
			if !slices.Equal(ch.Paths, tt.paths) {
				t.Errorf("Paths = %q, want %q", ch.Paths, tt.paths)
			}
			if !slices.Equal(ch.ReplacePaths, tt.replacePaths) {
				t.Errorf("ReplacePaths = %q, want %q", ch.ReplacePaths, tt.replacePaths)
			}
			checkPatch(t, s, ch, rec, desired)
		})
	}
}

// orderedSchema has an updatable type with an ordered array, a nested
// create-only property and tags that cannot be updated.
const orderedSchema = `{
  "typeName": "Test::Ordered::Thing",
  "properties": {
    "Id": {"type": "string"},
    "Steps": {"type": "array", "items": {"type": "object", "properties": {"Name": {"type": "string"}, "Size": {"type": "integer"}}}},
    "Config": {"type": "object", "properties": {"Engine": {"type": "string"}, "Size": {"type": "integer"}}},
    "Tags": {"type": "array", "insertionOrder": false, "items": {"type": "object"}},
    "Note": {"type": ["string", "null"]}
  },
  "createOnlyProperties": ["/properties/Config/Engine", "/properties/Steps/*/Name"],
  "tagging": {"taggable": true, "tagUpdatable": false, "tagProperty": "/properties/Tags"},
  "primaryIdentifier": ["/properties/Id"],
  "handlers": {"create": {}, "read": {}, "update": {}, "delete": {}}
}`

func TestDiffOrderedAndNested(t *testing.T) {
	s := mustParse(t, orderedSchema)
	tests := []struct {
		name              string
		recorded, desired string
		action            Action
		wantPatch         string
		paths, replace    []string
	}{
		{"ordered element changed",
			`{"Steps": [{"Name": "a", "Size": 1}, {"Name": "b", "Size": 2}]}`,
			`{"Steps": [{"Name": "a", "Size": 1}, {"Name": "b", "Size": 3}]}`,
			Update, `[{"op":"replace","path":"/Steps/1/Size","value":3}]`, []string{"/Steps/1/Size"}, nil},
		{"ordered reorder is a change",
			`{"Steps": [{"Name": "a"}, {"Name": "b"}]}`,
			`{"Steps": [{"Name": "b"}, {"Name": "a"}]}`,
			Replace, `[{"op":"replace","path":"/Steps/0/Name","value":"b"},{"op":"replace","path":"/Steps/1/Name","value":"a"}]`,
			[]string{"/Steps/0/Name", "/Steps/1/Name"}, []string{"/Steps/0/Name", "/Steps/1/Name"}},
		{"ordered element appended",
			`{"Steps": [{"Name": "a"}]}`,
			`{"Steps": [{"Name": "a"}, {"Name": "b"}]}`,
			Replace, `[{"op":"add","path":"/Steps/-","value":{"Name":"b"}}]`, []string{"/Steps/1"}, []string{"/Steps/1"}},
		{"nested updatable member",
			`{"Config": {"Engine": "x", "Size": 1}}`, `{"Config": {"Engine": "x", "Size": 2}}`,
			Update, `[{"op":"replace","path":"/Config/Size","value":2}]`, []string{"/Config/Size"}, nil},
		{"nested create-only member",
			`{"Config": {"Engine": "x"}}`, `{"Config": {"Engine": "y"}}`,
			Replace, `[{"op":"replace","path":"/Config/Engine","value":"y"}]`, []string{"/Config/Engine"}, []string{"/Config/Engine"}},
		{"object holding a create-only member added",
			`{}`, `{"Config": {"Engine": "y"}}`,
			Replace, `[{"op":"add","path":"/Config","value":{"Engine":"y"}}]`, []string{"/Config"}, []string{"/Config"}},
		{"object without create-only member added",
			`{}`, `{"Config": {"Size": 3}}`,
			Update, `[{"op":"add","path":"/Config","value":{"Size":3}}]`, []string{"/Config"}, nil},
		{"tags not updatable",
			`{"Tags": [{"Key": "a"}]}`, `{"Tags": [{"Key": "b"}]}`,
			Replace, `[{"op":"replace","path":"/Tags","value":[{"Key":"b"}]}]`, []string{"/Tags"}, []string{"/Tags"}},
		{"null kept in patch",
			`{"Note": "x"}`, `{"Note": null}`,
			Update, `[{"op":"replace","path":"/Note","value":null}]`, []string{"/Note"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, des := decode(t, tt.recorded), decode(t, tt.desired)
			ch, err := s.Diff(rec, des)
			if err != nil {
				t.Fatal(err)
			}
			if ch.Action != tt.action {
				t.Errorf("Action = %v, want %v", ch.Action, tt.action)
			}
			if got := string(ch.PatchJSON()); got != tt.wantPatch {
				t.Errorf("patch = %s\nwant    %s", got, tt.wantPatch)
			}
			if !slices.Equal(ch.Paths, tt.paths) {
				t.Errorf("Paths = %q, want %q", ch.Paths, tt.paths)
			}
			if !slices.Equal(ch.ReplacePaths, tt.replace) {
				t.Errorf("ReplacePaths = %q, want %q", ch.ReplacePaths, tt.replace)
			}
			checkPatch(t, s, ch, rec, des)
		})
	}
}

func TestPatchOpJSON(t *testing.T) {
	tests := []struct {
		op   PatchOp
		want string
	}{
		{PatchOp{Op: "add", Path: "/A", Value: nil}, `{"op":"add","path":"/A","value":null}`},
		{PatchOp{Op: "replace", Path: "/A", Value: 0.0}, `{"op":"replace","path":"/A","value":0}`},
		{PatchOp{Op: "test", Path: "/A", Value: ""}, `{"op":"test","path":"/A","value":""}`},
		{PatchOp{Op: "remove", Path: "/A", Value: "ignored"}, `{"op":"remove","path":"/A"}`},
		{PatchOp{Op: "move", From: "/A", Path: "/B"}, `{"op":"move","from":"/A","path":"/B"}`},
		{PatchOp{Op: "copy", From: "/A", Path: "/B"}, `{"op":"copy","from":"/A","path":"/B"}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.op)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tt.op, b, err, tt.want)
		}
	}
	if got := string((Change{}).PatchJSON()); got != "[]" {
		t.Errorf("empty PatchJSON = %s, want []", got)
	}
}

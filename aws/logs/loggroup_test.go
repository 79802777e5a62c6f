package logs_test

import (
	"encoding/json"
	"testing"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/aws/logs"
)

type recorder struct {
	typeName string
	props    any
	res      *athanor.Resource
}

func (r *recorder) Declare(typeName, logicalID string, props any, opts ...athanor.ResourceOption) (*athanor.Resource, error) {
	r.typeName, r.props = typeName, props
	return r.res, nil
}

func TestLogGroupArgsJSON(t *testing.T) {
	tests := []struct {
		name string
		args logs.LogGroupArgs
		want string
	}{
		{"empty", logs.LogGroupArgs{}, `{}`},
		{
			"all kinds",
			logs.LogGroupArgs{
				LogGroupName:    "/app/web",
				RetentionInDays: logs.LogGroupRetentionInDays14,
				LogGroupClass:   logs.LogGroupClassInfrequentAccess,
				KmsKeyId:        new(""),
				Tags:            []logs.LogGroupTag{{Key: "team", Value: "web"}},
			},
			`{"KmsKeyId":"","LogGroupClass":"INFREQUENT_ACCESS","LogGroupName":"/app/web","RetentionInDays":14,"Tags":[{"Key":"team","Value":"web"}]}`,
		},
		{"escape hatch", logs.LogGroupArgs{RetentionInDays: logs.LogGroupRetentionInDaysOf(2)}, `{"RetentionInDays":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tt.want {
				t.Errorf("marshal = %s, want %s", data, tt.want)
			}
			var back logs.LogGroupArgs
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			again, err := json.Marshal(back)
			if err != nil || string(again) != tt.want {
				t.Errorf("round trip = %s, %v", again, err)
			}
		})
	}
}

func TestNewLogGroup(t *testing.T) {
	rec := &recorder{res: &athanor.Resource{Type: logs.LogGroupType, Identifier: "/app/web", Outputs: map[string]any{"Arn": "arn:aws:logs:us-east-1:123456789012:log-group:/app/web:*"}}}
	lg, err := logs.NewLogGroup(rec, "web", logs.LogGroupArgs{LogGroupName: "/app/web"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.typeName != "AWS::Logs::LogGroup" {
		t.Errorf("declared type %q", rec.typeName)
	}
	if lg.Arn != "arn:aws:logs:us-east-1:123456789012:log-group:/app/web:*" || lg.LogGroupName != "/app/web" {
		t.Errorf("outputs %+v", lg)
	}
	if got := logs.LogGroupRetentionInDays731.String(); got != "731" {
		t.Errorf("String() = %q", got)
	}
}

package schema

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestClosest(t *testing.T) {
	names := []string{"Arn", "TopicArn", "TopicName", "DisplayName", "Tags"}
	tests := []struct {
		name string
		want []string
	}{
		{"TopicARN", []string{"TopicArn"}},
		{"topicname", []string{"TopicName"}}, // a case-only difference stands alone
		{"TopicNam", []string{"TopicName"}},
		{"Tag", []string{"Tags"}},
		{"Nothing", nil},
		{"Arn", nil}, // the name itself is not a suggestion
	}
	for _, tt := range tests {
		if got := Closest(names, tt.name, 3); !slices.Equal(got, tt.want) {
			t.Errorf("Closest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestLookupSuggests(t *testing.T) {
	reg := Default()
	_, err := reg.Lookup("AWS::Iot::JobTemplate")
	if !errors.Is(err, ErrUnknownType) || !strings.Contains(err.Error(), `did you mean "AWS::IoT::JobTemplate"`) {
		t.Errorf("Lookup(AWS::Iot::JobTemplate) = %v, want a suggestion of AWS::IoT::JobTemplate", err)
	}
	_, err = reg.Lookup("AWS::SNS::Topik")
	if !strings.Contains(err.Error(), `"AWS::SNS::Topic"`) {
		t.Errorf("Lookup(AWS::SNS::Topik) = %v, want a suggestion of AWS::SNS::Topic", err)
	}
	if _, err := reg.Lookup("Custom::Thing::Entirely::Else"); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("Lookup of a far name = %v, want no suggestion", err)
	}
}

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/emulator"
)

// TestHostilePropertiesRefusedBeforeAnyCall: properties that JSON would
// truncate, reject without a path or change silently, and desired states
// longer than Cloud Control accepts, are refused before any call, by a
// ResourceError naming the resource and the property path, and the
// resource's record is left as it was.
func TestHostilePropertiesRefusedBeforeAnyCall(t *testing.T) {
	const topic = "AWS::SNS::Topic"
	e := newEnv(t, emulator.Instant())
	declare := func(props any) func(*athanor.App) error {
		return func(app *athanor.App) error {
			_, err := app.Declare(topic, "topic", props)
			return err
		}
	}
	e.run(declare(map[string]any{"TopicName": "e2e-topic", "DisplayName": "x"}))
	before := recordOf(e.records("test"), "topic")
	if before == nil {
		t.Fatal("the topic is not recorded")
	}

	type timeout struct {
		InProgressTimeoutInMinutes float64 `json:"InProgressTimeoutInMinutes"`
	}
	type template struct {
		JobTemplateId string  `json:"JobTemplateId"`
		TimeoutConfig timeout `json:"TimeoutConfig"`
	}
	tests := []struct {
		name  string
		props any
		want  string
	}{
		{"trailing JSON", json.RawMessage(`{"TopicName":"e2e-topic","DisplayName":"x"} {"evil":1}`), "trailing data after the JSON object, at byte 44 of 54"},
		{"NaN in a typed struct", template{JobTemplateId: "t", TimeoutConfig: timeout{InProgressTimeoutInMinutes: math.NaN()}},
			"/TimeoutConfig/InProgressTimeoutInMinutes: NaN is not a JSON number"},
		{"Inf in a map", map[string]any{"TopicName": "e2e-topic", "DeliveryPolicy": map[string]any{"minDelay": math.Inf(1)}},
			"/DeliveryPolicy/minDelay: +Inf is not a JSON number"},
		{"invalid UTF-8 value", json.RawMessage("{\"TopicName\":\"e2e-topic\",\"DisplayName\":\"x\xff\"}"), "/DisplayName: string is not valid UTF-8"},
		{"invalid UTF-8 key", map[string]any{"TopicName": "e2e-topic", "Tags": []any{map[string]any{"K\xffey": "a"}}},
			"/Tags/0: a property name is not valid UTF-8"},
		{"300 KiB desired state", map[string]any{"TopicName": "e2e-topic", "DisplayName": strings.Repeat("x", 300*1024)},
			"the desired state is 307242 characters of JSON, more than the 262144 Cloud Control accepts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			mark := e.rec.mark()
			_, err := e.try(declare(tt.props), output(t, &out, false))
			var re *athanor.ResourceError
			if !errors.As(err, &re) || re.Key != "topic" {
				t.Fatalf("error %v, want the topic's ResourceError", err)
			}
			if !strings.Contains(err.Error(), "topic ("+topic+"): ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to name the resource and say %q", err, tt.want)
			}
			if calls := e.rec.since(mark); len(calls) != 0 {
				t.Errorf("the run made calls: %+v", calls)
			}
			after := recordOf(e.records("test"), "topic")
			if after == nil || !bytes.Equal(after.Desired, before.Desired) || after.Identifier != before.Identifier || after.Pending != nil {
				t.Errorf("the record changed: %+v, was %+v", after, before)
			}
		})
	}
}

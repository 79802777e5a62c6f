package athanor

import (
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor/schema"
)

func TestPhysicalNameRule(t *testing.T) {
	reg := schema.Default()
	jobTemplateID, err := propertyNameRule(reg, "AWS::IoT::JobTemplate", "JobTemplateId")
	if err != nil {
		t.Fatal(err)
	}
	if jobTemplateID.max != 64 {
		t.Fatalf("JobTemplateId limit %d, want the schema's 64", jobTemplateID.max)
	}
	long := strings.Repeat("firmware-rollout-", 6)
	tests := []struct {
		name              string
		rule              nameRule
		app, stage, base  string
		want              string
		wantLen           int
		wantPrefix, match string
	}{
		{name: "base and stage", rule: defaultNameRule(), app: "fleet", stage: "dev", base: "device-update", want: "device-update-dev"},
		{name: "other stage", rule: defaultNameRule(), app: "fleet", stage: "prod", base: "device-update", want: "device-update-prod"},
		{name: "disallowed characters collapse", rule: defaultNameRule(), app: "fleet", stage: "qa.1", base: "Device  Update!", want: "Device-Update-qa-1"},
		{name: "no leading separator", rule: defaultNameRule(), app: "fleet", stage: "dev", base: "__ota", want: "ota-dev"},
		{name: "pattern allows underscore", rule: jobTemplateID, app: "fleet", stage: "pr_7", base: "ota.v2", want: "ota-v2-pr_7"},
		{name: "cut with a hash", rule: jobTemplateID, app: "fleet", stage: "dev", base: long, wantLen: 64, wantPrefix: "firmware-rollout-firmware-rollout-firmware-rollout-firm-", match: `-[0-9a-f]{8}$`},
		{name: "lower case only", rule: nameRule{allowed: patternChars(`^[a-z0-9][a-z0-9.-]*$`), max: 63}, app: "a", stage: "Prod", base: "Logs", want: "logs-prod"},
		{name: "no separator allowed", rule: nameRule{allowed: patternChars(`^[a-zA-Z0-9]+$`), max: 12}, app: "a", stage: "dev", base: "my-queue-name", wantLen: 12, match: `^myqu[0-9a-f]{8}$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.rule.name(tt.app, tt.stage, tt.base)
			if again := tt.rule.name(tt.app, tt.stage, tt.base); again != got {
				t.Fatalf("not deterministic: %q then %q", got, again)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("name = %q, want %q", got, tt.want)
			}
			if tt.wantLen != 0 && len(got) != tt.wantLen {
				t.Errorf("name %q has %d bytes, want %d", got, len(got), tt.wantLen)
			}
			if tt.wantPrefix != "" && !strings.HasPrefix(got, tt.wantPrefix) {
				t.Errorf("name %q does not start with %q", got, tt.wantPrefix)
			}
			if tt.match != "" && !regexp.MustCompile(tt.match).MatchString(got) {
				t.Errorf("name %q does not match %s", got, tt.match)
			}
		})
	}
	// Names cut to the same prefix stay distinct per stage and app.
	a := jobTemplateID.name("fleet", "dev", long)
	b := jobTemplateID.name("fleet", "dev2", long)
	c := jobTemplateID.name("other", "dev", long)
	if a == b || a == c || b == c {
		t.Errorf("cut names collide: %q %q %q", a, b, c)
	}
	// Every derived JobTemplateId is valid for the schema.
	s, err := reg.Lookup("AWS::IoT::JobTemplate")
	if err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"dev", "a.b", "x_y-z", strings.Repeat("s", 128)} {
		id := jobTemplateID.name("fleet", stage, long)
		model := map[string]any{"JobTemplateId": id, "Description": "d", "Document": "{}"}
		if err := s.ValidateDesired(model); err != nil {
			t.Errorf("stage %q: derived id %q is invalid: %v", stage, id, err)
		}
	}
}

func TestPhysicalNameInARun(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{App: "fleet", Stage: "qa", State: dir, Output: io.Discard}
	var got, gotFor string
	if _, err := Run(context.Background(), cfg, func(app *App) error {
		got = app.PhysicalName("device-update")
		gotFor = app.PhysicalName("device.update", NameFor("AWS::IoT::JobTemplate", "/JobTemplateId"), MaxNameLength(10))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got != "device-update-qa" {
		t.Errorf("PhysicalName = %q, want device-update-qa", got)
	}
	if len(gotFor) != 10 || !strings.HasPrefix(gotFor, "d-") {
		t.Errorf("PhysicalName with NameFor and MaxNameLength(10) = %q", gotFor)
	}
	for _, tt := range []struct{ typ, prop, want string }{
		{"AWS::IoT::JobTemplate", "JobTemplateName", "has no property /JobTemplateName"},
		{"AWS::IoT::NoSuchType", "Name", "AWS::IoT::NoSuchType"},
		{"AWS::IoT::JobTemplate", "TimeoutConfig", "is not a string"},
	} {
		_, err := Run(context.Background(), cfg, func(app *App) error {
			app.PhysicalName("x", NameFor(tt.typ, tt.prop))
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `PhysicalName("x")`) {
			t.Errorf("NameFor(%s, %s): run error %v, want one containing %q", tt.typ, tt.prop, err, tt.want)
		}
	}
}

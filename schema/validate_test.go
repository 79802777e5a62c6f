package schema

import (
	"path/filepath"
	"testing"
)

const jobTemplate = "AWS::IoT::JobTemplate"

// seedDir and seedWrongDir hold the seed's examples, corrected and as the
// seed wrote them.
var (
	seedDir      = filepath.Join("testdata", "seed")
	seedWrongDir = filepath.Join("testdata", "seed-wrong")
)

func TestSeedExamplesValidateClean(t *testing.T) {
	s := lookup(t, jobTemplate)
	for _, name := range []string{"minimal", "advanced", "presigned", "rollout"} {
		t.Run(name, func(t *testing.T) {
			model := readModel(t, filepath.Join(seedDir, name+".json"))
			if err := s.ValidateDesired(model); err != nil {
				t.Errorf("ValidateDesired:\n%v", err)
			}
		})
	}
}

func TestValidateAcceptsNumberForms(t *testing.T) {
	s := lookup(t, jobTemplate)
	model := map[string]any{
		"JobTemplateId": "tpl",
		"Description":   "d",
		"Document":      "{}",
		"TimeoutConfig": map[string]any{"InProgressTimeoutInMinutes": 60},
		"PresignedUrlConfig": map[string]any{
			"RoleArn":      "arn:aws:iam::123456789012:role/r",
			"ExpiresInSec": int64(600),
		},
		"JobExecutionsRetryConfig": map[string]any{"RetryCriteriaList": []any{
			map[string]any{"FailureType": "FAILED", "NumberOfRetries": jsonNumber("0")},
		}},
	}
	if err := s.ValidateDesired(model); err != nil {
		t.Errorf("ValidateDesired: %v", err)
	}
}

package cloudcontrol

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// isolateEnv clears the AWS configuration environment for one test.
func isolateEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDCONTROL",
		EnvEndpointCloudControlAPI, "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
}

func TestLoadConfigEndpointTarget(t *testing.T) {
	isolateEnv(t)
	cfg, err := LoadConfig(t.Context(), "http://127.0.0.1:4566/")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(cfg.BaseEndpoint) != "http://127.0.0.1:4566" {
		t.Errorf("BaseEndpoint = %q", aws.ToString(cfg.BaseEndpoint))
	}
	if cfg.Region != DefaultRegion {
		t.Errorf("Region = %q, want %q", cfg.Region, DefaultRegion)
	}
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil || creds.AccessKeyID != DummyAccessKeyID {
		t.Errorf("credentials = %+v, %v; want the dummy ones", creds, err)
	}
}

func TestLoadConfigEndpointTargetKeepsConfiguredValues(t *testing.T) {
	isolateEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDREAL")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "real")
	t.Setenv("AWS_REGION", "eu-west-1")
	cfg, err := LoadConfig(t.Context(), "https://cloudcontrolapi.example.test")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" {
		t.Errorf("Region = %q", cfg.Region)
	}
	if creds, err := cfg.Credentials.Retrieve(t.Context()); err != nil || creds.AccessKeyID != "AKIDREAL" {
		t.Errorf("credentials = %+v, %v; want the configured ones", creds, err)
	}
}

func TestLoadConfigAWS(t *testing.T) {
	isolateEnv(t)
	t.Setenv("AWS_REGION", "ap-south-1")
	cfg, err := LoadConfig(t.Context(), TargetAWS)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseEndpoint != nil || cfg.Region != "ap-south-1" {
		t.Errorf("cfg endpoint %v region %q", cfg.BaseEndpoint, cfg.Region)
	}
}

func TestLoadConfigRejectsBadTarget(t *testing.T) {
	for _, target := range []string{"local", "ftp://x", "http://", "127.0.0.1:4566"} {
		if _, err := LoadConfig(t.Context(), target); err == nil {
			t.Errorf("LoadConfig(%q) succeeded", target)
		}
	}
}

func TestEndpointVariables(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string // variable → "good" or "bad" server
	}{
		{"CLOUDCONTROLAPI fallback", map[string]string{EnvEndpointCloudControlAPI: "good"}},
		{"SDK variable wins", map[string]string{"AWS_ENDPOINT_URL_CLOUDCONTROL": "good", EnvEndpointCloudControlAPI: "bad"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateEnv(t)
			good := newFakeServer(t)
			good.script("GetResource", reply{body: map[string]any{"ResourceDescription": map[string]any{"Identifier": "x", "Properties": "{}"}}})
			bad := newFakeServer(t)
			for k, v := range tt.env {
				url := good.srv.URL
				if v == "bad" {
					url = bad.srv.URL
				}
				t.Setenv(k, url)
			}
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
			t.Setenv("AWS_REGION", "us-east-1")
			cfg, err := LoadConfig(t.Context(), TargetAWS)
			if err != nil {
				t.Fatal(err)
			}
			c := New(cfg, withClock(newFakeClock()), withNoBackoff(), WithMaxAttempts(1))
			if _, err := c.Get(t.Context(), "AWS::IoT::JobTemplate", "x"); err != nil {
				t.Fatal(err)
			}
			if good.count("GetResource") != 1 || bad.count("GetResource") != 0 {
				t.Errorf("requests went to the wrong endpoint")
			}
		})
	}
}

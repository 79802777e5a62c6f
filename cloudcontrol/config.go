package cloudcontrol

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// TargetAWS selects real AWS through the standard configuration chain.
const TargetAWS = "aws"

// DefaultRegion is the region used for an endpoint target when none is
// configured.
const DefaultRegion = "us-east-1"

// Dummy credentials signed with when an endpoint target has none configured:
// emulators check the signature's shape, not the secret.
const (
	DummyAccessKeyID     = "AKIDATHANORLOCAL"
	DummySecretAccessKey = "athanor-local-secret"
)

// LoadConfig builds the aws.Config for a target:
//
//   - "aws" (or ""): the standard chain of config.LoadDefaultConfig
//     (environment, shared files, SSO, container and instance roles), with
//     endpoints from the environment as the SDK resolves them;
//   - an http or https URL: every service at that endpoint (an emulator, a
//     VPC endpoint), in the configured region or us-east-1, signed with the
//     configured credentials or, when none are configured, with dummy static
//     ones. The instance metadata service is not consulted for an endpoint
//     target, so that a laptop does not wait for it to time out.
//
// optFns are passed on to config.LoadDefaultConfig.
func LoadConfig(ctx context.Context, target string, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	if target == "" || target == TargetAWS {
		cfg, err := config.LoadDefaultConfig(ctx, optFns...)
		if err != nil {
			return aws.Config{}, fmt.Errorf("cloudcontrol: loading AWS configuration: %w", err)
		}
		return cfg, nil
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return aws.Config{}, fmt.Errorf("cloudcontrol: target %q: want %q or an http(s) endpoint URL such as http://127.0.0.1:4566", target, TargetAWS)
	}
	endpoint := strings.TrimRight(target, "/")
	opts := append([]func(*config.LoadOptions) error{
		config.WithBaseEndpoint(endpoint),
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	}, optFns...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("cloudcontrol: loading configuration for %s: %w", endpoint, err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if !hasCredentials(ctx, cfg) {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(DummyAccessKeyID, DummySecretAccessKey, "")
	}
	return cfg, nil
}

// hasCredentials reports whether cfg's chain yields credentials without the
// instance metadata service (disabled by the caller).
func hasCredentials(ctx context.Context, cfg aws.Config) bool {
	if cfg.Credentials == nil {
		return false
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") != "" {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := cfg.Credentials.Retrieve(ctx)
	return err == nil
}

package state

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Kinds of Target: how the stage's cloud is reached.
const (
	// TargetLocal is the embedded emulator of a run (athanor.TargetLocal):
	// one private account per stage, in the state directory.
	TargetLocal = "local"
	// TargetAWS is AWS itself, reached through the SDK's own endpoints.
	TargetAWS = "aws"
	// TargetURL is a Cloud Control endpoint named by its URL (an emulator,
	// a proxy); Target.Endpoint holds the URL.
	TargetURL = "url"
)

// Target is the identity of the cloud a stage's resources live in, recorded
// in the stage metadata on its first mutation (or first successful run) and
// checked by every later run: the kind of endpoint (TargetLocal, TargetAWS
// or TargetURL, with its URL), the partition, the account and the region.
// Two targets are the same cloud when Same says so; BoundAt is only
// informative.
type Target struct {
	Kind string `json:"kind"`
	// Endpoint is the Cloud Control endpoint URL of a TargetURL target, as
	// NormalizeEndpoint returns it; empty for the other kinds.
	Endpoint  string `json:"endpoint,omitempty"`
	Partition string `json:"partition"` // e.g. "aws", "aws-cn"
	Account   string `json:"account"`   // 12-digit account id
	Region    string `json:"region"`    // e.g. "us-east-1"
	// BoundAt is when the stage was bound (or last rebound) to the target.
	BoundAt time.Time `json:"boundAt"`
}

// Same reports whether t and o name the same cloud: same kind, endpoint,
// partition, account and region. BoundAt is not compared.
func (t Target) Same(o Target) bool {
	return t.Kind == o.Kind && NormalizeEndpoint(t.Endpoint) == NormalizeEndpoint(o.Endpoint) &&
		t.Partition == o.Partition && t.Account == o.Account && t.Region == o.Region
}

// String describes the target for people, e.g. "account 111111111111 in
// us-east-1 at http://127.0.0.1:4566", "account 123456789012 in us-east-1
// on the local emulator", "account 111111111111 in cn-north-1 (partition
// aws-cn) on AWS".
func (t Target) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "account %s in %s", orUnknown(t.Account), orUnknown(t.Region))
	if t.Partition != "" && t.Partition != "aws" {
		fmt.Fprintf(&b, " (partition %s)", t.Partition)
	}
	switch t.Kind {
	case TargetLocal:
		b.WriteString(" on the local emulator")
	case TargetAWS:
		b.WriteString(" on AWS")
	case TargetURL:
		b.WriteString(" at " + t.Endpoint)
	default:
		fmt.Fprintf(&b, " on a target of kind %q", t.Kind)
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// Validate reports what is missing or malformed in t: a known kind, an
// http(s) endpoint exactly for TargetURL, a partition, a 12-digit account
// and a region.
func (t Target) Validate() error {
	var problems []string
	switch t.Kind {
	case TargetLocal, TargetAWS:
		if t.Endpoint != "" {
			problems = append(problems, fmt.Sprintf("endpoint %q given for kind %q (only kind %q has one)", t.Endpoint, t.Kind, TargetURL))
		}
	case TargetURL:
		if u, err := url.Parse(t.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("endpoint %q is not an http(s) URL", t.Endpoint))
		}
	default:
		problems = append(problems, fmt.Sprintf("kind %q is not %q, %q or %q", t.Kind, TargetLocal, TargetAWS, TargetURL))
	}
	if t.Partition == "" {
		problems = append(problems, "no partition")
	}
	if len(t.Account) != 12 || strings.Trim(t.Account, "0123456789") != "" {
		problems = append(problems, fmt.Sprintf("account %q is not 12 digits", t.Account))
	}
	if t.Region == "" {
		problems = append(problems, "no region")
	}
	if len(problems) > 0 {
		return fmt.Errorf("state: target: %s", strings.Join(problems, "; "))
	}
	return nil
}

// NormalizeEndpoint returns the comparable form of an endpoint URL: scheme
// and host in lower case, the default port of the scheme dropped, no
// trailing slash. A string that does not parse is returned trimmed.
func NormalizeEndpoint(endpoint string) string {
	endpoint = strings.TrimSpace(endpoint)
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return endpoint
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String()
}

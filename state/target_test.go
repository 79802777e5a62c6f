package state

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestNormalizeEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:4566":       "http://127.0.0.1:4566",
		"http://127.0.0.1:4566/":      "http://127.0.0.1:4566",
		"HTTP://LocalHost:4566//":     "http://localhost:4566",
		"https://cloudcontrol.x:443/": "https://cloudcontrol.x",
		"http://h:80":                 "http://h",
		"http://[::1]:4566/":          "http://[::1]:4566",
		" http://h:1/api/ ":           "http://h:1/api",
		"not a url":                   "not a url",
	} {
		if got := NormalizeEndpoint(in); got != want {
			t.Errorf("NormalizeEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTargetSameAndString(t *testing.T) {
	base := Target{Kind: TargetURL, Endpoint: "http://127.0.0.1:4566", Partition: "aws", Account: "111111111111", Region: "us-east-1", BoundAt: time.Unix(1, 0)}
	if !base.Same(Target{Kind: TargetURL, Endpoint: "http://127.0.0.1:4566/", Partition: "aws", Account: "111111111111", Region: "us-east-1"}) {
		t.Error("a trailing slash or another BoundAt makes a different target")
	}
	for name, change := range map[string]func(*Target){
		"kind":      func(t *Target) { t.Kind, t.Endpoint = TargetLocal, "" },
		"endpoint":  func(t *Target) { t.Endpoint = "http://127.0.0.1:4567" },
		"partition": func(t *Target) { t.Partition = "aws-cn" },
		"account":   func(t *Target) { t.Account = "222222222222" },
		"region":    func(t *Target) { t.Region = "eu-west-1" },
	} {
		o := base
		change(&o)
		if base.Same(o) || o.Same(base) {
			t.Errorf("another %s is the same target", name)
		}
	}
	for _, c := range []struct {
		t    Target
		want string
	}{
		{base, "account 111111111111 in us-east-1 at http://127.0.0.1:4566"},
		{Target{Kind: TargetLocal, Partition: "aws", Account: "123456789012", Region: "us-east-1"}, "account 123456789012 in us-east-1 on the local emulator"},
		{Target{Kind: TargetAWS, Partition: "aws-cn", Account: "123456789012", Region: "cn-north-1"}, "account 123456789012 in cn-north-1 (partition aws-cn) on AWS"},
		{Target{Kind: "ftp"}, `account (unknown) in (unknown) on a target of kind "ftp"`},
	} {
		if got := c.t.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
}

func TestTargetValidate(t *testing.T) {
	good := []Target{
		{Kind: TargetURL, Endpoint: "https://h", Partition: "aws", Account: "111111111111", Region: "us-east-1"},
		{Kind: TargetLocal, Partition: "aws", Account: "123456789012", Region: "us-east-1"},
		{Kind: TargetAWS, Partition: "aws-us-gov", Account: "123456789012", Region: "us-gov-west-1"},
	}
	for _, g := range good {
		if err := g.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", g, err)
		}
	}
	for _, c := range []struct {
		t    Target
		want []string
	}{
		{Target{Kind: "ftp", Account: "1"}, []string{`kind "ftp"`, "no partition", `account "1" is not 12 digits`, "no region"}},
		{Target{Kind: TargetURL, Endpoint: "ftp://h", Partition: "aws", Account: "11111111111x", Region: "r"}, []string{`endpoint "ftp://h" is not an http(s) URL`, "not 12 digits"}},
		{Target{Kind: TargetLocal, Endpoint: "http://h", Partition: "aws", Account: "111111111111", Region: "r"}, []string{`endpoint "http://h" given for kind "local"`}},
	} {
		err := c.t.Validate()
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("Validate(%+v) = %v, want it to say %q", c.t, err, w)
			}
		}
	}
}

// TestMetaTargetFormat: the binding's JSON field names are part of the
// state format; metadata without one (written before bindings) decodes
// with a nil Target.
func TestMetaTargetFormat(t *testing.T) {
	m := &Meta{NextSeq: 1, Target: &Target{Kind: TargetURL, Endpoint: "http://h:1", Partition: "aws", Account: "111111111111", Region: "us-east-1",
		BoundAt: time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)}}
	data, err := EncodeMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"url","endpoint":"http://h:1","partition":"aws","account":"111111111111","region":"us-east-1","boundAt":"2026-12-01T20:00:00Z"}`
	if string(raw["target"]) != want {
		t.Errorf("target encodes as %s, want %s", raw["target"], want)
	}
	old, err := DecodeMeta([]byte(`{"formatVersion":1,"nextSeq":3,"updatedAt":"2026-11-26T14:00:00Z"}`))
	if err != nil || old.Target != nil || old.NextSeq != 3 {
		t.Errorf("meta without a binding: %+v, %v", old, err)
	}
	back, err := DecodeMeta(data)
	if err != nil || back.Target == nil || *back.Target != *m.Target {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

package athanor

import (
	"errors"
	"flag"
	"testing"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want Config
		err  bool
	}{
		{name: "defaults", want: Config{App: "app", Stage: "dev"}},
		{
			name: "flags",
			args: []string{"--stage", "prod", "--plan", "--refresh", "--target", "aws", "--state", "postgres://db/x", "--concurrency", "8", "--json"},
			want: Config{App: "app", Stage: "prod", Plan: true, Refresh: true, Target: "aws", State: "postgres://db/x", Concurrency: 8, JSON: true},
		},
		{
			name: "environment",
			env: map[string]string{EnvStage: "qa", EnvTarget: "http://127.0.0.1:4566", EnvState: "/tmp/s", EnvConcurrency: "4",
				EnvDestroy: "true", EnvJSON: "1"},
			want: Config{App: "app", Stage: "qa", Destroy: true, Target: "http://127.0.0.1:4566", State: "/tmp/s", Concurrency: 4, JSON: true},
		},
		{
			name: "flags override the environment",
			args: []string{"--stage=prod", "--json=false"},
			env:  map[string]string{EnvStage: "qa", EnvJSON: "true"},
			want: Config{App: "app", Stage: "prod"},
		},
		{name: "bad concurrency", env: map[string]string{EnvConcurrency: "many"}, err: true},
		{name: "bad boolean", env: map[string]string{EnvPlan: "maybe"}, err: true},
		{name: "unknown flag", args: []string{"--stagee", "x"}, err: true},
		{name: "stray argument", args: []string{"deploy"}, err: true},
		{name: "negative concurrency", args: []string{"--concurrency", "-1"}, err: true},
		{name: "graph", args: []string{"--graph", "mermaid"}, want: Config{App: "app", Stage: "dev", Graph: "mermaid"}},
		{name: "bad graph format", args: []string{"--graph", "svg"}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig("app", tt.args, func(k string) string { return tt.env[k] }, nil)
			if tt.err {
				if err == nil {
					t.Fatalf("ParseConfig = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.App != tt.want.App || got.Stage != tt.want.Stage || got.Plan != tt.want.Plan || got.Destroy != tt.want.Destroy ||
				got.Refresh != tt.want.Refresh || got.Target != tt.want.Target || got.State != tt.want.State ||
				got.Concurrency != tt.want.Concurrency || got.JSON != tt.want.JSON || got.Graph != tt.want.Graph {
				t.Fatalf("ParseConfig = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	if _, err := ParseConfig("app", []string{"-h"}, nil, nil); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
}

func TestBadTarget(t *testing.T) {
	cfg := Config{App: "app", Target: "ftp://example"}
	cfg.defaults()
	if _, _, _, err := cfg.client(t.Context()); err == nil {
		t.Fatal("ftp target accepted")
	}
}

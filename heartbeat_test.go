package athanor

import (
	"testing"
	"time"
)

// TestParseConfigHeartbeat: the heartbeat defaults to DefaultHeartbeat,
// comes from ATHANOR_HEARTBEAT or --heartbeat (the flag first), and 0
// turns it off (a negative Config.Heartbeat).
func TestParseConfigHeartbeat(t *testing.T) {
	for _, tt := range []struct {
		env     string
		args    []string
		want    time.Duration
		wantErr bool
	}{
		{"", nil, DefaultHeartbeat, false},
		{"250ms", nil, 250 * time.Millisecond, false},
		{"250ms", []string{"--heartbeat", "2s"}, 2 * time.Second, false},
		{"", []string{"--heartbeat", "0"}, -1, false},
		{"0s", nil, -1, false},
		{"often", nil, 0, true},
		{"", []string{"--heartbeat", "-1s"}, 0, true},
	} {
		env := map[string]string{EnvHeartbeat: tt.env}
		cfg, err := ParseConfig("app", tt.args, func(k string) string { return env[k] }, nil)
		if (err != nil) != tt.wantErr || err == nil && cfg.Heartbeat != tt.want {
			t.Errorf("%s=%q %v: Heartbeat %v, error %v; want %v, error %v", EnvHeartbeat, tt.env, tt.args, cfg.Heartbeat, err, tt.want, tt.wantErr)
		}
	}
}

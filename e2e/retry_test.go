package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/emulator"
)

const queue = "AWS::SQS::Queue"

// mixedFleet is fleet (job templates and SNS topics) plus queues SQS queues
// without names (identifiers the service generates), each tagged with its
// key so that the emulator's copy can be told apart.
func mixedFleet(templates, topics, queues int, version string) func(*athanor.App) error {
	templatesAndTopics := fleet(templates, topics, version)
	return func(app *athanor.App) error {
		if err := templatesAndTopics(app); err != nil {
			return err
		}
		for i := range queues {
			app.Go(func() error {
				key := fmt.Sprintf("queue%03d", i)
				_, err := app.Declare(queue, key, map[string]any{
					"VisibilityTimeout": 30,
					"Tags": []any{
						map[string]any{"Key": "athanor-key", "Value": key},
						map[string]any{"Key": "version", "Value": version},
					},
				})
				return err
			})
		}
		return nil
	}
}

// checkMixedFleet requires the emulator and the state to agree exactly with
// the declaration: every declared resource exists once, with the version's
// properties, under the identifier its record holds; no record is pending
// or owes a deletion; no other resource of these types exists.
func (e *env) checkMixedFleet(t *testing.T, stage string, templates, topics, queues int, version string) {
	t.Helper()
	recs := e.records(stage)
	if len(recs) != templates+topics+queues {
		t.Errorf("state holds %d records, want %d", len(recs), templates+topics+queues)
	}
	recorded := map[string]map[string]string{} // type → identifier → key
	for _, r := range recs {
		if r.Pending != nil || len(r.Retired) != 0 || r.Identifier == "" {
			t.Errorf("record %s: identifier %q, pending %+v, retired %+v", r.Key, r.Identifier, r.Pending, r.Retired)
		}
		if recorded[r.Type] == nil {
			recorded[r.Type] = map[string]string{}
		}
		if prev, dup := recorded[r.Type][r.Identifier]; dup {
			t.Errorf("records %s and %s share identifier %s", prev, r.Key, r.Identifier)
		}
		recorded[r.Type][r.Identifier] = r.Key
	}
	for _, tt := range []struct {
		typeName string
		n        int
		prefix   string
	}{{jobTemplate, templates, "tpl"}, {topic, topics, "topic"}, {queue, queues, "queue"}} {
		ids := e.list(tt.typeName)
		if len(ids) != tt.n {
			t.Errorf("emulator holds %d %s, want %d", len(ids), tt.typeName, tt.n)
		}
		var keys []string
		for _, id := range ids {
			key, ok := recorded[tt.typeName][id]
			if !ok {
				t.Errorf("%s %s exists in the emulator but no record holds it (leaked)", tt.typeName, id)
				continue
			}
			keys = append(keys, key)
			m := e.get(tt.typeName, id)
			switch tt.typeName {
			case jobTemplate:
				if want := fmt.Sprintf("crash-%s", key[len("tpl"):]); id != want || m["Description"] != "fleet template "+version {
					t.Errorf("%s is template %s with Description %v", key, id, m["Description"])
				}
			case topic:
				if m["DisplayName"] != "fleet topic "+version || tag(m, "athanor-key") != key {
					t.Errorf("%s is topic %s: %v", key, id, m)
				}
			case queue:
				if tag(m, "version") != version || tag(m, "athanor-key") != key {
					t.Errorf("%s is queue %s: %v", key, id, m)
				}
			}
		}
		for id, key := range recorded[tt.typeName] {
			if !slices.Contains(ids, id) {
				t.Errorf("record %s holds %s %s, which the emulator does not have (lost)", key, tt.typeName, id)
			}
		}
		slices.Sort(keys)
		for i, k := range keys {
			if want := fmt.Sprintf("%s%03d", tt.prefix, i); k != want {
				t.Errorf("%s: keys %v, want %s000..%s%03d once each", tt.typeName, keys, tt.prefix, tt.prefix, tt.n-1)
				break
			}
		}
	}
}

// tag returns the value of the tag key of a model's Tags.
func tag(m map[string]any, key string) string {
	tags, _ := m["Tags"].([]any)
	for _, tg := range tags {
		if tm, _ := tg.(map[string]any); tm["Key"] == key {
			v, _ := tm["Value"].(string)
			return v
		}
	}
	return ""
}

// TestRetryableFaultsFinishInOneRun: 200 resources, job templates with
// chosen identifiers and topics and queues with generated ones, are
// deployed and then updated (templates replaced), each in ONE run, while the emulator throttles
// 30 % of requests, answers 10 % with a 500, drops 10 % of connections, and
// fails 20 % of mutations asynchronously (Throttling, ServiceInternalError,
// NetworkFailure, NotStabilized without effect) plus 5 % of generated-id
// creates and of updates NotStabilized after they took effect. Afterwards
// the emulator and the state agree exactly, and a further run is a no-op.
//
// A create or update fails the run only when it does not stabilise
// engine.unstableAttempts (5) times in a row: about 9 % of attempts here,
// so a run fails with a probability near 240 × 0.09⁵ ≈ 0.14 %.
func TestRetryableFaultsFinishInOneRun(t *testing.T) {
	const templates, topics, queues = 80, 60, 60
	opts := emulator.Instant()
	opts.Faults = emulator.Faults{
		Seed:             11,
		Throttles:        0.3,
		ServerErrors:     0.1,
		DropConnections:  0.1,
		AsyncFailures:    0.2,
		AsyncCodes:       []string{"Throttling", "ServiceInternalError", "NetworkFailure", "NotStabilized"},
		UnstableFailures: 0.05,
	}
	e := newEnv(t, opts)
	srv := e.srv
	fast := func(c *athanor.Config) {
		c.Stage = "retry"
		c.Concurrency = 32
		c.Options = append(c.Options, athanor.WithClientOptions(
			// The emulator throttles a fraction of requests whatever the
			// rate (a rate-bound throttle is Faults.RateLimit), so slowing
			// down cannot make them rarer: the limiter still backs off on
			// every throttle, but no lower than a rate at which the test
			// finishes.
			cloudcontrol.WithRateLimiter(cloudcontrol.NewAIMDLimiter(cloudcontrol.AIMDOptions{MinRate: 500})),
			cloudcontrol.WithRetryPolicy(cloudcontrol.RetryPolicy{Base: time.Millisecond, ThrottleBase: 5 * time.Millisecond, Max: 50 * time.Millisecond}),
			cloudcontrol.WithReruns(0, 5*time.Millisecond, 50*time.Millisecond),
		))
	}
	began := time.Now()

	res := e.run(mixedFleet(templates, topics, queues, "v1"), fast)
	if res.Created != templates+topics+queues || res.Failed != 0 {
		t.Fatalf("deploy: %+v, want %d created", res, templates+topics+queues)
	}
	deployed := srv.FaultCounts()
	t.Logf("deploy in %s: %d requests, %d SDK retries, %d re-runs; faults %+v", res.Duration, res.Stats.Requests, res.Stats.Retries, res.Stats.Reruns, deployed)
	if deployed.Throttles == 0 || deployed.ServerErrors == 0 || deployed.DroppedConnections == 0 ||
		deployed.AsyncFailures["NotStabilized"] == 0 || deployed.AsyncFailures["Throttling"] == 0 || deployed.UnstableFailures == 0 {
		t.Fatalf("a configured fault was never injected: %+v", deployed)
	}
	e.checkMixedFleet(t, "retry", templates, topics, queues, "v1")

	res = e.run(mixedFleet(templates, topics, queues, "v2"), fast)
	// A job template's Description is create-only: templates are
	// replaced (deleted first, since the identifier stays).
	if res.Updated != topics+queues || res.Replaced != templates || res.Failed != 0 {
		t.Fatalf("update: %+v, want %d updated and %d replaced", res, topics+queues, templates)
	}
	updated := srv.FaultCounts()
	t.Logf("update in %s: %d requests; faults %+v", res.Duration, res.Stats.Requests, updated)
	if updated.UnstableFailures == deployed.UnstableFailures {
		t.Fatalf("no update was made to fail NotStabilized: %+v", updated)
	}
	e.checkMixedFleet(t, "retry", templates, topics, queues, "v2")

	mark := e.rec.mark()
	res = e.run(mixedFleet(templates, topics, queues, "v2"), fast)
	if res.Unchanged != templates+topics+queues || res.Stats.Requests != 0 {
		t.Fatalf("third run: %+v, %d requests; want a no-op", res, res.Stats.Requests)
	}
	if calls := e.rec.since(mark, mutating...); len(calls) != 0 {
		t.Fatalf("third run sent %d mutations", len(calls))
	}
	t.Logf("three runs in %s", time.Since(began))
}

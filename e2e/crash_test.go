package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/emulator"
	"github.com/athanor-dev/athanor/state"
)

const topic = "AWS::SNS::Topic"

// Environment of the child process the crash test re-executes.
const (
	envChild     = "ATHANOR_E2E_CHILD"     // "1" in the child
	envTemplates = "ATHANOR_E2E_TEMPLATES" // number of job templates
	envTopics    = "ATHANOR_E2E_TOPICS"    // number of SNS topics
	envVersion   = "ATHANOR_E2E_VERSION"   // changes every Description and tag
	envMain      = "ATHANOR_E2E_MAIN"      // "1": the child runs athanor.Main, as a user's program does
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child is the program the crash test kills: it deploys the fleet described
// by its environment, configured by the ATHANOR_* variables like any
// Athanor program.
func child() int {
	cfg, err := athanor.ParseConfig("e2e", nil, os.Getenv, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	templates, _ := strconv.Atoi(os.Getenv(envTemplates))
	topics, _ := strconv.Atoi(os.Getenv(envTopics))
	program := fleet(templates, topics, os.Getenv(envVersion))
	if os.Getenv(envEstates) == "1" {
		program = estates(templates, topics, os.Getenv(envVersion))
	}
	if os.Getenv(envMain) == "1" {
		athanor.Main("e2e", program) // exits
	}
	cfg.Output = os.Stdout
	if _, err := athanor.Run(context.Background(), cfg, program); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// fleet declares job templates (identifiers the user chooses) and SNS
// topics (identifiers the service generates: an ARN), all in parallel. Each
// topic carries its key as a tag, so that duplicates can be told apart.
func fleet(templates, topics int, version string) func(*athanor.App) error {
	return func(app *athanor.App) error {
		for i := range templates {
			app.Go(func() error {
				_, err := app.Declare(jobTemplate, fmt.Sprintf("tpl%03d", i), map[string]any{
					"JobTemplateId": fmt.Sprintf("crash-%03d", i),
					"Description":   "fleet template " + version,
					"Document":      `{"operation":"update"}`,
				})
				return err
			})
		}
		for i := range topics {
			app.Go(func() error {
				key := fmt.Sprintf("topic%03d", i)
				_, err := app.Declare(topic, key, map[string]any{
					"DisplayName": "fleet topic " + version,
					"Tags":        []any{map[string]any{"Key": "athanor-key", "Value": key}},
				})
				return err
			})
		}
		return nil
	}
}

// spawn runs the test binary as a child deploying the fleet; with killAfter
// > 0 it is killed with SIGKILL once it has written that many events.
// It reports whether the child ran to a successful end.
func (e *env) spawn(t *testing.T, killAfter int, extra ...string) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1",
		athanor.EnvTarget+"="+e.url, athanor.EnvState+"="+e.state, athanor.EnvStage+"=crash",
		athanor.EnvJSON+"=true", athanor.EnvConcurrency+"=16")
	cmd.Env = append(cmd.Env, extra...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	events, killed := 0, false
	for sc.Scan() {
		var ev struct{ Event string }
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if ev.Event == "start" || ev.Event == "done" {
			events++
		}
		if killAfter > 0 && events == killAfter && !killed {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if killed {
		return false
	}
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, stderr.String())
	}
	return true
}

// checkFleet proves that every resource of the fleet exists exactly once in
// the emulator and in state, and nothing else does.
func (e *env) checkFleet(t *testing.T, templates, topics int, version string) {
	t.Helper()
	var wantIDs []string
	for i := range templates {
		wantIDs = append(wantIDs, fmt.Sprintf("crash-%03d", i))
	}
	ids := e.list(jobTemplate)
	slices.Sort(ids)
	if !slices.Equal(ids, wantIDs) {
		t.Fatalf("emulator job templates %v, want %v", ids, wantIDs)
	}
	for _, id := range ids {
		if d := e.get(jobTemplate, id)["Description"]; d != "fleet template "+version {
			t.Errorf("template %s has Description %v", id, d)
		}
	}
	topicIDs := e.list(topic)
	byKey := map[string]string{}
	for _, id := range topicIDs {
		m := e.get(topic, id)
		tags, _ := m["Tags"].([]any)
		key := ""
		for _, tg := range tags {
			if tm, _ := tg.(map[string]any); tm["Key"] == "athanor-key" {
				key, _ = tm["Value"].(string)
			}
		}
		if prev, dup := byKey[key]; dup {
			t.Errorf("topic %s exists twice: %s and %s", key, prev, id)
		}
		byKey[key] = id
		if m["DisplayName"] != "fleet topic "+version {
			t.Errorf("topic %s has DisplayName %v", key, m["DisplayName"])
		}
	}
	if len(topicIDs) != topics {
		t.Errorf("emulator holds %d topics, want %d", len(topicIDs), topics)
	}
	recs := e.records("crash")
	if len(recs) != templates+topics {
		t.Errorf("state holds %d records, want %d", len(recs), templates+topics)
	}
	for _, r := range recs {
		if r.Pending != nil || len(r.Retired) != 0 || r.Status != state.StatusCreated {
			t.Errorf("record %s: status %s, pending %+v, retired %v", r.Key, r.Status, r.Pending, r.Retired)
		}
		switch r.Type {
		case topic:
			if byKey[r.Key] != r.Identifier {
				t.Errorf("record %s: identifier %q, emulator has %q", r.Key, r.Identifier, byKey[r.Key])
			}
		case jobTemplate:
			if !slices.Contains(ids, r.Identifier) {
				t.Errorf("record %s: identifier %q not in the emulator", r.Key, r.Identifier)
			}
		}
	}
}

// TestCrashSafety kills a real deploying process with SIGKILL at many points
// of a 50-resource deploy (then of a replace-everything run and of a
// destroy) against an emulator with latency, reruns it, and proves every
// resource exists exactly once in the emulator and in state.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const templates, topics = 30, 20
	opts := emulator.Instant()
	opts.Latency = emulator.Latency{
		Create: emulator.Between(20*time.Millisecond, 150*time.Millisecond),
		Update: emulator.Between(20*time.Millisecond, 150*time.Millisecond),
		Delete: emulator.Between(20*time.Millisecond, 150*time.Millisecond),
	}
	// Kill points, counted in start/done events: a deploy of 50 writes 100.
	kills := []int{1, 4, 11, 23, 38, 52, 67, 81, 94}
	if raceEnabled {
		kills = []int{4, 38, 67, 94}
	}
	for _, kill := range kills {
		t.Run(fmt.Sprintf("deploy-killed-after-%d", kill), func(t *testing.T) {
			e := newEnv(t, opts)
			e.spawn(t, kill, envTemplates+"=30", envTopics+"=20", envVersion+"=v1")
			// A second kill, of the run that resumes, at another point.
			e.spawn(t, kill/2+3, envTemplates+"=30", envTopics+"=20", envVersion+"=v1")
			if !e.spawn(t, 0, envTemplates+"=30", envTopics+"=20", envVersion+"=v1") {
				t.Fatal("final run did not finish")
			}
			e.checkFleet(t, templates, topics, "v1")

			if kill%2 == 1 {
				return
			}
			// Replace every template (delete-first) and update every topic,
			// killed half way, then finish.
			e.spawn(t, 50+kill/2, envTemplates+"=30", envTopics+"=20", envVersion+"=v2")
			e.spawn(t, 0, envTemplates+"=30", envTopics+"=20", envVersion+"=v2")
			e.checkFleet(t, templates, topics, "v2")

			// Destroy, killed half way, then finish.
			e.spawn(t, kill, athanor.EnvDestroy+"=true")
			e.spawn(t, 0, athanor.EnvDestroy+"=true")
			e.checkFleet(t, 0, 0, "")
		})
	}
}

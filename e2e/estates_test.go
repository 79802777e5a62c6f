package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	cc "github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/emulator"
	"github.com/athanor-dev/athanor/state"
)

// envEstates makes the crash test's child deploy its fleet in four places
// (see estates) instead of one.
const envEstates = "ATHANOR_E2E_ESTATES"

// otherRole is the role of the second account the estate tests assume.
const otherRole = "arn:aws:iam::222222222222:role/deployer"

// places are the four places of the estate tests: the run's region and
// account, another region, another account (an assumed role), and that
// account's other region.
var places = []struct {
	name, region, account string
	p                     athanor.Provider
}{
	{"home", "us-east-1", "123456789012", athanor.Provider{}},
	{"eu", "eu-west-1", "123456789012", athanor.Provider{Region: "eu-west-1"}},
	{"other", "us-east-1", "222222222222", athanor.Provider{RoleARN: otherRole}},
	{"other-eu", "eu-west-1", "222222222222", athanor.Provider{RoleARN: otherRole, Region: "eu-west-1"}},
}

// estates declares the crash test's fleet in each of the four places, in a
// scope named after it.
func estates(templates, topics int, version string) func(*athanor.App) error {
	return func(app *athanor.App) error {
		for _, pl := range places {
			s, err := app.In(pl.name, pl.p)
			if err != nil {
				return err
			}
			if err := fleet(templates, topics, version)(s); err != nil {
				return err
			}
		}
		return nil
	}
}

// placeEnv is e seen from one place: an SDK client in its region and
// account.
func (e *env) in(t *testing.T, region, account string) *env {
	t.Helper()
	var creds aws.CredentialsProvider = credentials.NewStaticCredentialsProvider("test", "test", "")
	if account != "123456789012" {
		st := sts.New(sts.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(e.url)})
		creds = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(st, fmt.Sprintf("arn:aws:iam::%s:role/deployer", account)))
	}
	sdk := cc.New(cc.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(e.url), Retryer: e.sdk.Options().Retryer})
	c := *e
	c.t, c.sdk = t, sdk
	return &c
}

// checkEstates proves that every place holds the fleet exactly once, with
// ARNs of its own region and account, and nothing else.
func (e *env) checkEstates(t *testing.T, templates, topics int, version string) {
	t.Helper()
	for _, pl := range places {
		in := e.in(t, pl.region, pl.account)
		var want []string
		for i := range templates {
			want = append(want, fmt.Sprintf("crash-%03d", i))
		}
		ids := in.list(jobTemplate)
		slices.Sort(ids)
		if !slices.Equal(ids, want) {
			t.Fatalf("%s: job templates %v, want %v", pl.name, ids, want)
		}
		for _, id := range ids {
			m := in.get(jobTemplate, id)
			if m["Description"] != "fleet template "+version || m["Arn"] != fmt.Sprintf("arn:aws:iot:%s:%s:jobtemplate/%s", pl.region, pl.account, id) {
				t.Errorf("%s: template %s is %v", pl.name, id, m)
			}
		}
		byKey := map[string]int{}
		for _, id := range in.list(topic) {
			m := in.get(topic, id)
			if m["DisplayName"] != "fleet topic "+version {
				t.Errorf("%s: topic %s is %v", pl.name, id, m)
			}
			if want := fmt.Sprintf("arn:aws:sns:%s:%s:", pl.region, pl.account); len(id) < len(want) || id[:len(want)] != want {
				t.Errorf("%s: topic ARN %s, want it in %s", pl.name, id, want)
			}
			tags, _ := m["Tags"].([]any)
			for _, tg := range tags {
				if tm, _ := tg.(map[string]any); tm["Key"] == "athanor-key" {
					byKey[fmt.Sprint(tm["Value"])]++
				}
			}
		}
		if len(byKey) != topics {
			t.Fatalf("%s: topics by key %v, want %d", pl.name, byKey, topics)
		}
		for k, n := range byKey {
			if n != 1 {
				t.Fatalf("%s: topic %s exists %d times", pl.name, k, n)
			}
		}
	}
}

// TestEstates deploys one program to two regions of two accounts of the
// emulator (the second account by an assumed role): a run killed mid-deploy
// and run again leaves every resource exactly once in its place; a change
// updates each place; a destroy empties them all.
func TestEstates(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	opts := emulator.Instant()
	lat := emulator.Between(20*time.Millisecond, 150*time.Millisecond)
	opts.Latency = emulator.Latency{Create: lat, Update: lat, Delete: lat}
	e := newEnv(t, opts)
	const templates, topics = 6, 4
	args := []string{envEstates + "=1", fmt.Sprintf("%s=%d", envTemplates, templates), fmt.Sprintf("%s=%d", envTopics, topics), envVersion + "=v1"}
	if e.spawn(t, 30, args...) {
		t.Log("the child finished before it was killed")
	}
	if !e.spawn(t, 0, args...) {
		t.Fatal("the second run did not finish")
	}
	e.checkEstates(t, templates, topics, "v1")
	r := recordOf(e.records("crash"), "other-eu/tpl000")
	if pl := r.Placement; pl == nil || pl.Region != "eu-west-1" || pl.Account != "222222222222" || pl.RoleARN != otherRole {
		t.Fatalf("record of other-eu/tpl000: placement %+v", r.Placement)
	}

	stage := func(c *athanor.Config) { c.Stage = "crash" }
	mark := e.rec.mark()
	res := e.run(estates(templates, topics, "v1"), stage)
	if res.Unchanged != 4*(templates+topics) || len(e.rec.since(mark, mutating...)) != 0 {
		t.Fatalf("redeploy: %+v", res)
	}
	res = e.run(estates(templates, topics, "v2"), stage)
	if res.Replaced+res.Updated != 4*(templates+topics) {
		t.Fatalf("change: %+v", res)
	}
	e.checkEstates(t, templates, topics, "v2")

	// A placement whose credentials now reach another account than the
	// one recorded is refused: the record says 333333333333.
	st, err := state.Open(context.Background(), e.state, "e2e", "crash")
	if err != nil {
		t.Fatal(err)
	}
	moved := recordOf(e.records("crash"), "other/tpl000")
	moved.Placement.Account = "333333333333"
	lock, err := st.Lock(context.Background(), state.NewLockInfo("test"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), moved); err != nil {
		t.Fatal(err)
	}
	lock.Unlock(context.Background())
	st.Close()
	if _, err := e.try(nil, stage, destroy); !errors.Is(err, athanor.ErrPlacementMismatch) || !strings.Contains(err.Error(), "333333333333") {
		t.Fatalf("destroy with a placement that moved to another account: %v", err)
	}
	if e.in(t, "us-east-1", "222222222222").get(jobTemplate, "crash-000") == nil {
		t.Fatal("the resource whose placement moved to another account was deleted")
	}
	moved.Placement.Account = "222222222222"
	st, _ = state.Open(context.Background(), e.state, "e2e", "crash")
	lock, _ = st.Lock(context.Background(), state.NewLockInfo("test"))
	if err := st.Put(context.Background(), moved); err != nil {
		t.Fatal(err)
	}
	lock.Unlock(context.Background())
	st.Close()

	e.run(nil, stage, destroy)
	for _, pl := range places {
		in := e.in(t, pl.region, pl.account)
		if ids := append(in.list(jobTemplate), in.list(topic)...); len(ids) != 0 {
			t.Fatalf("%s after the destroy: %v", pl.name, ids)
		}
	}
}

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/athanor-dev/athanor"
	"github.com/athanor-dev/athanor/emulator"
)

const (
	secretType = "AWS::SecretsManager::Secret"
	userType   = "AWS::IAM::User"
)

// secrets declares a secret and an IAM user; login nil gives the user no
// login profile.
func secrets(secret string, login map[string]any) func(*athanor.App) error {
	return func(app *athanor.App) error {
		if _, err := app.Declare(secretType, "secret", map[string]any{"Name": "e2e-secret", "SecretString": secret}); err != nil {
			return err
		}
		user := map[string]any{"UserName": "e2e-user"}
		if login != nil {
			user["LoginProfile"] = login
		}
		_, err := app.Declare(userType, "user", user)
		return err
	}
}

// noSecret fails the test when text holds any of the secrets.
func noSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s prints the write-only value %q:\n%s", what, s, text)
		}
	}
}

// TestWriteOnlyValuesNeverPrinted: a secret's SecretString and an IAM
// user's LoginProfile/Password are write-only. A plan shows them as changed,
// in text, in JSON lines and in Result.Changes, with "(sensitive)" in place
// of their values, also inside a parent object the patch adds; a deploy
// prints none of them, and still sends the real values.
func TestWriteOnlyValuesNeverPrinted(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	var out bytes.Buffer
	e.run(secrets("hunter2-FIRST", nil), output(t, &out, false))
	noSecret(t, "the first deploy", out.String(), "hunter2")

	login := map[string]any{"Password": "hunter2-PASSWORD", "PasswordResetRequired": false}
	program := secrets("hunter2-SECOND", login)
	wantPatch := map[string]string{
		"secret": `[{"op":"replace","path":"/SecretString","value":"(sensitive)"}]`,
		"user":   `[{"op":"add","path":"/LoginProfile","value":{"Password":"(sensitive)","PasswordResetRequired":false}}]`,
	}
	for _, jsonLines := range []bool{false, true} {
		out.Reset()
		res := e.run(program, plan, output(t, &out, jsonLines))
		for key, want := range wantPatch {
			c := change(t, res, key)
			if c.Action != athanor.ActionUpdate || string(c.Patch) != want {
				t.Errorf("Result.Changes for %s: %s with patch %s, want an update with %s", key, c.Action, c.Patch, want)
			}
		}
		noSecret(t, "the plan's Result.Changes", strings.Join(func() []string {
			var all []string
			for _, c := range res.Changes {
				all = append(all, string(c.Patch))
			}
			return all
		}(), "\n"), "hunter2")
		text := out.String()
		noSecret(t, "the plan", text, "hunter2")
		if !jsonLines {
			for _, want := range []string{`/SecretString: (sensitive) → (sensitive) (changed)`,
				`/LoginProfile: (none) → {"Password":"(sensitive)","PasswordResetRequired":false}`} {
				if !strings.Contains(text, want) {
					t.Errorf("plan text lacks %q:\n%s", want, text)
				}
			}
			continue
		}
		seen := 0
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			var ev struct {
				Event  string
				Key    string
				Change *athanor.Change
			}
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("JSON line %q: %v", line, err)
			}
			if ev.Event == "plan" && ev.Change != nil && wantPatch[ev.Key] != "" {
				seen++
				if string(ev.Change.Patch) != wantPatch[ev.Key] {
					t.Errorf("JSON plan event for %s: patch %s, want %s", ev.Key, ev.Change.Patch, wantPatch[ev.Key])
				}
			}
		}
		if seen != 2 {
			t.Errorf("%d JSON plan events with a patch, want 2:\n%s", seen, text)
		}
	}

	// The deploy sends the real values and prints none.
	mark := e.rec.mark()
	out.Reset()
	if res := e.run(program, output(t, &out, false)); res.Updated != 2 {
		t.Fatalf("deploy: %+v", res)
	}
	noSecret(t, "the deploy", out.String(), "hunter2")
	sent := map[string]string{}
	for _, c := range e.rec.since(mark, "UpdateResource") {
		sent[c.TypeName] = c.Patch
	}
	if !strings.Contains(sent[secretType], `"hunter2-SECOND"`) || !strings.Contains(sent[userType], `"hunter2-PASSWORD"`) {
		t.Fatalf("the updates sent %v, want the real values", sent)
	}
}

// TestWriteOnlyValueInAValidationError: a violation at a write-only value
// names its path and what is allowed but not the value, before any call.
func TestWriteOnlyValueInAValidationError(t *testing.T) {
	e := newEnv(t, emulator.Instant())
	var out bytes.Buffer
	for _, jsonLines := range []bool{false, true} {
		out.Reset()
		mark := e.rec.mark()
		_, err := e.try(func(app *athanor.App) error {
			_, err := app.Declare(userType, "user", map[string]any{"UserName": "u", "LoginProfile": map[string]any{"Password": 4242424242}})
			return err
		}, output(t, &out, jsonLines))
		var re *athanor.ResourceError
		if !errors.As(err, &re) || re.Key != "user" {
			t.Fatalf("error %v, want the user's ResourceError", err)
		}
		if want := "/LoginProfile/Password: expected string, got integer (sensitive)"; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
		noSecret(t, "the error", err.Error(), "4242424242")
		noSecret(t, "the output", out.String(), "4242424242")
		if calls := e.rec.since(mark); len(calls) != 0 {
			t.Errorf("the run made calls: %+v", calls)
		}
	}
	if recs := e.records("test"); len(recs) != 0 {
		t.Errorf("state holds %d records", len(recs))
	}
}

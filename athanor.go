// Package athanor is infrastructure as Go code for AWS: a Go program declares
// resources, and running it makes the cloud match through the AWS Cloud
// Control API, recording what it did in durable state.
//
// A program hands a function to Main (or Run, for tests and embedding). The
// function declares resources on the *App it receives, through the typed
// constructors of the generated packages (aws/iot.NewJobTemplate, ...) or the
// untyped App.Declare.
//
// A run calls the function twice. First in preview: nothing is sent or
// written, every declaration is validated (every error reported, by
// resource and property path) and its change computed, which gives the
// Plan; outputs not known yet are placeholders (IsUnknown). A preview with
// an error changes nothing. On a terminal the plan is shown and confirmed
// (Config.Confirm). Then the function runs again and each declaration
// applies its planned change eagerly: when it returns, the resource exists
// as declared and its outputs (identifier, Arn, ...) are known, so they
// feed the next declaration in plain Go. A declaration whose change differs
// from the plan stops the run before it is sent (ErrDeviation). When the
// function returns nil, resources recorded in state but no longer declared
// are deleted.
//
// App.In places a scope's resources in another region or account
// (Provider); App.Lookup reads an existing resource without managing it.
//
//	func main() {
//		athanor.Main("iot-fleet", func(app *athanor.App) error {
//			tpl, err := iot.NewJobTemplate(app, "basicJobTemplate", iot.JobTemplateArgs{
//				JobTemplateId: app.PhysicalName("device-update-template", athanor.NameFor(iot.JobTemplateType, "JobTemplateId")),
//				Description:   "Basic job template for device updates",
//				Document:      iot.InlineDocument(`{"operation":"update"}`),
//			})
//			if err != nil {
//				return err
//			}
//			app.Export("arn", tpl.Arn)
//			return nil
//		})
//	}
//
// # State backends
//
// A run records its state through a backend chosen by the state location
// (Config.State, --state). This package links only the default one, the
// file backend (state/file: a directory, ".athanor"). The others register
// themselves when imported, as database/sql drivers do, so a program links
// PostgreSQL's driver or the S3 SDK only when it uses them:
//
//	import (
//		_ "github.com/athanor-dev/athanor/state/postgres" // postgres:// and postgresql:// locations
//		_ "github.com/athanor-dev/athanor/state/s3"       // s3://bucket/prefix locations
//	)
//
// A run given a location whose backend the program does not link fails
// before it changes anything, with an error wrapping state.ErrNoBackend
// that names the import to add. The embedded emulator, the default target,
// is always linked.
package athanor

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/athanor-dev/athanor/schema"
)

// Looker is what existing resources are looked up in: an *App or one of
// its scopes. Typed lookups such as iot.LookupJobTemplate call Lookup.
type Looker interface {
	// Lookup reads an existing resource without managing it (see
	// App.Lookup).
	Lookup(typeName, logicalID, identifier string) (*Resource, error)
}

var _ Looker = (*App)(nil)

// Declarer is what resources are declared in: an *App or one of its scopes.
// Typed constructors such as iot.NewJobTemplate call Declare.
type Declarer interface {
	// Declare makes the resource exist as described and returns it with its
	// outputs. props is a typed Args struct or a map[string]any; it is
	// converted to JSON and validated against the type's schema before any
	// API call.
	Declare(typeName, logicalID string, props any, opts ...ResourceOption) (*Resource, error)
}

// Resource is a declared resource as the engine left it.
type Resource struct {
	// Type is the registry type name, e.g. "AWS::IoT::JobTemplate".
	Type string
	// LogicalID is the name given in the program.
	LogicalID string
	// Key is the resource's unique key in the stage: scope path and logical id.
	Key string
	// Identifier is the Cloud Control primary identifier. In the preview
	// that computes a plan it is a placeholder (see IsUnknown) when the
	// resource is to be created with an identifier the service generates.
	Identifier string
	// Outputs holds the read-only attributes the cloud returned (e.g. "Arn").
	// In the preview, outputs not known yet hold placeholders, one per
	// resource and output (see IsUnknown).
	Outputs map[string]any

	// outputNames are the names the type's outputs can have: its read-only
	// properties and its primary identifier's, sorted.
	outputNames []string
	// idProperty is the property that alone makes up the type's primary
	// identifier, if one does.
	idProperty string
}

// ErrNoOutput is wrapped by the error of Resource.Output for a name the
// resource's type has no output of.
var ErrNoOutput = errors.New("no such output")

// Output returns the named output as a string, the JSON text of values that
// are not strings, and "" for an output the type has but the cloud did not
// return. A name the type has no output of (a read-only property or part
// of its identifier) is an error naming the outputs it has, with the
// nearest as a "did you mean": "TopicARN" for an SNS topic's "TopicArn"
// fails instead of reading as "".
func (r *Resource) Output(name string) (string, error) {
	if r == nil {
		return "", fmt.Errorf("athanor: output %q of a nil resource", name)
	}
	if v, ok := r.Outputs[name]; ok {
		return outputString(v), nil
	}
	if name != "" && name == r.idProperty {
		return r.Identifier, nil
	}
	if r.outputNames == nil || slices.Contains(r.outputNames, name) {
		return "", nil
	}
	hint := ""
	if near := schema.Closest(r.outputNames, name, 1); len(near) > 0 {
		hint = fmt.Sprintf(" (did you mean %q?)", near[0])
	}
	return "", fmt.Errorf("athanor: %s (%s) has no output %q%s; its outputs: %s: %w",
		r.Key, r.Type, name, hint, strings.Join(r.outputNames, ", "), ErrNoOutput)
}

// ResourceOption adjusts how one resource is managed.
type ResourceOption func(*ResourceOptions)

// ResourceOptions is what ResourceOption functions set.
type ResourceOptions struct {
	// Adopt takes over an existing resource with the same identifier instead
	// of failing with AlreadyExists: the resource is read, recorded, and then
	// brought to the declared state.
	Adopt bool
	// DependsOn lists resources this one depends on beyond those detected
	// from its properties; deletion runs dependents first.
	DependsOn []*Resource
	// Retain keeps the resource in the cloud when Athanor stops managing
	// it: see Retain.
	Retain bool
}

// Adopt takes over an existing resource with the same identifier instead of
// failing with AlreadyExists.
func Adopt() ResourceOption {
	return func(o *ResourceOptions) { o.Adopt = true }
}

// DependsOn declares explicit dependencies, in addition to those detected
// from property values that carry another resource's identifier or outputs.
func DependsOn(resources ...*Resource) ResourceOption {
	return func(o *ResourceOptions) { o.DependsOn = append(o.DependsOn, resources...) }
}

// Retain keeps the resource in the cloud when Athanor stops managing it.
// The choice is recorded in the resource's state: when a later run no
// longer declares the resource, or on a destroy, its record is removed from
// state without any API call and the run reports it as forgotten (a plan
// shows "forget" instead of "delete"). A later declaration without Retain
// clears the choice.
//
// Retain is about leaving management, not about replacement: when a change
// forces the resource to be replaced, the old physical resource is still
// deleted, and so are replaced resources whose deletion is still owed when
// the retained one is forgotten.
func Retain() ResourceOption {
	return func(o *ResourceOptions) { o.Retain = true }
}

// Package athanor is infrastructure as Go code for AWS: a Go program declares
// resources, and running it makes the cloud match through the AWS Cloud
// Control API, recording what it did in durable state.
//
// CONTRACT FILE — Declarer, Resource and ResourceOption are the agreed seam
// between generated typed packages (aws/<service>) and the engine; the engine
// helper implements them and may extend them without breaking these names.
package athanor

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
	// Identifier is the Cloud Control primary identifier.
	Identifier string
	// Outputs holds the read-only attributes the cloud returned (e.g. "Arn").
	Outputs map[string]any
}

// ResourceOption adjusts how one resource is managed.
type ResourceOption func(*ResourceOptions)

// ResourceOptions is what ResourceOption functions set.
type ResourceOptions struct {
	// Adopt takes over an existing resource with the same identifier instead
	// of failing with AlreadyExists.
	Adopt bool
}

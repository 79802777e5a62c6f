package gen

// exclusiveGroup is a set of properties of one resource type of which a
// program gives at most one. The generator replaces the properties with a
// single field whose type is a sealed interface, implemented only by one
// defined type per property, so that giving two of them does not compile.
// The Args type's JSON methods map the field back onto the registry
// properties.
type exclusiveGroup struct {
	// TypeName is the registry type the group belongs to.
	TypeName string
	// Field is the Go name of the single field in the Args struct.
	Field string
	// Interface is the Go name of the sealed interface.
	Interface string
	// Members are the registry properties of the group, in order.
	Members []exclusiveMember
}

// exclusiveMember is one property of an exclusiveGroup.
type exclusiveMember struct {
	// Property is the registry property name (a top-level property whose
	// type is a string, integer, number or boolean).
	Property string
	// GoType is the Go name of the defined type that stands for it.
	GoType string
}

// exclusiveGroups is the overlay table: facts about mutually exclusive
// properties that the registry schemas do not state in machine-readable
// form. Keep it small and factual.
var exclusiveGroups = []exclusiveGroup{
	{
		// A job template names its job document inline (Document) or by an
		// S3 URL (DocumentSource), never both.
		TypeName:  "AWS::IoT::JobTemplate",
		Field:     "Document",
		Interface: "JobDocument",
		Members: []exclusiveMember{
			{Property: "Document", GoType: "InlineDocument"},
			{Property: "DocumentSource", GoType: "DocumentSource"},
		},
	},
}

// exclusiveGroupsOf returns the overlay groups of a type.
func exclusiveGroupsOf(typeName string) []exclusiveGroup {
	var out []exclusiveGroup
	for _, g := range exclusiveGroups {
		if g.TypeName == typeName {
			out = append(out, g)
		}
	}
	return out
}

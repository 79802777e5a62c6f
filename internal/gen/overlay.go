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

// nameOverrides renames identifiers of one resource type, keyed by registry
// type and the identifier the rules would give. The generator chooses every
// name inside its resource (see assignNames), so two resources of a service
// can only clash when one's name is a prefix of the other's; such a clash
// stops generation until it is settled here, once, keeping the identifier
// users already have and renaming the newcomer's. An entry must not depend
// on whether the other type is generated.
//
// A nested type renamed because its name is another resource's takes the
// suffix Property (CloudFormation calls nested types property types).
var nameOverrides = map[string]map[string]string{
	"AWS::EC2::SecurityGroup": {
		"SecurityGroupEgress":  "SecurityGroupEgressProperty",  // AWS::EC2::SecurityGroupEgress
		"SecurityGroupIngress": "SecurityGroupIngressProperty", // AWS::EC2::SecurityGroupIngress
	},
	"AWS::Glue::Schema": {"SchemaVersion": "SchemaVersionProperty"}, // AWS::Glue::SchemaVersion
	"AWS::IAM::Group":   {"GroupPolicy": "GroupPolicyProperty"},     // AWS::IAM::GroupPolicy
	"AWS::IAM::Role":    {"RolePolicy": "RolePolicyProperty"},       // AWS::IAM::RolePolicy
	"AWS::IAM::User":    {"UserPolicy": "UserPolicyProperty"},       // AWS::IAM::UserPolicy
	"AWS::IoT::Thing":   {"ThingType": "ThingTypeName"},             // AWS::IoT::ThingType
	// AWS::Lex::BotAlias's definition of the same name.
	"AWS::Lex::Bot": {
		"BotAliasLocaleSettings":     "BotBotAliasLocaleSettings",
		"BotAliasLocaleSettingsItem": "BotBotAliasLocaleSettingsItem",
	},
	"AWS::MediaConnect::Bridge": {
		"BridgeOutput": "BridgeOutputProperty", // AWS::MediaConnect::BridgeOutput
		"BridgeSource": "BridgeSourceProperty", // AWS::MediaConnect::BridgeSource
	},
	"AWS::MediaConnect::Flow": {
		"FlowSource":         "FlowSourceProperty",         // AWS::MediaConnect::FlowSource
		"FlowSourceProtocol": "FlowSourcePropertyProtocol", // AWS::MediaConnect::FlowSource's
		"FlowVpcInterface":   "FlowVpcInterfaceProperty",   // AWS::MediaConnect::FlowVpcInterface
	},
}

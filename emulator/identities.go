package emulator

import (
	"strings"
)

// This file holds the emulator's knowledge of how AWS names and identifies
// the resources of the most used types: which property is the name, how a
// missing name is generated, and how the identifiers, ARNs and other
// read-only attributes follow from it. The generic generator
// (resource.go) covers every property a rule leaves out, and every type
// without a rule:
//
//   - a writable primary identifier that is absent and ends in "Name" is a
//     generated name (see genName); one ending in "Id" is a UUID;
//   - a read-only property ending in "Arn" or "ARN" is
//     "arn:<partition>:<service>:<region>:<account>:<resource>/<id>", the
//     service and resource being the type name's second and third parts in
//     lower case and id the resource's primary identifier (a random token
//     when the identifier is that ARN);
//   - other read-only strings are timestamps, UUIDs or random tokens by
//     their names, numbers zero, booleans false.

// identityRule is how AWS forms one type's name, identifiers and read-only
// attributes.
type identityRule struct {
	// name is the property holding the resource's name; "" when the type
	// has none (the service makes up an identifier).
	name string
	// style is how a missing name is generated.
	style nameStyle
	// maxLen bounds a generated name (default 64).
	maxLen int
	// attrs returns read-only attributes (and generated identifiers); a nil
	// value means the attribute is absent and the generic generator must
	// not make it up.
	attrs func(c idContext) map[string]any
}

// nameStyle is the shape of a generated name.
type nameStyle int

const (
	// stackName: "CloudControl-<Resource>-<13 random>", as CloudFormation
	// names a resource "<stack>-<logical id>-<13 random>".
	stackName nameStyle = iota
	// lowerStackName: the same in lower case (S3 buckets, ECR repositories).
	lowerStackName
	// shortName: "<Resource>-<13 random>" (state machines, secrets).
	shortName
	// underscoreName: "CloudControl_<Resource>_<13 random>", for names
	// that allow no hyphen (IoT topic rules).
	underscoreName
)

// generatedNamePrefix stands for the stack name in generated names: Cloud
// Control creates resources outside any stack.
const generatedNamePrefix = "CloudControl"

// idContext is what a rule computes attributes from.
type idContext struct {
	partition, region, account string
	// name is the resource's name, given or generated ("" for types
	// without one).
	name string
	// model is the model being created (desired state with defaults).
	model map[string]any
	g     generator
}

// arn joins an ARN of service in the context's partition.
func (c idContext) arn(service, region, account, resource string) string {
	return "arn:" + c.partition + ":" + service + ":" + region + ":" + account + ":" + resource
}

// regional is an ARN of service in the context's region and account.
func (c idContext) regional(service, resource string) string {
	return c.arn(service, c.region, c.account, resource)
}

// dnsSuffix is the partition's domain.
func (c idContext) dnsSuffix() string {
	if c.partition == "aws-cn" {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

// str returns the model's string property, or def when it is absent.
func (c idContext) str(name, def string) string {
	if v, ok := c.model[name].(string); ok && v != "" {
		return v
	}
	return def
}

// iamPath returns the model's IAM Path ("/" when absent).
func (c idContext) iamPath() string { return c.str("Path", "/") }

// ec2ID is an EC2 resource id: prefix, "-", 17 hexadecimal digits.
func (c idContext) ec2ID(prefix string) string { return prefix + "-" + c.g.pick(17, hexDigits) }

// iamID is an IAM unique id: a four-letter prefix (AROA for roles, ANPA for
// managed policies, AIDA for users) and 17 upper-case base32 characters.
func (c idContext) iamID(prefix string) string { return prefix + c.g.pick(17, base32Upper) }

const (
	hexDigits   = "0123456789abcdef"
	base32Upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	upperAlnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	lowerAlnum  = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// s3WebsiteDash lists the regions whose website endpoint is
// "s3-website-<region>"; the others use "s3-website.<region>".
var s3WebsiteDash = map[string]bool{
	"us-east-1": true, "us-west-1": true, "us-west-2": true, "eu-west-1": true,
	"ap-southeast-1": true, "ap-southeast-2": true, "ap-northeast-1": true,
	"sa-east-1": true, "us-gov-west-1": true,
}

// identityRules are the faithful types, by type name. The README's
// emulator section lists them.
var identityRules = map[string]identityRule{
	"AWS::S3::Bucket": {name: "BucketName", style: lowerStackName, maxLen: 63, attrs: func(c idContext) map[string]any {
		site := "s3-website." + c.region
		if s3WebsiteDash[c.region] {
			site = "s3-website-" + c.region
		}
		d := c.dnsSuffix()
		return map[string]any{
			"Arn":                 c.arn("s3", "", "", c.name),
			"DomainName":          c.name + ".s3." + d,
			"DualStackDomainName": c.name + ".s3.dualstack." + c.region + "." + d,
			"RegionalDomainName":  c.name + ".s3." + c.region + "." + d,
			"WebsiteURL":          "http://" + c.name + "." + site + "." + d,
		}
	}},
	"AWS::IAM::Role": {name: "RoleName", attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.arn("iam", "", c.account, "role"+c.iamPath()+c.name), "RoleId": c.iamID("AROA")}
	}},
	"AWS::IAM::User": {name: "UserName", attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.arn("iam", "", c.account, "user"+c.iamPath()+c.name)}
	}},
	"AWS::IAM::Group": {name: "GroupName", maxLen: 128, attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.arn("iam", "", c.account, "group"+c.iamPath()+c.name)}
	}},
	"AWS::IAM::InstanceProfile": {name: "InstanceProfileName", maxLen: 128, attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.arn("iam", "", c.account, "instance-profile"+c.iamPath()+c.name)}
	}},
	"AWS::IAM::ManagedPolicy": {name: "ManagedPolicyName", maxLen: 128, attrs: func(c idContext) map[string]any {
		attached := 0
		for _, p := range []string{"Roles", "Users", "Groups"} {
			if l, ok := c.model[p].([]any); ok {
				attached += len(l)
			}
		}
		now := c.g.now.UTC().Format("2006-01-02T15:04:05Z")
		return map[string]any{
			"PolicyArn":        c.arn("iam", "", c.account, "policy"+c.iamPath()+c.name),
			"PolicyId":         c.iamID("ANPA"),
			"DefaultVersionId": "v1", "IsAttachable": true,
			"AttachmentCount": float64(attached), "PermissionsBoundaryUsageCount": float64(0),
			"CreateDate": now, "UpdateDate": now,
		}
	}},
	"AWS::Lambda::Function": {name: "FunctionName", attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.regional("lambda", "function:"+c.name)}
	}},
	"AWS::SNS::Topic": {name: "TopicName", maxLen: 256, attrs: func(c idContext) map[string]any {
		return map[string]any{"TopicArn": c.regional("sns", c.name)}
	}},
	"AWS::SNS::Subscription": {attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.str("TopicArn", c.regional("sns", "topic")) + ":" + c.g.uuid()}
	}},
	"AWS::SQS::Queue": {name: "QueueName", maxLen: 80, attrs: func(c idContext) map[string]any {
		return map[string]any{
			"QueueUrl": "https://sqs." + c.region + "." + c.dnsSuffix() + "/" + c.account + "/" + c.name,
			"Arn":      c.regional("sqs", c.name),
		}
	}},
	"AWS::DynamoDB::Table": {name: "TableName", maxLen: 255, attrs: func(c idContext) map[string]any {
		table := c.regional("dynamodb", "table/"+c.name)
		var stream any // absent unless the table has a stream
		if _, ok := c.model["StreamSpecification"]; ok {
			stream = table + "/stream/" + c.g.now.UTC().Format("2006-01-02T15:04:05.000")
		}
		return map[string]any{"Arn": table, "StreamArn": stream}
	}},
	"AWS::KMS::Key": {attrs: func(c idContext) map[string]any {
		id := c.g.uuid()
		return map[string]any{"KeyId": id, "Arn": c.regional("kms", "key/"+id)}
	}},
	"AWS::KMS::Alias": {name: "AliasName", attrs: func(idContext) map[string]any { return nil }},
	"AWS::Logs::LogGroup": {name: "LogGroupName", maxLen: 512, attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.regional("logs", "log-group:"+c.name+":*")}
	}},
	"AWS::EC2::VPC": {attrs: func(c idContext) map[string]any {
		return map[string]any{
			"VpcId":                 c.ec2ID("vpc"),
			"DefaultNetworkAcl":     c.ec2ID("acl"),
			"DefaultSecurityGroup":  c.ec2ID("sg"),
			"CidrBlockAssociations": []any{c.ec2ID("vpc-cidr-assoc")},
		}
	}},
	"AWS::EC2::Subnet": {attrs: func(c idContext) map[string]any {
		return map[string]any{
			"SubnetId":                c.ec2ID("subnet"),
			"NetworkAclAssociationId": c.ec2ID("aclassoc"),
			"BlockPublicAccessStates": map[string]any{"InternetGatewayBlockMode": "off"},
		}
	}},
	"AWS::EC2::SecurityGroup": {name: "GroupName", maxLen: 255, attrs: func(c idContext) map[string]any {
		id := c.ec2ID("sg")
		return map[string]any{"Id": id, "GroupId": id}
	}},
	"AWS::EC2::InternetGateway": {attrs: func(c idContext) map[string]any {
		return map[string]any{"InternetGatewayId": c.ec2ID("igw")}
	}},
	"AWS::EC2::RouteTable": {attrs: func(c idContext) map[string]any {
		return map[string]any{"RouteTableId": c.ec2ID("rtb")}
	}},
	"AWS::ECR::Repository": {name: "RepositoryName", style: lowerStackName, maxLen: 256, attrs: func(c idContext) map[string]any {
		return map[string]any{
			"Arn":           c.regional("ecr", "repository/"+c.name),
			"RepositoryUri": c.account + ".dkr.ecr." + c.region + "." + c.dnsSuffix() + "/" + c.name,
		}
	}},
	"AWS::SecretsManager::Secret": {name: "Name", style: shortName, maxLen: 512, attrs: func(c idContext) map[string]any {
		return map[string]any{"Id": c.regional("secretsmanager", "secret:"+c.name+"-"+c.g.pick(6, alnum))}
	}},
	"AWS::SSM::Parameter": {name: "Name", maxLen: 1011, attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.regional("ssm", "parameter/"+strings.TrimPrefix(c.name, "/"))}
	}},
	"AWS::Events::Rule": {name: "Name", attrs: func(c idContext) map[string]any {
		res := "rule/" + c.name
		bus := c.str("EventBusName", "default")
		if i := strings.LastIndex(bus, "event-bus/"); i >= 0 {
			bus = bus[i+len("event-bus/"):]
		}
		if bus != "default" {
			res = "rule/" + bus + "/" + c.name
		}
		return map[string]any{"Arn": c.regional("events", res)}
	}},
	"AWS::Events::EventBus": {name: "Name", attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.regional("events", "event-bus/"+c.name)}
	}},
	"AWS::StepFunctions::StateMachine": {name: "StateMachineName", style: shortName, maxLen: 80, attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.regional("states", "stateMachine:"+c.name), "Name": c.name}
	}},
	"AWS::IoT::Thing": {name: "ThingName", maxLen: 128, attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.regional("iot", "thing/"+c.name), "Id": c.g.uuid()}
	}},
	"AWS::IoT::ThingType": {name: "ThingTypeName", maxLen: 128, attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.regional("iot", "thingtype/"+c.name), "Id": c.g.uuid()}
	}},
	"AWS::IoT::ThingGroup": {name: "ThingGroupName", maxLen: 128, attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.regional("iot", "thinggroup/"+c.name), "Id": c.g.uuid()}
	}},
	"AWS::IoT::Policy": {name: "PolicyName", maxLen: 128, attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.regional("iot", "policy/"+c.name), "Id": c.name}
	}},
	"AWS::IoT::TopicRule": {name: "RuleName", style: underscoreName, maxLen: 128, attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.regional("iot", "rule/"+c.name)}
	}},
	"AWS::IoT::JobTemplate": {name: "JobTemplateId", attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.regional("iot", "jobtemplate/"+c.name)}
	}},
	"AWS::IoT::Certificate": {attrs: func(c idContext) map[string]any {
		id := c.g.pick(64, hexDigits)
		return map[string]any{"Id": id, "Arn": c.regional("iot", "cert/"+id)}
	}},
	"AWS::CloudWatch::Alarm": {name: "AlarmName", maxLen: 255, attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.regional("cloudwatch", "alarm:"+c.name)}
	}},
	"AWS::ECS::Cluster": {name: "ClusterName", maxLen: 255, attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.regional("ecs", "cluster/"+c.name)}
	}},
	"AWS::Kinesis::Stream": {name: "Name", maxLen: 128, attrs: func(c idContext) map[string]any {
		return map[string]any{"Arn": c.regional("kinesis", "stream/"+c.name)}
	}},
	"AWS::ApiGatewayV2::Api": {attrs: func(c idContext) map[string]any {
		id := c.g.pick(10, lowerAlnum)
		scheme := "https://"
		if c.str("ProtocolType", "") == "WEBSOCKET" {
			scheme = "wss://"
		}
		return map[string]any{"ApiId": id, "ApiEndpoint": scheme + id + ".execute-api." + c.region + "." + c.dnsSuffix()}
	}},
}

// genName makes a name for a resource of typeName whose name property is
// absent, in the rule's style, within its length bound: the prefix is
// shortened, never the random suffix. FIFO topics and queues end in
// ".fifo", as the services require.
func (g generator) genName(typeName string, r identityRule, model map[string]any) string {
	parts := strings.Split(typeName, "::")
	res := parts[len(parts)-1]
	var sep, prefix string
	switch r.style {
	case stackName, lowerStackName:
		sep, prefix = "-", generatedNamePrefix+"-"+res
	case shortName:
		sep = "-"
		prefix = res
	case underscoreName:
		sep, prefix = "_", generatedNamePrefix+"_"+res
	}
	suffix := sep + g.pick(13, upperAlnum)
	if model["FifoTopic"] == true || model["FifoQueue"] == true {
		suffix += ".fifo"
	}
	maxLen := r.maxLen
	if maxLen == 0 {
		maxLen = 64
	}
	if len(prefix)+len(suffix) > maxLen {
		prefix = prefix[:max(0, maxLen-len(suffix))]
	}
	name := prefix + suffix
	if r.style == lowerStackName {
		name = strings.ToLower(name)
	}
	return name
}

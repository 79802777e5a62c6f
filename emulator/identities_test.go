package emulator

import (
	"context"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	cctypes "github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"
)

// The region and account the identity tests serve, other than the
// defaults, so that a value that ignores Options shows.
const (
	idRegion  = "eu-west-2"
	idAccount = "210987654321"
)

// identityCase is one faithful type: a minimal desired state, the name to
// give it (none when the type has no name), and the shapes of its
// identifier and attributes as regular expressions, in which {R}, {A} and
// {N} stand for the region, the account and the resource's name (given or
// generated), quoted.
type identityCase struct {
	typeName string
	base     map[string]any // desired state without the name
	name     string         // name property ("" when the type has none)
	given    string         // the name given in the named variant
	named    map[string]any // more properties of the named variant
	required bool           // the name is required: no unnamed variant
	// generated is the shape of a generated name.
	generated string
	// id is the property the identifier is (its value must be the
	// identifier).
	id    string
	attrs map[string]string
	// namedAttrs replaces shapes of attrs in the named variant.
	namedAttrs map[string]string
	// absent lists attributes that must be absent in the unnamed variant
	// (which leaves out the named variant's extras).
	absent []string
}

const (
	stackGenerated = `CloudControl-%s-[A-Z0-9]{13}`
	hex17          = `[0-9a-f]{17}`
	uuidRE         = `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`
)

func gen(res string) string { return strings.ReplaceAll(stackGenerated, "%s", res) }

var identityCases = []identityCase{
	{typeName: "AWS::S3::Bucket", base: map[string]any{}, name: "BucketName", given: "my-bucket",
		generated: `cloudcontrol-bucket-[a-z0-9]{13}`, id: "BucketName",
		attrs: map[string]string{
			"Arn":                 `arn:aws:s3:::{N}`,
			"DomainName":          `{N}\.s3\.amazonaws\.com`,
			"DualStackDomainName": `{N}\.s3\.dualstack\.{R}\.amazonaws\.com`,
			"RegionalDomainName":  `{N}\.s3\.{R}\.amazonaws\.com`,
			"WebsiteURL":          `http://{N}\.s3-website\.{R}\.amazonaws\.com`,
		}},
	{typeName: "AWS::IAM::Role", base: map[string]any{"AssumeRolePolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{}}},
		name: "RoleName", given: "presign", named: map[string]any{"Path": "/iot/"}, generated: gen("Role"), id: "RoleName",
		attrs:      map[string]string{"Arn": `arn:aws:iam::{A}:role/{N}`, "RoleId": `AROA[A-Z2-7]{17}`},
		namedAttrs: map[string]string{"Arn": `arn:aws:iam::{A}:role/iot/{N}`}},
	{typeName: "AWS::IAM::User", base: map[string]any{}, name: "UserName", given: "deployer", named: map[string]any{"Path": "/ci/"},
		generated: gen("User"), id: "UserName", attrs: map[string]string{"Arn": `arn:aws:iam::{A}:user/{N}`},
		namedAttrs: map[string]string{"Arn": `arn:aws:iam::{A}:user/ci/{N}`}},
	{typeName: "AWS::IAM::Group", base: map[string]any{}, name: "GroupName", given: "admins",
		generated: gen("Group"), id: "GroupName", attrs: map[string]string{"Arn": `arn:aws:iam::{A}:group/{N}`}},
	{typeName: "AWS::IAM::InstanceProfile", base: map[string]any{"Roles": []any{"presign"}}, name: "InstanceProfileName", given: "web",
		generated: gen("InstanceProfile"), id: "InstanceProfileName", attrs: map[string]string{"Arn": `arn:aws:iam::{A}:instance-profile/{N}`}},
	{typeName: "AWS::IAM::ManagedPolicy", base: map[string]any{"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{}}, "Roles": []any{"presign"}},
		name: "ManagedPolicyName", given: "read-jobs", named: map[string]any{"Path": "/fleet/"}, generated: gen("ManagedPolicy"), id: "PolicyArn",
		attrs: map[string]string{
			"PolicyArn": `arn:aws:iam::{A}:policy/{N}`, "PolicyId": `ANPA[A-Z2-7]{17}`, "DefaultVersionId": `v1`,
			"IsAttachable": `true`, "AttachmentCount": `1`, "CreateDate": `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`,
		}, namedAttrs: map[string]string{"PolicyArn": `arn:aws:iam::{A}:policy/fleet/{N}`}},
	{typeName: "AWS::Lambda::Function", base: map[string]any{"Code": map[string]any{"ZipFile": "exports.handler = async () => {}"}, "Role": "arn:aws:iam::210987654321:role/fn", "Runtime": "nodejs20.x", "Handler": "index.handler"},
		name: "FunctionName", given: "resize", generated: gen("Function"), id: "FunctionName",
		attrs: map[string]string{"Arn": `arn:aws:lambda:{R}:{A}:function:{N}`}},
	{typeName: "AWS::SNS::Topic", base: map[string]any{}, name: "TopicName", given: "fleet-alerts",
		generated: gen("Topic"), id: "TopicArn", attrs: map[string]string{"TopicArn": `arn:aws:sns:{R}:{A}:{N}`}},
	{typeName: "AWS::SNS::Topic", base: map[string]any{"FifoTopic": true}, name: "TopicName", given: "orders.fifo",
		generated: gen("Topic") + `\.fifo`, id: "TopicArn", attrs: map[string]string{"TopicArn": `arn:aws:sns:{R}:{A}:{N}`}},
	{typeName: "AWS::SNS::Subscription", base: map[string]any{"TopicArn": "arn:aws:sns:eu-west-2:210987654321:fleet-alerts", "Protocol": "sqs", "Endpoint": "arn:aws:sqs:eu-west-2:210987654321:jobs"},
		id: "Arn", attrs: map[string]string{"Arn": `arn:aws:sns:{R}:{A}:fleet-alerts:` + uuidRE}},
	{typeName: "AWS::SQS::Queue", base: map[string]any{}, name: "QueueName", given: "jobs", generated: gen("Queue"), id: "QueueUrl",
		attrs: map[string]string{"QueueUrl": `https://sqs\.{R}\.amazonaws\.com/{A}/{N}`, "Arn": `arn:aws:sqs:{R}:{A}:{N}`}},
	{typeName: "AWS::SQS::Queue", base: map[string]any{"FifoQueue": true}, name: "QueueName", given: "jobs.fifo", generated: gen("Queue") + `\.fifo`, id: "QueueUrl",
		attrs: map[string]string{"QueueUrl": `https://sqs\.{R}\.amazonaws\.com/{A}/{N}`, "Arn": `arn:aws:sqs:{R}:{A}:{N}`}},
	{typeName: "AWS::DynamoDB::Table", base: map[string]any{
		"KeySchema":            []any{map[string]any{"AttributeName": "pk", "KeyType": "HASH"}},
		"AttributeDefinitions": []any{map[string]any{"AttributeName": "pk", "AttributeType": "S"}},
		"BillingMode":          "PAY_PER_REQUEST",
	}, name: "TableName", given: "devices", named: map[string]any{"StreamSpecification": map[string]any{"StreamViewType": "NEW_IMAGE"}},
		generated: gen("Table"), id: "TableName",
		attrs: map[string]string{
			"Arn":       `arn:aws:dynamodb:{R}:{A}:table/{N}`,
			"StreamArn": `arn:aws:dynamodb:{R}:{A}:table/{N}/stream/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}`,
		}, absent: []string{"StreamArn"}},
	{typeName: "AWS::KMS::Key", base: map[string]any{}, id: "KeyId",
		attrs: map[string]string{"KeyId": uuidRE, "Arn": `arn:aws:kms:{R}:{A}:key/` + uuidRE}},
	{typeName: "AWS::KMS::Alias", base: map[string]any{"TargetKeyId": "0b3c7a3e-5d0f-4c11-9d1e-0123456789ab"}, name: "AliasName", given: "alias/fleet", required: true,
		id: "AliasName"},
	{typeName: "AWS::Logs::LogGroup", base: map[string]any{}, name: "LogGroupName", given: "/fleet/jobs", generated: gen("LogGroup"), id: "LogGroupName",
		attrs: map[string]string{"Arn": `arn:aws:logs:{R}:{A}:log-group:{N}:\*`}},
	{typeName: "AWS::EC2::VPC", base: map[string]any{"CidrBlock": "10.0.0.0/16"}, id: "VpcId",
		attrs: map[string]string{"VpcId": `vpc-` + hex17, "DefaultNetworkAcl": `acl-` + hex17, "DefaultSecurityGroup": `sg-` + hex17}},
	{typeName: "AWS::EC2::Subnet", base: map[string]any{"VpcId": "vpc-0123456789abcdef0", "CidrBlock": "10.0.1.0/24"}, id: "SubnetId",
		attrs: map[string]string{"SubnetId": `subnet-` + hex17, "NetworkAclAssociationId": `aclassoc-` + hex17}},
	{typeName: "AWS::EC2::SecurityGroup", base: map[string]any{"GroupDescription": "web"}, name: "GroupName", given: "web",
		generated: gen("SecurityGroup"), id: "Id", attrs: map[string]string{"Id": `sg-` + hex17, "GroupId": `sg-` + hex17}},
	{typeName: "AWS::EC2::InternetGateway", base: map[string]any{}, id: "InternetGatewayId",
		attrs: map[string]string{"InternetGatewayId": `igw-` + hex17}},
	{typeName: "AWS::EC2::RouteTable", base: map[string]any{"VpcId": "vpc-0123456789abcdef0"}, id: "RouteTableId",
		attrs: map[string]string{"RouteTableId": `rtb-` + hex17}},
	{typeName: "AWS::ECR::Repository", base: map[string]any{}, name: "RepositoryName", given: "fleet/agent",
		generated: `cloudcontrol-repository-[a-z0-9]{13}`, id: "RepositoryName",
		attrs: map[string]string{"Arn": `arn:aws:ecr:{R}:{A}:repository/{N}`, "RepositoryUri": `{A}\.dkr\.ecr\.{R}\.amazonaws\.com/{N}`}},
	{typeName: "AWS::SecretsManager::Secret", base: map[string]any{}, name: "Name", given: "db-password",
		generated: `Secret-[A-Z0-9]{13}`, id: "Id", attrs: map[string]string{"Id": `arn:aws:secretsmanager:{R}:{A}:secret:{N}-[A-Za-z0-9]{6}`}},
	{typeName: "AWS::SSM::Parameter", base: map[string]any{"Type": "String", "Value": "v"}, name: "Name", given: "/fleet/endpoint",
		generated: gen("Parameter"), id: "Name", attrs: map[string]string{"Arn": `arn:aws:ssm:{R}:{A}:parameter/{N}`},
		namedAttrs: map[string]string{"Arn": `arn:aws:ssm:{R}:{A}:parameter/fleet/endpoint`}},
	{typeName: "AWS::Events::Rule", base: map[string]any{"ScheduleExpression": "rate(5 minutes)"}, name: "Name", given: "nightly",
		named: map[string]any{"EventBusName": "orders"}, generated: gen("Rule"), id: "Arn",
		attrs:      map[string]string{"Arn": `arn:aws:events:{R}:{A}:rule/{N}`},
		namedAttrs: map[string]string{"Arn": `arn:aws:events:{R}:{A}:rule/orders/{N}`}},
	{typeName: "AWS::Events::EventBus", base: map[string]any{}, name: "Name", given: "orders", required: true, id: "Name",
		attrs: map[string]string{"Arn": `arn:aws:events:{R}:{A}:event-bus/{N}`}},
	{typeName: "AWS::StepFunctions::StateMachine", base: map[string]any{"RoleArn": "arn:aws:iam::210987654321:role/sfn", "DefinitionString": `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`},
		name: "StateMachineName", given: "rollout", generated: `StateMachine-[A-Z0-9]{13}`, id: "Arn",
		attrs: map[string]string{"Arn": `arn:aws:states:{R}:{A}:stateMachine:{N}`, "Name": `{N}`}},
	{typeName: "AWS::IoT::Thing", base: map[string]any{}, name: "ThingName", given: "sensor-1", generated: gen("Thing"), id: "ThingName",
		attrs: map[string]string{"Arn": `arn:aws:iot:{R}:{A}:thing/{N}`, "Id": uuidRE}},
	{typeName: "AWS::IoT::ThingType", base: map[string]any{}, name: "ThingTypeName", given: "sensor", generated: gen("ThingType"), id: "ThingTypeName",
		attrs: map[string]string{"Arn": `arn:aws:iot:{R}:{A}:thingtype/{N}`, "Id": uuidRE}},
	{typeName: "AWS::IoT::ThingGroup", base: map[string]any{}, name: "ThingGroupName", given: "floor-1", generated: gen("ThingGroup"), id: "ThingGroupName",
		attrs: map[string]string{"Arn": `arn:aws:iot:{R}:{A}:thinggroup/{N}`, "Id": uuidRE}},
	{typeName: "AWS::IoT::Policy", base: map[string]any{"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{}}}, name: "PolicyName", given: "device",
		generated: gen("Policy"), id: "Id", attrs: map[string]string{"Arn": `arn:aws:iot:{R}:{A}:policy/{N}`, "Id": `{N}`}},
	{typeName: "AWS::IoT::TopicRule", base: map[string]any{"TopicRulePayload": map[string]any{"Sql": "SELECT * FROM 'alarms'", "Actions": []any{}}},
		name: "RuleName", given: "alarms_rule", generated: `CloudControl_TopicRule_[A-Z0-9]{13}`, id: "RuleName",
		attrs: map[string]string{"Arn": `arn:aws:iot:{R}:{A}:rule/{N}`}},
	{typeName: "AWS::IoT::JobTemplate", base: map[string]any{"Description": "d", "Document": `{"operation":"update"}`}, name: "JobTemplateId", given: "update", required: true,
		id: "JobTemplateId", attrs: map[string]string{"Arn": `arn:aws:iot:{R}:{A}:jobtemplate/{N}`}},
	{typeName: "AWS::IoT::Certificate", base: map[string]any{"Status": "ACTIVE", "CertificateSigningRequest": "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----"},
		id: "Id", attrs: map[string]string{"Id": `[0-9a-f]{64}`, "Arn": `arn:aws:iot:{R}:{A}:cert/[0-9a-f]{64}`}},
	{typeName: "AWS::CloudWatch::Alarm", base: map[string]any{
		"ComparisonOperator": "GreaterThanThreshold", "EvaluationPeriods": 1, "MetricName": "CPUUtilization",
		"Namespace": "AWS/EC2", "Period": 60, "Statistic": "Average", "Threshold": 80,
	}, name: "AlarmName", given: "cpu-high", generated: gen("Alarm"), id: "AlarmName",
		attrs: map[string]string{"Arn": `arn:aws:cloudwatch:{R}:{A}:alarm:{N}`}},
	{typeName: "AWS::ECS::Cluster", base: map[string]any{}, name: "ClusterName", given: "fleet", generated: gen("Cluster"), id: "ClusterName",
		attrs: map[string]string{"Arn": `arn:aws:ecs:{R}:{A}:cluster/{N}`}},
	{typeName: "AWS::Kinesis::Stream", base: map[string]any{"ShardCount": 1}, name: "Name", given: "telemetry", generated: gen("Stream"), id: "Name",
		attrs: map[string]string{"Arn": `arn:aws:kinesis:{R}:{A}:stream/{N}`}},
	{typeName: "AWS::ApiGatewayV2::Api", base: map[string]any{"Name": "fleet-api", "ProtocolType": "HTTP"}, id: "ApiId",
		attrs: map[string]string{"ApiId": `[a-z0-9]{10}`, "ApiEndpoint": `https://[a-z0-9]{10}\.execute-api\.{R}\.amazonaws\.com`}},
}

// TestIdentities creates each faithful type through the SDK, with its name
// and without, and checks the identifier, the name and the read-only
// attributes against AWS's shapes, in the emulator's region and account;
// the stored model must satisfy the schema, read-only patterns included.
func TestIdentities(t *testing.T) {
	te := startEmulator(t, Options{Region: idRegion, Account: idAccount})
	types := map[string]bool{}
	for _, tc := range identityCases {
		types[tc.typeName] = true
		variants := []bool{true}
		if tc.name != "" && !tc.required {
			variants = append(variants, false)
		}
		for _, named := range variants {
			label := tc.typeName + "/unnamed"
			switch {
			case tc.name == "":
				label = tc.typeName
			case named:
				label = tc.typeName + "/named"
			}
			if tc.base["FifoTopic"] == true || tc.base["FifoQueue"] == true {
				label += "/fifo"
			}
			t.Run(label, func(t *testing.T) {
				desired := maps.Clone(tc.base)
				if named {
					maps.Copy(desired, tc.named)
					if tc.name != "" {
						desired[tc.name] = tc.given
					}
				}
				done := te.final(t, te.create(t, tc.typeName, desired), cctypes.OperationStatusSuccess)
				id := aws.ToString(done.Identifier)
				props := te.get(t, tc.typeName, id)
				name := ""
				if tc.name != "" {
					name, _ = props[tc.name].(string)
					want := regexp.QuoteMeta(tc.given)
					if !named {
						want = tc.generated
					}
					if !regexp.MustCompile(`^` + want + `$`).MatchString(name) {
						t.Errorf("%s = %q, want /%s/", tc.name, name, want)
					}
				}
				if got := stringOf(props[tc.id]); got != id {
					t.Errorf("identifier %q, %s = %q: the identifier is not the %s", id, tc.id, got, tc.id)
				}
				expand := strings.NewReplacer("{R}", regexp.QuoteMeta(idRegion), "{A}", idAccount, "{N}", regexp.QuoteMeta(name))
				shapes := maps.Clone(tc.attrs)
				if named {
					maps.Copy(shapes, tc.namedAttrs)
				}
				for attr, shape := range shapes {
					if !named && slices.Contains(tc.absent, attr) {
						if v, ok := props[attr]; ok {
							t.Errorf("%s = %v, want it absent", attr, v)
						}
						continue
					}
					want := `^` + expand.Replace(shape) + `$`
					if got := stringOf(props[attr]); !regexp.MustCompile(want).MatchString(got) {
						t.Errorf("%s = %q, want /%s/", attr, got, want)
					}
				}
				sch, err := te.srv.reg.Lookup(tc.typeName)
				if err != nil {
					t.Fatal(err)
				}
				stored := te.srv.homeStore().get(resourceKey{tc.typeName, id})
				if stored == nil {
					t.Fatalf("nothing stored under %q", id)
				}
				if vs := sch.Violations(stored.Model); len(vs) > 0 {
					t.Errorf("the stored model breaks the schema: %v", vs)
				}
			})
		}
	}
	if len(types) < 30 {
		t.Errorf("%d types tested, want at least 30", len(types))
	}
	for typeName := range identityRules {
		if !types[typeName] {
			t.Errorf("%s has an identity rule and no case", typeName)
		}
	}
}

// stringOf renders a model value as a test compares it: strings as they
// are, other values as JSON.
func stringOf(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// TestGenericIdentity: a type without an identity rule follows the generic
// rule, guided by the schema's pattern for the ARN.
func TestGenericIdentity(t *testing.T) {
	te := startEmulator(t, Options{Region: idRegion, Account: idAccount})
	for _, tc := range []struct {
		typeName string
		desired  map[string]any
		name     string // the name property
		wantName string // its shape
		arn      string // the Arn's shape, {N} the name
	}{
		// Name, the primary identifier, is generated; the pattern wants
		// "schedule-group", not "schedulegroup".
		{"AWS::Scheduler::ScheduleGroup", map[string]any{}, "Name", gen("ScheduleGroup"),
			`arn:aws:scheduler:{R}:{A}:schedule-group/{N}`},
		// The identifier is the ARN itself, ending in the name.
		{"AWS::Glue::Registry", map[string]any{"Name": "schemas"}, "Name", `schemas`,
			`arn:aws:glue:{R}:{A}:registry/{N}`},
	} {
		t.Run(tc.typeName, func(t *testing.T) {
			if _, ok := identityRules[tc.typeName]; ok {
				t.Fatalf("%s has an identity rule: pick another type", tc.typeName)
			}
			done := te.final(t, te.create(t, tc.typeName, tc.desired), cctypes.OperationStatusSuccess)
			id := aws.ToString(done.Identifier)
			props := te.get(t, tc.typeName, id)
			name, _ := props[tc.name].(string)
			if !regexp.MustCompile(`^` + tc.wantName + `$`).MatchString(name) {
				t.Errorf("%s = %q, want /%s/", tc.name, name, tc.wantName)
			}
			want := `^` + strings.NewReplacer("{R}", regexp.QuoteMeta(idRegion), "{A}", idAccount, "{N}", regexp.QuoteMeta(name)).Replace(tc.arn) + `$`
			if arn, _ := props["Arn"].(string); !regexp.MustCompile(want).MatchString(arn) {
				t.Errorf("Arn = %q, want /%s/", arn, want)
			}
			sch, err := te.srv.reg.Lookup(tc.typeName)
			if err != nil {
				t.Fatal(err)
			}
			if vs := sch.Violations(te.srv.homeStore().get(resourceKey{tc.typeName, id}).Model); len(vs) > 0 {
				t.Errorf("the stored model breaks the schema: %v", vs)
			}
		})
	}
}

// TestGeneratedNamesFollowTheSeed: the same seed and sequence of creates
// yields the same generated identifiers, another seed others; after a
// restart on the same data directory, where the seeded source repeats
// itself, a generated identifier already taken is drawn again.
func TestGeneratedNamesFollowTheSeed(t *testing.T) {
	const topic = "AWS::SNS::Topic"
	createTopics := func(te *testEmulator) []string {
		var ids []string
		for range 3 {
			done := te.final(t, te.create(t, topic, map[string]any{}), cctypes.OperationStatusSuccess)
			ids = append(ids, aws.ToString(done.Identifier))
		}
		return ids
	}
	a := createTopics(startEmulator(t, Options{Faults: Faults{Seed: 7}}))
	b := createTopics(startEmulator(t, Options{Faults: Faults{Seed: 7}}))
	c := createTopics(startEmulator(t, Options{Faults: Faults{Seed: 8}}))
	if !slices.Equal(a, b) {
		t.Errorf("seed 7 twice: %v, then %v", a, b)
	}
	if slices.ContainsFunc(c, func(id string) bool { return slices.Contains(a, id) }) {
		t.Errorf("seeds 7 and 8 share identifiers: %v, %v", a, c)
	}

	opts := Options{DataDir: t.TempDir(), Faults: Faults{Seed: 7}}
	first, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	te := serve(t, first)
	before := createTopics(te)
	te.close(t)
	second, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	te = serve(t, second)
	defer te.close(t)
	after := createTopics(te)
	if !slices.Equal(before, a) {
		t.Errorf("with a data directory, seed 7: %v, want %v", before, a)
	}
	for _, id := range after {
		if slices.Contains(before, id) {
			t.Errorf("after the restart, %s was generated again (before %v, after %v)", id, before, after)
		}
	}
	for _, id := range append(before, after...) {
		te.get(t, topic, id)
	}
}

// TestGeneratedNameBounds: a generated name keeps its random suffix and
// its ".fifo" ending within the type's length bound, shortening the prefix.
func TestGeneratedNameBounds(t *testing.T) {
	srv, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	g := generator{typeName: "AWS::SQS::Queue", s: srv}
	for _, tc := range []struct {
		rule  identityRule
		model map[string]any
		want  string
	}{
		{identityRule{maxLen: 80}, nil, `^CloudControl-Queue-[A-Z0-9]{13}$`},
		{identityRule{maxLen: 20}, nil, `^CloudC-[A-Z0-9]{13}$`},
		{identityRule{maxLen: 24}, map[string]any{"FifoQueue": true}, `^Cloud-[A-Z0-9]{13}\.fifo$`},
		{identityRule{style: lowerStackName, maxLen: 63}, nil, `^cloudcontrol-queue-[a-z0-9]{13}$`},
		{identityRule{style: shortName}, nil, `^Queue-[A-Z0-9]{13}$`},
		{identityRule{style: underscoreName}, nil, `^CloudControl_Queue_[A-Z0-9]{13}$`},
	} {
		got := g.genName("AWS::SQS::Queue", tc.rule, tc.model)
		if !regexp.MustCompile(tc.want).MatchString(got) || tc.rule.maxLen > 0 && len(got) > tc.rule.maxLen {
			t.Errorf("rule %+v, model %v: %q, want /%s/ within %d characters", tc.rule, tc.model, got, tc.want, tc.rule.maxLen)
		}
	}
}

// TestUpdateRefreshesAttributes: a DynamoDB table gains a StreamArn when an
// update gives it a stream and loses it when the stream goes; its Arn stays.
func TestUpdateRefreshesAttributes(t *testing.T) {
	const table = "AWS::DynamoDB::Table"
	te := startEmulator(t, Options{Region: idRegion, Account: idAccount})
	desired := maps.Clone(identityCases[slices.IndexFunc(identityCases, func(c identityCase) bool { return c.typeName == table })].base)
	desired["TableName"] = "devices"
	te.final(t, te.create(t, table, desired), cctypes.OperationStatusSuccess)
	arn := "arn:aws:dynamodb:" + idRegion + ":" + idAccount + ":table/devices"
	update := func(patch string) map[string]any {
		t.Helper()
		out, err := te.cc.UpdateResource(context.Background(), &cloudcontrol.UpdateResourceInput{
			TypeName: aws.String(table), Identifier: aws.String("devices"), PatchDocument: aws.String(patch),
		})
		if err != nil {
			t.Fatal(err)
		}
		te.final(t, out.ProgressEvent, cctypes.OperationStatusSuccess)
		return te.get(t, table, "devices")
	}
	if got := te.get(t, table, "devices"); got["Arn"] != arn || got["StreamArn"] != nil {
		t.Fatalf("created without a stream: Arn %v, StreamArn %v", got["Arn"], got["StreamArn"])
	}
	got := update(`[{"op":"add","path":"/StreamSpecification","value":{"StreamViewType":"KEYS_ONLY"}}]`)
	if s, _ := got["StreamArn"].(string); got["Arn"] != arn || !regexp.MustCompile(`^`+regexp.QuoteMeta(arn)+`/stream/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$`).MatchString(s) {
		t.Fatalf("with a stream: Arn %v, StreamArn %v", got["Arn"], got["StreamArn"])
	}
	if got := update(`[{"op":"remove","path":"/StreamSpecification"}]`); got["Arn"] != arn || got["StreamArn"] != nil {
		t.Fatalf("stream removed: Arn %v, StreamArn %v", got["Arn"], got["StreamArn"])
	}
}

// TestNamedDuplicateAlreadyExists: a second topic with the same TopicName
// has the same ARN, and its create fails with AlreadyExists.
func TestNamedDuplicateAlreadyExists(t *testing.T) {
	te := startEmulator(t, Options{})
	first := te.final(t, te.create(t, "AWS::SNS::Topic", map[string]any{"TopicName": "fleet-alerts"}), cctypes.OperationStatusSuccess)
	if id := aws.ToString(first.Identifier); id != "arn:aws:sns:us-east-1:123456789012:fleet-alerts" {
		t.Fatalf("identifier %s", id)
	}
	second := te.final(t, te.create(t, "AWS::SNS::Topic", map[string]any{"TopicName": "fleet-alerts"}), cctypes.OperationStatusFailed)
	if second.ErrorCode != cctypes.HandlerErrorCodeAlreadyExists {
		t.Fatalf("second create: %s %s", second.ErrorCode, aws.ToString(second.StatusMessage))
	}
}

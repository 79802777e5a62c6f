package emulator

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudcontrol"
	cctypes "github.com/aws/aws-sdk-go-v2/service/cloudcontrol/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	bolt "go.etcd.io/bbolt"
)

const (
	topic         = "AWS::SNS::Topic"
	deployerRole  = "arn:aws:iam::444455556666:role/fleet/deployer"
	deployerAcct  = "444455556666"
	deployerExtID = "fleet-external-id"
	profileKey    = "AKIDPROFILE"
	profileAcct   = "222233334444"
)

// estateOptions checks every signature: the default key, a profile's key
// mapped to an account of its own, and the role that needs an external id.
func estateOptions() Options {
	return Options{
		Credentials: map[string]string{"AKIDEXAMPLE": "secret", profileKey: "profile-secret"},
		Accounts:    map[string]string{profileKey: profileAcct},
		ExternalIDs: map[string]string{deployerRole: deployerExtID},
	}
}

// scoped is a set of SDK clients of one account and region.
type scoped struct {
	account, region string
	te              *testEmulator
}

// as returns clients of te's emulator signing in region with creds.
func (te *testEmulator) as(region string, creds aws.CredentialsProvider) *testEmulator {
	c := *te
	c.cc, c.iot, c.sts = clients(te.url, region, creds)
	return &c
}

// assumeDeployer returns the credentials provider of the SDK that assumes
// the deployer role through the emulator's STS, signing as AKIDEXAMPLE.
func assumeDeployer(te *testEmulator) aws.CredentialsProvider {
	_, _, st := clients(te.url, "us-east-1", staticCreds("AKIDEXAMPLE", "secret"))
	return aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(st, deployerRole, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "fleet"
		o.ExternalID = aws.String(deployerExtID)
	}))
}

// estate returns the four scopes of the test: the default account and the
// deployer's, each in two regions.
func estate(te *testEmulator, deployer aws.CredentialsProvider) []scoped {
	def := staticCreds("AKIDEXAMPLE", "secret")
	return []scoped{
		{DefaultAccount, "us-east-1", te.as("us-east-1", def)},
		{DefaultAccount, "eu-west-1", te.as("eu-west-1", def)},
		{deployerAcct, "us-east-1", te.as("us-east-1", deployer)},
		{deployerAcct, "eu-west-1", te.as("eu-west-1", deployer)},
	}
}

// deployEstate creates the same job template id and topic name in every
// scope, each with a description naming its scope.
func deployEstate(t *testing.T, scopes []scoped) {
	t.Helper()
	for _, s := range scopes {
		jt := fullJobTemplate("fleet-update")
		jt["Description"] = "in " + s.account + "/" + s.region
		s.te.final(t, s.te.create(t, jobTemplate, jt), cctypes.OperationStatusSuccess)
		s.te.final(t, s.te.create(t, topic, map[string]any{"TopicName": "alerts", "DisplayName": s.region}), cctypes.OperationStatusSuccess)
	}
}

// checkEstate lists every scope and requires exactly its own job template
// and topic, with the scope's region and account in their ARNs, through
// Cloud Control and the IoT API.
func checkEstate(t *testing.T, scopes []scoped) {
	t.Helper()
	ctx := context.Background()
	for _, s := range scopes {
		jtArn := fmt.Sprintf("arn:aws:iot:%s:%s:jobtemplate/fleet-update", s.region, s.account)
		topicArn := fmt.Sprintf("arn:aws:sns:%s:%s:alerts", s.region, s.account)
		for typeName, want := range map[string]string{jobTemplate: "fleet-update", topic: topicArn} {
			out, err := s.te.cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(typeName)})
			if err != nil {
				t.Fatalf("%s/%s: ListResources %s: %v", s.account, s.region, typeName, err)
			}
			if len(out.ResourceDescriptions) != 1 || aws.ToString(out.ResourceDescriptions[0].Identifier) != want {
				var ids []string
				for _, d := range out.ResourceDescriptions {
					ids = append(ids, aws.ToString(d.Identifier))
				}
				t.Fatalf("%s/%s: %s listed %v, want exactly [%s]", s.account, s.region, typeName, ids, want)
			}
		}
		props := s.te.get(t, jobTemplate, "fleet-update")
		if props["Arn"] != jtArn || props["Description"] != "in "+s.account+"/"+s.region {
			t.Fatalf("%s/%s: job template Arn %v, Description %v; want %s and the scope's own description", s.account, s.region, props["Arn"], props["Description"], jtArn)
		}
		if props := s.te.get(t, topic, topicArn); props["TopicArn"] != topicArn || props["DisplayName"] != s.region {
			t.Fatalf("%s/%s: topic %v, want TopicArn %s and DisplayName %s", s.account, s.region, props, topicArn, s.region)
		}
		// The IoT door serves the same scope.
		lt, err := s.te.iot.ListJobTemplates(ctx, &iot.ListJobTemplatesInput{})
		if err != nil {
			t.Fatalf("%s/%s: ListJobTemplates: %v", s.account, s.region, err)
		}
		if len(lt.JobTemplates) != 1 || aws.ToString(lt.JobTemplates[0].JobTemplateArn) != jtArn {
			t.Fatalf("%s/%s: ListJobTemplates %+v, want exactly %s", s.account, s.region, lt.JobTemplates, jtArn)
		}
		dj, err := s.te.iot.DescribeJobTemplate(ctx, &iot.DescribeJobTemplateInput{JobTemplateId: aws.String("fleet-update")})
		if err != nil {
			t.Fatalf("%s/%s: DescribeJobTemplate: %v", s.account, s.region, err)
		}
		if aws.ToString(dj.JobTemplateArn) != jtArn || aws.ToString(dj.Description) != "in "+s.account+"/"+s.region {
			t.Fatalf("%s/%s: DescribeJobTemplate %s %q", s.account, s.region, aws.ToString(dj.JobTemplateArn), aws.ToString(dj.Description))
		}
		// Each scope lists its own two requests.
		rr, err := s.te.cc.ListResourceRequests(ctx, &cloudcontrol.ListResourceRequestsInput{})
		if err != nil {
			t.Fatalf("%s/%s: ListResourceRequests: %v", s.account, s.region, err)
		}
		var got []string
		for _, r := range rr.ResourceRequestStatusSummaries {
			got = append(got, string(r.Operation)+" "+aws.ToString(r.TypeName)+" "+aws.ToString(r.Identifier))
		}
		want := []string{"CREATE " + topic + " " + topicArn, "CREATE " + jobTemplate + " fleet-update"}
		if !slices.Equal(got, want) {
			t.Fatalf("%s/%s: ListResourceRequests %q, want %q", s.account, s.region, got, want)
		}
	}
}

// TestRegionsAndAccounts: the same job template id and topic name live in
// two regions of two accounts, one reached with credentials of the
// emulator's STS AssumeRole, without colliding; each (account, region)
// lists exactly its own, with its region and account in the ARNs.
func TestRegionsAndAccounts(t *testing.T) {
	te := startEmulator(t, estateOptions())
	ctx := context.Background()
	deployer := assumeDeployer(te)
	scopes := estate(te, deployer)
	deployEstate(t, scopes)
	checkEstate(t, scopes)

	// A request token belongs to its scope.
	ev := scopes[2].te.create(t, logGroup, map[string]any{"LogGroupName": "deployer-logs"})
	for _, s := range []scoped{scopes[0], scopes[3]} {
		_, err := s.te.cc.GetResourceRequestStatus(ctx, &cloudcontrol.GetResourceRequestStatusInput{RequestToken: ev.RequestToken})
		wantAPIError(t, err, "RequestTokenNotFoundException")
	}
	scopes[2].te.final(t, ev, cctypes.OperationStatusSuccess)
	if _, err := scopes[3].te.cc.GetResource(ctx, &cloudcontrol.GetResourceInput{TypeName: aws.String(logGroup), Identifier: aws.String("deployer-logs")}); err == nil {
		t.Fatal("the log group of us-east-1 is found in eu-west-1")
	}

	// IoT tagging by ARN finds only the template of the ARN's own scope.
	arnEU := "arn:aws:iot:eu-west-1:" + deployerAcct + ":jobtemplate/fleet-update"
	tags := []iottypes.Tag{{Key: aws.String("team"), Value: aws.String("fleet")}}
	if _, err := scopes[3].te.iot.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arnEU), Tags: tags}); err != nil {
		t.Fatalf("TagResource in its scope: %v", err)
	}
	_, err := scopes[1].te.iot.TagResource(ctx, &iot.TagResourceInput{ResourceArn: aws.String(arnEU), Tags: tags})
	wantAPIError(t, err, "ResourceNotFoundException")

	// Deleting in one scope leaves the others.
	scopes[1].te.final(t, scopes[1].te.del(t, jobTemplate, "fleet-update"), cctypes.OperationStatusSuccess)
	for i, s := range scopes {
		out, err := s.te.cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(jobTemplate)})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 0, false: 1}[i == 1]; len(out.ResourceDescriptions) != want {
			t.Fatalf("%s/%s: %d job templates after the delete in %s/%s, want %d", s.account, s.region, len(out.ResourceDescriptions), scopes[1].account, scopes[1].region, want)
		}
	}

	// A profile's key mapped by Options.Accounts has its account.
	profile := te.as("ap-southeast-2", staticCreds(profileKey, "profile-secret"))
	profile.final(t, profile.create(t, jobTemplate, fullJobTemplate("fleet-update")), cctypes.OperationStatusSuccess)
	if got := profile.get(t, jobTemplate, "fleet-update")["Arn"]; got != "arn:aws:iot:ap-southeast-2:"+profileAcct+":jobtemplate/fleet-update" {
		t.Fatalf("profile's job template Arn %v", got)
	}
}

// TestCallerIdentity: GetCallerIdentity answers the caller's account and
// ARN: an IAM user named after a static key, the assumed-role ARN for
// credentials of AssumeRole.
func TestCallerIdentity(t *testing.T) {
	te := startEmulator(t, estateOptions())
	ctx := context.Background()
	for _, tt := range []struct {
		name                 string
		creds                aws.CredentialsProvider
		account, arn, userID string
	}{
		{"default key", staticCreds("AKIDEXAMPLE", "secret"), DefaultAccount, "arn:aws:iam::" + DefaultAccount + ":user/AKIDEXAMPLE", "AKIDEXAMPLE"},
		{"profile key", staticCreds(profileKey, "profile-secret"), profileAcct, "arn:aws:iam::" + profileAcct + ":user/" + profileKey, profileKey},
		{"assumed role", assumeDeployer(te), deployerAcct, "arn:aws:sts::" + deployerAcct + ":assumed-role/deployer/fleet", roleID(deployerRole) + ":fleet"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, region := range []string{"us-east-1", "eu-central-1"} {
				out, err := te.as(region, tt.creds).sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
				if err != nil {
					t.Fatal(err)
				}
				if aws.ToString(out.Account) != tt.account || aws.ToString(out.Arn) != tt.arn || aws.ToString(out.UserId) != tt.userID {
					t.Fatalf("%s: GetCallerIdentity %s %s %s, want %s %s %s", region, aws.ToString(out.Account), aws.ToString(out.Arn), aws.ToString(out.UserId), tt.account, tt.arn, tt.userID)
				}
			}
		})
	}
	if id := roleID(deployerRole); len(id) != 21 || !strings.HasPrefix(id, "AROA") {
		t.Fatalf("role id %q is not AROA and 17 characters", id)
	}
	// Without credential checking, the assumed credentials choose the
	// account all the same.
	open := startEmulator(t, Options{})
	_, _, st := clients(open.url, "us-east-1", staticCreds("anything", "anything"))
	ar, err := st.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::777788889999:role/ci"), RoleSessionName: aws.String("build-7")})
	if err != nil {
		t.Fatal(err)
	}
	c := ar.Credentials
	assumed := open.as("us-west-2", staticSession(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken))
	out, err := assumed.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Arn) != "arn:aws:sts::777788889999:assumed-role/ci/build-7" {
		t.Fatalf("unchecked emulator: caller %s", aws.ToString(out.Arn))
	}
	assumed.final(t, assumed.create(t, topic, map[string]any{"TopicName": "builds"}), cctypes.OperationStatusSuccess)
	assumed.get(t, topic, "arn:aws:sns:us-west-2:777788889999:builds")
}

func staticSession(akid, secret, token string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token, Source: "test"}, nil
	})
}

// TestAssumeRole: AssumeRole validates its input as STS does, requires the
// external id of the roles Options.ExternalIDs lists, issues credentials
// that expire, limits role chaining to an hour, and refuses altered tokens.
func TestAssumeRole(t *testing.T) {
	clock := newManualClock()
	clock.t = time.Now().UTC()
	opts := estateOptions()
	opts.Clock, opts.MaxClockSkew = clock, 24*time.Hour
	te := startEmulator(t, opts)
	ctx := context.Background()
	st := te.as("us-east-1", staticCreds("AKIDEXAMPLE", "secret")).sts
	assume := func(st *sts.Client, in sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) {
		return st.AssumeRole(ctx, &in)
	}
	other := "arn:aws:iam::555566667777:role/ops"
	for _, tt := range []struct {
		name string
		in   sts.AssumeRoleInput
		code string
		msg  string
	}{
		{"short session name", sts.AssumeRoleInput{RoleArn: aws.String(other), RoleSessionName: aws.String("x")}, "ValidationError", "'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{"bad session name", sts.AssumeRoleInput{RoleArn: aws.String(other), RoleSessionName: aws.String("a b")}, "ValidationError", "regular expression pattern"},
		{"not a role", sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::5555666677:role/ops"), RoleSessionName: aws.String("s1")}, "ValidationError", "is not the ARN of a role"},
		{"too short", sts.AssumeRoleInput{RoleArn: aws.String(other), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(899)}, "ValidationError", "greater than or equal to 900"},
		{"too long", sts.AssumeRoleInput{RoleArn: aws.String(other), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(43201)}, "ValidationError", "less than or equal to 43200"},
		{"no external id", sts.AssumeRoleInput{RoleArn: aws.String(deployerRole), RoleSessionName: aws.String("s1")}, "AccessDenied", "not authorized to perform: sts:AssumeRole on resource: " + deployerRole},
		{"wrong external id", sts.AssumeRoleInput{RoleArn: aws.String(deployerRole), RoleSessionName: aws.String("s1"), ExternalId: aws.String("guess")}, "AccessDenied", "arn:aws:iam::" + DefaultAccount + ":user/AKIDEXAMPLE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := assume(st, tt.in)
			wantAPIError(t, err, tt.code)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v does not say %q", err, tt.msg)
			}
		})
	}

	// What the SDK checks before sending, the service checks too.
	raw := startEmulator(t, Options{Credentials: map[string]string{"AKIDGOOD": "right-secret"}})
	for body, want := range map[string]string{
		"Action=AssumeRole&Version=2011-06-15&RoleArn=" + other:                                            "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null",
		"Action=AssumeRole&Version=2011-06-15&RoleArn=" + other + "&RoleSessionName=s1&DurationSeconds=1h": "1 validation error detected: Value '1h' at 'durationSeconds' failed to satisfy constraint: Member must be an integer",
	} {
		status, msg := signedRaw(t, raw, "sts", http.MethodPost, "/", body, map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, nil)
		if status != http.StatusBadRequest || msg != "ValidationError: "+want {
			t.Fatalf("%s: %d %s, want 400 ValidationError: %s", body, status, msg, want)
		}
	}

	out, err := assume(st, sts.AssumeRoleInput{RoleArn: aws.String(other), RoleSessionName: aws.String("ops-1"), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	if !strings.HasPrefix(aws.ToString(c.AccessKeyId), "ASIA") || len(aws.ToString(c.SecretAccessKey)) != 40 ||
		!c.Expiration.Equal(clock.Now().Add(900*time.Second).Truncate(time.Second)) {
		t.Fatalf("credentials %s (secret of %d characters), expiring %v, want ASIA…, 40 and %v", aws.ToString(c.AccessKeyId), len(aws.ToString(c.SecretAccessKey)), c.Expiration, clock.Now().Add(900*time.Second))
	}
	if aws.ToString(out.AssumedRoleUser.Arn) != "arn:aws:sts::555566667777:assumed-role/ops/ops-1" || aws.ToString(out.AssumedRoleUser.AssumedRoleId) != roleID(other)+":ops-1" {
		t.Fatalf("assumed role user %s %s", aws.ToString(out.AssumedRoleUser.Arn), aws.ToString(out.AssumedRoleUser.AssumedRoleId))
	}
	ops := te.as("us-east-1", staticSession(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken))

	// Role chaining: at most an hour, into the chained role's account.
	_, err = assume(ops.sts, sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::888899990000:role/audit"), RoleSessionName: aws.String("chain"), DurationSeconds: aws.Int32(3601)})
	wantAPIError(t, err, "ValidationError")
	chained, err := assume(ops.sts, sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::888899990000:role/audit"), RoleSessionName: aws.String("chain")})
	if err != nil {
		t.Fatal(err)
	}
	cc := chained.Credentials
	who, err := te.as("us-east-1", staticSession(*cc.AccessKeyId, *cc.SecretAccessKey, *cc.SessionToken)).sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Account) != "888899990000" {
		t.Fatalf("chained caller %v, %v", who, err)
	}

	// Altered credentials are refused at every door.
	for _, tt := range []struct {
		name       string
		creds      aws.CredentialsProvider
		cc, io, st string
	}{
		{"altered token", staticSession(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken+"x"), "UnrecognizedClientException", "UnrecognizedClientException", "InvalidClientTokenId"},
		{"another session's token", staticSession(*c.AccessKeyId, *c.SecretAccessKey, *cc.SessionToken), "UnrecognizedClientException", "UnrecognizedClientException", "InvalidClientTokenId"},
		{"no token", staticCreds(*c.AccessKeyId, *c.SecretAccessKey), "UnrecognizedClientException", "UnrecognizedClientException", "InvalidClientTokenId"},
		{"wrong secret", staticSession(*c.AccessKeyId, "x"+(*c.SecretAccessKey)[1:], *c.SessionToken), "InvalidSignatureException", "InvalidSignatureException", "SignatureDoesNotMatch"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bad := te.as("us-east-1", tt.creds)
			_, err := bad.cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(logGroup)})
			wantAPIError(t, err, tt.cc)
			_, err = bad.iot.ListJobTemplates(ctx, &iot.ListJobTemplatesInput{})
			wantAPIError(t, err, tt.io)
			_, err = bad.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			wantAPIError(t, err, tt.st)
		})
	}

	// The credentials work until they expire.
	if _, err := ops.cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(logGroup)}); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	clock.Advance(900 * time.Second)
	_, err = ops.cc.ListResources(ctx, &cloudcontrol.ListResourcesInput{TypeName: aws.String(logGroup)})
	wantAPIError(t, err, "ExpiredTokenException")
	_, err = ops.iot.ListJobTemplates(ctx, &iot.ListJobTemplatesInput{})
	wantAPIError(t, err, "ExpiredTokenException")
	_, err = ops.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "ExpiredToken")
}

// TestEstateDurable: with a data directory, every scope's resources and
// requests survive a restart, and so do credentials issued by AssumeRole.
func TestEstateDurable(t *testing.T) {
	opts := estateOptions()
	opts.DataDir = t.TempDir()
	first, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	te := serve(t, first)
	// Credentials taken before the restart, used after it.
	out, err := te.as("us-east-1", staticCreds("AKIDEXAMPLE", "secret")).sts.AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(deployerRole), RoleSessionName: aws.String("fleet"), ExternalId: aws.String(deployerExtID)})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	deployer := staticSession(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
	deployEstate(t, estate(te, deployer))
	te.close(t)

	second, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	te = serve(t, second)
	defer te.close(t)
	checkEstate(t, estate(te, deployer))
}

// TestLayoutUpgrade: a data directory written before the emulator served
// more than one scope (testdata/layout1, made by that version: a job
// template created in eu-west-1, then a log group whose create was still in
// progress) is upgraded on open; its resources and requests belong to
// Options.Account in Options.Region, and the upgrade happens once.
func TestLayoutUpgrade(t *testing.T) {
	dir := t.TempDir()
	gz, err := os.Open(filepath.Join("testdata", "layout1", "emulator.db.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.Create(filepath.Join(dir, "emulator.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(db, zr); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	const (
		done    = "889acf8f-3a96-415f-af2b-2f457bc5c79f"
		pending = "b29afb8b-2154-4df7-9ff3-ba923ea0a56a"
	)
	clock := newManualClock() // the fixture was written at this time, 5 s later
	clock.Advance(5 * time.Second)
	opts := Options{DataDir: dir, Clock: clock, Region: "eu-west-1"}
	for round := range 2 {
		srv, err := New(opts)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		te := serve(t, srv)
		if props := te.get(t, jobTemplate, "kept"); props["Arn"] != "arn:aws:iot:eu-west-1:123456789012:jobtemplate/kept" {
			t.Fatalf("round %d: %v", round, props)
		}
		te.final(t, &cctypes.ProgressEvent{RequestToken: aws.String(done)}, cctypes.OperationStatusSuccess)
		if round == 0 {
			te.final(t, &cctypes.ProgressEvent{RequestToken: aws.String(pending)}, cctypes.OperationStatusInProgress)
			clock.Advance(5 * time.Second)
		}
		te.final(t, &cctypes.ProgressEvent{RequestToken: aws.String(pending)}, cctypes.OperationStatusSuccess)
		if got := te.get(t, logGroup, "pending")["RetentionInDays"]; got != 3.0 {
			t.Fatalf("round %d: RetentionInDays %v", round, got)
		}
		// Nothing of it is in another region.
		us := te.as("us-east-1", staticCreds("AKIDEXAMPLE", "secret"))
		_, err = us.cc.GetResource(context.Background(), &cloudcontrol.GetResourceInput{TypeName: aws.String(jobTemplate), Identifier: aws.String("kept")})
		wantAPIError(t, err, "ResourceNotFoundException")
		_, err = us.cc.GetResourceRequestStatus(context.Background(), &cloudcontrol.GetResourceRequestStatusInput{RequestToken: aws.String(done)})
		wantAPIError(t, err, "RequestTokenNotFoundException")
		te.close(t)
	}
	// The file holds the scoped layout, every key under its scope.
	bdb, err := bolt.Open(filepath.Join(dir, "emulator.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	var keys []string
	err = bdb.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(metaLayout); string(v) != layoutScoped {
			return fmt.Errorf("layout %q, want %s", v, layoutScoped)
		}
		for _, b := range [][]byte{bucketResources, bucketRequests} {
			if err := tx.Bucket(b).ForEach(func(k, _ []byte) error {
				sc, rest, ok := splitJournalKey(string(k))
				if !ok || sc != (scope{DefaultAccount, "eu-west-1"}) {
					return fmt.Errorf("key %q is not of %s", k, scope{DefaultAccount, "eu-west-1"})
				}
				keys = append(keys, strings.ReplaceAll(rest, "\x00", " "))
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	want := []string{"AWS::IoT::JobTemplate kept", "AWS::Logs::LogGroup pending", done, pending}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("stored keys %q, want %q", keys, want)
	}
}

// TestPresignedScope: a presigned URL (the query form of SigV4) chooses its
// region and account as the Authorization header does, and is verified
// when the emulator checks signatures, temporary credentials included.
func TestPresignedScope(t *testing.T) {
	ctx := context.Background()
	presign := func(t *testing.T, url, region string, creds aws.CredentialsProvider) string {
		t.Helper()
		_, _, st := clients(url, region, creds)
		req, err := sts.NewPresignClient(st).PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(req.URL, "X-Amz-Credential=") {
			t.Fatalf("presigned URL %s has no X-Amz-Credential", req.URL)
		}
		return req.URL
	}
	get := func(t *testing.T, url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	profileArn := "<Arn>arn:aws-cn:iam::" + profileAcct + ":user/" + profileKey + "</Arn>"
	t.Run("unchecked", func(t *testing.T) {
		te := startEmulator(t, Options{Accounts: map[string]string{profileKey: profileAcct}})
		if status, body := get(t, presign(t, te.url, "cn-north-1", staticCreds(profileKey, "whatever"))); status != http.StatusOK || !strings.Contains(body, profileArn) {
			t.Fatalf("presigned GetCallerIdentity: %d %s, want %s", status, body, profileArn)
		}
	})
	t.Run("checked", func(t *testing.T) {
		te := startEmulator(t, estateOptions())
		if status, body := get(t, presign(t, te.url, "cn-north-1", staticCreds(profileKey, "profile-secret"))); status != http.StatusOK || !strings.Contains(body, profileArn) {
			t.Fatalf("presigned GetCallerIdentity: %d %s, want %s", status, body, profileArn)
		}
		deployer := "<Arn>arn:aws:sts::" + deployerAcct + ":assumed-role/deployer/fleet</Arn>"
		if status, body := get(t, presign(t, te.url, "eu-west-1", assumeDeployer(te))); status != http.StatusOK || !strings.Contains(body, deployer) {
			t.Fatalf("presigned GetCallerIdentity of the assumed role: %d %s, want %s", status, body, deployer)
		}
		u := presign(t, te.url, "us-east-1", staticCreds(profileKey, "wrong-secret"))
		if status, body := get(t, u); status != http.StatusForbidden || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") {
			t.Fatalf("wrong secret: %d %s", status, body)
		}
		u = presign(t, te.url, "us-east-1", staticCreds(profileKey, "profile-secret"))
		if status, body := get(t, strings.Replace(u, "%2Fus-east-1%2F", "%2Fus-west-2%2F", 1)); status != http.StatusForbidden || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") {
			t.Fatalf("region changed after signing: %d %s", status, body)
		}
	})
}

// TestSharedConfigProfiles: shared-config profiles reach their accounts
// through the SDK's standard configuration chain: a profile with static
// keys mapped by Options.Accounts, and one with role_arn, source_profile and
// external_id that assumes the role at the emulator's STS. The SDK's
// assume-role client ignores a profile's endpoint_url (it resolves
// credentials first); an STS endpoint of a services section reaches it.
func TestSharedConfigProfiles(t *testing.T) {
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_CLOUDCONTROL", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		t.Setenv(v, "")
	}
	te := startEmulator(t, estateOptions())
	cfgFile := filepath.Join(t.TempDir(), "config")
	conf := fmt.Sprintf(`[profile emu]
region = eu-west-1
endpoint_url = %[1]s
aws_access_key_id = AKIDEXAMPLE
aws_secret_access_key = secret

[profile emu-team]
region = ap-northeast-1
endpoint_url = %[1]s
aws_access_key_id = %[2]s
aws_secret_access_key = profile-secret

[profile emu-deployer]
region = eu-west-1
endpoint_url = %[1]s
role_arn = %[3]s
role_session_name = fleet
external_id = %[4]s
source_profile = emu
services = emulator

[services emulator]
sts =
  endpoint_url = %[1]s
`, te.url, profileKey, deployerRole, deployerExtID)
	if err := os.WriteFile(cfgFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tt := range []struct{ profile, account, arn, jtArn string }{
		{"emu", DefaultAccount, "arn:aws:iam::" + DefaultAccount + ":user/AKIDEXAMPLE", "arn:aws:iot:eu-west-1:" + DefaultAccount + ":jobtemplate/fleet-update"},
		{"emu-team", profileAcct, "arn:aws:iam::" + profileAcct + ":user/" + profileKey, "arn:aws:iot:ap-northeast-1:" + profileAcct + ":jobtemplate/fleet-update"},
		{"emu-deployer", deployerAcct, "arn:aws:sts::" + deployerAcct + ":assumed-role/deployer/fleet", "arn:aws:iot:eu-west-1:" + deployerAcct + ":jobtemplate/fleet-update"},
	} {
		cfg, err := config.LoadDefaultConfig(ctx, config.WithSharedConfigFiles([]string{cfgFile}),
			config.WithSharedCredentialsFiles([]string{filepath.Join(t.TempDir(), "none")}), config.WithSharedConfigProfile(tt.profile))
		if err != nil {
			t.Fatalf("%s: %v", tt.profile, err)
		}
		who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("%s: GetCallerIdentity: %v", tt.profile, err)
		}
		if aws.ToString(who.Account) != tt.account || aws.ToString(who.Arn) != tt.arn {
			t.Fatalf("%s: caller %s %s, want %s %s", tt.profile, aws.ToString(who.Account), aws.ToString(who.Arn), tt.account, tt.arn)
		}
		out, err := iot.NewFromConfig(cfg).CreateJobTemplate(ctx, &iot.CreateJobTemplateInput{
			JobTemplateId: aws.String("fleet-update"), Description: aws.String(tt.profile), Document: aws.String(`{"operation":"update"}`)})
		if err != nil {
			t.Fatalf("%s: CreateJobTemplate: %v", tt.profile, err)
		}
		if aws.ToString(out.JobTemplateArn) != tt.jtArn {
			t.Fatalf("%s: job template %s, want %s", tt.profile, aws.ToString(out.JobTemplateArn), tt.jtArn)
		}
	}
}

// TestCLIRegionsAndAccounts: the AWS CLI assumes a role at the emulator's
// STS and, with the credentials it got, works in that account in the
// region it names, signatures and session token verified.
func TestCLIRegionsAndAccounts(t *testing.T) {
	te := startEmulator(t, Options{Credentials: map[string]string{"test": "test"}})
	cli := awsCLI(t, te.url)
	out := cli("--region", "eu-west-1", "sts", "assume-role", "--role-arn", deployerRole, "--role-session-name", "cli")
	c, _ := out["Credentials"].(map[string]any)
	akid, _ := c["AccessKeyId"].(string)
	secret, _ := c["SecretAccessKey"].(string)
	token, _ := c["SessionToken"].(string)
	if !strings.HasPrefix(akid, "ASIA") || secret == "" || token == "" {
		t.Fatalf("assume-role: %v", out)
	}
	deployer := awsCLI(t, te.url, "AWS_ACCESS_KEY_ID="+akid, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_SESSION_TOKEN="+token)
	if who := deployer("--region", "eu-west-1", "sts", "get-caller-identity"); who["Account"] != deployerAcct || who["Arn"] != "arn:aws:sts::"+deployerAcct+":assumed-role/deployer/cli" {
		t.Fatalf("get-caller-identity: %v", who)
	}
	jt := deployer("--region", "eu-west-1", "iot", "create-job-template", "--job-template-id", "fleet-update",
		"--description", "deployer's", "--document", `{"operation":"update"}`)
	if want := "arn:aws:iot:eu-west-1:" + deployerAcct + ":jobtemplate/fleet-update"; jt["jobTemplateArn"] != want {
		t.Fatalf("create-job-template: %v, want %s", jt, want)
	}
	count := func(cli func(...string) map[string]any, region string) int {
		l, _ := cli("--region", region, "cloudcontrol", "list-resources", "--type-name", jobTemplate)["ResourceDescriptions"].([]any)
		return len(l)
	}
	if n, home, other := count(deployer, "eu-west-1"), count(cli, "eu-west-1"), count(deployer, "us-east-1"); n != 1 || home != 0 || other != 0 {
		t.Fatalf("job templates: %d in the deployer's eu-west-1, %d in the default account's, %d in the deployer's us-east-1; want 1, 0, 0", n, home, other)
	}
}

// TestUnsignedHome: a request without a signature is served in
// Options.Account and Options.Region; one signed for a name that is not a
// region is refused, signatures checked or not.
func TestUnsignedHome(t *testing.T) {
	te := startEmulator(t, Options{Region: "eu-west-2", Account: "210987654321"})
	status, m := post(t, te.url, "CloudApiService.CreateResource", `{"TypeName":"AWS::SNS::Topic","DesiredState":"{\"TopicName\":\"home\"}"}`)
	if status != http.StatusOK {
		t.Fatalf("unsigned CreateResource: %d %v", status, m)
	}
	te.get(t, topic, "arn:aws:sns:eu-west-2:210987654321:home")
	_, err := te.as("moon-base", staticCreds("AKIDEXAMPLE", "secret")).cc.ListResources(context.Background(), &cloudcontrol.ListResourcesInput{TypeName: aws.String(topic)})
	wantAPIError(t, err, "InvalidSignatureException")
	if !strings.Contains(err.Error(), "Credential should be scoped to a valid region, not 'moon-base'") {
		t.Fatalf("error %v does not name the region", err)
	}
}

// TestEstateOptions: Accounts and ExternalIDs are checked when the server
// is made.
func TestEstateOptions(t *testing.T) {
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{Accounts: map[string]string{"AKID": "1234"}}, `Accounts["AKID"] = "1234", want 12 digits`},
		{Options{ExternalIDs: map[string]string{"arn:aws:iam::123456789012:user/u": "ext-1"}}, `"arn:aws:iam::123456789012:user/u" is not the ARN of a role`},
		{Options{ExternalIDs: map[string]string{deployerRole: "x"}}, `want 2 to 1224 characters`},
	} {
		if _, err := New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v): %v, want an error saying %s", tt.opts, err, tt.want)
		}
	}
}

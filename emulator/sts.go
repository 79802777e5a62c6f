package emulator

import (
	"bytes"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// STS session durations (seconds): AssumeRole's DurationSeconds ranges from
// 15 minutes to 12 hours, the most a role's MaxSessionDuration can allow
// (the emulator keeps no roles, so every role allows it); one hour by
// default, and at most one hour for role chaining (a caller that is itself
// an assumed role), as AWS.
const (
	minSessionSeconds     = 900
	maxSessionSeconds     = 43200
	defaultSessionSeconds = 3600
	chainedSessionSeconds = 3600
)

// roleARN is the shape of an IAM role's ARN: partition, account, path and
// name.
var roleARN = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso(?:-[a-z])?):iam::([0-9]{12}):role((?:/[\x21-\x7e]*)?/)?([\w+=,.@-]{1,64})$`)

// Shapes of the AssumeRole members.
var (
	mAssumeRoleArn   = strMember("roleArn", true, 20, 2048, "")
	mRoleSession     = strMember("roleSessionName", true, 2, 64, `[\w+=,.@-]*`)
	mExternalID      = strMember("externalId", false, 2, 1224, `[\w+=,.@:\/-]*`)
	mDurationSeconds = "durationSeconds"
)

// session is the temporary credentials AssumeRole issued. The emulator keeps
// no record of them: the session token holds the session, signed with the
// server's session key (kept in the data directory, so that credentials
// outlive a restart), and the secret key follows from the access key and
// the session key.
type session struct {
	AccessKey string `json:"k"`
	Account   string `json:"a"`
	RoleArn   string `json:"r"`
	Name      string `json:"n"`
	Expires   int64  `json:"e"` // Unix seconds
}

// sessionTokenPrefix begins every session token the emulator issues.
const sessionTokenPrefix = "AthanorEmulator1."

func (ss *session) expires() time.Time { return time.Unix(ss.Expires, 0).UTC() }

// secret is the session's secret access key.
func (ss *session) secret(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("secret\x00" + ss.AccessKey))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))[:40]
}

// token is the session's session token.
func (ss *session) token(key []byte) string {
	b, err := json.Marshal(ss)
	if err != nil {
		panic("emulator: encode session: " + err.Error()) // strings and a number always encode
	}
	return sessionTokenPrefix + base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(sessionMAC(key, b))
}

func sessionMAC(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("token\x00"))
	m.Write(payload)
	return m.Sum(nil)
}

// openSession returns the session of a token the emulator issued; an error
// when it did not issue tok.
func (s *Server) openSession(tok string) (*session, error) {
	body, ok := strings.CutPrefix(tok, sessionTokenPrefix)
	if !ok {
		return nil, errors.New("not a session token of this emulator")
	}
	p64, m64, ok := strings.Cut(body, ".")
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(mac, sessionMAC(s.sessionKey, payload)) {
		return nil, errors.New("session token not issued by this emulator")
	}
	var ss session
	if err := json.Unmarshal(payload, &ss); err != nil {
		return nil, err
	}
	return &ss, nil
}

// roleID is the unique id of a role: AROA and 17 characters, the same for
// every session of the role.
func roleID(arn string) string {
	sum := sha256.Sum256([]byte(arn))
	b := []byte("AROA")
	for _, c := range sum[:17] {
		b = append(b, base32Upper[int(c)%len(base32Upper)])
	}
	return string(b)
}

// assumedRoleARN is the ARN of a session of a role.
func (ss *session) assumedRoleARN() string {
	m := roleARN.FindStringSubmatch(ss.RoleArn)
	return "arn:" + m[1] + ":sts::" + ss.Account + ":assumed-role/" + m[4] + "/" + ss.Name
}

// callerARN is the ARN of the caller, as GetCallerIdentity answers it: the
// session's assumed-role ARN, or an IAM user named after the access key.
func (c *call) callerARN() string {
	if ss := c.caller.session; ss != nil {
		return ss.assumedRoleARN()
	}
	user := "emulator"
	if c.caller.accessKey != "" {
		user = c.caller.accessKey
	}
	return "arn:" + partition(c.sc.Region) + ":iam::" + c.sc.Account + ":user/" + sanitizeUser(user)
}

// serveSTS answers the awsQuery STS door: GetCallerIdentity, which
// Terraform's awscc provider calls before anything else, and AssumeRole,
// which issues credentials of another account.
func (c *call) serveSTS(w http.ResponseWriter, r *http.Request, reqID string, body []byte) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeError(w, doorSTS, reqID, &apiError{Status: http.StatusBadRequest, Name: "MalformedQueryString", Message: "The request body is not a valid form: " + err.Error()})
		return
	}
	for k, v := range r.URL.Query() {
		if _, ok := form[k]; !ok {
			form[k] = v
		}
	}
	action := form.Get("Action")
	switch action {
	case "GetCallerIdentity", "AssumeRole":
	case "":
		writeError(w, doorSTS, reqID, &apiError{Status: http.StatusBadRequest, Name: "MissingAction", Message: "Missing Action"})
		return
	default:
		writeError(w, doorSTS, reqID, &apiError{Status: http.StatusBadRequest, Name: "InvalidAction", Message: "Could not find operation " + action + " for version " + form.Get("Version")})
		return
	}
	if v := form.Get("Version"); v != "" && v != "2011-06-15" {
		writeError(w, doorSTS, reqID, &apiError{Status: http.StatusBadRequest, Name: "InvalidAction", Message: "Could not find operation " + action + " for version " + v})
		return
	}
	var b bytes.Buffer
	field := func(name, val string) {
		b.WriteString("<" + name + ">")
		xml.EscapeText(&b, []byte(val))
		b.WriteString("</" + name + ">")
	}
	b.WriteString(`<` + action + `Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><` + action + `Result>`)
	if action == "AssumeRole" {
		ss, e := c.assumeRole(form)
		if e != nil {
			writeError(w, doorSTS, reqID, e)
			return
		}
		b.WriteString("<AssumedRoleUser>")
		field("Arn", ss.assumedRoleARN())
		field("AssumedRoleId", roleID(ss.RoleArn)+":"+ss.Name)
		b.WriteString("</AssumedRoleUser><Credentials>")
		field("AccessKeyId", ss.AccessKey)
		field("SecretAccessKey", ss.secret(c.sessionKey))
		field("SessionToken", ss.token(c.sessionKey))
		field("Expiration", ss.expires().Format(time.RFC3339))
		b.WriteString("</Credentials>")
	} else {
		field("Arn", c.callerARN())
		if ss := c.caller.session; ss != nil {
			field("UserId", roleID(ss.RoleArn)+":"+ss.Name)
		} else if c.caller.accessKey != "" {
			field("UserId", c.caller.accessKey)
		} else {
			field("UserId", "emulator")
		}
		field("Account", c.sc.Account)
	}
	b.WriteString("</" + action + "Result><ResponseMetadata>")
	field("RequestId", reqID)
	b.WriteString("</ResponseMetadata></" + action + "Response>")
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.Write(b.Bytes())
}

// assumeRole validates an AssumeRole request and returns the session it
// issues: temporary credentials of the role's account. Any caller may
// assume any role (the emulator keeps no trust policies); a role listed in
// Options.ExternalIDs requires its external id.
func (c *call) assumeRole(form url.Values) (*session, *apiError) {
	member := func(name string) *string {
		if vs, ok := form[name]; ok {
			return &vs[0]
		}
		return nil
	}
	arn, name, ext := member("RoleArn"), member("RoleSessionName"), member("ExternalId")
	var v validator
	v.str(mAssumeRoleArn, arn)
	v.str(mRoleSession, name)
	v.str(mExternalID, ext)
	seconds := defaultSessionSeconds
	if d := member("DurationSeconds"); d != nil {
		n, err := strconv.Atoi(*d)
		if err != nil {
			v.msgs = append(v.msgs, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must be an integer", *d, mDurationSeconds))
		} else {
			v.intRange(mDurationSeconds, &n, minSessionSeconds, maxSessionSeconds)
			seconds = n
		}
	}
	if e := v.err(); e != nil {
		e.Name, e.Status, e.Type = "ValidationError", http.StatusBadRequest, ""
		return nil, e
	}
	m := roleARN.FindStringSubmatch(*arn)
	if m == nil {
		return nil, &apiError{Status: http.StatusBadRequest, Name: "ValidationError",
			Message: fmt.Sprintf("RoleArn %q is not the ARN of a role: want arn:<partition>:iam::<12-digit account>:role/[<path>/]<name>", *arn)}
	}
	if c.caller.session != nil && seconds > chainedSessionSeconds {
		return nil, &apiError{Status: http.StatusBadRequest, Name: "ValidationError",
			Message: fmt.Sprintf("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining (%d seconds requested).", seconds)}
	}
	if want, ok := c.opts.ExternalIDs[*arn]; ok && (ext == nil || *ext != want) {
		return nil, &apiError{Status: http.StatusForbidden, Name: "AccessDenied",
			Message: fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s (the role requires an ExternalId, and the request gave none or another)", c.callerARN(), *arn)}
	}
	var id [16]byte
	crand.Read(id[:])
	key := []byte("ASIA")
	for _, x := range id {
		key = append(key, base32Upper[int(x)%len(base32Upper)])
	}
	return &session{
		AccessKey: string(key),
		Account:   m[2],
		RoleArn:   *arn,
		Name:      *name,
		Expires:   c.clock.Now().Add(time.Duration(seconds) * time.Second).Unix(),
	}, nil
}

// sanitizeUser keeps the characters IAM allows in a user name.
func sanitizeUser(u string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("+=,.@_-", r):
			return r
		}
		return -1
	}, u)
}

package emulator

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	sigAlgorithm  = "AWS4-HMAC-SHA256"
	amzDateFormat = "20060102T150405Z"
)

// authHeader is a parsed SigV4 Authorization header.
type authHeader struct {
	AccessKey     string
	Date          string // yyyymmdd of the scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

// parseAuthorization parses
// "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/svc/aws4_request, SignedHeaders=a;b, Signature=hex".
func parseAuthorization(v string) (authHeader, error) {
	var a authHeader
	alg, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || alg != sigAlgorithm {
		return a, fmt.Errorf("unsupported authorization algorithm; want %s", sigAlgorithm)
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("authorization header element %q is not key=value", part)
		}
		if seen[k] {
			return a, fmt.Errorf("authorization header repeats %s", k)
		}
		seen[k] = true
		switch k {
		case "Credential":
			f := strings.Split(val, "/")
			if len(f) != 5 || f[4] != "aws4_request" || f[0] == "" {
				return a, fmt.Errorf("credential %q is not AKID/date/region/service/aws4_request", val)
			}
			a.AccessKey, a.Date, a.Region, a.Service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			if val == "" {
				return a, errors.New("no signed headers")
			}
			a.SignedHeaders = strings.Split(val, ";")
		case "Signature":
			if _, err := hex.DecodeString(val); err != nil || len(val) != 64 {
				return a, errors.New("signature is not 64 hex digits")
			}
			a.Signature = val
		}
	}
	if a.AccessKey == "" || a.SignedHeaders == nil || a.Signature == "" {
		return a, errors.New("authorization header needs Credential, SignedHeaders and Signature")
	}
	return a, nil
}

// authError kinds.
const (
	authMissing = iota
	authIncomplete
	authUnknownKey
	authBadSignature
	authExpired
)

// authErr answers an authentication failure in door's protocol.
func authErr(d door, kind int, msg string) *apiError {
	switch d {
	case doorSTS:
		if kind == authExpired {
			return &apiError{Status: http.StatusBadRequest, Name: "ExpiredToken", Message: msg}
		}
		name := [...]string{"MissingAuthenticationToken", "IncompleteSignature", "InvalidClientTokenId", "SignatureDoesNotMatch"}[kind]
		return &apiError{Status: http.StatusForbidden, Name: name, Message: msg}
	case doorIoT:
		name := [...]string{"MissingAuthenticationTokenException", "IncompleteSignatureException", "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"}[kind]
		return &apiError{Status: http.StatusForbidden, Name: name, Message: msg}
	}
	name := [...]string{"MissingAuthenticationTokenException", "IncompleteSignatureException", "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"}[kind]
	return &apiError{Status: http.StatusBadRequest, Name: name, Message: msg}
}

// caller is who sent a request and the scope it is served in.
type caller struct {
	// accessKey is the access key id of the request's signature; "" when
	// it has none.
	accessKey string
	// session is the temporary credentials the key belongs to when the
	// emulator's STS issued it (AssumeRole); nil otherwise.
	session *session
	scope   scope
}

// credentialScope reads the signature of r without verifying it: from the
// Authorization header, or from the query of a presigned URL. It returns
// nil when r carries neither.
func credentialScope(r *http.Request) (*authHeader, bool, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		a, err := parseAuthorization(h)
		return &a, false, err
	}
	q := r.URL.Query()
	cred := q.Get("X-Amz-Credential")
	if cred == "" {
		return nil, false, nil
	}
	if alg := q.Get("X-Amz-Algorithm"); alg != sigAlgorithm {
		return &authHeader{}, true, fmt.Errorf("unsupported X-Amz-Algorithm %q; want %s", alg, sigAlgorithm)
	}
	f := strings.Split(cred, "/")
	if len(f) != 5 || f[4] != "aws4_request" || f[0] == "" {
		return &authHeader{}, true, fmt.Errorf("X-Amz-Credential %q is not AKID/date/region/service/aws4_request", cred)
	}
	return &authHeader{AccessKey: f[0], Date: f[1], Region: f[2], Service: f[3]}, true, nil
}

// sessionToken returns the session token of r's signature, if any.
func sessionToken(r *http.Request, presigned bool) string {
	if presigned {
		return r.URL.Query().Get("X-Amz-Security-Token")
	}
	return r.Header.Get("X-Amz-Security-Token")
}

// authenticate finds who sent r and where it is served, and verifies its
// SigV4 signature when the emulator has credentials configured (without
// them every signature, or none, is accepted).
//
// The region is the one of the signature's credential scope (Options.Region
// for a request without a signature); it must have the shape of an AWS
// region name. The account is the one of the assumed role when the request
// carries a session token of credentials the emulator's STS issued with its
// access key, otherwise Options.Accounts[access key], otherwise
// Options.Account.
func (s *Server) authenticate(r *http.Request, body []byte, d door) (caller, *apiError) {
	who := caller{scope: s.home()}
	check := len(s.opts.Credentials) > 0
	a, presigned, err := credentialScope(r)
	switch {
	case a == nil && check:
		return who, authErr(d, authMissing, "Missing Authentication Token")
	case a == nil:
		return who, nil
	case err != nil && check:
		return who, authErr(d, authIncomplete, "Authorization header is malformed: "+err.Error())
	case err != nil:
		return who, nil
	}
	if !s.validRegion(a.Region) {
		return who, authErr(d, authBadSignature, fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", a.Region))
	}
	who.accessKey, who.scope.Region = a.AccessKey, a.Region
	var secret string
	if tok := sessionToken(r, presigned); tok != "" {
		sess, err := s.openSession(tok)
		switch {
		case err == nil && sess.AccessKey == a.AccessKey:
			if check && !s.clock.Now().Before(sess.expires()) {
				return who, authErr(d, authExpired, "The security token included in the request is expired")
			}
			who.session, who.scope.Account = sess, sess.Account
			secret = sess.secret(s.sessionKey)
		case check:
			return who, authErr(d, authUnknownKey, "The security token included in the request is invalid.")
		}
	}
	if who.session == nil {
		if acct, ok := s.opts.Accounts[a.AccessKey]; ok {
			who.scope.Account = acct
		}
	}
	if !check {
		return who, nil
	}
	if who.session == nil {
		var ok bool
		if secret, ok = s.opts.Credentials[a.AccessKey]; !ok {
			return who, authErr(d, authUnknownKey, "The security token included in the request is invalid.")
		}
	}
	if !d.acceptsService(a.Service) {
		return who, authErr(d, authBadSignature, fmt.Sprintf("Credential should be scoped to correct service: '%s'.", d.signingName()))
	}
	if presigned {
		return who, s.verifyPresigned(r, body, d, *a, secret, who.session != nil)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return who, authErr(d, authIncomplete, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if a.Date != signedAt.Format("20060102") {
		return who, authErr(d, authBadSignature, fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'", a.Date, signedAt.Format("20060102")))
	}
	now := s.clock.Now().UTC()
	if skew := now.Sub(signedAt); skew > s.opts.MaxClockSkew || -skew > s.opts.MaxClockSkew {
		return who, authErr(d, authBadSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
			amzDate, now.Add(-s.opts.MaxClockSkew).Format(amzDateFormat), now.Format(amzDateFormat), s.opts.MaxClockSkew))
	}
	required := requiredSigned(d, body)
	if who.session != nil {
		required = append(required, "x-amz-security-token")
	}
	for _, h := range required {
		if !slices.Contains(a.SignedHeaders, h) {
			return who, authErr(d, authBadSignature, fmt.Sprintf("'%s' must be a SignedHeader in the AWS Authorization (signed: %s).",
				http.CanonicalHeaderKey(h), strings.Join(a.SignedHeaders, ";")))
		}
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && claimed != payloadHash {
		return who, authErr(d, authBadSignature, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	want, err := expectedSignature(r, body, *a, secret, payloadHash, signedAt)
	if err != nil {
		return who, authErr(d, authBadSignature, err.Error())
	}
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return who, authErr(d, authBadSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return who, nil
}

// acceptsService reports whether door d accepts a signature scoped to
// service. Each door accepts its own signing name; the IoT door also
// accepts "execute-api", as AWS IoT does: the AWS CLI v2 (its bundled IoT
// model's signingName, e.g. Debian's 2.9) signs IoT requests with it.
func (d door) acceptsService(service string) bool {
	return service == d.signingName() || d == doorIoT && service == "execute-api"
}

// requiredSigned returns the headers a request to door d must have signed:
// those that route or interpret it and that every real client signs. Host
// always; for Cloud Control (AWS JSON) X-Amz-Target, which names the
// operation, and Content-Type; for STS and IoT Content-Type when there is a
// body (the form or the JSON document), as the SDKs, the AWS CLI and boto3
// send it. Without them a signed GetResource could be replayed as a
// DeleteResource by changing the unsigned X-Amz-Target.
func requiredSigned(d door, body []byte) []string {
	switch {
	case d == doorCloudControl:
		return []string{"host", "x-amz-target", "content-type"}
	case len(body) > 0:
		return []string{"host", "content-type"}
	}
	return []string{"host"}
}

// expectedSignature signs a copy of r holding only the headers the client
// signed, with the SDK's own SigV4 signer, and returns the signature.
func expectedSignature(r *http.Request, body []byte, a authHeader, secret, payloadHash string, at time.Time) (string, error) {
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	c, err := http.NewRequest(r.Method, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("cannot rebuild the request to verify it: %w", err)
	}
	c.URL.Path, c.URL.RawPath = r.URL.Path, r.URL.RawPath
	c.Host = r.Host
	for _, name := range a.SignedHeaders {
		switch name {
		case "host":
		case "content-length":
			c.ContentLength = int64(len(body))
		default:
			vals := r.Header.Values(name)
			if len(vals) == 0 {
				return "", fmt.Errorf("signed header %s is missing from the request", name)
			}
			c.Header[http.CanonicalHeaderKey(name)] = vals
		}
	}
	creds := aws.Credentials{AccessKeyID: a.AccessKey, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, c, payloadHash, a.Service, a.Region, at); err != nil {
		return "", fmt.Errorf("cannot sign the request to verify it: %w", err)
	}
	got, err := parseAuthorization(c.Header.Get("Authorization"))
	if err != nil {
		return "", err
	}
	if !slices.Equal(got.SignedHeaders, a.SignedHeaders) {
		return "", fmt.Errorf("signed headers %s cannot be verified (expected %s)",
			strings.Join(a.SignedHeaders, ";"), strings.Join(got.SignedHeaders, ";"))
	}
	return got.Signature, nil
}

// Presigned URLs are valid for X-Amz-Expires seconds, at most 7 days; 15
// minutes without it (the SDK's STS presigner sends none).
const (
	maxPresignExpires     = 604800
	defaultPresignExpires = 900
)

// verifyPresigned verifies the signature of a presigned URL (the query
// form of SigV4): its date, its expiry (X-Amz-Expires, or 15 minutes, from X-Amz-Date) and
// its X-Amz-Signature, computed with the SDK's signer over the request
// without it. The payload is the body's hash or UNSIGNED-PAYLOAD, as the
// client chose.
func (s *Server) verifyPresigned(r *http.Request, body []byte, d door, a authHeader, secret string, withToken bool) *apiError {
	q := r.URL.Query()
	amzDate, sig := q.Get("X-Amz-Date"), q.Get("X-Amz-Signature")
	signedAt, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return authErr(d, authIncomplete, "X-Amz-Date must be an ISO-8601 basic date-time, e.g. 20250301T120000Z.")
	}
	if a.Date != signedAt.Format("20060102") {
		return authErr(d, authBadSignature, fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'", a.Date, signedAt.Format("20060102")))
	}
	expires, err := defaultPresignExpires, error(nil)
	if v := q.Get("X-Amz-Expires"); v != "" {
		expires, err = strconv.Atoi(v)
	}
	if err != nil || expires < 1 || expires > maxPresignExpires {
		return authErr(d, authIncomplete, fmt.Sprintf("X-Amz-Expires %q must be a number of seconds from 1 to %d.", q.Get("X-Amz-Expires"), maxPresignExpires))
	}
	now := s.clock.Now().UTC()
	if now.Before(signedAt.Add(-s.opts.MaxClockSkew)) || now.After(signedAt.Add(time.Duration(expires)*time.Second)) {
		return authErr(d, authBadSignature, fmt.Sprintf("Signature expired: signed at %s for %d seconds, and it is now %s.", amzDate, expires, now.Format(amzDateFormat)))
	}
	if _, err := hex.DecodeString(sig); err != nil || len(sig) != 64 {
		return authErr(d, authIncomplete, "X-Amz-Signature is not 64 hex digits.")
	}
	a.SignedHeaders = strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	for _, h := range requiredSigned(d, body) {
		if !slices.Contains(a.SignedHeaders, h) {
			return authErr(d, authBadSignature, fmt.Sprintf("'%s' must be a SignedHeader in X-Amz-SignedHeaders (signed: %s).",
				http.CanonicalHeaderKey(h), strings.Join(a.SignedHeaders, ";")))
		}
	}
	if withToken && q.Get("X-Amz-Security-Token") == "" {
		return authErr(d, authIncomplete, "X-Amz-Security-Token is missing.")
	}
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	q.Del("X-Amz-Signature")
	u.RawQuery = q.Encode()
	sum := sha256.Sum256(body)
	for _, payloadHash := range []string{hex.EncodeToString(sum[:]), "UNSIGNED-PAYLOAD"} {
		c, err := http.NewRequest(r.Method, u.String(), nil)
		if err != nil {
			return authErr(d, authBadSignature, "cannot rebuild the request to verify it: "+err.Error())
		}
		c.URL.Path, c.URL.RawPath, c.Host = r.URL.Path, r.URL.RawPath, r.Host
		for _, name := range a.SignedHeaders {
			switch name {
			case "host":
			case "content-length":
				c.ContentLength = int64(len(body))
			default:
				c.Header[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
			}
		}
		creds := aws.Credentials{AccessKeyID: a.AccessKey, SecretAccessKey: secret}
		if withToken {
			creds.SessionToken = q.Get("X-Amz-Security-Token")
		}
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableHeaderHoisting = true })
		signed, _, err := signer.PresignHTTP(context.Background(), creds, c, payloadHash, a.Service, a.Region, signedAt)
		if err != nil {
			return authErr(d, authBadSignature, "cannot sign the request to verify it: "+err.Error())
		}
		su, err := url.Parse(signed)
		if err == nil && hmac.Equal([]byte(su.Query().Get("X-Amz-Signature")), []byte(sig)) {
			return nil
		}
	}
	return authErr(d, authBadSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
}

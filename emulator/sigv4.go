package emulator

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
)

// authErr answers an authentication failure in door's protocol.
func authErr(d door, kind int, msg string) *apiError {
	switch d {
	case doorSTS:
		name := [...]string{"MissingAuthenticationToken", "IncompleteSignature", "InvalidClientTokenId", "SignatureDoesNotMatch"}[kind]
		return &apiError{Status: http.StatusForbidden, Name: name, Message: msg}
	case doorIoT:
		name := [...]string{"MissingAuthenticationTokenException", "IncompleteSignatureException", "UnrecognizedClientException", "InvalidSignatureException"}[kind]
		return &apiError{Status: http.StatusForbidden, Name: name, Message: msg}
	}
	name := [...]string{"MissingAuthenticationTokenException", "IncompleteSignatureException", "UnrecognizedClientException", "InvalidSignatureException"}[kind]
	return &apiError{Status: http.StatusBadRequest, Name: name, Message: msg}
}

// authenticate verifies the request's SigV4 signature when the emulator has
// credentials configured; without them every request is accepted.
func (s *Server) authenticate(r *http.Request, body []byte, d door) *apiError {
	if len(s.opts.Credentials) == 0 {
		return nil
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return authErr(d, authMissing, "Missing Authentication Token")
	}
	a, err := parseAuthorization(h)
	if err != nil {
		return authErr(d, authIncomplete, "Authorization header is malformed: "+err.Error())
	}
	secret, ok := s.opts.Credentials[a.AccessKey]
	if !ok {
		return authErr(d, authUnknownKey, "The security token included in the request is invalid.")
	}
	if !d.acceptsService(a.Service) {
		return authErr(d, authBadSignature, fmt.Sprintf("Credential should be scoped to correct service: '%s'.", d.signingName()))
	}
	if a.Region != s.opts.Region {
		return authErr(d, authBadSignature, fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", a.Region))
	}
	amzDate := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return authErr(d, authIncomplete, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if a.Date != signedAt.Format("20060102") {
		return authErr(d, authBadSignature, fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'", a.Date, signedAt.Format("20060102")))
	}
	now := s.clock.Now().UTC()
	if skew := now.Sub(signedAt); skew > s.opts.MaxClockSkew || -skew > s.opts.MaxClockSkew {
		return authErr(d, authBadSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
			amzDate, now.Add(-s.opts.MaxClockSkew).Format(amzDateFormat), now.Format(amzDateFormat), s.opts.MaxClockSkew))
	}
	for _, h := range requiredSigned(d, body) {
		if !slices.Contains(a.SignedHeaders, h) {
			return authErr(d, authBadSignature, fmt.Sprintf("'%s' must be a SignedHeader in the AWS Authorization (signed: %s).",
				http.CanonicalHeaderKey(h), strings.Join(a.SignedHeaders, ";")))
		}
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && claimed != payloadHash {
		return authErr(d, authBadSignature, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	want, err := expectedSignature(r, body, a, secret, payloadHash, signedAt)
	if err != nil {
		return authErr(d, authBadSignature, err.Error())
	}
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return authErr(d, authBadSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
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

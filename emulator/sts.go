package emulator

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
)

// serveSTS answers the awsQuery STS door: GetCallerIdentity, which Terraform's
// awscc provider calls before anything else.
func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request, reqID string, body []byte) {
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
	case "GetCallerIdentity":
	case "":
		writeError(w, doorSTS, reqID, &apiError{Status: http.StatusBadRequest, Name: "MissingAction", Message: "Missing Action"})
		return
	default:
		writeError(w, doorSTS, reqID, &apiError{Status: http.StatusBadRequest, Name: "InvalidAction", Message: "Could not find operation " + action + " for version " + form.Get("Version")})
		return
	}
	if v := form.Get("Version"); v != "" && v != "2011-06-15" {
		writeError(w, doorSTS, reqID, &apiError{Status: http.StatusBadRequest, Name: "InvalidAction", Message: "Could not find operation GetCallerIdentity for version " + v})
		return
	}
	user := "emulator"
	if a, err := parseAuthorization(r.Header.Get("Authorization")); err == nil {
		user = a.AccessKey
	}
	var b bytes.Buffer
	b.WriteString(`<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>`)
	xml.EscapeText(&b, []byte("arn:"+partition(s.opts.Region)+":iam::"+s.opts.Account+":user/"+sanitizeUser(user)))
	b.WriteString("</Arn><UserId>")
	xml.EscapeText(&b, []byte(user))
	b.WriteString("</UserId><Account>")
	xml.EscapeText(&b, []byte(s.opts.Account))
	b.WriteString("</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>")
	xml.EscapeText(&b, []byte(reqID))
	b.WriteString("</RequestId></ResponseMetadata></GetCallerIdentityResponse>")
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.Write(b.Bytes())
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

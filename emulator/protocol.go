package emulator

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"unicode/utf8"
)

// door is one of the wire protocols the emulator answers.
type door int

const (
	doorCloudControl door = iota // AWS JSON 1.0, X-Amz-Target CloudApiService.<Op>
	doorIoT                      // REST JSON
	doorSTS                      // awsQuery form POST, XML answers
)

// signingName is the SigV4 service name each door expects in the scope.
func (d door) signingName() string {
	switch d {
	case doorIoT:
		return "iot"
	case doorSTS:
		return "sts"
	}
	return "cloudcontrolapi"
}

// apiError is a synchronous error answer. Name is the error code, e.g.
// "ResourceNotFoundException"; Type, when set, is the full __type of a JSON
// 1.0 answer.
type apiError struct {
	Status  int
	Name    string
	Type    string
	Message string
	// Members are further members of the error structure the model
	// defines, e.g. IoT ConflictException's resourceId.
	Members map[string]string
}

func (e *apiError) Error() string { return e.Name + ": " + e.Message }

// Cloud Control error names and their HTTP statuses. Those the model marks
// as faults ("fault": true: the server's side) answer 500.
var ccStatus = map[string]int{
	"ConcurrentModificationException": http.StatusInternalServerError,
	"ResourceNotFoundException":       http.StatusNotFound,
	"TypeNotFoundException":           http.StatusNotFound,
	"RequestTokenNotFoundException":   http.StatusNotFound,
	"ConcurrentOperationException":    http.StatusConflict,
	"ClientTokenConflictException":    http.StatusConflict,
	"UnsupportedActionException":      http.StatusMethodNotAllowed,
	"HandlerInternalFailureException": http.StatusInternalServerError,
	"ServiceInternalErrorException":   http.StatusInternalServerError,
	"NetworkFailureException":         http.StatusInternalServerError,
	"HandlerFailureException":         http.StatusInternalServerError,
}

// ccErr returns a Cloud Control error in the service's namespace.
func ccErr(name, format string, args ...any) *apiError {
	status, ok := ccStatus[name]
	if !ok {
		status = http.StatusBadRequest
	}
	return &apiError{Status: status, Name: name, Type: "com.amazon.cloudapiservice#" + name, Message: fmt.Sprintf(format, args...)}
}

func validationErr(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Name: "ValidationException", Type: "com.amazon.coral.validate#ValidationException", Message: msg}
}

func serializationErr(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Name: "SerializationException", Type: "com.amazon.coral.service#SerializationException", Message: msg}
}

func throttleErr(d door) *apiError {
	switch d {
	case doorIoT:
		return &apiError{Status: http.StatusBadRequest, Name: "ThrottlingException", Message: "Rate exceeded"}
	case doorSTS:
		return &apiError{Status: http.StatusBadRequest, Name: "Throttling", Message: "Rate exceeded"}
	}
	return &apiError{Status: http.StatusBadRequest, Name: "ThrottlingException", Type: "com.amazon.coral.availability#ThrottlingException", Message: "Rate exceeded"}
}

func internalErr(d door) *apiError {
	switch d {
	case doorIoT:
		return &apiError{Status: http.StatusInternalServerError, Name: "InternalFailureException", Message: "An internal failure occurred."}
	case doorSTS:
		return &apiError{Status: http.StatusInternalServerError, Name: "InternalFailure", Message: "An internal failure occurred."}
	}
	return &apiError{Status: http.StatusInternalServerError, Name: "InternalFailure", Type: "com.amazon.coral.service#InternalFailure", Message: "An internal failure occurred."}
}

// writeError answers e in door's protocol.
func writeError(w http.ResponseWriter, d door, requestID string, e *apiError) {
	h := w.Header()
	h.Set("X-Amzn-Requestid", requestID)
	switch d {
	case doorSTS:
		h.Set("Content-Type", "text/xml")
		w.WriteHeader(e.Status)
		typ := "Sender"
		if e.Status >= 500 {
			typ = "Receiver"
		}
		var b bytes.Buffer
		b.WriteString(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>`)
		b.WriteString(typ)
		b.WriteString("</Type><Code>")
		xml.EscapeText(&b, []byte(e.Name))
		b.WriteString("</Code><Message>")
		xml.EscapeText(&b, []byte(e.Message))
		b.WriteString("</Message></Error><RequestId>")
		xml.EscapeText(&b, []byte(requestID))
		b.WriteString("</RequestId></ErrorResponse>")
		w.Write(b.Bytes())
	case doorIoT:
		h.Set("Content-Type", "application/json")
		h.Set("X-Amzn-Errortype", e.Name)
		w.WriteHeader(e.Status)
		out := map[string]string{"message": e.Message}
		for k, v := range e.Members {
			out[k] = v
		}
		json.NewEncoder(w).Encode(out)
	default:
		h.Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(e.Status)
		typ := e.Type
		if typ == "" {
			typ = e.Name
		}
		json.NewEncoder(w).Encode(map[string]string{"__type": typ, "Message": e.Message})
	}
}

// constraint is one model constraint of a string or integer member.
type constraint struct {
	name      string // the member's wire name in lowerCamel, as coral reports it
	required  bool
	sensitive bool
	min, max  int // lengths of strings, values of integers; max 0: none
	pattern   *regexp.Regexp
	rawPat    string
}

func strMember(name string, required bool, min, max int, pattern string) constraint {
	c := constraint{name: name, required: required, min: min, max: max, rawPat: pattern}
	if pattern != "" {
		c.pattern = regexp.MustCompile(`^(?:` + pattern + `)$`)
	}
	return c
}

// Shapes of the Cloud Control model's members.
var (
	mTypeName      = strMember("typeName", true, 10, 196, `[A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}`)
	mTypeVersionID = strMember("typeVersionId", false, 1, 128, `[A-Za-z0-9-]+`)
	mRoleArn       = strMember("roleArn", false, 20, 2048, `arn:.+:iam::[0-9]{12}:role/.+`)
	mClientToken   = strMember("clientToken", false, 1, 128, `[-A-Za-z0-9+/=]+`)
	mIdentifier    = strMember("identifier", true, 1, 1024, `.+`)
	mRequestToken  = strMember("requestToken", true, 1, 128, `[-A-Za-z0-9+/=]+`)
	mNextToken     = strMember("nextToken", false, 1, 2048, `[-A-Za-z0-9+/=]+`)
	mHandlerToken  = strMember("nextToken", false, 1, 4096, `.+`)
)

func sensitiveMember(name string, required bool) constraint {
	c := strMember(name, required, 1, 262144, "")
	c.sensitive = true
	return c
}

// validator collects model validation failures in coral's words.
type validator struct{ msgs []string }

func (v *validator) str(c constraint, val *string) {
	if val == nil {
		if c.required {
			v.msgs = append(v.msgs, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", c.name))
		}
		return
	}
	shown := fmt.Sprintf("Value '%s' at '%s'", *val, c.name)
	if c.sensitive {
		shown = fmt.Sprintf("Value at '%s'", c.name)
	}
	n := utf8.RuneCountInString(*val)
	if n < c.min {
		v.msgs = append(v.msgs, fmt.Sprintf("%s failed to satisfy constraint: Member must have length greater than or equal to %d", shown, c.min))
	}
	if c.max > 0 && n > c.max {
		v.msgs = append(v.msgs, fmt.Sprintf("%s failed to satisfy constraint: Member must have length less than or equal to %d", shown, c.max))
	}
	if c.pattern != nil && !c.pattern.MatchString(*val) {
		v.msgs = append(v.msgs, fmt.Sprintf("%s failed to satisfy constraint: Member must satisfy regular expression pattern: %s", shown, c.rawPat))
	}
}

func (v *validator) intRange(name string, val *int, min, max int) {
	if val == nil {
		return
	}
	if *val < min {
		v.msgs = append(v.msgs, fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d", *val, name, min))
	}
	if *val > max {
		v.msgs = append(v.msgs, fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d", *val, name, max))
	}
}

func (v *validator) enum(name string, vals []string, allowed ...string) {
	for i, x := range vals {
		ok := false
		for _, a := range allowed {
			ok = ok || x == a
		}
		if !ok {
			v.msgs = append(v.msgs, fmt.Sprintf("Value '%s' at '%s.%d.member' failed to satisfy constraint: Member must satisfy enum value set: [%s]", x, name, i+1, strings.Join(allowed, ", ")))
		}
	}
}

func (v *validator) err() *apiError {
	switch len(v.msgs) {
	case 0:
		return nil
	case 1:
		return validationErr("1 validation error detected: " + v.msgs[0])
	}
	return validationErr(fmt.Sprintf("%d validation errors detected: %s", len(v.msgs), strings.Join(v.msgs, "; ")))
}

// decodeJSONInput decodes an AWS JSON 1.0 request body into v, a pointer to
// a struct whose field names (or json tags) are the model's member names.
//
// Member names match exactly, as the protocol defines them: encoding/json
// alone would also accept "typeName" for TypeName, where the service ignores
// an unknown member and reports the modelled one as missing.
func decodeJSONInput(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return serializationErr(fmt.Sprintf("Could not deserialize the request: %v", err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return serializationErr("Could not deserialize the request: trailing data after the JSON object")
	}
	if err := decodeMembers(obj, reflect.ValueOf(v).Elem()); err != nil {
		return serializationErr(fmt.Sprintf("Could not deserialize the request: %v", err))
	}
	return nil
}

// decodeMembers sets the fields of the struct dst from the members of obj
// whose names match a field's member name exactly, and ignores the others.
// Fields that are structs or pointers to structs are decoded the same way.
func decodeMembers(obj map[string]json.RawMessage, dst reflect.Value) error {
	t := dst.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" {
			name = tag
		}
		raw, ok := obj[name]
		if !ok {
			continue
		}
		fv := dst.Field(i)
		st := f.Type
		if st.Kind() == reflect.Pointer {
			st = st.Elem()
		}
		if st.Kind() != reflect.Struct {
			if err := json.Unmarshal(raw, fv.Addr().Interface()); err != nil {
				return fmt.Errorf("member %s: %w", name, err)
			}
			continue
		}
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(raw, &inner); err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
		if inner == nil { // JSON null: the member is absent
			continue
		}
		target := fv
		if f.Type.Kind() == reflect.Pointer {
			fv.Set(reflect.New(st))
			target = fv.Elem()
		}
		if err := decodeMembers(inner, target); err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
	}
	return nil
}

package emulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/athanor-dev/athanor/schema"
)

// epochSeconds renders a time as the JSON number of seconds since the epoch
// with millisecond precision, as AWS JSON 1.0 timestamps are.
type epochSeconds time.Time

func (t epochSeconds) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

func epoch(t time.Time) *epochSeconds {
	e := epochSeconds(t)
	return &e
}

// progressEvent is the model's ProgressEvent.
type progressEvent struct {
	TypeName        string        `json:"TypeName,omitempty"`
	Identifier      string        `json:"Identifier,omitempty"`
	RequestToken    string        `json:"RequestToken,omitempty"`
	Operation       string        `json:"Operation,omitempty"`
	OperationStatus string        `json:"OperationStatus,omitempty"`
	EventTime       *epochSeconds `json:"EventTime,omitempty"`
	ResourceModel   string        `json:"ResourceModel,omitempty"`
	StatusMessage   string        `json:"StatusMessage,omitempty"`
	ErrorCode       string        `json:"ErrorCode,omitempty"`
	RetryAfter      *epochSeconds `json:"RetryAfter,omitempty"`
}

type progressOutput struct {
	ProgressEvent progressEvent `json:"ProgressEvent"`
}

type resourceDescription struct {
	Identifier string `json:"Identifier"`
	Properties string `json:"Properties"`
}

// event renders r as the service reports it.
func (s *Server) event(r request) progressEvent {
	ev := progressEvent{
		TypeName:        r.TypeName,
		RequestToken:    r.Token,
		Operation:       r.Operation,
		OperationStatus: r.Status,
		EventTime:       epoch(r.EventTime),
		StatusMessage:   r.StatusMessage,
		ErrorCode:       r.ErrorCode,
	}
	if r.Identifier != "" && (!r.HideIdentifier || r.Status == statusSuccess || (r.FailAfterEffect && r.final())) {
		ev.Identifier = r.Identifier
	}
	if r.Status == statusInProgress && r.CompleteAt.After(r.EventTime) {
		switch s.opts.RetryAfter {
		case RetryAfterNone:
		case RetryAfterRound:
			at := r.CompleteAt.Truncate(time.Second)
			if at.Before(r.CompleteAt) {
				at = at.Add(time.Second)
			}
			ev.RetryAfter = epoch(at)
		default:
			ev.RetryAfter = epoch(r.CompleteAt)
		}
	}
	if r.Status == statusSuccess && r.Operation != opDelete && r.Model != nil {
		if sch, err := s.reg.Lookup(r.TypeName); err == nil {
			ev.ResourceModel = mustJSON(sch.WithoutWriteOnly(r.Model))
		}
	}
	return ev
}

func mustJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("emulator: encode JSON value: " + err.Error()) // decoded JSON values always encode
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// serveCloudControl answers one AWS JSON 1.0 Cloud Control call.
func (s *call) serveCloudControl(ctx context.Context, w http.ResponseWriter, r *http.Request, reqID, target string, body []byte) {
	op, ok := strings.CutPrefix(target, "CloudApiService.")
	var out any
	var e *apiError
	if r.Method != http.MethodPost {
		ok = false
	}
	s.st.settle(s.clock.Now())
	switch {
	case !ok:
		e = &apiError{Status: http.StatusBadRequest, Name: "UnknownOperationException", Type: "com.amazon.coral.service#UnknownOperationException", Message: "Unknown operation " + target}
	case op == "CreateResource":
		out, e = s.createResource(body)
	case op == "GetResource":
		out, e = s.getResource(body)
	case op == "UpdateResource":
		out, e = s.updateResource(body)
	case op == "DeleteResource":
		out, e = s.deleteResource(body)
	case op == "ListResources":
		out, e = s.listResources(body)
	case op == "GetResourceRequestStatus":
		out, e = s.getResourceRequestStatus(body)
	case op == "ListResourceRequests":
		out, e = s.listResourceRequests(body)
	case op == "CancelResourceRequest":
		out, e = s.cancelResourceRequest(body)
	default:
		e = &apiError{Status: http.StatusBadRequest, Name: "UnknownOperationException", Type: "com.amazon.coral.service#UnknownOperationException", Message: "Unknown operation " + target}
	}
	if e != nil {
		writeError(w, doorCloudControl, reqID, e)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-Requestid", reqID)
	w.Write([]byte(mustJSON(out)))
}

// typeFor looks typeName up and checks that it has the handler op needs.
func (s *Server) typeFor(typeName, handler string) (*schema.Schema, *apiError) {
	sch, err := s.reg.Lookup(typeName)
	if err != nil {
		return nil, ccErr("TypeNotFoundException", "The type '%s' cannot be found.", typeName)
	}
	has := map[string]bool{
		"CREATE": sch.Handlers.Create, "READ": sch.Handlers.Read, "UPDATE": sch.Handlers.Update,
		"DELETE": sch.Handlers.Delete, "LIST": sch.Handlers.List,
	}[handler]
	if !has {
		return nil, ccErr("UnsupportedActionException", "Resource type %s does not support %s action", typeName, handler)
	}
	return sch, nil
}

// canonicalID turns a request's identifier (plain, compound "a|b" or JSON)
// into the canonical identifier under which the resource is stored.
func canonicalID(sch *schema.Schema, id string) (string, error) {
	props, err := sch.ParseIdentifier(id)
	if err != nil {
		return "", err
	}
	return sch.Identifier(props)
}

type mutationIn struct {
	TypeName      *string
	TypeVersionId *string
	RoleArn       *string
	ClientToken   *string
	DesiredState  *string
	Identifier    *string
	PatchDocument *string
}

func (in *mutationIn) validate(v *validator) {
	v.str(mTypeName, in.TypeName)
	v.str(mTypeVersionID, in.TypeVersionId)
	v.str(mRoleArn, in.RoleArn)
	v.str(mClientToken, in.ClientToken)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// fingerprint identifies a mutation's content for ClientToken idempotency.
func fingerprint(op string, in *mutationIn, canonical string) string {
	return strings.Join([]string{op, deref(in.TypeName), deref(in.TypeVersionId), deref(in.RoleArn), deref(in.Identifier), canonical}, "\x00")
}

func (s *call) submit(r *request, expect *resource) (any, *apiError) {
	now := s.clock.Now()
	r.Token = newUUID()
	r.Submitted = now
	r.CompleteAt = now.Add(s.latency(r.Operation))
	injected := faultNone
	if r.FailCode == "" {
		r.FailCode, r.FailMessage = s.asyncFault()
		if r.FailCode != "" {
			injected = faultAsync
		} else if s.unstableFault(r) {
			injected = faultUnstable
			r.FailCode, r.FailMessage = "NotStabilized", "Resource did not stabilize within the expected time."
			r.FailAfterEffect = true
		}
	}
	got, seq, serr := s.st.submit(r, expect)
	if err := s.st.durable(seq); err != nil {
		return nil, ccErr("ServiceInternalErrorException", "%v", err)
	}
	switch {
	case serr == nil:
		if got.Token == r.Token {
			s.countAsyncFault(injected, r.FailCode)
		}
	case serr.conflict:
		return nil, ccErr("ClientTokenConflictException", "The client token %s was already used for a different request.", r.ClientToken)
	case serr.concurrentToken != "":
		return nil, ccErr("ConcurrentOperationException", "Another resource operation (request token %s) is currently being performed on the resource of type '%s' with identifier '%s'.", serr.concurrentToken, r.TypeName, r.Identifier)
	default:
		return nil, ccErr("ConcurrentOperationException", "The resource of type '%s' with identifier '%s' changed while the request was being accepted; retry.", r.TypeName, r.Identifier)
	}
	// got is the new request as submitted, or an earlier request with the
	// same ClientToken as it stands now.
	return progressOutput{s.event(got)}, nil
}

func (s *call) createResource(body []byte) (any, *apiError) {
	var in mutationIn
	if e := decodeJSONInput(body, &in); e != nil {
		return nil, e
	}
	var v validator
	in.validate(&v)
	v.str(sensitiveMember("desiredState", true), in.DesiredState)
	if e := v.err(); e != nil {
		return nil, e
	}
	sch, e := s.typeFor(*in.TypeName, "CREATE")
	if e != nil {
		return nil, e
	}
	desired, err := decodeModel([]byte(*in.DesiredState))
	if err != nil {
		return nil, ccErr("InvalidRequestException", "DesiredState is not a JSON object: %v", err)
	}
	p := s.prepareCreate(sch, desired)
	r := &request{
		ClientToken:    deref(in.ClientToken),
		Fingerprint:    fingerprint(opCreate, &in, mustJSON(desired)),
		TypeName:       sch.TypeName,
		Operation:      opCreate,
		Identifier:     p.id,
		HideIdentifier: p.generatedID,
		Model:          p.model,
		FailCode:       p.failCode,
		FailMessage:    p.failMessage,
	}
	return s.submit(r, nil)
}

func (s *call) getResource(body []byte) (any, *apiError) {
	var in struct {
		TypeName, TypeVersionId, RoleArn, Identifier *string
	}
	if e := decodeJSONInput(body, &in); e != nil {
		return nil, e
	}
	var v validator
	v.str(mTypeName, in.TypeName)
	v.str(mTypeVersionID, in.TypeVersionId)
	v.str(mRoleArn, in.RoleArn)
	v.str(mIdentifier, in.Identifier)
	if e := v.err(); e != nil {
		return nil, e
	}
	sch, e := s.typeFor(*in.TypeName, "READ")
	if e != nil {
		return nil, e
	}
	id, err := canonicalID(sch, *in.Identifier)
	if err != nil {
		return nil, ccErr("ResourceNotFoundException", "%s", notFoundMessage(sch.TypeName, *in.Identifier))
	}
	res := s.st.get(resourceKey{sch.TypeName, id})
	if res == nil {
		return nil, ccErr("ResourceNotFoundException", "%s", notFoundMessage(sch.TypeName, *in.Identifier))
	}
	return struct {
		TypeName            string
		ResourceDescription resourceDescription
	}{sch.TypeName, resourceDescription{res.Identifier, mustJSON(sch.WithoutWriteOnly(res.Model))}}, nil
}

func (s *call) updateResource(body []byte) (any, *apiError) {
	var in mutationIn
	if e := decodeJSONInput(body, &in); e != nil {
		return nil, e
	}
	var v validator
	in.validate(&v)
	v.str(mIdentifier, in.Identifier)
	v.str(sensitiveMember("patchDocument", true), in.PatchDocument)
	if e := v.err(); e != nil {
		return nil, e
	}
	sch, e := s.typeFor(*in.TypeName, "UPDATE")
	if e != nil {
		return nil, e
	}
	patch, e := decodePatch(sch, *in.PatchDocument)
	if e != nil {
		return nil, e
	}
	r := &request{
		ClientToken: deref(in.ClientToken),
		Fingerprint: fingerprint(opUpdate, &in, *in.PatchDocument),
		TypeName:    sch.TypeName,
		Operation:   opUpdate,
		Identifier:  *in.Identifier,
	}
	id, err := canonicalID(sch, *in.Identifier)
	if err != nil {
		r.FailCode, r.FailMessage = "NotFound", notFoundMessage(sch.TypeName, *in.Identifier)
		return s.submit(r, nil)
	}
	r.Identifier = id
	cur := s.st.get(resourceKey{sch.TypeName, id})
	if cur == nil {
		r.FailCode, r.FailMessage = "NotFound", notFoundMessage(sch.TypeName, id)
		return s.submit(r, nil)
	}
	model, e := s.applyPatch(sch, cur.Model, patch)
	if e != nil {
		return nil, e
	}
	// A patch path above a create-only property (replace "/Parent" when
	// "/Parent/Child" is create-only) passes decodePatch; what the patch
	// does to the create-only values below it decides, as in the engine's
	// diff.
	if ch, err := sch.Diff(cur.Model, model); err != nil {
		return nil, ccErr("InvalidRequestException", "Invalid patch document for the resource of type '%s': %v", sch.TypeName, err)
	} else if len(ch.ReplacePaths) > 0 {
		paths := make([]string, len(ch.ReplacePaths))
		for i, p := range ch.ReplacePaths {
			paths[i] = "/properties" + p
		}
		return nil, ccErr("NotUpdatableException", "Invalid patch update: createOnlyProperties [%s] cannot be updated", strings.Join(paths, ", "))
	}
	// The primary identifier is create-only or read-only in the registry
	// schemas, so decodePatch has refused a path to it; a patch that still
	// changes it (through an ancestor) is refused as well.
	before, _ := sch.Identifier(cur.Model)
	if after, err := sch.Identifier(model); err != nil || after != before {
		return nil, ccErr("NotUpdatableException", "Invalid patch update: the primaryIdentifier of %s %s cannot be updated", sch.TypeName, id)
	}
	s.refreshAttributes(sch, model)
	r.Model = model
	if msg := checkModel(sch, sch.WithoutReadOnly(model)); msg != "" {
		r.FailCode, r.FailMessage = "InvalidRequest", msg
	}
	return s.submit(r, cur)
}

func (s *call) deleteResource(body []byte) (any, *apiError) {
	var in mutationIn
	if e := decodeJSONInput(body, &in); e != nil {
		return nil, e
	}
	var v validator
	in.validate(&v)
	v.str(mIdentifier, in.Identifier)
	if e := v.err(); e != nil {
		return nil, e
	}
	sch, e := s.typeFor(*in.TypeName, "DELETE")
	if e != nil {
		return nil, e
	}
	r := &request{
		ClientToken: deref(in.ClientToken),
		Fingerprint: fingerprint(opDelete, &in, ""),
		TypeName:    sch.TypeName,
		Operation:   opDelete,
		Identifier:  *in.Identifier,
	}
	if id, err := canonicalID(sch, *in.Identifier); err == nil {
		r.Identifier = id
	}
	return s.submit(r, nil)
}

func (s *call) listResources(body []byte) (any, *apiError) {
	var in struct {
		TypeName, TypeVersionId, RoleArn, NextToken, ResourceModel *string
		MaxResults                                                 *int
	}
	if e := decodeJSONInput(body, &in); e != nil {
		return nil, e
	}
	var v validator
	v.str(mTypeName, in.TypeName)
	v.str(mTypeVersionID, in.TypeVersionId)
	v.str(mRoleArn, in.RoleArn)
	v.str(mHandlerToken, in.NextToken)
	v.str(sensitiveMember("resourceModel", false), in.ResourceModel)
	v.intRange("maxResults", in.MaxResults, 1, 100)
	if e := v.err(); e != nil {
		return nil, e
	}
	sch, e := s.typeFor(*in.TypeName, "LIST")
	if e != nil {
		return nil, e
	}
	after := ""
	if in.NextToken != nil {
		b, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		if err != nil {
			return nil, ccErr("InvalidRequestException", "The NextToken is not valid.")
		}
		after = string(b)
	}
	var match func(*resource) bool
	if in.ResourceModel != nil {
		filter, err := decodeModel([]byte(*in.ResourceModel))
		if err != nil {
			return nil, ccErr("InvalidRequestException", "ResourceModel is not a JSON object: %v", err)
		}
		match = func(r *resource) bool {
			for k, want := range filter {
				if got, ok := r.Model[k]; !ok || !schema.Equal(got, want) {
					return false
				}
			}
			return true
		}
	}
	limit := 100
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	page, more := s.st.list(sch.TypeName, after, limit, match)
	out := struct {
		TypeName             string
		ResourceDescriptions []resourceDescription
		NextToken            string `json:",omitempty"`
	}{TypeName: sch.TypeName, ResourceDescriptions: make([]resourceDescription, 0, len(page))}
	for _, r := range page {
		out.ResourceDescriptions = append(out.ResourceDescriptions, resourceDescription{r.Identifier, mustJSON(sch.WithoutWriteOnly(r.Model))})
	}
	if more {
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1].Identifier))
	}
	return out, nil
}

func (s *call) getResourceRequestStatus(body []byte) (any, *apiError) {
	token, e := decodeRequestToken(body)
	if e != nil {
		return nil, e
	}
	r, ok := s.st.request(token)
	if !ok {
		return nil, ccErr("RequestTokenNotFoundException", "Request with token %s was not found", token)
	}
	return progressOutput{s.event(r)}, nil
}

func (s *call) listResourceRequests(body []byte) (any, *apiError) {
	var in struct {
		MaxResults                  *int
		NextToken                   *string
		ResourceRequestStatusFilter *struct {
			Operations        []string
			OperationStatuses []string
		}
	}
	if e := decodeJSONInput(body, &in); e != nil {
		return nil, e
	}
	var v validator
	v.intRange("maxResults", in.MaxResults, 1, 100)
	v.str(mNextToken, in.NextToken)
	ops, statuses := map[string]bool{}, map[string]bool{}
	if f := in.ResourceRequestStatusFilter; f != nil {
		v.enum("resourceRequestStatusFilter.operations", f.Operations, opCreate, opDelete, opUpdate)
		v.enum("resourceRequestStatusFilter.operationStatuses", f.OperationStatuses,
			statusPending, statusInProgress, statusSuccess, statusFailed, statusCancelProgress, statusCancelComplete)
		for _, o := range f.Operations {
			ops[o] = true
		}
		for _, st := range f.OperationStatuses {
			statuses[st] = true
		}
	}
	if e := v.err(); e != nil {
		return nil, e
	}
	var before uint64
	if in.NextToken != nil {
		b, err := base64.StdEncoding.DecodeString(*in.NextToken)
		if err != nil || len(b) != 8 {
			return nil, validationErr("The NextToken is not valid.")
		}
		before = binary.BigEndian.Uint64(b)
	}
	limit := 100
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	page, next := s.st.listRequests(before, limit, func(r *request) bool {
		return (len(ops) == 0 || ops[r.Operation]) && (len(statuses) == 0 || statuses[r.Status])
	})
	out := struct {
		ResourceRequestStatusSummaries []progressEvent
		NextToken                      string `json:",omitempty"`
	}{ResourceRequestStatusSummaries: make([]progressEvent, 0, len(page))}
	for _, r := range page {
		out.ResourceRequestStatusSummaries = append(out.ResourceRequestStatusSummaries, s.event(r))
	}
	if next != 0 {
		out.NextToken = base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, next))
	}
	return out, nil
}

func (s *call) cancelResourceRequest(body []byte) (any, *apiError) {
	token, e := decodeRequestToken(body)
	if e != nil {
		return nil, e
	}
	r, seq, found, cancelled := s.st.cancel(token, s.clock.Now())
	if err := s.st.durable(seq); err != nil {
		return nil, ccErr("ServiceInternalErrorException", "%v", err)
	}
	if !found {
		return nil, ccErr("RequestTokenNotFoundException", "Request with token %s was not found", token)
	}
	if !cancelled {
		return nil, ccErr("ConcurrentModificationException", "Request with token %s cannot be cancelled: it is already %s.", r.Token, r.Status)
	}
	return progressOutput{s.event(r)}, nil
}

// decodeModel decodes a JSON object into a model in schema's canonical form
// (numbers as float64).
func decodeModel(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("null is not an object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	return m, nil
}

// decodeRequestToken decodes and validates the input of the operations that
// take only a RequestToken (GetResourceRequestStatus, CancelResourceRequest).
func decodeRequestToken(body []byte) (string, *apiError) {
	var in struct{ RequestToken *string }
	if e := decodeJSONInput(body, &in); e != nil {
		return "", e
	}
	var v validator
	v.str(mRequestToken, in.RequestToken)
	if e := v.err(); e != nil {
		return "", e
	}
	return *in.RequestToken, nil
}

package emulator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/athanor-dev/athanor/schema"
)

const jobTemplateType = "AWS::IoT::JobTemplate"

// createJobTemplateMembers are the body members of IoT's
// CreateJobTemplateRequest; others are ignored, as the service does.
var createJobTemplateMembers = map[string]bool{
	"jobArn": true, "documentSource": true, "document": true, "description": true,
	"presignedUrlConfig": true, "jobExecutionsRolloutConfig": true, "abortConfig": true,
	"timeoutConfig": true, "tags": true, "jobExecutionsRetryConfig": true,
	"maintenanceWindows": true, "destinationPackageVersions": true,
}

var iotJobTemplateID = strMember("jobTemplateId", true, 1, 64, `[a-zA-Z0-9_-]+`)

// iotTagKey is the IoT model's TagKey constraint for the member at path.
func iotTagKey(path string) constraint {
	return strMember(path, true, 1, 128, `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)
}

func iotErr(status int, name, format string, args ...any) *apiError {
	return &apiError{Status: status, Name: name, Message: fmt.Sprintf(format, args...)}
}

// serveIoT answers the IoT REST API for job templates, on the same store
// as Cloud Control.
func (s *call) serveIoT(_ context.Context, w http.ResponseWriter, r *http.Request, reqID string, body []byte) {
	s.st.settle(s.clock.Now())
	var out any
	var e *apiError
	p := r.URL.Path
	id, hasID := strings.CutPrefix(p, "/job-templates/")
	switch {
	case hasID && id != "" && !strings.Contains(id, "/"):
		switch r.Method {
		case http.MethodPut:
			out, e = s.createJobTemplate(id, body)
		case http.MethodGet:
			out, e = s.describeJobTemplate(id)
		case http.MethodDelete:
			out, e = s.deleteJobTemplate(id)
		default:
			e = iotErr(http.StatusMethodNotAllowed, "MethodNotAllowedException", "%s is not allowed on %s", r.Method, p)
		}
	case (p == "/job-templates" || p == "/job-templates/") && r.Method == http.MethodGet:
		out, e = s.listJobTemplates(r)
	case p == "/tags" && r.Method == http.MethodPost:
		out, e = s.tagResource(body)
	case p == "/tags" && r.Method == http.MethodGet:
		out, e = s.listTagsForResource(r)
	case p == "/untag" && r.Method == http.MethodPost:
		out, e = s.untagResource(body)
	default:
		e = iotErr(http.StatusNotFound, "UnknownOperationException", "No operation matches %s %s", r.Method, p)
	}
	if e != nil {
		writeError(w, doorIoT, reqID, e)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.Write([]byte(mustJSON(out)))
}

func (s *Server) jobTemplateSchema() (*schema.Schema, *apiError) {
	sch, err := s.reg.Lookup(jobTemplateType)
	if err != nil {
		return nil, iotErr(http.StatusInternalServerError, "InternalFailureException", "the registry has no %s schema", jobTemplateType)
	}
	return sch, nil
}

func validJobTemplateID(id string) *apiError {
	var v validator
	v.str(iotJobTemplateID, &id)
	if e := v.err(); e != nil {
		return iotErr(http.StatusBadRequest, "InvalidRequestException", "%s", e.Message)
	}
	return nil
}

func (s *call) createJobTemplate(id string, body []byte) (any, *apiError) {
	if e := validJobTemplateID(id); e != nil {
		return nil, e
	}
	in, err := decodeModel(body)
	if err != nil {
		if len(strings.TrimSpace(string(body))) != 0 {
			return nil, iotErr(http.StatusBadRequest, "InvalidRequestException", "The request body is not a JSON object: %v", err)
		}
		in = map[string]any{}
	}
	for k := range in {
		if !createJobTemplateMembers[k] {
			delete(in, k)
		}
	}
	model := iotToModel(in, "").(map[string]any)
	model["JobTemplateId"] = id
	sch, e := s.jobTemplateSchema()
	if e != nil {
		return nil, e
	}
	p := s.prepareCreate(sch, model)
	if p.failCode != "" {
		return nil, iotErr(http.StatusBadRequest, "InvalidRequestException", "%s", p.failMessage)
	}
	now := s.clock.Now()
	seq, ok := s.st.create(&resource{TypeName: jobTemplateType, Identifier: p.id, Model: p.model, Created: now, Updated: now})
	if !ok {
		return nil, &apiError{Status: http.StatusConflict, Name: "ConflictException", Message: fmt.Sprintf("Job template %s already exists.", id),
			Members: map[string]string{"resourceId": id}}
	}
	if err := s.st.durable(seq); err != nil {
		return nil, iotErr(http.StatusInternalServerError, "InternalFailureException", "%v", err)
	}
	return map[string]any{"jobTemplateArn": p.model["Arn"], "jobTemplateId": id}, nil
}

func (s *call) jobTemplate(id string) (*resource, *apiError) {
	if e := validJobTemplateID(id); e != nil {
		return nil, e
	}
	res := s.st.get(resourceKey{jobTemplateType, id})
	if res == nil {
		return nil, iotErr(http.StatusNotFound, "ResourceNotFoundException", "Job template %s does not exist.", id)
	}
	return res, nil
}

func (s *call) describeJobTemplate(id string) (any, *apiError) {
	res, e := s.jobTemplate(id)
	if e != nil {
		return nil, e
	}
	out := map[string]any{}
	for k, v := range res.Model {
		switch k {
		case "Arn":
			out["jobTemplateArn"] = v
		case "Tags", "JobArn":
			// DescribeJobTemplateResponse has neither.
		default:
			out[modelToIoTName(k, "")] = modelToIoT(v, k)
		}
	}
	out["createdAt"] = epoch(res.Created)
	return out, nil
}

func (s *call) deleteJobTemplate(id string) (any, *apiError) {
	if e := validJobTemplateID(id); e != nil {
		return nil, e
	}
	seq, ok := s.st.remove(resourceKey{jobTemplateType, id})
	if !ok {
		return nil, iotErr(http.StatusNotFound, "ResourceNotFoundException", "Job template %s does not exist.", id)
	}
	if err := s.st.durable(seq); err != nil {
		return nil, iotErr(http.StatusInternalServerError, "InternalFailureException", "%v", err)
	}
	return struct{}{}, nil
}

func (s *call) listJobTemplates(r *http.Request) (any, *apiError) {
	q := r.URL.Query()
	limit := 50
	if m := q.Get("maxResults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil {
			return nil, iotErr(http.StatusBadRequest, "InvalidRequestException", "Could not parse maxResults %q as an integer", m)
		}
		var v validator
		v.intRange("maxResults", &n, 1, 250)
		if e := v.err(); e != nil {
			return nil, iotErr(http.StatusBadRequest, "InvalidRequestException", "%s", e.Message)
		}
		limit = n
	}
	after := ""
	if t := q.Get("nextToken"); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil {
			return nil, iotErr(http.StatusBadRequest, "InvalidRequestException", "The nextToken is not valid.")
		}
		after = string(b)
	}
	page, more := s.st.list(jobTemplateType, after, limit, nil)
	summaries := make([]map[string]any, 0, len(page))
	for _, res := range page {
		summaries = append(summaries, map[string]any{
			"jobTemplateArn": res.Model["Arn"],
			"jobTemplateId":  res.Identifier,
			"description":    res.Model["Description"],
			"createdAt":      epoch(res.Created),
		})
	}
	out := map[string]any{"jobTemplates": summaries}
	if more {
		out["nextToken"] = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1].Identifier))
	}
	return out, nil
}

// jobTemplateByArn finds the job template an ARN names.
func (s *call) jobTemplateKey(arn string) (resourceKey, *apiError) {
	i := strings.LastIndex(arn, ":jobtemplate/")
	if arn == "" || i < 0 {
		return resourceKey{}, iotErr(http.StatusBadRequest, "InvalidRequestException", "Invalid resource ARN %q: the emulator tags job templates only", arn)
	}
	k := resourceKey{jobTemplateType, arn[i+len(":jobtemplate/"):]}
	if res := s.st.get(k); res == nil || res.Model["Arn"] != arn {
		return resourceKey{}, iotErr(http.StatusNotFound, "ResourceNotFoundException", "Resource %s does not exist.", arn)
	}
	return k, nil
}

type iotTag struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value,omitempty"`
}

func (s *call) tagResource(body []byte) (any, *apiError) {
	var in struct {
		ResourceArn string   `json:"resourceArn"`
		Tags        []iotTag `json:"tags"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, iotErr(http.StatusBadRequest, "InvalidRequestException", "The request body is not valid: %v", err)
	}
	if in.Tags == nil {
		return nil, iotErr(http.StatusBadRequest, "InvalidRequestException", "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	var v validator
	for i, t := range in.Tags {
		v.str(iotTagKey(fmt.Sprintf("tags.%d.member.Key", i+1)), t.Key)
		v.str(strMember(fmt.Sprintf("tags.%d.member.Value", i+1), false, 0, 256, ""), t.Value)
	}
	if e := v.err(); e != nil {
		return nil, iotErr(http.StatusBadRequest, "InvalidRequestException", "%s", e.Message)
	}
	k, e := s.jobTemplateKey(in.ResourceArn)
	if e != nil {
		return nil, e
	}
	var tooMany bool
	seq, ok := s.st.modify(k, s.clock.Now(), func(m map[string]any) bool {
		tags := tagList(m["Tags"])
		for _, t := range in.Tags {
			val := ""
			if t.Value != nil {
				val = *t.Value
			}
			i := slices.IndexFunc(tags, func(x map[string]any) bool { return x["Key"] == *t.Key })
			if i >= 0 {
				tags[i] = map[string]any{"Key": *t.Key, "Value": val}
			} else {
				tags = append(tags, map[string]any{"Key": *t.Key, "Value": val})
			}
		}
		if len(tags) > 50 {
			tooMany = true
			return false
		}
		m["Tags"] = tagsValue(tags)
		return true
	})
	if tooMany {
		return nil, iotErr(410, "LimitExceededException", "A resource can have at most 50 tags.")
	}
	if !ok {
		return nil, iotErr(http.StatusNotFound, "ResourceNotFoundException", "Resource %s does not exist.", in.ResourceArn)
	}
	if err := s.st.durable(seq); err != nil {
		return nil, iotErr(http.StatusInternalServerError, "InternalFailureException", "%v", err)
	}
	return struct{}{}, nil
}

func (s *call) untagResource(body []byte) (any, *apiError) {
	var in struct {
		ResourceArn string   `json:"resourceArn"`
		TagKeys     []string `json:"tagKeys"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, iotErr(http.StatusBadRequest, "InvalidRequestException", "The request body is not valid: %v", err)
	}
	if in.TagKeys == nil {
		return nil, iotErr(http.StatusBadRequest, "InvalidRequestException", "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
	}
	var v validator
	for i, key := range in.TagKeys {
		v.str(iotTagKey(fmt.Sprintf("tagKeys.%d.member", i+1)), &key)
	}
	if e := v.err(); e != nil {
		return nil, iotErr(http.StatusBadRequest, "InvalidRequestException", "%s", e.Message)
	}
	k, e := s.jobTemplateKey(in.ResourceArn)
	if e != nil {
		return nil, e
	}
	seq, ok := s.st.modify(k, s.clock.Now(), func(m map[string]any) bool {
		tags := slices.DeleteFunc(tagList(m["Tags"]), func(x map[string]any) bool {
			key, _ := x["Key"].(string)
			return slices.Contains(in.TagKeys, key)
		})
		if len(tags) == 0 {
			delete(m, "Tags")
		} else {
			m["Tags"] = tagsValue(tags)
		}
		return true
	})
	if !ok {
		return nil, iotErr(http.StatusNotFound, "ResourceNotFoundException", "Resource %s does not exist.", in.ResourceArn)
	}
	if err := s.st.durable(seq); err != nil {
		return nil, iotErr(http.StatusInternalServerError, "InternalFailureException", "%v", err)
	}
	return struct{}{}, nil
}

func (s *call) listTagsForResource(r *http.Request) (any, *apiError) {
	arn := r.URL.Query().Get("resourceArn")
	if arn == "" {
		return nil, iotErr(http.StatusBadRequest, "InvalidRequestException", "1 validation error detected: Value null at 'resourceArn' failed to satisfy constraint: Member must not be null")
	}
	k, e := s.jobTemplateKey(arn)
	if e != nil {
		return nil, e
	}
	res := s.st.get(k)
	if res == nil {
		return nil, iotErr(http.StatusNotFound, "ResourceNotFoundException", "Resource %s does not exist.", arn)
	}
	tags := tagList(res.Model["Tags"])
	if tags == nil {
		tags = []map[string]any{}
	}
	return map[string]any{"tags": tags}, nil
}

// tagList copies a model's Tags value.
func tagList(v any) []map[string]any {
	list, _ := v.([]any)
	var out []map[string]any
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			c := make(map[string]any, len(m))
			for k, x := range m {
				c[k] = x
			}
			out = append(out, c)
		}
	}
	return out
}

func tagsValue(tags []map[string]any) []any {
	out := make([]any, len(tags))
	for i, t := range tags {
		out[i] = t
	}
	return out
}

// iotToModel turns an IoT request value (lowerCamel members) into the
// registry model's shape (UpperCamel, with the registry's own names where
// they differ).
func iotToModel(v any, parent string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			name := upperFirst(k)
			switch {
			case parent == "jobExecutionsRolloutConfig" && k == "exponentialRate":
				name = "ExponentialRolloutRate"
			case parent == "jobExecutionsRetryConfig" && k == "criteriaList":
				name = "RetryCriteriaList"
			}
			out[name] = iotToModel(e, k)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = iotToModel(e, parent)
		}
		return out
	}
	return v
}

// modelToIoT is the inverse of iotToModel.
func modelToIoT(v any, parent string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[modelToIoTName(k, parent)] = modelToIoT(e, k)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = modelToIoT(e, parent)
		}
		return out
	}
	return v
}

func modelToIoTName(k, parent string) string {
	switch {
	case parent == "Tags":
		return k
	case k == "ExponentialRolloutRate":
		return "exponentialRate"
	case k == "RetryCriteriaList":
		return "criteriaList"
	}
	return lowerFirst(k)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

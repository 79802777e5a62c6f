package emulator

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/athanor-dev/athanor/schema"
)

// maxModel is the largest model Cloud Control accepts (shape Properties).
const maxModel = 262144

// prepared is a create request's outcome as decided at submission.
type prepared struct {
	model       map[string]any // full model to store, read-only values generated
	id          string         // canonical identifier ("" when unknown)
	generatedID bool           // the identifier was generated, not chosen
	failCode    string
	failMessage string
}

// prepareCreate validates a desired state and builds the model to store:
// defaults applied, read-only properties and a missing primary identifier
// generated.
func (s *call) prepareCreate(sch *schema.Schema, desired map[string]any) prepared {
	if msg := checkModel(sch, desired); msg != "" {
		p := prepared{failCode: "InvalidRequest", failMessage: msg}
		if id, err := sch.Identifier(desired); err == nil {
			p.id = id
		}
		return p
	}
	model := schema.NormalizeModel(desired)
	for name, n := range sch.Root.Properties {
		if _, ok := model[name]; !ok && n.HasDefault && !sch.IsReadOnly("/"+name) {
			model[name] = n.Default
		}
	}
	gen := s.generator(sch)
	p := prepared{}
	// A generated identifier that an existing resource already holds (the
	// seeded source repeats itself after a restart) is drawn again, unless
	// it follows from the desired state alone (a topic's ARN from its
	// TopicName): that create fails with AlreadyExists.
	prev := ""
	for attempt := 0; ; attempt++ {
		p.model, p.generatedID = s.generate(sch, gen, model)
		id, err := sch.Identifier(p.model)
		if err != nil || !p.generatedID || attempt == 8 || id == prev || s.st.get(resourceKey{sch.TypeName, id}) == nil {
			break
		}
		prev = id
	}
	model = p.model
	id, err := sch.Identifier(model)
	if err != nil {
		return prepared{failCode: "InvalidRequest", failMessage: fmt.Sprintf("Model validation failed (#: %v)", err)}
	}
	p.id = id
	return p
}

// generate returns a copy of model with its generated values: the name,
// identifiers and read-only attributes of the type's identity rule
// (identities.go), then the generic values for what the rule leaves out. It
// reports whether a primary identifier was generated rather than chosen.
func (s *call) generate(sch *schema.Schema, gen generator, desired map[string]any) (map[string]any, bool) {
	model := maps.Clone(desired)
	generatedID := false
	isPrimary := func(name string) bool {
		return slices.Contains(sch.PrimaryIdentifier, "/properties/"+name)
	}
	absent := map[string]bool{} // attributes the rule says the resource lacks
	if rule, ok := identityRules[sch.TypeName]; ok {
		c := idContext{partition: partition(s.sc.Region), region: s.sc.Region, account: s.sc.Account, model: model, g: gen}
		if rule.name != "" {
			if _, present := model[rule.name]; !present {
				model[rule.name] = gen.genName(sch.TypeName, rule, model)
				generatedID = generatedID || isPrimary(rule.name)
			}
			c.name, _ = model[rule.name].(string)
		}
		for name, v := range rule.attrs(c) {
			if v == nil {
				absent[name] = true
				continue
			}
			if _, present := model[name]; !present {
				model[name] = v
				generatedID = generatedID || isPrimary(name)
			}
		}
	}
	// The primary identifier: read-only identifiers are always generated;
	// writable ones (e.g. LogGroupName) when the desired state omits them.
	for _, ptr := range sch.PrimaryIdentifier {
		name, ok := topLevel(ptr)
		if !ok || isArnName(name) {
			continue
		}
		if _, present := model[name]; !present {
			if v := gen.value(name, sch.Root.Properties[name]); v != nil {
				model[name] = v
				generatedID = true
			}
		}
	}
	for _, ptr := range sch.ReadOnly {
		name, ok := topLevel(ptr)
		if _, present := model[name]; !ok || present || absent[name] || isArnName(name) {
			continue
		}
		if v := gen.value(name, sch.Root.Properties[name]); v != nil {
			model[name] = v
		}
	}
	base, err := sch.Identifier(model)
	if err != nil {
		// The identifier is the ARN itself: it ends in the resource's name
		// when it has one.
		parts := strings.Split(sch.TypeName, "::")
		for _, p := range []string{"Name", parts[len(parts)-1] + "Name"} {
			if v, ok := model[p].(string); ok && base == "" {
				base = v
			}
		}
		if base == "" {
			base = gen.token(12)
		}
	}
	for _, ptr := range sch.ReadOnly {
		name, ok := topLevel(ptr)
		if _, present := model[name]; !ok || present || absent[name] || !isArnName(name) {
			continue
		}
		model[name] = s.arn(sch.TypeName, base, sch.Root.Properties[name])
		generatedID = generatedID || isPrimary(name)
	}
	return model, generatedID
}

// refreshAttributes brings an updated model's read-only attributes in line
// with its type's identity rule: an attribute the rule now gives and the
// model lacks is added (a DynamoDB table's StreamArn once it has a stream),
// one the rule now says is absent is removed. Attributes already present
// keep their values.
func (s *call) refreshAttributes(sch *schema.Schema, model map[string]any) {
	rule, ok := identityRules[sch.TypeName]
	if !ok {
		return
	}
	c := idContext{partition: partition(s.sc.Region), region: s.sc.Region, account: s.sc.Account, model: model, g: s.generator(sch)}
	if rule.name != "" {
		c.name, _ = model[rule.name].(string)
	}
	for name, v := range rule.attrs(c) {
		if !sch.IsReadOnly("/" + name) {
			continue
		}
		if _, present := model[name]; v == nil {
			delete(model, name)
		} else if !present {
			model[name] = v
		}
	}
}

// checkModel validates a desired model and returns the handler's failure
// message, or "" when the model is valid. Schema violations come first, as
// the registry handler validates before calling the service, and read
// "Model validation failed (#/Path: message; ...)"; the service's own rules
// then answer in the service's words.
func checkModel(sch *schema.Schema, model map[string]any) string {
	all := sch.DesiredViolations(model)
	if len(all) == 0 {
		return ""
	}
	service := map[schema.Violation]bool{}
	svc := sch.ServiceViolations(model)
	for _, v := range svc {
		service[v] = true
	}
	var parts []string
	for _, v := range all {
		if !service[v] {
			p := v.Path
			if p == "/" {
				p = ""
			}
			parts = append(parts, "#"+p+": "+v.Message)
		}
	}
	if len(parts) > 0 {
		return "Model validation failed (" + strings.Join(parts, "; ") + ")"
	}
	return serviceMessage(svc)
}

// serviceMessage renders service rule violations as the service's
// validation answer, naming members as its API does.
func serviceMessage(vs []schema.Violation) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("Value at '%s' failed to satisfy constraint: %s", apiMemberPath(v.Path), v.Message)
	}
	n := "1 validation error detected: "
	if len(vs) > 1 {
		n = fmt.Sprintf("%d validation errors detected: ", len(vs))
	}
	return n + strings.Join(parts, "; ")
}

// apiMemberPaths renames registry property names whose IoT API member is
// not simply the lowerCamel form.
var apiMemberNames = map[string]string{
	"ExponentialRolloutRate": "exponentialRate",
	"RetryCriteriaList":      "criteriaList",
}

// apiMemberPath turns a model pointer ("/Tags/0/Key") into the member path
// an AWS validation message uses ("tags.1.member.Key").
func apiMemberPath(p string) string {
	toks := strings.Split(strings.TrimPrefix(p, "/"), "/")
	out := make([]string, 0, len(toks))
	inTags := false
	for _, t := range toks {
		if i, err := strconv.Atoi(t); err == nil {
			out = append(out, strconv.Itoa(i+1), "member")
			continue
		}
		switch {
		case inTags:
			out = append(out, t) // IoT tags keep Key and Value
		case apiMemberNames[t] != "":
			out = append(out, apiMemberNames[t])
		default:
			out = append(out, lowerFirst(t))
		}
		inTags = t == "Tags"
	}
	return strings.Join(out, ".")
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// topLevel returns the property name of "/properties/Name".
func topLevel(ptr string) (string, bool) {
	name, ok := strings.CutPrefix(ptr, "/properties/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}

func isArnName(name string) bool {
	return name == "Arn" || strings.HasSuffix(name, "Arn") || strings.HasSuffix(name, "ARN")
}

// partition returns the ARN partition of a region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// arn builds the generic ARN of a resource of typeName identified by id,
// for the property of schema node n:
// "arn:<partition>:<service>:<region>:<account>:<resource>/<id>", service
// and resource in lower case. When n's pattern refuses that form, the
// resource is tried in kebab case ("schedule-group") and lower camel case
// ("scheduleGroup"), and with ":" before the id; the first form the pattern
// accepts is taken.
func (s *call) arn(typeName, id string, n *schema.Node) string {
	parts := strings.Split(typeName, "::")
	service, res := "unknown", "Resource"
	if len(parts) == 3 {
		service, res = strings.ToLower(parts[1]), parts[2]
	}
	prefix := fmt.Sprintf("arn:%s:%s:%s:%s:", partition(s.sc.Region), service, s.sc.Region, s.sc.Account)
	first := prefix + strings.ToLower(res) + "/" + id
	if n == nil || n.Pattern == "" {
		return first
	}
	re, err := regexp.Compile(n.Pattern)
	if err != nil {
		return first
	}
	for _, r := range []string{strings.ToLower(res), kebab(res), lowerFirst(res)} {
		for _, sep := range []string{"/", ":"} {
			if c := prefix + r + sep + id; re.MatchString(c) {
				return c
			}
		}
	}
	return first
}

// kebab writes an upper camel case name in kebab case: "ScheduleGroup"
// becomes "schedule-group".
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// generator makes plausible values for generated properties, drawing from
// the server's seeded name source, so that a given seed and sequence of
// creates yields the same names and identifiers.
type generator struct {
	typeName string
	now      time.Time
	s        *Server
}

func (s *Server) generator(sch *schema.Schema) generator {
	return generator{typeName: sch.TypeName, now: s.clock.Now(), s: s}
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// pick returns n characters drawn from alphabet.
func (g generator) pick(n int, alphabet string) string {
	b := make([]byte, n)
	g.s.namesMu.Lock()
	defer g.s.namesMu.Unlock()
	for i := range b {
		b[i] = alphabet[g.s.names.IntN(len(alphabet))]
	}
	return string(b)
}

func (g generator) token(n int) string { return g.pick(n, alnum) }

// uuid returns a version 4 UUID drawn from the name source.
func (g generator) uuid() string {
	var b [16]byte
	g.s.namesMu.Lock()
	for i := range b {
		b[i] = byte(g.s.names.Uint32())
	}
	g.s.namesMu.Unlock()
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// value returns a generated value for property name of schema node n, or
// nil for shapes it does not generate (objects, arrays).
func (g generator) value(name string, n *schema.Node) any {
	if n == nil {
		return nil
	}
	if len(n.Enum) > 0 {
		return n.Enum[0]
	}
	lower := strings.ToLower(name)
	timeLike := strings.Contains(lower, "time") || strings.Contains(lower, "date") || strings.HasSuffix(name, "At")
	switch {
	case n.HasType("string"):
		switch {
		case timeLike || n.Format == "date-time":
			return g.now.UTC().Format(time.RFC3339)
		case name == "Id" || strings.HasSuffix(name, "Id") || strings.HasSuffix(name, "ID"):
			return g.uuid()
		case strings.HasSuffix(name, "Name"):
			return g.genName(g.typeName, identityRule{}, nil)
		}
		return g.token(20)
	case n.HasType("integer") || n.HasType("number"):
		if timeLike {
			return float64(g.now.UnixMilli()) / 1000 // epoch seconds, as AWS numbers timestamps
		}
		return float64(0)
	case n.HasType("boolean"):
		return false
	}
	return nil
}

// decodePatch parses an RFC 6902 document and refuses operations that touch
// create-only or read-only paths.
func decodePatch(sch *schema.Schema, doc string) (jsonpatch.Patch, *apiError) {
	patch, err := jsonpatch.DecodePatch([]byte(doc))
	if err != nil {
		return nil, ccErr("InvalidRequestException", "Invalid patch document: %v", err)
	}
	if len(patch) == 0 {
		return nil, ccErr("InvalidRequestException", "Invalid patch document: no operations")
	}
	var createOnly, readOnly []string
	for i, op := range patch {
		kind := op.Kind()
		switch kind {
		case "add", "remove", "replace", "move", "copy", "test":
		default:
			return nil, ccErr("InvalidRequestException", "Invalid patch document: operation %d: unknown op %q", i, kind)
		}
		path, err := op.Path()
		if err != nil {
			return nil, ccErr("InvalidRequestException", "Invalid patch document: operation %d: %v", i, err)
		}
		if e := checkPointer(i, "path", path); e != nil {
			return nil, e
		}
		paths := []string{path}
		if kind == "move" || kind == "copy" {
			from, err := op.From()
			if err != nil {
				return nil, ccErr("InvalidRequestException", "Invalid patch document: operation %d: %v", i, err)
			}
			if e := checkPointer(i, "from", from); e != nil {
				return nil, e
			}
			if kind == "move" {
				paths = append(paths, from)
			} else if from == "" || from == "/" {
				return nil, ccErr("InvalidRequestException", "Invalid patch document: operation %d addresses the whole model", i)
			}
		}
		if kind == "add" || kind == "replace" || kind == "test" {
			if _, ok := op["value"]; !ok {
				return nil, ccErr("InvalidRequestException", "Invalid patch document: operation %d (%s) has no value", i, kind)
			}
		}
		for _, p := range paths {
			if p == "" || p == "/" {
				return nil, ccErr("InvalidRequestException", "Invalid patch document: operation %d addresses the whole model", i)
			}
			if kind == "test" {
				continue
			}
			if sch.IsCreateOnly(p) || touchesFixedTags(sch, p) {
				createOnly = append(createOnly, "/properties"+p)
			}
			if sch.IsReadOnly(p) {
				readOnly = append(readOnly, "/properties"+p)
			}
		}
	}
	if len(createOnly) > 0 {
		sort.Strings(createOnly)
		return nil, ccErr("NotUpdatableException", "Invalid patch update: createOnlyProperties [%s] cannot be updated", strings.Join(createOnly, ", "))
	}
	if len(readOnly) > 0 {
		sort.Strings(readOnly)
		return nil, ccErr("NotUpdatableException", "Invalid patch update: readOnlyProperties [%s] cannot be updated", strings.Join(readOnly, ", "))
	}
	return patch, nil
}

// checkPointer refuses a patch operation's path or from member that is not
// an RFC 6901 JSON pointer: the patch library would apply "x/Name" as
// "/Name", and the create-only and read-only checks must see exactly the
// path that is applied.
func checkPointer(op int, member, p string) *apiError {
	if p == "" {
		return nil // the whole model, refused by the caller
	}
	bad := func(why string) *apiError {
		return validationErr(fmt.Sprintf("1 validation error detected: Value '%s' at 'patchDocument' operation %d member '%s' failed to satisfy constraint: %s", p, op, member, why))
	}
	if p[0] != '/' {
		return bad("a JSON pointer (RFC 6901) must be empty or start with '/'")
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '~' && (i+1 == len(p) || p[i+1] != '0' && p[i+1] != '1') {
			return bad("in a JSON pointer (RFC 6901) '~' is only allowed as '~0' or '~1'")
		}
	}
	return nil
}

// touchesFixedTags reports whether path is within the tag property of a
// type whose tags cannot be updated.
func touchesFixedTags(sch *schema.Schema, path string) bool {
	t := sch.Tagging
	if !t.Taggable || t.TagUpdatable || t.TagProperty == "" {
		return false
	}
	tags := strings.TrimPrefix(t.TagProperty, "/properties")
	return path == tags || strings.HasPrefix(path, tags+"/")
}

// applyPatch applies patch to a copy of model.
func (s *Server) applyPatch(sch *schema.Schema, model map[string]any, patch jsonpatch.Patch) (_ map[string]any, e *apiError) {
	defer func() {
		// The patch library has panicked on malformed operations; a client's
		// document must never take the handler down.
		if r := recover(); r != nil {
			e = ccErr("InvalidRequestException", "Invalid patch document: %v", r)
		}
	}()
	doc, err := json.Marshal(model)
	if err != nil {
		return nil, ccErr("ServiceInternalErrorException", "encode model: %v", err)
	}
	opts := jsonpatch.NewApplyOptions()
	opts.EnsurePathExistsOnAdd = false
	opts.SupportNegativeIndices = false // RFC 6902 has none
	opts.AccumulatedCopySizeLimit = maxModel
	out, err := patch.ApplyWithOptions(doc, opts)
	if err != nil {
		return nil, ccErr("InvalidRequestException", "Invalid patch document for the resource of type '%s': %v", sch.TypeName, err)
	}
	if len(out) > maxModel {
		return nil, ccErr("InvalidRequestException", "The patched model is larger than %d bytes", maxModel)
	}
	next, err := decodeModel(out)
	if err != nil {
		return nil, ccErr("InvalidRequestException", "Invalid patch document: the result is not a JSON object")
	}
	return next, nil
}

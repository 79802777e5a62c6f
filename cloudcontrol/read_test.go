package cloudcontrol

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"testing"
)

func TestGet(t *testing.T) {
	f := newFakeServer(t)
	f.handle("GetResource", func(r req) reply {
		if r.str("Identifier") != "tpl" {
			return ccError(http.StatusNotFound, "ResourceNotFoundException")
		}
		return reply{body: map[string]any{"TypeName": r.str("TypeName"), "ResourceDescription": map[string]any{
			"Identifier": "tpl", "Properties": `{"JobTemplateId":"tpl","Description":"d"}`}}}
	})
	c := newTestClient(t, f, newFakeClock())
	got, err := c.Get(t.Context(), "AWS::IoT::JobTemplate", "tpl")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"JobTemplateId":"tpl","Description":"d"}` {
		t.Errorf("Get = %s", got)
	}
	_, err = c.Get(t.Context(), "AWS::IoT::JobTemplate", "missing")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(missing) err = %v, want ErrNotFound", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Identifier != "missing" || ae.API != "GetResource" {
		t.Errorf("err = %#v", err)
	}
	if s := c.Stats(); s.Calls["GetResource"] != 2 || s.Operations != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestListPaginates(t *testing.T) {
	f := newFakeServer(t)
	const pages, perPage = 3, 2
	f.handle("ListResources", func(r req) reply {
		page := 0
		if tok := r.str("NextToken"); tok != "" {
			fmt.Sscanf(tok, "page-%d", &page)
		}
		var descs []map[string]any
		for i := range perPage {
			id := fmt.Sprintf("tpl-%d", page*perPage+i)
			descs = append(descs, map[string]any{"Identifier": id, "Properties": fmt.Sprintf(`{"JobTemplateId":%q}`, id)})
		}
		body := map[string]any{"TypeName": r.str("TypeName"), "ResourceDescriptions": descs}
		if page+1 < pages {
			body["NextToken"] = fmt.Sprintf("page-%d", page+1)
		}
		return reply{body: body}
	})
	c := newTestClient(t, f, newFakeClock())
	var ids []string
	for r, err := range c.List(t.Context(), "AWS::IoT::JobTemplate") {
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`{"JobTemplateId":%q}`, r.Identifier); string(r.Properties) != want {
			t.Errorf("%s: properties %s", r.Identifier, r.Properties)
		}
		ids = append(ids, r.Identifier)
	}
	if want := []string{"tpl-0", "tpl-1", "tpl-2", "tpl-3", "tpl-4", "tpl-5"}; !slices.Equal(ids, want) {
		t.Errorf("List = %v, want %v", ids, want)
	}
	if n := f.count("ListResources"); n != pages {
		t.Errorf("%d ListResources calls, want %d", n, pages)
	}

	// Stopping early fetches no further page.
	for range c.List(t.Context(), "AWS::IoT::JobTemplate") {
		break
	}
	if n := f.count("ListResources"); n != pages+1 {
		t.Errorf("early break: %d calls in all, want %d", n, pages+1)
	}
}

func TestListError(t *testing.T) {
	f := newFakeServer(t)
	f.script("ListResources", ccError(http.StatusNotFound, "TypeNotFoundException"))
	c := newTestClient(t, f, newFakeClock())
	var errs []error
	for _, err := range c.List(t.Context(), "AWS::No::Such") {
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], ErrTypeNotFound) {
		t.Errorf("errors = %v, want one ErrTypeNotFound", errs)
	}
}

func TestCancel(t *testing.T) {
	f := newFakeServer(t)
	f.script("CancelResourceRequest", progress("CANCEL_IN_PROGRESS", ev{"RequestToken": "rt-5"}))
	c := newTestClient(t, f, newFakeClock())
	got, err := c.Cancel(t.Context(), "rt-5")
	if err != nil {
		t.Fatal(err)
	}
	if got.OperationStatus != StatusCancelInProgress || got.RequestToken != "rt-5" {
		t.Errorf("Cancel = %+v", got)
	}
	if r := f.requests("CancelResourceRequest")[0]; r.str("RequestToken") != "rt-5" {
		t.Errorf("request %v", r.Body)
	}
}

func TestListRequests(t *testing.T) {
	f := newFakeServer(t)
	f.handle("ListResourceRequests", func(r req) reply {
		filter, _ := r.Body["ResourceRequestStatusFilter"].(map[string]any)
		if ops, _ := filter["Operations"].([]any); len(ops) != 1 || ops[0] != "CREATE" {
			t.Errorf("filter %v", filter)
		}
		if r.str("NextToken") == "" {
			return reply{body: map[string]any{"NextToken": "p2", "ResourceRequestStatusSummaries": []any{
				map[string]any{"RequestToken": "a", "Operation": "CREATE", "OperationStatus": "SUCCESS"}}}}
		}
		return reply{body: map[string]any{"ResourceRequestStatusSummaries": []any{
			map[string]any{"RequestToken": "b", "Operation": "CREATE", "OperationStatus": "FAILED", "ErrorCode": "AlreadyExists"}}}}
	})
	c := newTestClient(t, f, newFakeClock())
	var got []string
	for ev, err := range c.ListRequests(t.Context(), RequestFilter{Operations: []Kind{Create}}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.RequestToken+":"+ev.OperationStatus)
	}
	if want := []string{"a:SUCCESS", "b:FAILED"}; !slices.Equal(got, want) {
		t.Errorf("ListRequests = %v, want %v", got, want)
	}
}

func TestNewClientToken(t *testing.T) {
	pattern := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		tok := NewClientToken()
		if !pattern.MatchString(tok) || !clientTokenPattern.MatchString(tok) {
			t.Fatalf("token %q is not a UUIDv4 matching the model's pattern", tok)
		}
		if seen[tok] {
			t.Fatalf("duplicate token %q", tok)
		}
		seen[tok] = true
	}
}

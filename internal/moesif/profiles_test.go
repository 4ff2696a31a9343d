package moesif_test

import (
	"net/url"
	"reflect"
	"testing"
	"time"
)

func iso(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// companiesOf lists, by request id, the company the query API gives each
// of a user's events.
func companiesOf(e *env, user string) map[string]string {
	out := map[string]string{}
	for _, ev := range e.events(url.Values{"user_id": {user}}) {
		out[ev.RequestID] = str(ev.CompanyID)
	}
	return out
}

func all(ids []string, company string) map[string]string {
	m := map[string]string{}
	for _, id := range ids {
		m[id] = company
	}
	return m
}

// TestReattribution: an event without a company belongs to the company
// its user is linked to now, so linking (or re-linking) a user moves its
// earlier events, while an event that logged its company keeps it.
func TestReattribution(t *testing.T) {
	e := start(t)
	var batch []any
	var ids []string
	for i := 0; i < 3; i++ {
		ev := sdkEvent(i, "u1")
		ev["transaction_id"] = "u1-" + string(rune('a'+i))
		ids = append(ids, ev["transaction_id"].(string))
		batch = append(batch, ev)
	}
	logged := sdkEvent(9, "u2")
	logged["company_id"] = "logged-co"
	logged["transaction_id"] = "u2-logged"
	batch = append(batch, logged)
	e.mustPost("/v1/events/batch", batch)

	if got := companiesOf(e, "u1"); !reflect.DeepEqual(got, all(ids, "<nil>")) {
		t.Fatalf("before any link: %v", got)
	}
	now := time.Now()

	// Linked (no modified_time: as of receipt).
	e.mustPost("/v1/users", map[string]any{"user_id": "u1", "company_id": "acme"})
	if got := companiesOf(e, "u1"); !reflect.DeepEqual(got, all(ids, "acme")) {
		t.Fatalf("after linking to acme: %v", got)
	}
	if n := len(e.events(url.Values{"company_id": {"acme"}})); n != 3 {
		t.Fatalf("acme has %d events, want 3", n)
	}

	// Re-linked by a later update.
	e.mustPost("/v1/users/batch", []any{map[string]any{"user_id": "u1", "company_id": "globex", "modified_time": iso(now.Add(time.Hour))}})
	if got := companiesOf(e, "u1"); !reflect.DeepEqual(got, all(ids, "globex")) {
		t.Fatalf("after re-linking to globex: %v", got)
	}
	if n := len(e.events(url.Values{"company_id": {"acme"}})); n != 0 {
		t.Fatalf("acme still has %d events", n)
	}

	// An older link arriving late changes nothing.
	e.mustPost("/v1/users", map[string]any{"user_id": "u1", "company_id": "stale", "modified_time": iso(now.Add(-time.Hour))})
	if got := companiesOf(e, "u1"); !reflect.DeepEqual(got, all(ids, "globex")) {
		t.Fatalf("after a stale link: %v", got)
	}

	// A logged company wins over the user's link.
	e.mustPost("/v1/users", map[string]any{"user_id": "u2", "company_id": "acme", "modified_time": iso(now.Add(2 * time.Hour))})
	if got := companiesOf(e, "u2"); !reflect.DeepEqual(got, map[string]string{"u2-logged": "logged-co"}) {
		t.Fatalf("event with a logged company: %v", got)
	}

	// Events after the link are attributed the same way.
	later := sdkEvent(30, "u1")
	later["transaction_id"] = "u1-later"
	e.mustPost("/v1/events", later)
	if got := companiesOf(e, "u1")["u1-later"]; got != "globex" {
		t.Fatalf("new event of a linked user: %s", got)
	}
}

// TestProfileMerge sends updates out of order, in single and batch
// requests: per metadata key and per field, the later modified_time wins;
// keys and fields an update leaves out are kept; an update without
// modified_time counts as modified when received.
func TestProfileMerge(t *testing.T) {
	e := start(t)
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) string { return iso(day.Add(time.Duration(h) * time.Hour)) }
	// Each request is loaded on its own: updates arriving out of order
	// across loads are the case to get right (within one load the store
	// could simply sort them).
	post := func(path string, body any) {
		t.Helper()
		e.mustPost(path, body)
		e.flush()
	}

	post("/v1/users/batch", []any{
		map[string]any{"user_id": "m1", "modified_time": at(11), "metadata": map[string]any{"email": "b@x.io"}},
		map[string]any{"user_id": "m1", "modified_time": at(9), "metadata": map[string]any{"plan": "free", "seats": 3}},
	})
	post("/v1/users", map[string]any{"user_id": "m1", "company_id": "acme", "modified_time": at(10),
		"metadata": map[string]any{"plan": "pro", "email": "a@x.io"}})
	post("/v1/users", map[string]any{"userId": "m1", "companyId": "old-co", "modifiedTime": at(8)})
	u, ok := e.user("m1")
	want := map[string]any{"plan": "pro", "email": "b@x.io", "seats": 3.0}
	if !ok || str(u.company) != "acme" || !reflect.DeepEqual(u.metadata, want) {
		t.Fatalf("user m1: company %s metadata %v; want acme %v", str(u.company), u.metadata, want)
	}

	// Receipt time sits between an explicit past and the present.
	now := time.Now()
	post("/v1/users", map[string]any{"user_id": "m2", "modified_time": iso(now.Add(-time.Hour)), "metadata": map[string]any{"k": "explicit-past"}})
	post("/v1/users", map[string]any{"user_id": "m2", "metadata": map[string]any{"k": "at-receipt"}})
	post("/v1/users", map[string]any{"user_id": "m2", "modified_time": iso(now.Add(-30 * time.Minute)), "metadata": map[string]any{"k": "older-than-receipt"}})
	if u, _ := e.user("m2"); u.metadata["k"] != "at-receipt" {
		t.Fatalf("user m2 k = %v, want at-receipt", u.metadata["k"])
	}

	// Companies merge the same way, their domain like a key.
	post("/v1/companies", map[string]any{"company_id": "acme", "company_domain": "acme.io", "modified_time": at(10),
		"metadata": map[string]any{"plan": "pro", "mrr": 100}})
	post("/v1/companies/batch", []any{
		map[string]any{"company_id": "acme", "company_domain": "old.acme.io", "modified_time": at(9), "metadata": map[string]any{"plan": "free", "region": "eu"}},
		map[string]any{"company_id": "acme", "modified_time": at(12), "metadata": map[string]any{"mrr": 250}},
	})
	c, ok := e.company("acme")
	wantC := map[string]any{"plan": "pro", "mrr": 250.0, "region": "eu"}
	if !ok || str(c.domain) != "acme.io" || !reflect.DeepEqual(c.metadata, wantC) {
		t.Fatalf("company acme: domain %s metadata %v; want acme.io %v", str(c.domain), c.metadata, wantC)
	}
}

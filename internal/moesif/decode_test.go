package moesif

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
)

func readmeEvent(t testing.TB) []byte {
	b, err := os.ReadFile("testdata/readme_event.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newDecoder(keep bool, bodyCap int) *eventDecoder {
	return &eventDecoder{keepBodies: keep, bodyCap: bodyCap, seen: map[string]int{}}
}

func metaOf(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("metadata %s: %v", b, err)
	}
	return m
}

// TestDecodeEvent maps the Moesif README's example event (with a user
// agent header in Node's lower case and a query string). Every expected
// value is read off the fixture by hand.
func TestDecodeEvent(t *testing.T) {
	var ev event.Event
	if rerr := newDecoder(false, 0).decode(readmeEvent(t), "app1", &ev); rerr != nil {
		t.Fatal(rerr)
	}
	meta := ev.Metadata
	reqID := ev.RequestID
	ev.Metadata, ev.RequestID = nil, ""
	want := event.Event{
		AppID: "app1", Time: time.Date(2019, 2, 25, 4, 45, 42, 914e6, time.UTC),
		Method: "PATCH", Path: "/items/83738/reviews/", Route: "/items/{id}/reviews/", Host: "api.acmeinc.com",
		Status: 500, ResponseBytes: 61, LatencyMs: 75, IntegrationLatencyMs: event.Absent,
		IP: "61.48.220.123", UserAgent: "Dalvik/2.1.0 (Linux; U; Android 5.0.2; C6906 Build/14.5.A.0.242)",
		UserID: "my_user_id", CompanyID: "my_company_id", Source: event.SourceSDK,
	}
	if !reflect.DeepEqual(ev, want) {
		t.Fatalf("event\n got %+v\nwant %+v", ev, want)
	}
	wantMeta := map[string]any{
		"foo": "abc", "bar": map[string]any{"n": 2.0},
		"sdk_api_version": "1.1.0", "sdk_direction": "Incoming", "sdk_weight": 1.0,
		"sdk_session_token": "****x43f",
	}
	if got := metaOf(t, meta); !reflect.DeepEqual(got, wantMeta) {
		t.Fatalf("metadata\n got %v\nwant %v", got, wantMeta)
	}
	if bytes.Contains(meta, []byte("do-not-store-me")) || bytes.Contains(meta, []byte("fwfrf")) {
		t.Fatalf("headers or bodies leaked into metadata: %s", meta)
	}
	if !strings.HasPrefix(reqID, "sdk-") || len(reqID) != 4+32 {
		t.Fatalf("request id %q", reqID)
	}
}

func TestDecodeEventBodies(t *testing.T) {
	t.Run("kept whole under the cap", func(t *testing.T) {
		var ev event.Event
		if rerr := newDecoder(true, 4096).decode(readmeEvent(t), "app1", &ev); rerr != nil {
			t.Fatal(rerr)
		}
		m := metaOf(t, ev.Metadata)
		wantReq := map[string]any{"items": []any{map[string]any{"type": 1.0, "id": "fwfrf"}, map[string]any{"type": 2.0, "id": "d43d3f"}}}
		if !reflect.DeepEqual(m["sdk_request_body"], wantReq) || m["sdk_response_body"].(map[string]any)["Error"] != "InvalidArgumentException" {
			t.Fatalf("bodies not kept: %s", ev.Metadata)
		}
		if _, ok := m["sdk_request_body_truncated"]; ok {
			t.Fatal("marked truncated")
		}
	})
	t.Run("cut at the cap", func(t *testing.T) {
		var ev event.Event
		if rerr := newDecoder(true, 20).decode(readmeEvent(t), "app1", &ev); rerr != nil {
			t.Fatal(rerr)
		}
		m := metaOf(t, ev.Metadata)
		// The request body as sent, whitespace and all, cut to 20 bytes.
		if got := m["sdk_request_body"]; got != `{"items": [{"type": ` || m["sdk_request_body_truncated"] != true {
			t.Fatalf("request body %q, truncated %v", got, m["sdk_request_body_truncated"])
		}
	})
	t.Run("base64 string body", func(t *testing.T) {
		var ev event.Event
		raw := `{"request":{"time":"2026-03-01T12:00:00Z","uri":"/a","verb":"POST","body":"aGVsbG8gd29ybGQ=","transfer_encoding":"base64"}}`
		if rerr := newDecoder(true, 8).decode([]byte(raw), "app1", &ev); rerr != nil {
			t.Fatal(rerr)
		}
		m := metaOf(t, ev.Metadata)
		if m["sdk_request_body"] != "aGVsbG8g" || m["sdk_request_body_encoding"] != "base64" || m["sdk_request_body_truncated"] != true {
			t.Fatalf("metadata %s", ev.Metadata)
		}
	})
}

func TestDecodeEventFields(t *testing.T) {
	base := func(extra string) string {
		return `{"request":{"time":"2026-03-01T12:00:00Z","uri":"/a","verb":"GET"` + extra + `}`
	}
	for _, tc := range []struct {
		name  string
		raw   string
		check func(ev event.Event) bool
	}{
		{"camelCase names", `{"request":{"time":"2026-03-01T12:00:00Z","uri":"/a","verb":"GET","ipAddress":"198.51.100.1"},"userId":"u1","companyId":"c1"}`,
			func(ev event.Event) bool { return ev.IP == "198.51.100.1" && ev.UserID == "u1" && ev.CompanyID == "c1" }},
		{"numeric ids", base(`},"user_id":12345,"company_id":678`), func(ev event.Event) bool { return ev.UserID == "12345" && ev.CompanyID == "678" }},
		{"no response", base(`}`), func(ev event.Event) bool {
			return ev.Status == event.Absent && ev.LatencyMs == event.Absent && ev.ResponseBytes == event.Absent
		}},
		{"status as text", base(`},"response":{"status":"404"}`), func(ev event.Event) bool { return ev.Status == 404 }},
		{"status 0 is absent", base(`},"response":{"status":0}`), func(ev event.Event) bool { return ev.Status == event.Absent }},
		{"response before request: no latency", base(`},"response":{"time":"2026-03-01T11:59:59Z","status":200}`),
			func(ev event.Event) bool { return ev.LatencyMs == event.Absent && ev.Status == 200 }},
		{"host from the Host header", base(`,"headers":{"host":"h.example"}}`), func(ev event.Event) bool { return ev.Host == "h.example" && ev.Path == "/a" }},
		{"URI without a path", `{"request":{"time":"2026-03-01T12:00:00Z","uri":"https://h.example","verb":"GET"}}`,
			func(ev event.Event) bool { return ev.Path == "/" && ev.Host == "h.example" }},
		{"transaction id field", base(`},"transaction_id":"tx-1"`), func(ev event.Event) bool { return ev.RequestID == "tx-1" }},
		{"transaction id header", base(`,"headers":{"x-moesif-transaction-id":"tx-2"}}`), func(ev event.Event) bool { return ev.RequestID == "tx-2" }},
		{"python naive time", `{"request":{"time":"2026-03-01T12:00:00.123456","uri":"/a","verb":"GET"}}`,
			func(ev event.Event) bool { return ev.Time.Equal(time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)) }},
		{"offset time", `{"request":{"time":"2026-03-01T14:00:00+02:00","uri":"/a","verb":"GET"}}`,
			func(ev event.Event) bool { return ev.Time.Equal(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }},
		{"no metadata at all", base(`}`), func(ev event.Event) bool { return ev.Metadata == nil }},
		{"caller key clashing with ours loses", base(`},"direction":"Outgoing","metadata":{"sdk_direction":"mine"}`),
			func(ev event.Event) bool { return string(ev.Metadata) == `{"sdk_direction":"Outgoing"}` }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ev event.Event
			if rerr := newDecoder(false, 0).decode([]byte(tc.raw), "app1", &ev); rerr != nil {
				t.Fatal(rerr)
			}
			if !tc.check(ev) {
				t.Fatalf("%+v (metadata %s)", ev, ev.Metadata)
			}
		})
	}
}

func TestDecodeEventRejects(t *testing.T) {
	for _, tc := range []struct{ raw, code string }{
		{`[1]`, "not_object"},
		{`{"response":{"status":200}}`, "missing_request"},
		{`{"request":"GET /"}`, "bad_field"},
		{`{"request":{"uri":"/a","verb":"GET"}}`, "missing_time"},
		{`{"request":{"time":"25/Feb/2019","uri":"/a","verb":"GET"}}`, "bad_time"},
		{`{"request":{"time":1551069942914,"uri":"/a","verb":"GET"}}`, "bad_field"},
		{`{"request":{"time":"2026-03-01T12:00:00Z","verb":"GET"}}`, "missing_uri"},
		{`{"request":{"time":"2026-03-01T12:00:00Z","uri":"http://[::1","verb":"GET"}}`, "bad_uri"},
		{`{"request":{"time":"2026-03-01T12:00:00Z","uri":"/a"}}`, "missing_verb"},
		{`{"request":{"time":"2026-03-01T12:00:00Z","uri":"/a","verb":"GET /a"}}`, "bad_verb"},
		{`{"request":{"time":"2026-03-01T12:00:00Z","uri":"/a","verb":"GET"},"response":{"status":1000}}`, "bad_status"},
		{`{"request":{"time":"2026-03-01T12:00:00Z","uri":"/a","verb":"GET"},"response":{"status":2.5}}`, "bad_status"},
		{`{"request":{"time":"2026-03-01T12:00:00Z","uri":"/a","verb":"GET"},"metadata":[1]}`, "bad_metadata"},
		{`{"request":{"time":"2026-03-01T12:00:00Z","uri":"/a","verb":"GET"},"user_id":true}`, "bad_field"},
		{`{"request":{"time":"2026-03-01T12:00:00Z","uri":"/a","verb":"GET"},"weight":-1}`, "bad_field"},
		{`{"request":{"time":"2026-03-01T12:00:00Z","uri":"/a","verb":"GET"},"transaction_id":"` + strings.Repeat("x", 300) + `"}`, "bad_transaction_id"},
	} {
		var ev event.Event
		rerr := newDecoder(false, 0).decode([]byte(tc.raw), "app1", &ev)
		if rerr == nil || rerr.Code != tc.code {
			t.Errorf("%s: got %v, want code %s", tc.raw, rerr, tc.code)
		}
	}
}

// TestContentIDs: without a transaction id, the id is a digest of the
// event's content: the same for the same event however it is spaced,
// different for a different event, and numbered among identical events of
// one request.
func TestContentIDs(t *testing.T) {
	raw := readmeEvent(t)
	var compacted bytes.Buffer
	json.Compact(&compacted, raw)
	id := func(d *eventDecoder, b []byte) string {
		var ev event.Event
		if rerr := d.decode(b, "app1", &ev); rerr != nil {
			t.Fatal(rerr)
		}
		return ev.RequestID
	}
	a := id(newDecoder(false, 0), raw)
	if b := id(newDecoder(false, 0), compacted.Bytes()); b != a {
		t.Fatalf("spacing changed the id: %s vs %s", a, b)
	}
	other := bytes.Replace(raw, []byte(`"status": 500`), []byte(`"status": 502`), 1)
	if c := id(newDecoder(false, 0), other); c == a {
		t.Fatal("different events, same id")
	}
	d := newDecoder(false, 0)
	ids := []string{id(d, raw), id(d, raw), id(d, compacted.Bytes())}
	if ids[0] != a || ids[1] != a+"-1" || ids[2] != a+"-2" {
		t.Fatalf("identical events in one request: %v", ids)
	}
}

func TestDecodeProfiles(t *testing.T) {
	received := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	t.Run("user, SDK model form", func(t *testing.T) {
		raw := `{"user_id":"12345","company_id":"67890","modified_time":null,"ip_address":"61.48.220.123",
			"session_token":"abcdefghijklmnop","user_agent_string":"Mozilla/5.0",
			"campaign":{"utm_source":"google","utm_medium":"cpc"},"metadata":{"email":"john@acmeinc.com","salesInfo":{"stage":"Customer"}}}`
		var u event.UserUpdate
		if rerr := decodeUser([]byte(raw), "app1", received, &u); rerr != nil {
			t.Fatal(rerr)
		}
		if u.AppID != "app1" || u.UserID != "12345" || u.CompanyID != "67890" || !u.Modified.Equal(received) {
			t.Fatalf("%+v", u)
		}
		want := map[string]any{"email": "john@acmeinc.com", "salesInfo": map[string]any{"stage": "Customer"},
			"sdk_campaign": map[string]any{"utm_source": "google", "utm_medium": "cpc"}, "sdk_ip_address": "61.48.220.123",
			"sdk_session_token": "****mnop", "sdk_user_agent": "Mozilla/5.0"}
		if got := metaOf(t, u.Metadata); !reflect.DeepEqual(got, want) {
			t.Fatalf("metadata %v", got)
		}
	})
	t.Run("company, plain camelCase object", func(t *testing.T) {
		raw := `{"companyId":"67890","companyDomain":"acmeinc.com","modifiedTime":"2026-02-01T00:00:00.000Z","campaign":{},"metadata":{"mrr":24000}}`
		var c event.CompanyUpdate
		if rerr := decodeCompany([]byte(raw), "app1", received, &c); rerr != nil {
			t.Fatal(rerr)
		}
		if c.CompanyID != "67890" || c.Domain != "acmeinc.com" || !c.Modified.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) ||
			string(c.Metadata) != `{"mrr":24000}` {
			t.Fatalf("%+v %s", c, c.Metadata)
		}
	})
	for _, tc := range []struct{ raw, code string }{
		{`{"company_id":"c1"}`, "missing_user_id"},
		{`{"user_id":""}`, "missing_user_id"},
		{`{"user_id":"u1","metadata":"x"}`, "bad_metadata"},
		{`{"user_id":"u1","modified_time":"now"}`, "bad_time"},
		{`{"user_id":"u1","campaign":[1]}`, "bad_field"},
		{`{"user_id":"u1","company_id":1.5}`, "bad_field"},
	} {
		var u event.UserUpdate
		if rerr := decodeUser([]byte(tc.raw), "app1", received, &u); rerr == nil || rerr.Code != tc.code {
			t.Errorf("user %s: got %v, want %s", tc.raw, rerr, tc.code)
		}
	}
	for _, tc := range []struct{ raw, code string }{
		{`{"company_domain":"x.io"}`, "missing_company_id"},
		{`{"company_id":"c1","company_domain":5}`, "bad_field"},
		{`"c1"`, "not_object"},
	} {
		var c event.CompanyUpdate
		if rerr := decodeCompany([]byte(tc.raw), "app1", received, &c); rerr == nil || rerr.Code != tc.code {
			t.Errorf("company %s: got %v, want %s", tc.raw, rerr, tc.code)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(*Config){
		"tiny body":          func(c *Config) { c.MaxBodyBytes = 10 },
		"decoded below body": func(c *Config) { c.MaxDecodedBytes = c.MaxBodyBytes - 1 },
		"no records":         func(c *Config) { c.MaxRecords = 0 },
		"no concurrency":     func(c *Config) { c.MaxConcurrent = 0 },
		"inflight too small": func(c *Config) { c.MaxInflightBytes = c.MaxDecodedBytes - 1 },
		"keep with no cap":   func(c *Config) { c.KeepBodies, c.BodyCapBytes = true, 0 },
		"negative cap":       func(c *Config) { c.BodyCapBytes = -1 },
	} {
		c := DefaultConfig()
		f(&c)
		if c.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

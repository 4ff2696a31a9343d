package moesif

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatescope/gatescope/internal/event"
)

// Every decoder takes arbitrary bytes without panicking, and what it
// accepts is what the store needs: a time, a method, a path, an id, and
// metadata that is a JSON object.

func FuzzDecodeEvent(f *testing.F) {
	f.Add(readmeEvent(f), true, 16)
	f.Add([]byte(`{"request":{"time":"2026-03-01T12:00:00Z","uri":"/a","verb":"GET","headers":{"x-moesif-transaction-id":"t"}},"response":{"status":"200","headers":{"content-length":7}}}`), false, 0)
	f.Add([]byte(`{"request":{"time":"2026-03-01T12:00:00.1","uri":"http://h/%zz","verb":"get"},"userId":1,"metadata":{"a":null}}`), true, 1)
	f.Fuzz(func(t *testing.T, raw []byte, keep bool, bodyCap int) {
		if bodyCap < 1 || bodyCap > 1<<16 {
			bodyCap = 64
		}
		var ev event.Event
		if rerr := newDecoder(keep, bodyCap).decode(raw, "app1", &ev); rerr != nil {
			if rerr.Code == "" || rerr.Detail == "" {
				t.Fatalf("error without code or detail: %+v", rerr)
			}
			return
		}
		if ev.Time.IsZero() || ev.Method == "" || ev.Path == "" || ev.RequestID == "" || ev.Source != event.SourceSDK {
			t.Fatalf("accepted an incomplete event: %+v", ev)
		}
		if ev.Metadata != nil {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(ev.Metadata, &m); err != nil {
				t.Fatalf("metadata %q: %v", ev.Metadata, err)
			}
		}
		if ev.LatencyMs != event.Absent && ev.LatencyMs < 0 {
			t.Fatalf("negative latency %v", ev.LatencyMs)
		}
		if !utf8.ValidString(ev.RequestID) {
			t.Fatalf("request id %q", ev.RequestID)
		}
	})
}

func FuzzDecodeProfiles(f *testing.F) {
	f.Add([]byte(`{"user_id":"u1","company_id":2,"modified_time":"2026-03-01T12:00:00Z","campaign":{"utm_source":"x"},"metadata":{"a":1}}`))
	f.Add([]byte(`{"companyId":"c1","companyDomain":"x.io","modifiedTime":null,"sessionToken":"s"}`))
	received := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		check := func(meta []byte, modified time.Time) {
			if modified.IsZero() {
				t.Fatal("no modified time")
			}
			if meta != nil {
				var m map[string]json.RawMessage
				if err := json.Unmarshal(meta, &m); err != nil {
					t.Fatalf("metadata %q: %v", meta, err)
				}
			}
		}
		var u event.UserUpdate
		if decodeUser(raw, "app1", received, &u) == nil {
			if u.UserID == "" {
				t.Fatal("user without id accepted")
			}
			check(u.Metadata, u.Modified)
		}
		var c event.CompanyUpdate
		if decodeCompany(raw, "app1", received, &c) == nil {
			if c.CompanyID == "" {
				t.Fatal("company without id accepted")
			}
			check(c.Metadata, c.Modified)
		}
	})
}

func FuzzSplit(f *testing.F) {
	f.Add([]byte(`[{"a":1},{"b":2}]`), true)
	f.Add([]byte(` {"user_id":"u"} `), false)
	f.Add([]byte(`[`), true)
	f.Fuzz(func(t *testing.T, body []byte, batch bool) {
		ep := endpoint{kindUsers, batch}
		recs, err := split(body, ep, 10)
		if err != nil {
			return
		}
		if !batch && len(recs) != 1 {
			t.Fatalf("single endpoint gave %d records", len(recs))
		}
		if len(recs) > 10 {
			t.Fatalf("%d records over the limit", len(recs))
		}
		for _, r := range recs {
			if !json.Valid(r) {
				t.Fatalf("record %q is not JSON", r)
			}
		}
	})
}

package moesif_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/gatescope/gatescope/internal/service"
)

// sdkEvent is an event as the Moesif SDK models serialize it.
func sdkEvent(i int, user string) map[string]any {
	t := time.Date(2026, 3, 1, 12, 0, i, 0, time.UTC)
	return map[string]any{
		"request": map[string]any{
			"time": t.Format("2006-01-02T15:04:05.000Z"), "uri": fmt.Sprintf("https://api.acme.test/orders/%d", 1000+i),
			"verb": "GET", "ip_address": "203.0.113.7", "api_version": "1.2",
			"headers": map[string]any{"User-Agent": "curl/8.5", "Authorization": "Bearer secret-token"},
		},
		"response": map[string]any{
			"time": t.Add(25 * time.Millisecond).Format("2006-01-02T15:04:05.000Z"), "status": 200,
			"headers": map[string]any{"Content-Length": "42"},
		},
		"user_id": user,
	}
}

func jsonBytes(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestBadInput walks the answers to bad input of PRODUCT.md section 4,
// applied to the Moesif-compatible endpoints, plus their own rows. Each
// row runs in a fresh app so that what it stored can be counted exactly.
func TestBadInput(t *testing.T) {
	e := start(t, func(c *service.Config) {
		c.Moesif.MaxBodyBytes = 64 << 10
		c.Moesif.MaxDecodedBytes = 256 << 10
		c.Moesif.MaxRecords = 50
	})
	good := jsonBytes(t, sdkEvent(1, "u1"))
	goodBatch := jsonBytes(t, []any{sdkEvent(1, "u1"), sdkEvent(2, "u2")})
	noTime := sdkEvent(3, "u3")
	delete(noTime["request"].(map[string]any), "time")
	mixed := jsonBytes(t, []any{sdkEvent(1, "u1"), noTime, "not an event", sdkEvent(2, "u2")})
	many := make([]any, 51)
	for i := range many {
		many[i] = sdkEvent(i, "u1")
	}
	big := jsonBytes(t, map[string]any{"request": map[string]any{"time": "2026-03-01T12:00:00Z", "uri": "/x", "verb": "GET"},
		"metadata": map[string]string{"pad": strings.Repeat("x", 70<<10)}})
	bomb := gzipBytes(append(append([]byte(`[`), bytes.Repeat([]byte(" "), 1<<20)...), ']'))

	// Events count their users (first and last seen) as profiles too.
	type counts struct{ events, users, companies, rejected int }
	for _, tc := range []struct {
		name     string
		path     string
		key      string // "good", "", or a literal key
		body     []byte
		encoding string // Content-Encoding sent
		want     int
		stored   counts
		reason   string // in the rejected record's reason
	}{
		{name: "valid event", path: "/v1/events", key: "good", body: good, want: 201, stored: counts{events: 1, users: 1}},
		{name: "valid batch, gzip", path: "/v1/events/batch", key: "good", body: gzipBytes(goodBatch), encoding: "gzip", want: 201, stored: counts{events: 2, users: 2}},
		{name: "empty batch", path: "/v1/events/batch", key: "good", body: []byte(`[]`), want: 201},
		{name: "missing application id", path: "/v1/events", key: "", body: good, want: 401},
		{name: "unknown application id", path: "/v1/events/batch", key: "gsk_not-an-app", body: goodBatch, want: 401},
		{name: "says gzip, is not", path: "/v1/events/batch", key: "good", body: goodBatch, encoding: "gzip", want: 400},
		{name: "unsupported encoding", path: "/v1/events/batch", key: "good", body: goodBatch, encoding: "br", want: 400},
		{name: "not JSON", path: "/v1/users", key: "good", body: []byte(`{"user_id": "u1"`), want: 400},
		{name: "array to a single endpoint", path: "/v1/events", key: "good", body: goodBatch, want: 400},
		{name: "object to a batch endpoint", path: "/v1/users/batch", key: "good", body: []byte(`{"user_id":"u1"}`), want: 400},
		{name: "single event missing request.time", path: "/v1/events", key: "good", body: jsonBytes(t, noTime), want: 400},
		{name: "single event bad time", path: "/v1/events", key: "good", body: []byte(`{"request":{"time":"yesterday","uri":"/a","verb":"GET"}}`), want: 400},
		{name: "single event bad status", path: "/v1/events", key: "good", body: []byte(`{"request":{"time":"2026-03-01T12:00:00Z","uri":"/a","verb":"GET"},"response":{"status":"teapot"}}`), want: 400},
		{name: "single user without user_id", path: "/v1/users", key: "good", body: []byte(`{"company_id":"c1"}`), want: 400},
		{name: "single user metadata not an object", path: "/v1/users", key: "good", body: []byte(`{"user_id":"u1","metadata":["a"]}`), want: 400},
		{name: "single company without company_id", path: "/v1/companies", key: "good", body: []byte(`{"company_domain":"acme.test"}`), want: 400},
		{name: "batch with bad events", path: "/v1/events/batch", key: "good", body: mixed, want: 201, stored: counts{events: 2, users: 2, rejected: 2}, reason: "request.time"},
		{name: "user batch with a bad user", path: "/v1/users/batch", key: "good", body: []byte(`[{"user_id":"u1"},{"user_id":{"x":1}},{"user_id":"u2","modified_time":"soon"}]`), want: 201, stored: counts{users: 1, rejected: 2}, reason: "user_id"},
		{name: "company batch with a bad company", path: "/v1/companies/batch", key: "good", body: []byte(`[{"company_id":"c1"},{"metadata":{}}]`), want: 201, stored: counts{companies: 1, rejected: 1}, reason: "company_id"},
		{name: "too many records", path: "/v1/events/batch", key: "good", body: jsonBytes(t, many), want: 400},
		{name: "body over the maximum", path: "/v1/events", key: "good", body: big, want: 413},
		{name: "gzip bomb", path: "/v1/events/batch", key: "good", body: bomb, encoding: "gzip", want: 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.appID, e.key = e.createApp(tc.name)
			key := tc.key
			if key == "good" {
				key = e.key
			}
			req, _ := http.NewRequest(http.MethodPost, e.base+tc.path, bytes.NewReader(tc.body))
			if key != "" {
				req.Header.Set("X-Moesif-Application-Id", key)
			}
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body bytes.Buffer
			body.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body.String())
			}
			if tc.want == 201 && body.Len() != 0 {
				t.Errorf("201 with a body: %q", body.String())
			}
			if tc.want != 201 {
				var msg struct{ Error string }
				if json.Unmarshal(body.Bytes(), &msg) != nil || msg.Error == "" || resp.Header.Get("Content-Type") != "application/json" {
					t.Errorf("error answer is not JSON {error}: %q", body.String())
				}
			}
			got := counts{
				events:    e.count(`SELECT count(*) FROM events WHERE app_id = ?`),
				users:     e.count(`SELECT count(*) FROM users WHERE app_id = ?`),
				companies: e.count(`SELECT count(*) FROM companies WHERE app_id = ?`),
				rejected:  e.count(`SELECT count(*) FROM rejected WHERE app_id = ? AND source = 'sdk'`),
			}
			if got != tc.stored {
				t.Fatalf("stored %+v, want %+v", got, tc.stored)
			}
			if tc.reason != "" {
				if n := e.count(`SELECT count(*) FROM rejected WHERE app_id = ? AND reason LIKE ?`, "%"+tc.reason+"%"); n == 0 {
					t.Errorf("no rejected record's reason mentions %q", tc.reason)
				}
			}
		})
	}
}

func TestRejectedRecordKeptVerbatim(t *testing.T) {
	e := start(t)
	bad := `{"user_id":"u9","metadata":"not an object"}`
	if a := e.post("/v1/users/batch", e.key, []byte(`[{"user_id":"u1"},`+bad+`]`), false); a.status != 201 {
		t.Fatalf("%d %s", a.status, a.body)
	}
	e.flush()
	rows, err := e.svc.Store().Query(context.Background(), `SELECT reason, raw FROM rejected WHERE app_id = ?`, e.appID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatal("no rejected record")
	}
	var reason string
	var raw []byte
	if err := rows.Scan(&reason, &raw); err != nil {
		t.Fatal(err)
	}
	if string(raw) != bad || !strings.Contains(reason, "metadata") {
		t.Fatalf("rejected %q: %q", reason, raw)
	}
	var n int
	for rows.Next() {
		n++
	}
	if n != 0 {
		t.Fatalf("%d more rejected records", n)
	}
	resp, err := http.Get(e.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var metrics bytes.Buffer
	metrics.ReadFrom(resp.Body)
	for _, want := range []string{
		`gatescope_moesif_rejected_total{reason="bad_metadata"} 1`,
		`gatescope_moesif_records_total{kind="users"} 2`,
		`gatescope_moesif_requests_total{code="201",endpoint="/v1/users/batch"} 1`,
	} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestRetryIsNotDuplicated sends the same batches twice, as an SDK
// retrying after a lost answer would: with transaction ids, and without
// (content-derived ids). Identical events inside one batch stay distinct.
func TestRetryIsNotDuplicated(t *testing.T) {
	e := start(t)
	withTx := sdkEvent(1, "u1")
	withTx["request"].(map[string]any)["headers"].(map[string]any)["X-Moesif-Transaction-Id"] = "8d3c7d5e-tx-1"
	batch := jsonBytes(t, []any{withTx, sdkEvent(2, "u1"), sdkEvent(3, "u1"), sdkEvent(3, "u1")})
	for i := 0; i < 2; i++ {
		if a := e.post("/v1/events/batch", e.key, batch, i == 1); a.status != 201 {
			t.Fatalf("send %d: %d %s", i, a.status, a.body)
		}
	}
	evs := e.events(nil)
	if len(evs) != 4 {
		t.Fatalf("%d events after a retry, want 4", len(evs))
	}
	ids := map[string]bool{}
	for _, ev := range evs {
		ids[ev.RequestID] = true
	}
	if !ids["8d3c7d5e-tx-1"] || len(ids) != 4 {
		t.Fatalf("request ids %v", ids)
	}
}

// TestStoreTrouble: a store that cannot take the request answers 503, so
// that an SDK configured to retry does.
func TestStoreTrouble(t *testing.T) {
	t.Run("overloaded", func(t *testing.T) {
		e := start(t, func(c *service.Config) {
			c.DuckDB.FlushInterval = 10 * time.Second // nothing loads during the test
			c.DuckDB.FlushBytes = 1 << 20
			c.DuckDB.MaxBacklogBytes = 1 << 20
		})
		// The first request fills the backlog; the next finds it over.
		pad := jsonBytes(t, map[string]any{"user_id": "u1", "metadata": map[string]string{"pad": strings.Repeat("x", 1100<<10)}})
		if a := e.post("/v1/users", e.key, pad, false); a.status != 201 {
			t.Fatalf("first request: %d %s", a.status, a.body)
		}
		if a := e.post("/v1/users", e.key, []byte(`{"user_id":"u2"}`), false); a.status != 503 {
			t.Fatalf("overloaded store: %d %s", a.status, a.body)
		}
	})
	t.Run("closed", func(t *testing.T) {
		e := start(t)
		if err := e.svc.Store().Close(); err != nil {
			t.Fatal(err)
		}
		if a := e.post("/v1/events", e.key, jsonBytes(t, sdkEvent(1, "u1")), false); a.status != 503 {
			t.Fatalf("closed store: %d %s", a.status, a.body)
		}
	})
}

func TestOnlyPOST(t *testing.T) {
	e := start(t)
	resp, err := http.Get(e.base + "/v1/events/batch")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

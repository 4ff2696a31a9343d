package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/gatescope/gatescope/internal/api"
	"github.com/gatescope/gatescope/internal/apps"
	"github.com/gatescope/gatescope/internal/auth"
	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/duckdb"
	"github.com/gatescope/gatescope/internal/store/storetest"
)

const oaToken = "openapi-test-admin-token"

// oaEnv is a real server over loopback on a real DuckDB store holding one
// app's events, and the OpenAPI document it serves.
type oaEnv struct {
	srv    *httptest.Server
	st     store.Store
	app    string
	router routers.Router
	// called records the documented operations a test exercised.
	called map[string]bool
}

func newOAEnv(t *testing.T) *oaEnv {
	t.Helper()
	ctx := context.Background()
	cfg := duckdb.DefaultConfig(t.TempDir())
	cfg.MemoryLimit, cfg.Threads, cfg.NoSync = "512MB", 2, true
	st, err := duckdb.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newOAEnvOn(t, st)
}

// newOAEnvOn is newOAEnv on any store (openapi_clickhouse_test.go).
func newOAEnvOn(t *testing.T, st store.Store) *oaEnv {
	t.Helper()
	ctx := context.Background()
	reg, err := apps.NewRegistry(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	app, err := reg.Create(ctx, "Orders API")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	var evs []event.Event
	for i := range 300 {
		ev := storetest.Event(app.ID, i, at.Add(time.Duration(i)*17*time.Second))
		if i%7 == 0 {
			ev.CompanyID = "acme"
		}
		if i%11 == 0 {
			ev.Status, ev.ErrorType = 429, "THROTTLED"
		}
		evs = append(evs, ev)
	}
	users := []event.UserUpdate{{AppID: app.ID, UserID: "user-1", CompanyID: "globex", Metadata: []byte(`{"plan":"pro"}`), Modified: at}}
	if _, err := st.Append(ctx, &store.Batch{AppID: app.ID, Events: evs, Users: users}); err != nil {
		t.Fatal(err)
	}
	storetest.Flush(t, st)
	a, err := api.New(api.DefaultConfig(), st, reg, auth.NewAdminToken(oaToken), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	// The document comes from the server itself.
	resp, err := http.Get(srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: srv.URL}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &oaEnv{srv: srv, st: st, app: app.ID, router: router, called: map[string]bool{}}
}

// do sends a request and validates it and its answer against the
// document; it returns the status and body.
func (e *oaEnv) do(t *testing.T, method, path string, q url.Values, body any, token string, header ...string) (int, []byte) {
	t.Helper()
	u := e.srv.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, u, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	route, params, err := e.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s is not documented: %v", method, path, err)
	}
	e.called[route.Method+" "+route.Path] = true
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(raw))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(raw))
	}
	if resp.StatusCode < 400 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s %s: the request does not fit the document: %v", method, path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(got)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s -> %d: the answer does not fit the document: %v\n%s", method, path, resp.StatusCode, err, clip(got))
	}
	return resp.StatusCode, got
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// TestOpenAPI calls every documented operation against a real server and
// validates requests and answers against the document, then checks that
// no operation was left out.
func TestOpenAPI(t *testing.T) {
	testOpenAPI(t, newOAEnv(t))
}

func testOpenAPI(t *testing.T, e *oaEnv) {
	app := e.app
	v := func(kv ...string) url.Values {
		q := url.Values{"app_id": {app}}
		for i := 0; i+1 < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return q
	}
	// req-000003's time, as the fixture made it (a listing would show it).
	var at3 string
	{
		_, body := e.do(t, "GET", "/api/v1/events", v("filter", `{"field":"request_id","op":"eq","value":"req-000003"}`), nil, oaToken)
		var page struct{ Events []struct{ Time string } }
		if json.Unmarshal(body, &page) != nil || len(page.Events) != 1 {
			t.Fatalf("req-000003 not listed: %s", body)
		}
		at3 = page.Events[0].Time
	}
	filter := `{"and":[{"field":"status","op":"class","value":"2xx"},{"or":[{"field":"route","op":"prefix","value":"/orders"},{"field":"metadata.tier","op":"eq","value":"gold"}]}]}`
	ok := []struct {
		method, path string
		q            url.Values
		body         any
	}{
		{"GET", "/api/v1/openapi.json", nil, nil},
		{"GET", "/api/v1/apps", nil, nil},
		{"POST", "/api/v1/apps", nil, map[string]any{"name": "Billing API"}},
		{"GET", "/api/v1/apps/" + app, nil, nil},
		{"GET", "/api/v1/fields", v(), nil},
		{"GET", "/api/v1/events", v("limit", "5", "status", "2xx"), nil},
		{"GET", "/api/v1/events", v("filter", filter, "from", "-1d"), nil},
		{"GET", "/api/v1/events/req-000003", v(), nil},
		{"GET", "/api/v1/events/req-000003", v("time", at3), nil},
		{"GET", "/api/v1/metrics/timeseries", v("metric", "latency_p95", "from", "-3h", "interval", "1h", "group_by", "route"), nil},
		{"GET", "/api/v1/metrics/timeseries", v("metric", "unique_users", "from", "-3h", "group_by", "user_id", "limit", "2", "tz", "Europe/Paris"), nil},
		{"GET", "/api/v1/metrics/timeseries", v("filter", filter), nil},
		{"GET", "/api/v1/metrics/segmentation", v("group_by", "route,status", "metrics", "count,error_rate,latency_p50,unique_companies,rejected_at_gateway,bytes", "sort", "-count"), nil},
		{"GET", "/api/v1/metrics/segmentation", v("metrics", "count,latency_avg"), nil},
		{"GET", "/api/v1/users", v("sort", "requests", "limit", "2"), nil},
		{"GET", "/api/v1/users", v("sort", "latency_p95", "q", "user"), nil},
		{"GET", "/api/v1/users/user-1", v("from", "-1d"), nil},
		{"GET", "/api/v1/companies", v(), nil},
		{"GET", "/api/v1/companies/globex", v("from", "-1d"), nil},
		{"POST", "/api/v1/funnels", nil, map[string]any{"app_id": app, "from": "-1d", "window": "1h", "split_by": "company_id",
			"steps": []any{map[string]any{"name": "any", "filter": json.RawMessage(`{"field":"status","op":"exists","value":true}`)},
				map[string]any{"filter": json.RawMessage(`{"field":"status","op":"class","value":"4xx"}`)}}}},
		{"POST", "/api/v1/retention", nil, map[string]any{"app_id": app, "from": "-2d", "period": "day"}},
	}
	for _, c := range ok {
		if status, body := e.do(t, c.method, c.path, c.q, c.body, oaToken); status >= 300 {
			t.Errorf("%s %s %v: %d %s", c.method, c.path, c.q, status, clip(body))
		}
	}
	bad := []struct {
		method, path string
		q            url.Values
		body         any
		token        string
		want         int
	}{
		{"GET", "/api/v1/events", v(), nil, "", 401},
		{"GET", "/api/v1/events", url.Values{"app_id": {"nope"}}, nil, oaToken, 404},
		{"GET", "/api/v1/events", v("filter", `{"field":"status; DROP TABLE events","op":"eq","value":1}`), nil, oaToken, 400},
		{"GET", "/api/v1/events/none", v(), nil, oaToken, 404},
		{"GET", "/api/v1/metrics/timeseries", v("metric", "nope"), nil, oaToken, 400},
		{"GET", "/api/v1/metrics/segmentation", v("group_by", "latency_ms"), nil, oaToken, 400},
		{"GET", "/api/v1/users", v("sort", "nope"), nil, oaToken, 400},
		{"GET", "/api/v1/users/nobody", v(), nil, oaToken, 404},
		{"GET", "/api/v1/companies/nobody", v(), nil, oaToken, 404},
		{"POST", "/api/v1/funnels", nil, map[string]any{"app_id": app, "steps": []any{}}, oaToken, 400},
		{"POST", "/api/v1/retention", nil, map[string]any{"app_id": app, "period": "year"}, oaToken, 400},
	}
	for _, c := range bad {
		status, body := e.do(t, c.method, c.path, c.q, c.body, c.token)
		if status != c.want {
			t.Errorf("%s %s %v: %d, want %d: %s", c.method, c.path, c.q, status, c.want, clip(body))
		}
		var msg struct{ Error string }
		if json.Unmarshal(body, &msg) != nil || msg.Error == "" || strings.Contains(strings.ToUpper(msg.Error), "SELECT") {
			t.Errorf("%s %s: error body %s is not a plain {\"error\"}", c.method, c.path, body)
		}
	}
	// The dashboard's own routes (session.go, setup.go).
	for _, c := range []struct{ method, path string }{{"GET", "/api/v1/log-formats"}, {"GET", "/api/v1/apps/" + app + "/status"},
		{"GET", "/api/v1/session"}, {"DELETE", "/api/v1/session"}} {
		if status, body := e.do(t, c.method, c.path, nil, nil, oaToken, api.CSRFHeader, "1"); status >= 300 {
			t.Errorf("%s %s: %d %s", c.method, c.path, status, clip(body))
		}
	}
	if status, body := e.do(t, "POST", "/api/v1/session", nil, map[string]string{"token": oaToken}, "", api.CSRFHeader, "1"); status != 200 {
		t.Errorf("login: %d %s", status, clip(body))
	}
	testStream(t, e)
	// Every documented operation was called.
	doc, _ := openapi3.NewLoader().LoadFromData(mustGet(t, e.srv.URL+"/api/v1/openapi.json"))
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !e.called[method+" "+path] {
				t.Errorf("%s %s is documented but no test calls it", method, path)
			}
		}
	}
}

func mustGet(t *testing.T, u string) []byte {
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// testStream opens the live tail, stores a new event, and expects it.
func testStream(t *testing.T, e *oaEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	q := url.Values{"app_id": {e.app}, "status": {"5xx"}}
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/events/stream?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+oaToken)
	route, params, err := e.router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	e.called[route.Method+" "+route.Path] = true
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		t.Errorf("stream request does not fit the document: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("stream opened with %q, %v", line, err)
	}
	now := time.Now().UTC()
	ok := storetest.Event(e.app, 900001, now)
	ok.Status = 200
	bad := storetest.Event(e.app, 900002, now)
	bad.Status = 503
	if _, err := e.st.Append(context.Background(), &store.Batch{AppID: e.app, Events: []event.Event{ok, bad}}); err != nil {
		t.Fatal(err)
	}
	storetest.Flush(t, e.st)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended before the event: %v", err)
		}
		if data, found := strings.CutPrefix(line, "data: "); found {
			var ev struct {
				RequestID string `json:"request_id"`
				Status    int    `json:"status"`
			}
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.RequestID != bad.RequestID || ev.Status != 503 {
				t.Fatalf("stream sent %+v, want the 503 event %s only", ev, bad.RequestID)
			}
			return
		}
	}
}

package moesif_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/gatescope/gatescope/internal/service"
	"github.com/gatescope/gatescope/internal/store"
)

// env is a running Gatescope (real DuckDB, real HTTP on loopback) with one
// app.
type env struct {
	t     testing.TB
	svc   *service.Service
	base  string
	token string
	appID string
	key   string // the app's application id
}

func start(t testing.TB, tweak ...func(*service.Config)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := service.DefaultConfig(t.TempDir())
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.DuckDB.MemoryLimit = "512MB"
	cfg.DuckDB.Threads = 2
	cfg.DuckDB.FlushInterval = 50 * time.Millisecond
	for _, f := range tweak {
		f(&cfg)
	}
	svc, err := service.Start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service: %v", err)
		}
	})
	e := &env{t: t, svc: svc, base: "http://" + svc.Addr()}
	e.token, _ = svc.AdminToken()
	e.appID, e.key = e.createApp("SDK test")
	return e
}

func (e *env) createApp(name string) (appID, key string) {
	e.t.Helper()
	var app struct {
		ID            string `json:"app_id"`
		ApplicationID string `json:"application_id"`
	}
	body, _ := json.Marshal(map[string]string{"name": name})
	e.adminJSON(http.MethodPost, "/api/v1/apps", body, &app)
	return app.ID, app.ApplicationID
}

func (e *env) adminJSON(method, path string, body []byte, out any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.base+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
}

// answer is a response of the collector API.
type answer struct {
	status int
	body   string
	ctype  string
}

// post sends body to a collector endpoint with the app's key (key "" for
// none), gzipped when asked.
func (e *env) post(path, key string, body []byte, gz bool) answer {
	e.t.Helper()
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		zw.Close()
		body = buf.Bytes()
	}
	req, _ := http.NewRequest(http.MethodPost, e.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if key != "" {
		req.Header.Set("X-Moesif-Application-Id", key)
	}
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header.Get("Content-Type")}
}

// mustPost posts and requires 201.
func (e *env) mustPost(path string, body any) {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	if a := e.post(path, e.key, b, false); a.status != http.StatusCreated {
		e.t.Fatalf("POST %s: %d %s", path, a.status, a.body)
	}
}

func (e *env) flush() {
	e.t.Helper()
	if err := e.svc.Store().(store.Flusher).Flush(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// apiEvent is an event as GET /api/v1/events returns it.
type apiEvent struct {
	RequestID     string          `json:"request_id"`
	Time          time.Time       `json:"time"`
	Method        *string         `json:"method"`
	Path          *string         `json:"path"`
	Route         *string         `json:"route"`
	Host          *string         `json:"host"`
	Status        *int            `json:"status"`
	ResponseBytes *int64          `json:"response_bytes"`
	LatencyMs     *float64        `json:"latency_ms"`
	IP            *string         `json:"ip"`
	UserAgent     *string         `json:"user_agent"`
	UserID        *string         `json:"user_id"`
	CompanyID     *string         `json:"company_id"`
	Source        string          `json:"source"`
	Metadata      json.RawMessage `json:"metadata"`
}

// events lists the app's events through the query API, newest first.
func (e *env) events(filter url.Values) []apiEvent {
	e.t.Helper()
	e.flush()
	q := url.Values{"app_id": {e.appID}, "limit": {"1000"}}
	for k, v := range filter {
		q[k] = v
	}
	var page struct {
		Events []apiEvent `json:"events"`
	}
	e.adminJSON(http.MethodGet, "/api/v1/events?"+q.Encode(), nil, &page)
	return page.Events
}

// profile reads a user's or company's row straight from the store.
type profileRow struct {
	company, domain *string
	metadata        map[string]any
}

func (e *env) user(id string) (profileRow, bool) {
	return e.profile(`SELECT company_id, NULL, metadata FROM users WHERE app_id = ? AND user_id = ?`, id)
}

func (e *env) company(id string) (profileRow, bool) {
	return e.profile(`SELECT NULL, domain, metadata FROM companies WHERE app_id = ? AND company_id = ?`, id)
}

func (e *env) profile(q, id string) (profileRow, bool) {
	e.t.Helper()
	e.flush()
	rows, err := e.svc.Store().Query(context.Background(), q, e.appID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		return profileRow{}, false
	}
	var p profileRow
	var meta *string
	if err := rows.Scan(&p.company, &p.domain, &meta); err != nil {
		e.t.Fatal(err)
	}
	if meta != nil {
		if err := json.Unmarshal([]byte(*meta), &p.metadata); err != nil {
			e.t.Fatalf("metadata %s: %v", *meta, err)
		}
	}
	return p, true
}

// count runs a count query scoped to the app.
func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	e.flush()
	rows, err := e.svc.Store().Query(context.Background(), q, append([]any{e.appID}, args...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	rows.Next()
	var n int
	if err := rows.Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

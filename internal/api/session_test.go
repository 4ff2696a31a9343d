package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/apps"
	"github.com/gatescope/gatescope/internal/auth"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/duckdb"
)

const dashToken = "test-admin-token-0123456789"

// dashEnv is the API over a real DuckDB store, served over loopback.
type dashEnv struct {
	api   *API
	store store.Store
	apps  *apps.Registry
	srv   *httptest.Server
}

func newDashEnv(t *testing.T) *dashEnv {
	t.Helper()
	ctx := context.Background()
	cfg := duckdb.DefaultConfig(t.TempDir())
	cfg.MemoryLimit = "256MB"
	cfg.Threads = 1
	cfg.FlushInterval = 20 * time.Millisecond
	st, err := duckdb.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := apps.NewRegistry(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(DefaultConfig(), st, reg, auth.NewAdminToken(dashToken), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &dashEnv{api: a, store: st, apps: reg, srv: srv}
}

// call sends a request with the given headers and returns status and body.
func (e *dashEnv) call(t *testing.T, c *http.Client, method, path, body string, hdr map[string]string) (int, string, *http.Response) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp
}

func jarClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

func TestLoginCookie(t *testing.T) {
	e := newDashEnv(t)
	csrf := map[string]string{CSRFHeader: "1", "Content-Type": "application/json"}

	tests := []struct {
		name   string
		body   string
		hdr    map[string]string
		status int
	}{
		{"wrong token", `{"token":"nope-nope-nope-nope"}`, csrf, http.StatusUnauthorized},
		{"empty token", `{"token":""}`, csrf, http.StatusUnauthorized},
		{"not JSON", `token=` + dashToken, csrf, http.StatusBadRequest},
		{"foreign origin", `{"token":"` + dashToken + `"}`, map[string]string{CSRFHeader: "1", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"malformed origin", `{"token":"` + dashToken + `"}`, map[string]string{"Origin": "null"}, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, resp := e.call(t, http.DefaultClient, "POST", "/api/v1/session", tc.body, tc.hdr)
			if status != tc.status {
				t.Fatalf("status %d (%s), want %d", status, body, tc.status)
			}
			if len(resp.Cookies()) != 0 {
				t.Fatalf("a refused login set cookies: %v", resp.Cookies())
			}
		})
	}

	status, body, resp := e.call(t, http.DefaultClient, "POST", "/api/v1/session", `{"token":"`+dashToken+`"}`,
		map[string]string{CSRFHeader: "1", "Origin": e.srv.URL})
	if status != http.StatusOK {
		t.Fatalf("login: %d %s", status, body)
	}
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == SessionCookie {
			c = k
		}
	}
	if c == nil {
		t.Fatalf("no %s cookie in %v", SessionCookie, resp.Header["Set-Cookie"])
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Errorf("cookie attributes: HttpOnly=%v SameSite=%v Path=%q", c.HttpOnly, c.SameSite, c.Path)
	}
	if c.Secure {
		t.Error("cookie is Secure over plain HTTP: the browser would never send it back")
	}
	_, _, resp = e.call(t, http.DefaultClient, "POST", "/api/v1/session", `{"token":"`+dashToken+`"}`, map[string]string{"X-Forwarded-Proto": "https"})
	if cs := resp.Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Errorf("behind a TLS-terminating proxy the cookie is not Secure: %v", resp.Header["Set-Cookie"])
	}
	if strings.Contains(c.Value, dashToken) || len(c.Value) < 40 {
		t.Errorf("cookie value %q is the token or too short to be a random id", c.Value)
	}
	if c.MaxAge <= 0 || c.MaxAge > int(sessionTTL.Seconds()) {
		t.Errorf("Max-Age %d, want in (0, %v]", c.MaxAge, sessionTTL)
	}
}

func TestSessionAuthorizes(t *testing.T) {
	e := newDashEnv(t)
	c := jarClient(t)
	if status, body, _ := e.call(t, c, "GET", "/api/v1/apps", "", nil); status != http.StatusUnauthorized {
		t.Fatalf("before login: %d %s", status, body)
	}
	if status, body, _ := e.call(t, c, "POST", "/api/v1/session", `{"token":"`+dashToken+`"}`, map[string]string{CSRFHeader: "1"}); status != 200 {
		t.Fatalf("login: %d %s", status, body)
	}
	tests := []struct {
		name, method, path, body string
		hdr                      map[string]string
		status                   int
	}{
		{"read with cookie", "GET", "/api/v1/apps", "", nil, 200},
		{"session info", "GET", "/api/v1/session", "", nil, 200},
		{"write without CSRF header", "POST", "/api/v1/apps", `{"name":"x"}`, nil, http.StatusForbidden},
		{"write from another origin", "POST", "/api/v1/apps", `{"name":"x"}`, map[string]string{CSRFHeader: "1", "Origin": "http://evil.example"}, http.StatusForbidden},
		{"write same origin", "POST", "/api/v1/apps", `{"name":"Orders"}`, map[string]string{CSRFHeader: "1", "Origin": e.srv.URL}, http.StatusCreated},
		{"write without Origin", "POST", "/api/v1/apps", `{"name":"Billing"}`, map[string]string{CSRFHeader: "1"}, http.StatusCreated},
		{"write through a proxy", "POST", "/api/v1/apps", `{"name":"Proxied"}`, map[string]string{CSRFHeader: "1", "Origin": "https://gs.example.com", "X-Forwarded-Host": "gs.example.com"}, http.StatusCreated},
		{"proxy header for another host", "POST", "/api/v1/apps", `{"name":"x"}`, map[string]string{CSRFHeader: "1", "Origin": "https://evil.example", "X-Forwarded-Host": "gs.example.com"}, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if status, body, _ := e.call(t, c, tc.method, tc.path, tc.body, tc.hdr); status != tc.status {
				t.Fatalf("%d %s, want %d", status, body, tc.status)
			}
		})
	}
	list, err := e.apps.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("%d apps created, want exactly the 3 same-origin writes", len(list))
	}

	// Logging out ends the session server-side: replaying the old cookie
	// fails too.
	u := e.srv.URL + "/"
	req, _ := http.NewRequest("GET", u, nil)
	old := c.Jar.Cookies(req.URL)
	if status, body, _ := e.call(t, c, "DELETE", "/api/v1/session", "", map[string]string{CSRFHeader: "1"}); status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", status, body)
	}
	if status, _, _ := e.call(t, c, "GET", "/api/v1/apps", "", nil); status != http.StatusUnauthorized {
		t.Fatalf("after logout: %d, want 401", status)
	}
	hdr := map[string]string{}
	for _, k := range old {
		hdr["Cookie"] = k.Name + "=" + k.Value
	}
	if status, _, _ := e.call(t, http.DefaultClient, "GET", "/api/v1/apps", "", hdr); status != http.StatusUnauthorized {
		t.Fatalf("replayed cookie after logout: %d, want 401", status)
	}
	// The Bearer token keeps working without any cookie.
	if status, _, _ := e.call(t, http.DefaultClient, "GET", "/api/v1/apps", "", map[string]string{"Authorization": "Bearer " + dashToken}); status != 200 {
		t.Fatalf("bearer: %d", status)
	}
	if status, _, _ := e.call(t, http.DefaultClient, "GET", "/api/v1/session", "", map[string]string{"Cookie": SessionCookie + "=forged"}); status != http.StatusUnauthorized {
		t.Fatalf("forged cookie: %d, want 401", status)
	}
}

func TestSessionExpiryAndBound(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSessions(time.Hour, 3)
	s.now = func() time.Time { return now }
	ids := make([]string, 0, 5)
	for range 3 {
		id, exp, err := s.create()
		if err != nil {
			t.Fatal(err)
		}
		if !exp.Equal(now.Add(time.Hour)) {
			t.Fatalf("expiry %v, want %v", exp, now.Add(time.Hour))
		}
		ids = append(ids, id)
		now = now.Add(time.Minute)
	}
	for _, id := range ids {
		if !s.valid(id) {
			t.Fatalf("fresh session %q invalid", id)
		}
	}
	// A fourth session evicts the one closest to expiring: the first.
	id4, _, _ := s.create()
	if s.valid(ids[0]) || !s.valid(ids[1]) || !s.valid(ids[2]) || !s.valid(id4) {
		t.Fatalf("eviction kept the wrong sessions: %v %v %v %v", s.valid(ids[0]), s.valid(ids[1]), s.valid(ids[2]), s.valid(id4))
	}
	if len(s.m) != 3 {
		t.Fatalf("%d sessions kept, bound is 3", len(s.m))
	}
	// now is 3 min past the first session; 59 min on, ids[1] and ids[2]
	// have expired and id4 has a minute left.
	now = now.Add(59 * time.Minute)
	if s.valid(ids[1]) || s.valid(ids[2]) {
		t.Fatal("expired sessions still valid")
	}
	if !s.valid(id4) {
		t.Fatal("live session invalid")
	}
	now = now.Add(time.Minute)
	if s.valid(id4) {
		t.Fatal("session valid at its expiry")
	}
	if s.valid("") {
		t.Fatal("empty id valid")
	}
}

func TestSessionInfo(t *testing.T) {
	e := newDashEnv(t)
	c := jarClient(t)
	_, body, _ := e.call(t, c, "POST", "/api/v1/session", `{"token":"`+dashToken+`"}`, map[string]string{CSRFHeader: "1"})
	var login struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(body), &login); err != nil {
		t.Fatal(err)
	}
	_, body, _ = e.call(t, c, "GET", "/api/v1/session", "", nil)
	var info struct {
		Authenticated bool       `json:"authenticated"`
		ExpiresAt     *time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatal(err)
	}
	if !info.Authenticated || info.ExpiresAt == nil || !info.ExpiresAt.Equal(login.ExpiresAt) {
		t.Fatalf("session info %s, want expiry %v", body, login.ExpiresAt)
	}
}

package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestHandler(t *testing.T) {
	files := fstest.MapFS{
		"index.html":              {Data: []byte(`<!doctype html><script src="/assets/index-abc123.js"></script>`)},
		"assets/index-abc123.js":  {Data: []byte(`console.log(1)`)},
		"assets/index-def456.css": {Data: []byte(`body{}`)},
		"robots.txt":              {Data: []byte("User-agent: *\n")},
	}
	h := newHandler(files)
	tests := []struct {
		name, method, path string
		status             int
		body, ctype, cache string
	}{
		{"root", "GET", "/", 200, "<!doctype html>", "text/html", "no-cache"},
		{"index by name", "GET", "/index.html", 200, "<!doctype html>", "text/html", "no-cache"},
		{"client route", "GET", "/users/u-1", 200, "<!doctype html>", "text/html", "no-cache"},
		{"client route with a dot", "GET", "/users/jane.doe", 200, "<!doctype html>", "text/html", "no-cache"},
		{"client route with an escaped slash", "GET", "/users/arn:aws:iam::1:user%2Fsvc-7", 200, "<!doctype html>", "text/html", "no-cache"},
		{"client route with query", "GET", "/explorer?view=segmentation", 200, "<!doctype html>", "text/html", "no-cache"},
		{"hashed script", "GET", "/assets/index-abc123.js", 200, "console.log", "javascript", "public, max-age=31536000, immutable"},
		{"hashed style", "GET", "/assets/index-def456.css", 200, "body{}", "text/css", "public, max-age=31536000, immutable"},
		{"plain file", "GET", "/robots.txt", 200, "User-agent", "text/plain", "no-cache"},
		{"HEAD", "HEAD", "/", 200, "", "text/html", "no-cache"},
		{"missing asset", "GET", "/assets/index-old.js", 404, "", "", ""},
		{"missing file", "GET", "/favicon.ico", 404, "", "", ""},
		{"unknown API path", "GET", "/api/v1/nope", 404, `{"error":"not found"}`, "application/json", ""},
		{"unknown ingest path", "GET", "/v1/firehose", 404, `{"error":"not found"}`, "application/json", ""},
		{"dot-dot stays inside", "GET", "/../../etc/passwd", 200, "<!doctype html>", "text/html", "no-cache"},
		{"POST", "POST", "/", 405, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", res.StatusCode, tc.status, body)
			}
			if !strings.Contains(string(body), tc.body) {
				t.Errorf("body %q lacks %q", body, tc.body)
			}
			if tc.ctype != "" && !strings.Contains(res.Header.Get("Content-Type"), tc.ctype) {
				t.Errorf("Content-Type %q, want %q", res.Header.Get("Content-Type"), tc.ctype)
			}
			if res.Header.Get("Cache-Control") != tc.cache && tc.cache != "" {
				t.Errorf("Cache-Control %q, want %q", res.Header.Get("Cache-Control"), tc.cache)
			}
			if tc.status == 200 && !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
				t.Errorf("no CSP: %v", res.Header)
			}
		})
	}
}

func TestHandlerETag(t *testing.T) {
	h := newHandler(fstest.MapFS{"index.html": {Data: []byte("v1")}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	tag := rec.Header().Get("ETag")
	if tag == "" {
		t.Fatal("no ETag")
	}
	req := httptest.NewRequest("GET", "/users", nil)
	req.Header.Set("If-None-Match", tag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("revalidation: %d, want 304", rec.Code)
	}
	h2 := newHandler(fstest.MapFS{"index.html": {Data: []byte("v2")}})
	rec = httptest.NewRecorder()
	h2.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != "v2" {
		t.Fatalf("a new build answered %d %q to the old ETag", rec.Code, rec.Body.String())
	}
}

func TestNotBuilt(t *testing.T) {
	rec := httptest.NewRecorder()
	newHandler(nil).ServeHTTP(rec, httptest.NewRequest("GET", "/events", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "make web") {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
}

// TestEmbeddedBuild checks the real embedded build when there is one:
// index.html references only assets that are embedded.
func TestEmbeddedBuild(t *testing.T) {
	if !Built() {
		t.Skip("the dashboard is not built (make web)")
	}
	h := Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 {
		t.Fatalf("index: %d", rec.Code)
	}
	html := rec.Body.String()
	n := 0
	for _, part := range strings.Split(html, `"/assets/`)[1:] {
		name := "/assets/" + part[:strings.IndexByte(part, '"')]
		r := httptest.NewRecorder()
		h.ServeHTTP(r, httptest.NewRequest("GET", name, nil))
		if r.Code != 200 || r.Body.Len() == 0 {
			t.Errorf("%s: %d", name, r.Code)
		}
		n++
	}
	if n < 2 {
		t.Errorf("index.html references %d assets, want a script and a stylesheet:\n%s", n, html)
	}
	if regexp.MustCompile(`(src|href)=["']?(https?:)?//`).MatchString(html) {
		t.Errorf("index.html loads something from another origin:\n%s", html)
	}
}

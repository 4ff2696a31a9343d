// Package web serves the dashboard: the single-page app built from web/src
// by `make web` (Vite) into dist/app and embedded into the binary, so that
// Gatescope works offline with no CDN.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// dist always exists: dist/README.md is committed, dist/app is built.
//
//go:embed all:dist
var dist embed.FS

// securityHeaders go on every dashboard answer. The CSP allows only this
// origin: the bundle loads nothing from elsewhere. Inline styles are
// allowed because the chart library positions its elements with them.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
		"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "same-origin",
}

// Handler serves the dashboard from the embedded build.
func Handler() http.Handler {
	app, err := fs.Sub(dist, "dist/app")
	if err == nil {
		if _, err = fs.Stat(app, "index.html"); err != nil {
			app = nil
		}
	}
	return newHandler(app)
}

// Built reports whether the binary carries a built dashboard.
func Built() bool {
	_, err := fs.Stat(dist, "dist/app/index.html")
	return err == nil
}

type handler struct {
	files fs.FS // nil when the dashboard was not built
	etags map[string]string
}

// newHandler serves files (an index.html and assets/); nil files serves the
// "not built" page.
func newHandler(files fs.FS) *handler {
	h := &handler{files: files, etags: map[string]string{}}
	if files != nil {
		// Content hashes as ETags: index.html changes with every build
		// while its name does not.
		_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(files, p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			h.etags[p] = `"` + hex.EncodeToString(sum[:12]) + `"`
			return nil
		})
	}
	return h
}

// ServeHTTP serves a built file, or index.html for the app's client-side
// routes. API and ingestion paths never fall through to the app: an unknown
// one is a JSON 404.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean("/" + r.URL.Path)
	if strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/v1/") || p == "/api" || p == "/v1" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"not found"}` + "\n"))
		return
	}
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	if h.files == nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(notBuilt))
		return
	}
	name := strings.TrimPrefix(p, "/")
	if name == "" || name == "index.html" {
		h.serve(w, r, "index.html", "no-cache")
		return
	}
	if st, err := fs.Stat(h.files, name); err == nil && !st.IsDir() {
		// Vite names every asset by its content hash: it never changes.
		cache := "no-cache"
		if strings.HasPrefix(name, "assets/") {
			cache = "public, max-age=31536000, immutable"
		}
		h.serve(w, r, name, cache)
		return
	}
	// A missing asset or top-level file (favicon.ico) is a 404, not the
	// app: a stale page must not get HTML for its script. Any other path is
	// a client-side route, dots and all (/users/jane.doe).
	if strings.HasPrefix(name, "assets/") || (!strings.Contains(name, "/") && path.Ext(name) != "") {
		http.NotFound(w, r)
		return
	}
	h.serve(w, r, "index.html", "no-cache")
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, name, cache string) {
	f, err := h.files.Open(name)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, fs.ErrNotExist) {
			status = http.StatusNotFound
		}
		http.Error(w, http.StatusText(status), status)
		return
	}
	defer f.Close()
	w.Header().Set("Cache-Control", cache)
	if tag, ok := h.etags[name]; ok {
		w.Header().Set("ETag", tag)
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	// ServeContent sets the type from the name, and answers If-None-Match
	// and ranges. Embedded files have no modification time.
	http.ServeContent(w, r, name, time.Time{}, rs)
}

const notBuilt = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gatescope</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 4em auto; line-height: 1.5">
<h1>Gatescope</h1>
<p>This binary was built without its dashboard. Run <code>make web</code> (or
<code>make build</code>, which runs it) to build the dashboard with npm and embed it,
then rebuild the binary.</p>
<p>The API under <code>/api/v1</code> works without it.</p>
</body></html>
`

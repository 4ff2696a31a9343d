package ratelimit

import (
	"net/http"
	"strconv"
	"time"
)

// Policy says which requests a Middleware guards and how it refuses them.
type Policy struct {
	// Guarded selects the requests refused while their source is blocked:
	// every route that takes a credential.
	Guarded func(*http.Request) bool
	// Guess reports whether a guarded request presented a secret that an
	// attacker could be guessing; only such requests count as failures
	// when they are answered 401. A request with no credential, or with
	// a 384-bit session cookie, guesses nothing.
	Guess func(*http.Request) bool
	// Refuse writes the 429 in the protocol of the request's endpoint.
	Refuse func(w http.ResponseWriter, r *http.Request, retryAfter time.Duration)
}

// Middleware refuses guarded requests from blocked sources with 429 before
// next sees them (so no key is checked), and counts next's 401 answers to
// guessing requests as failures of their source.
func Middleware(l *Limiter, p Policy, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.Guarded(r) {
			next.ServeHTTP(w, r)
			return
		}
		src, err := Source(r.RemoteAddr)
		if err != nil {
			// Not an IP (a Unix socket, a test): nothing to key on.
			next.ServeHTTP(w, r)
			return
		}
		if blocked, wait := l.Blocked(src); blocked {
			wait = max(wait.Round(time.Second), time.Second)
			w.Header().Set("Retry-After", strconv.FormatInt(int64(wait/time.Second), 10))
			p.Refuse(w, r, wait)
			return
		}
		rec := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == http.StatusUnauthorized && p.Guess(r) {
			l.Fail(src)
		}
	})
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets server-sent events through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

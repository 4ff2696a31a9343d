package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatescope/gatescope/internal/auth"
)

// The dashboard's login: the admin token is exchanged once for a random
// session id held in an HttpOnly, SameSite=Strict cookie, so that the token
// never lives in the browser's script-readable storage. Sessions live in
// memory: a restart logs everyone out, which is acceptable for one
// operator's console and keeps the token the only durable secret.
const (
	// SessionCookie names the dashboard's session cookie.
	SessionCookie = "gatescope_session"
	// CSRFHeader must accompany every state-changing request that a session
	// cookie authenticates. A cross-site page can make a browser send the
	// cookie-less simple requests only; a custom header forces a CORS
	// preflight, which Gatescope never grants.
	CSRFHeader = "X-Gatescope-Request"

	sessionTTL  = 12 * time.Hour
	maxSessions = 1024
)

// sessions maps a session id's digest to its expiry. Only digests are kept,
// so a memory dump does not hand out live sessions.
type sessions struct {
	mu  sync.Mutex
	m   map[auth.Digest]time.Time
	ttl time.Duration
	max int
	now func() time.Time
}

func newSessions(ttl time.Duration, max int) *sessions {
	return &sessions{m: make(map[auth.Digest]time.Time), ttl: ttl, max: max, now: time.Now}
}

// create starts a session and returns its id and expiry. When the table is
// full, expired sessions go first, then the one closest to expiring: the
// table's size is bounded whatever the login rate.
func (s *sessions) create() (string, time.Time, error) {
	id, err := auth.NewSecret("")
	if err != nil {
		return "", time.Time{}, fmt.Errorf("session id: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.m) >= s.max {
		for d, exp := range s.m {
			if !exp.After(now) {
				delete(s.m, d)
			}
		}
	}
	for len(s.m) >= s.max {
		var oldest auth.Digest
		var first time.Time
		for d, exp := range s.m {
			if first.IsZero() || exp.Before(first) {
				oldest, first = d, exp
			}
		}
		delete(s.m, oldest)
	}
	exp := now.Add(s.ttl)
	s.m[auth.DigestOf(id)] = exp
	return id, exp, nil
}

// valid reports whether id names a live session.
func (s *sessions) valid(id string) bool {
	if id == "" {
		return false
	}
	d := auth.DigestOf(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.m[d]
	if ok && !exp.After(s.now()) {
		delete(s.m, d)
		return false
	}
	return ok
}

func (s *sessions) expiry(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.m[auth.DigestOf(id)]
	return exp, ok && exp.After(s.now())
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, auth.DigestOf(id))
}

// authenticate checks a request's credentials: the Bearer admin token, or a
// live session cookie. A cookie-authenticated request that may change state
// must also pass sameOrigin. It returns the HTTP status to answer on
// failure, with a message.
func (a *API) authenticate(r *http.Request) (ok bool, status int, msg string) {
	if a.admin.Check(auth.Bearer(r.Header.Get("Authorization"))) {
		return true, 0, ""
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || !a.sessions.valid(c.Value) {
		return false, http.StatusUnauthorized, "missing or wrong admin token"
	}
	if !safeMethod(r.Method) && !sameOrigin(r) {
		return false, http.StatusForbidden, "cross-site request refused: send " + CSRFHeader + " from the dashboard's origin"
	}
	return true, 0, ""
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin accepts a request that carries CSRFHeader and passes
// originOK.
func sameOrigin(r *http.Request) bool {
	return r.Header.Get(CSRFHeader) != "" && originOK(r)
}

// originOK accepts a request without Origin (not a cross-site browser
// request) or whose Origin is this server's own: its Host, or the
// X-Forwarded-Host a reverse proxy in front of it set. A cross-site page
// cannot add X-Forwarded-Host itself: that needs a CORS preflight, which
// Gatescope never grants.
func originOK(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	if u.Host == r.Host {
		return true
	}
	for _, h := range strings.Split(r.Header.Get("X-Forwarded-Host"), ",") {
		if h = strings.TrimSpace(h); h != "" && h == u.Host {
			return true
		}
	}
	return false
}

// login exchanges the admin token for a session cookie. It needs no
// CSRFHeader: a forged login needs the token, and gains nothing; but a
// cross-site page may not log a browser in.
func (a *API) login(w http.ResponseWriter, r *http.Request) {
	if !originOK(r) {
		writeError(w, http.StatusForbidden, "cross-site request refused")
		return
	}
	var req struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, `body must be {"token": "..."}`)
		return
	}
	if !a.admin.Check(req.Token) {
		a.log.Warn("dashboard login refused", "remote", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, "wrong admin token")
		return
	}
	id, exp, err := a.sessions.create()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: id, Path: "/", Expires: exp, MaxAge: int(time.Until(exp).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r),
	})
	writeJSON(w, http.StatusOK, map[string]any{"expires_at": exp.UTC()})
}

// secure reports whether the browser reached Gatescope over TLS: directly,
// or through a TLS-terminating proxy that says so. A client forging the
// header only makes its own cookie stricter.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// session describes the caller's session; it answers 200 to any valid
// credential, so the dashboard can ask "am I logged in?".
func (a *API) session(w http.ResponseWriter, r *http.Request) error {
	out := map[string]any{"authenticated": true, "expires_at": nil}
	if c, err := r.Cookie(SessionCookie); err == nil {
		if exp, ok := a.sessions.expiry(c.Value); ok {
			out["expires_at"] = exp.UTC()
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// logout ends the cookie's session and clears the cookie.
func (a *API) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(SessionCookie); err == nil {
		a.sessions.delete(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r)})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Package api serves the operator-facing HTTP API under /api/v1: apps and
// the query endpoints. Every route requires the admin token, and every
// query is scoped to the one app its app_id names.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/gatescope/gatescope/internal/apps"
	"github.com/gatescope/gatescope/internal/auth"
	"github.com/gatescope/gatescope/internal/query"
	"github.com/gatescope/gatescope/internal/store"
)

// Config configures the API.
type Config struct {
	// QueryTimeout bounds every query.
	QueryTimeout time.Duration
	// MaxBodyBytes caps request bodies (app creation, funnel definitions).
	MaxBodyBytes int64
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config { return Config{QueryTimeout: 30 * time.Second, MaxBodyBytes: 1 << 20} }

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.QueryTimeout <= 0 {
		return errors.New("api: QueryTimeout must be positive")
	}
	if c.MaxBodyBytes < 1<<10 {
		return errors.New("api: MaxBodyBytes must be at least 1 KiB")
	}
	return nil
}

// API holds the handlers' dependencies.
type API struct {
	cfg   Config
	store store.Store
	apps  *apps.Registry
	admin auth.AdminToken
	log   *slog.Logger
	// sessions are the dashboard's logins (session.go).
	sessions *sessions
	// engine answers the analytics queries (queries.go).
	engine *query.Engine
}

// New returns the API.
func New(cfg Config, st store.Store, reg *apps.Registry, admin auth.AdminToken, log *slog.Logger) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	engine, err := query.NewEngine(st)
	if err != nil {
		return nil, err
	}
	return &API{cfg: cfg, store: st, apps: reg, admin: admin, log: log, sessions: newSessions(sessionTTL, maxSessions), engine: engine}, nil
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/apps", a.admin1(a.createApp))
	mux.Handle("GET /api/v1/apps", a.admin1(a.listApps))
	mux.Handle("GET /api/v1/apps/{app_id}", a.admin1(a.getApp))
	mux.Handle("GET /api/v1/events", a.admin1(a.listEvents))
	a.registerQueries(mux) // the analytics routes (queries.go)
	// The dashboard's login and set-up page (session.go, setup.go).
	mux.HandleFunc("POST /api/v1/session", a.login)
	mux.Handle("GET /api/v1/session", a.admin1(a.session))
	mux.Handle("DELETE /api/v1/session", a.admin1(a.logout))
	mux.Handle("GET /api/v1/log-formats", a.admin1(a.logFormats))
	mux.Handle("GET /api/v1/apps/{app_id}/status", a.admin1(a.appStatus))
}

// admin1 wraps a handler with the admin check (the Bearer token or a
// dashboard session, session.go) and the query timeout.
func (a *API) admin1(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, status, msg := a.authenticate(r); !ok {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="gatescope"`)
			}
			writeError(w, status, msg)
			return
		}
		if err := validUTF8(r); err != nil {
			a.fail(w, r, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.QueryTimeout)
		defer cancel()
		err := h(w, r.WithContext(ctx))
		if query.IsRollupsMoved(err) && r.Method == http.MethodGet {
			// A load rebuilt the open week's rollup while the query ran
			// (query/openweek.go); planned again, it reads the new rows.
			// (A POST's body is spent: it gets the 503 instead.)
			err = h(w, r.WithContext(ctx))
		}
		if err != nil {
			a.fail(w, r, err)
		}
	})
}

// fail maps an error to its status. Store and SQL errors are logged, never
// shown: the client gets a generic message.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, query.ErrBadQuery), errors.Is(err, errBadRequest), errors.Is(err, apps.ErrInvalidName):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found")
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "query timed out")
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrOverloaded), query.IsRollupsMoved(err):
		writeError(w, http.StatusServiceUnavailable, "store unavailable; retry")
	default:
		a.log.Error("api request failed", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

var errBadRequest = errors.New("bad request")

// validUTF8 refuses a path or query parameter that decodes to bytes which
// are not UTF-8: the stores take text parameters and would answer with a
// driver error (a 500) instead of the 400 such input deserves.
func validUTF8(r *http.Request) error {
	if !utf8.ValidString(r.URL.Path) {
		return fmt.Errorf("%w: the path is not valid UTF-8", errBadRequest)
	}
	for k, vs := range r.URL.Query() {
		if !utf8.ValidString(k) {
			return fmt.Errorf("%w: a query parameter name is not valid UTF-8", errBadRequest)
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return fmt.Errorf("%w: query parameter %q is not valid UTF-8", errBadRequest, k)
			}
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (a *API) createApp(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	if err := dec.Decode(&req); err != nil {
		return fmt.Errorf("%w: body must be {\"name\": \"...\"}: %v", errBadRequest, err)
	}
	app, err := a.apps.Create(r.Context(), req.Name)
	if err != nil {
		return err
	}
	a.log.Info("app created", "app_id", app.ID, "name", app.Name)
	writeJSON(w, http.StatusCreated, app)
	return nil
}

// listApps lists apps without their secrets; GET /api/v1/apps/{id} shows one.
func (a *API) listApps(w http.ResponseWriter, r *http.Request) error {
	list, err := a.apps.List(r.Context())
	if err != nil {
		return err
	}
	out := make([]store.App, len(list))
	for i, app := range list {
		app.ApplicationID = ""
		out[i] = app
	}
	writeJSON(w, http.StatusOK, map[string]any{"apps": out})
	return nil
}

func (a *API) getApp(w http.ResponseWriter, r *http.Request) error {
	app, err := a.apps.Get(r.Context(), r.PathValue("app_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, app)
	return nil
}

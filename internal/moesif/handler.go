// Package moesif receives what the Moesif SDKs send to the Moesif
// collector API (api.moesif.net): API events, and user and company
// profile updates, single or in batches. Pointed at Gatescope (the SDK's
// base URI), an SDK's code keeps working: it authenticates with the app's
// application id in X-Moesif-Application-Id, gets 201 once everything it
// sent is stored durably, and its events become events with source "sdk"
// next to the gateway's.
package moesif

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/reqbody"
	"github.com/gatescope/gatescope/internal/store"
)

// HeaderApplicationID carries the app's application id, as every Moesif
// SDK sends it.
const HeaderApplicationID = "X-Moesif-Application-Id"

// Authenticator finds the app an application id belongs to.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (store.App, bool)
}

type kind string

const (
	kindEvents    kind = "events"
	kindUsers     kind = "users"
	kindCompanies kind = "companies"
)

// endpoint is one route of the collector API.
type endpoint struct {
	kind  kind
	batch bool // the body is an array of records, not one record
}

func (e endpoint) path() string {
	if e.batch {
		return "/v1/" + string(e.kind) + "/batch"
	}
	return "/v1/" + string(e.kind)
}

var endpoints = []endpoint{
	{kindEvents, false}, {kindEvents, true},
	{kindUsers, false}, {kindUsers, true},
	{kindCompanies, false}, {kindCompanies, true},
}

// Handler serves the Moesif-compatible collector endpoints.
type Handler struct {
	cfg     Config
	store   store.Store
	apps    Authenticator
	log     *slog.Logger
	metrics *metrics
	slots   chan struct{}
	budget  *reqbody.Budget
	now     func() time.Time
}

// NewHandler returns a handler that stores into st.
func NewHandler(cfg Config, st store.Store, apps Authenticator, log *slog.Logger, reg prometheus.Registerer) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Handler{
		cfg: cfg, store: st, apps: apps, log: log, metrics: newMetrics(reg),
		slots: make(chan struct{}, cfg.MaxConcurrent), budget: reqbody.NewBudget(cfg.MaxInflightBytes), now: time.Now,
	}, nil
}

// Register adds the six POST routes to mux.
//
// The routes take every method and refuse all but POST themselves, so that
// a GET gets this API's 405 rather than falling through to the dashboard.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, ep := range endpoints {
		mux.Handle(ep.path(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				w.Header().Set("Allow", http.MethodPost)
				h.reply(w, ep, http.StatusMethodNotAllowed, "use POST")
				return
			}
			h.serve(ep, w, r)
		}))
	}
}

// reply answers as the Moesif collector does: 201 with no body when
// everything was stored. The SDKs look at the status alone (2xx is
// success); errors carry a JSON {"error": ...} for people and scripts.
func (h *Handler) reply(w http.ResponseWriter, ep endpoint, status int, msg string) {
	h.metrics.requests.WithLabelValues(ep.path(), strconv.Itoa(status)).Inc()
	if status == http.StatusCreated {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (h *Handler) serve(ep endpoint, w http.ResponseWriter, r *http.Request) {
	start := h.now()
	app, ok := h.apps.Authenticate(r.Context(), r.Header.Get(HeaderApplicationID))
	if !ok {
		h.reply(w, ep, http.StatusUnauthorized, "missing or unknown "+HeaderApplicationID)
		return
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		reqbody.Discard(w, r, h.cfg.MaxBodyBytes)
		h.reply(w, ep, http.StatusServiceUnavailable, "too many requests in progress; retry")
		return
	}
	var body bytes.Buffer
	reserved, err := reqbody.Read(w, r, &body, reqbody.Limits{MaxBytes: h.cfg.MaxBodyBytes, MaxDecoded: h.cfg.MaxDecodedBytes}, h.budget)
	defer h.budget.Release(reserved)
	if be := (*reqbody.Error)(nil); errors.As(err, &be) {
		h.reply(w, ep, be.Status, be.Msg)
		return
	}
	records, err := split(body.Bytes(), ep, h.cfg.MaxRecords)
	if err != nil {
		h.reply(w, ep, http.StatusBadRequest, err.Error())
		return
	}
	batch := &store.Batch{AppID: app.ID, Received: start.UTC()}
	reasons := map[string]int{}
	dec := eventDecoder{keepBodies: h.cfg.KeepBodies, bodyCap: h.cfg.BodyCapBytes, seen: map[string]int{}}
	for _, raw := range records {
		rerr := h.add(&dec, ep.kind, raw, batch)
		if rerr == nil {
			continue
		}
		if !ep.batch {
			// The record is the whole body: refuse it, so that the
			// sender's callback sees the error.
			h.reply(w, ep, http.StatusBadRequest, rerr.Detail)
			return
		}
		reasons[rerr.Code]++
		batch.Rejected = append(batch.Rejected, event.Rejected{
			AppID: app.ID, Received: batch.Received, Source: event.SourceSDK,
			Reason: string(ep.kind) + ": " + rerr.Detail, Raw: bytes.Clone(raw),
		})
	}
	res, err := h.store.Append(r.Context(), batch)
	if err != nil {
		code := http.StatusServiceUnavailable
		if !errors.Is(err, store.ErrOverloaded) && !errors.Is(err, store.ErrUnavailable) && !errors.Is(err, store.ErrClosed) {
			code = http.StatusInternalServerError
		}
		h.log.Warn("moesif request not stored", "endpoint", ep.path(), "app_id", app.ID, "err", err)
		h.reply(w, ep, code, "could not store the request; retry")
		return
	}
	h.metrics.observe(string(ep.kind), len(records), res, reasons, h.now().Sub(start))
	h.log.Debug("moesif request stored", "endpoint", ep.path(), "app_id", app.ID, "records", len(records),
		"stored", res.Stored, "duplicates", res.Duplicates, "rejected", len(batch.Rejected))
	h.reply(w, ep, http.StatusCreated, "")
}

// add decodes one record into the batch.
func (h *Handler) add(dec *eventDecoder, k kind, raw []byte, b *store.Batch) *recordError {
	switch k {
	case kindEvents:
		var ev event.Event
		if rerr := dec.decode(raw, b.AppID, &ev); rerr != nil {
			return rerr
		}
		b.Events = append(b.Events, ev)
	case kindUsers:
		var u event.UserUpdate
		if rerr := decodeUser(raw, b.AppID, b.Received, &u); rerr != nil {
			return rerr
		}
		b.Users = append(b.Users, u)
	case kindCompanies:
		var c event.CompanyUpdate
		if rerr := decodeCompany(raw, b.AppID, b.Received, &c); rerr != nil {
			return rerr
		}
		b.Companies = append(b.Companies, c)
	}
	return nil
}

// errBadBody wraps every reason a whole body is refused (400).
var errBadBody = errors.New("bad request")

// split cuts a body into its records: the body itself on a single-record
// endpoint, the array's elements on a batch endpoint.
func split(body []byte, ep endpoint, maxRecords int) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if !json.Valid(body) {
		return nil, fmt.Errorf("%w: body is not JSON", errBadBody)
	}
	if !ep.batch {
		if body[0] != '{' {
			return nil, fmt.Errorf("%w: body is not a JSON object; %s takes one %s", errBadBody, ep.path(), strings.TrimSuffix(string(ep.kind), "s"))
		}
		return []json.RawMessage{body}, nil
	}
	if body[0] != '[' {
		return nil, fmt.Errorf("%w: body is not a JSON array; %s takes a list", errBadBody, ep.path())
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(body, &recs); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadBody, err)
	}
	if len(recs) > maxRecords {
		return nil, fmt.Errorf("%w: %d records, more than the limit of %d", errBadBody, len(recs), maxRecords)
	}
	return recs, nil
}

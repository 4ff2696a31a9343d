package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/query"
)

//go:embed openapi.json
var openapiDoc []byte

// registerQueries adds the analytics routes, documented in openapi.json.
func (a *API) registerQueries(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openapiDoc)
	})
	mux.Handle("GET /api/v1/fields", a.admin1(a.fields))
	mux.Handle("GET /api/v1/events/stream", a.streaming(a.streamEvents))
	mux.Handle("GET /api/v1/events/{request_id}", a.admin1(a.getEvent))
	mux.Handle("GET /api/v1/metrics/timeseries", a.admin1(a.timeseries))
	mux.Handle("GET /api/v1/metrics/segmentation", a.admin1(a.segmentation))
	mux.Handle("GET /api/v1/users", a.admin1(a.listUsers))
	mux.Handle("GET /api/v1/users/{user_id}", a.admin1(a.getUser))
	mux.Handle("GET /api/v1/companies", a.admin1(a.listCompanies))
	mux.Handle("GET /api/v1/companies/{company_id}", a.admin1(a.getCompany))
	mux.Handle("POST /api/v1/funnels", a.admin1(a.funnel))
	mux.Handle("POST /api/v1/retention", a.admin1(a.retention))
}

// app checks that app_id names an existing app.
func (a *API) app(r *http.Request, id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("%w: app_id is required", errBadRequest)
	}
	if _, err := a.apps.Get(r.Context(), id); err != nil {
		return "", err
	}
	return id, nil
}

func intParam(q url.Values, name string, def int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q is not a number", errBadRequest, name, s)
	}
	return n, nil
}

func (a *API) fields(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r, r.URL.Query().Get("app_id"))
	if err != nil {
		return err
	}
	keys, err := a.engine.MetadataKeys(r.Context(), app)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"fields": query.Fields(), "metrics": query.Metrics, "metadata_keys": keys})
	return nil
}

func (a *API) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	app, err := a.app(r, q.Get("app_id"))
	if err != nil {
		return err
	}
	rg, err := query.ParseRange(q.Get("from"), q.Get("to"), 0, a.engine.Now())
	if err != nil {
		return err
	}
	if q.Get("to") == "" {
		rg.To = time.Time{} // events arriving with clocks ahead still list
	}
	f, err := query.FilterFromParams(q)
	if err != nil {
		return err
	}
	limit, err := intParam(q, "limit", 100)
	if err != nil || limit < 1 {
		return fmt.Errorf("%w: limit %q is not a positive number", errBadRequest, q.Get("limit"))
	}
	events, next, err := a.engine.Events(r.Context(), app, rg, f, query.Page{Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": events, "next_cursor": next})
	return nil
}

func (a *API) getEvent(w http.ResponseWriter, r *http.Request) error {
	app, err := a.app(r, r.URL.Query().Get("app_id"))
	if err != nil {
		return err
	}
	at, err := query.ParseTime("time", r.URL.Query().Get("time"), a.engine.Now())
	if err != nil {
		return err
	}
	ev, err := a.engine.Event(r.Context(), app, r.PathValue("request_id"), at)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ev)
	return nil
}

func (a *API) timeseries(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	app, err := a.app(r, q.Get("app_id"))
	if err != nil {
		return err
	}
	spec := query.SeriesSpec{AppID: app, Metric: query.Count}
	if spec.Range, err = query.ParseRange(q.Get("from"), q.Get("to"), 24*time.Hour, a.engine.Now()); err != nil {
		return err
	}
	if s := q.Get("metric"); s != "" {
		if spec.Metric, err = query.ParseMetric(s); err != nil {
			return err
		}
	}
	if spec.Interval, err = query.ParseInterval(q.Get("interval"), spec.Range); err != nil {
		return err
	}
	if spec.Loc, err = query.ParseTZ(q.Get("tz")); err != nil {
		return err
	}
	if g := q.Get("group_by"); g != "" {
		f, err := query.ParseGroupField(g)
		if err != nil {
			return err
		}
		spec.GroupBy = &f
	}
	if spec.Limit, err = intParam(q, "limit", 10); err != nil {
		return err
	}
	if spec.Filter, err = query.FilterFromParams(q); err != nil {
		return err
	}
	ts, err := a.engine.TimeSeries(r.Context(), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ts)
	return nil
}

func (a *API) segmentation(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	app, err := a.app(r, q.Get("app_id"))
	if err != nil {
		return err
	}
	spec := query.SegSpec{AppID: app}
	if spec.Range, err = query.ParseRange(q.Get("from"), q.Get("to"), 24*time.Hour, a.engine.Now()); err != nil {
		return err
	}
	if g := strings.TrimSpace(q.Get("group_by")); g != "" {
		for _, name := range strings.Split(g, ",") {
			f, err := query.ParseGroupField(name)
			if err != nil {
				return err
			}
			spec.GroupBy = append(spec.GroupBy, f)
		}
	}
	if spec.Metrics, err = query.ParseMetrics(q.Get("metrics")); err != nil {
		return err
	}
	if spec.Sort, spec.Desc, err = query.ParseSort(q.Get("sort"), spec.Metrics, spec.GroupBy); err != nil {
		return err
	}
	if spec.Limit, err = intParam(q, "limit", 100); err != nil {
		return err
	}
	if spec.Filter, err = query.FilterFromParams(q); err != nil {
		return err
	}
	rows, err := a.engine.Segmentation(r.Context(), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"rows": rows})
	return nil
}

func (a *API) listSpec(r *http.Request, companies bool) (query.ListSpec, error) {
	q := r.URL.Query()
	app, err := a.app(r, q.Get("app_id"))
	if err != nil {
		return query.ListSpec{}, err
	}
	spec := query.ListSpec{AppID: app, Search: q.Get("q")}
	if !companies {
		spec.CompanyID = q.Get("company_id")
	}
	if spec.Range, err = query.ParseRange(q.Get("from"), q.Get("to"), 0, a.engine.Now()); err != nil {
		return spec, err
	}
	if spec.Sort, spec.Desc, err = query.ParseListSort(q.Get("sort"), q.Get("order"), companies); err != nil {
		return spec, err
	}
	if spec.Limit, err = intParam(q, "limit", 50); err != nil {
		return spec, err
	}
	if spec.Offset, err = intParam(q, "offset", 0); err != nil {
		return spec, err
	}
	return spec, nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	spec, err := a.listSpec(r, false)
	if err != nil {
		return err
	}
	users, total, err := a.engine.Users(r.Context(), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users, "total": total})
	return nil
}

func (a *API) listCompanies(w http.ResponseWriter, r *http.Request) error {
	spec, err := a.listSpec(r, true)
	if err != nil {
		return err
	}
	list, total, err := a.engine.Companies(r.Context(), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"companies": list, "total": total})
	return nil
}

func (a *API) profileSpec(r *http.Request, id string) (query.ProfileSpec, error) {
	q := r.URL.Query()
	app, err := a.app(r, q.Get("app_id"))
	if err != nil {
		return query.ProfileSpec{}, err
	}
	spec := query.ProfileSpec{AppID: app, ID: id}
	if spec.Range, err = query.ParseRange(q.Get("from"), q.Get("to"), 30*24*time.Hour, a.engine.Now()); err != nil {
		return spec, err
	}
	spec.Interval, err = query.ParseInterval(q.Get("interval"), spec.Range)
	return spec, err
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	spec, err := a.profileSpec(r, r.PathValue("user_id"))
	if err != nil {
		return err
	}
	p, err := a.engine.UserProfile(r.Context(), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (a *API) getCompany(w http.ResponseWriter, r *http.Request) error {
	spec, err := a.profileSpec(r, r.PathValue("company_id"))
	if err != nil {
		return err
	}
	p, err := a.engine.CompanyProfile(r.Context(), spec)
	if err != nil {
		return err
	}
	if p.Users == nil {
		p.Users = []query.UserSummary{}
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// decodeBody reads a JSON request body, bounded.
func (a *API) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %v", errBadRequest, err)
	}
	return nil
}

func (a *API) funnel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		AppID string `json:"app_id"`
		From  string `json:"from"`
		To    string `json:"to"`
		Steps []struct {
			Name   string          `json:"name"`
			Filter json.RawMessage `json:"filter"`
		} `json:"steps"`
		Window  string `json:"window"`
		SplitBy string `json:"split_by"`
	}
	if err := a.decodeBody(w, r, &req); err != nil {
		return err
	}
	app, err := a.app(r, req.AppID)
	if err != nil {
		return err
	}
	spec := query.FunnelSpec{AppID: app, Window: 7 * 24 * time.Hour}
	if spec.Range, err = query.ParseRange(req.From, req.To, 30*24*time.Hour, a.engine.Now()); err != nil {
		return err
	}
	if req.Window != "" {
		if spec.Window, err = query.ParseDuration(req.Window); err != nil {
			return err
		}
	}
	for i, st := range req.Steps {
		f, err := query.ParseFilter(st.Filter)
		if err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
		spec.Steps = append(spec.Steps, query.FunnelStep{Name: st.Name, Filter: f})
	}
	if req.SplitBy != "" {
		f, err := query.ParseField(req.SplitBy)
		if err != nil {
			return err
		}
		spec.SplitBy = &f
	}
	res, err := a.engine.Funnel(r.Context(), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (a *API) retention(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		AppID     string          `json:"app_id"`
		From      string          `json:"from"`
		To        string          `json:"to"`
		First     json.RawMessage `json:"first_event"`
		Returning json.RawMessage `json:"returning_event"`
		Period    string          `json:"period"`
		TZ        string          `json:"tz"`
	}
	if err := a.decodeBody(w, r, &req); err != nil {
		return err
	}
	app, err := a.app(r, req.AppID)
	if err != nil {
		return err
	}
	spec := query.RetentionSpec{AppID: app, Period: req.Period}
	if spec.Range, err = query.ParseRange(req.From, req.To, 8*7*24*time.Hour, a.engine.Now()); err != nil {
		return err
	}
	if spec.First, err = query.ParseFilter(req.First); err != nil {
		return err
	}
	if spec.Returning, err = query.ParseFilter(req.Returning); err != nil {
		return err
	}
	if spec.Loc, err = query.ParseTZ(req.TZ); err != nil {
		return err
	}
	res, err := a.engine.Retention(r.Context(), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

package query_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query"
	"github.com/gatescope/gatescope/internal/store"
)

// companyFilterCases are conditions on the attributed company in the forms
// the engine compiles specially (eq, in, and under not), on companies
// logged by events and linked through the users API.
var companyFilterCases = []filterCase{
	{"company-eq-linked", `{"field":"company_id","op":"eq","value":"linked-1"}`,
		func(k *knownEnv, ev *event.Event) bool { return k.company(ev) == "linked-1" }},
	{"company-eq-logged", `{"field":"company_id","op":"eq","value":"logged-2"}`,
		func(k *knownEnv, ev *event.Event) bool { return k.company(ev) == "logged-2" }},
	{"company-in-and-route", `{"and":[{"field":"company_id","op":"in","values":["linked-2","logged-4","nobody"]},{"field":"route","op":"eq","value":"/orders"}]}`,
		func(k *knownEnv, ev *event.Event) bool {
			c := k.company(ev)
			return (c == "linked-2" || c == "logged-4") && ev.Route == "/orders"
		}},
	{"company-not-in", `{"not":{"field":"company_id","op":"in","values":["linked-1","logged-3"]}}`,
		func(k *knownEnv, ev *event.Event) bool { c := k.company(ev); return c != "linked-1" && c != "logged-3" }},
}

// TestKnownCompanyFilters checks every metric, in total and per route and
// per user, under company conditions, over a range whose ends fall inside
// days (so that daily rollups and raw events combine).
func TestKnownCompanyFilters(t *testing.T) {
	k := newKnownEnv(t)
	ctx := context.Background()
	r := query.Range{From: k.f.start.Add(5*time.Hour + 17*time.Minute), To: k.f.start.Add(62*time.Hour + 41*time.Minute)}
	route, _ := query.ParseGroupField("route")
	user, _ := query.ParseGroupField("user_id")
	for _, fc := range companyFilterCases {
		for _, g := range [][]query.Field{nil, {route}, {user}} {
			want := map[string]*figures{}
			for i := range k.f.events {
				ev := &k.f.events[i]
				if ev.Time.Before(r.From) || !ev.Time.Before(r.To) || !fc.pred(k, ev) {
					continue
				}
				key := ""
				if len(g) > 0 {
					key = "\x00null"
					if v := map[string]string{"route": ev.Route, "user_id": ev.UserID}[g[0].Name]; v != "" {
						key = v
					}
				}
				if want[key] == nil {
					want[key] = newFigures()
				}
				want[key].add(ev, k.company(ev))
			}
			if len(want) == 0 {
				t.Fatalf("%s: no events match; the case proves nothing", fc.name)
			}
			for ename, e := range k.engines {
				rows, err := e.Segmentation(ctx, query.SegSpec{AppID: k.f.app, Range: r, Filter: mustFilter(t, fc.json),
					GroupBy: g, Metrics: query.Metrics, Limit: 1000})
				if err != nil {
					t.Fatalf("%s/%s: %v", fc.name, ename, err)
				}
				if len(rows) != len(want) {
					t.Errorf("%s/%s/%v: %d rows, want %d", fc.name, ename, g, len(rows), len(want))
				}
				for _, row := range rows {
					key := ""
					if len(g) > 0 {
						key = "\x00null"
						if v := row[g[0].Name]; v != nil {
							key = fmt.Sprint(v)
						}
					}
					f := want[key]
					if f == nil {
						t.Errorf("%s/%s: unexpected group %q", fc.name, ename, key)
						continue
					}
					sameFigures(t, fmt.Sprintf("%s/%s/%q", fc.name, ename, key), row, f)
				}
			}
		}
	}
}

// TestKnownProfiles checks user and company profiles (totals, daily
// series, top routes, recent events, a company's users) against the
// fixture aggregated in Go.
func TestKnownProfiles(t *testing.T) {
	k := newKnownEnv(t)
	ctx := context.Background()
	r := query.Range{From: k.f.start.Add(3*time.Hour + 7*time.Minute), To: k.f.start.Add(66*time.Hour + 3*time.Minute)}
	iv, err := query.ParseInterval("1d", r)
	if err != nil {
		t.Fatal(err)
	}
	type subject struct {
		user, company string
	}
	for _, sub := range []subject{{user: "u07"}, {user: "u05"}, {company: "linked-1"}, {company: "logged-2"}} {
		match := func(ev *event.Event) bool {
			if sub.user != "" {
				return ev.UserID == sub.user
			}
			return k.company(ev) == sub.company
		}
		total := newFigures()
		days := map[time.Time]float64{}
		routes := map[string]*figures{}
		var recent []*event.Event
		for i := range k.f.events {
			ev := &k.f.events[i]
			if ev.Time.Before(r.From) || !ev.Time.Before(r.To) || !match(ev) {
				continue
			}
			total.add(ev, k.company(ev))
			days[ev.Time.Truncate(24*time.Hour)]++
			rk := ev.Method + " " + ev.Route
			if routes[rk] == nil {
				routes[rk] = newFigures()
			}
			routes[rk].add(ev, "")
			recent = append(recent, ev)
		}
		if total.count == 0 {
			t.Fatalf("%+v has no events; the case proves nothing", sub)
		}
		for ename, e := range k.engines {
			name := fmt.Sprintf("%s/%s%s", ename, sub.user, sub.company)
			var p *query.Profile
			if sub.user != "" {
				p, err = e.UserProfile(ctx, query.ProfileSpec{AppID: k.f.app, ID: sub.user, Range: r, Interval: iv})
			} else {
				p, err = e.CompanyProfile(ctx, query.ProfileSpec{AppID: k.f.app, ID: sub.company, Range: r, Interval: iv})
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if float64(p.Totals.Requests) != total.count || float64(p.Totals.Errors4xx) != total.e4 || float64(p.Totals.Errors5xx) != total.e5 ||
				!close("error_rate", p.Totals.ErrorRate, total.metric("error_rate")) || !close("latency_p95", p.Totals.LatencyP95, total.metric("latency_p95")) {
				t.Errorf("%s: totals %+v, want %v requests, %v/%v errors, p95 %s", name, p.Totals, total.count, total.e4, total.e5, fmtv(total.metric("latency_p95")))
			}
			for _, pt := range p.Series.Series[0].Points {
				if pt.V == nil || *pt.V != days[pt.T] {
					t.Errorf("%s: series at %s = %s, want %v", name, pt.T, fmtv(pt.V), days[pt.T])
				}
			}
			// Top routes: the 10 busiest, ties by method then route.
			var keys []string
			for rk := range routes {
				keys = append(keys, rk)
			}
			sort.Slice(keys, func(i, j int) bool {
				a, b := routes[keys[i]].count, routes[keys[j]].count
				if a != b {
					return a > b
				}
				return keys[i] < keys[j]
			})
			if len(keys) > 10 {
				keys = keys[:10]
			}
			if len(p.TopRoutes) != len(keys) {
				t.Fatalf("%s: %d top routes, want %d", name, len(p.TopRoutes), len(keys))
			}
			for i, tr := range p.TopRoutes {
				rk := deref(tr.Method) + " " + deref(tr.Route)
				f := routes[rk]
				if f == nil || float64(tr.Requests) != routes[keys[i]].count || float64(tr.Requests) != f.count ||
					!close("error_rate", tr.ErrorRate, f.metric("error_rate")) || !close("latency_p95", tr.LatencyP95, f.metric("latency_p95")) {
					t.Errorf("%s: top route %d %q: %+v, want %q with %v requests", name, i, rk, tr, keys[i], routes[keys[i]].count)
				}
			}
			sort.Slice(recent, func(i, j int) bool {
				if !recent[i].Time.Equal(recent[j].Time) {
					return recent[i].Time.After(recent[j].Time)
				}
				return recent[i].RequestID > recent[j].RequestID
			})
			for i, ev := range p.RecentEvents {
				if i >= len(recent) || ev.RequestID != recent[i].RequestID {
					t.Errorf("%s: recent event %d is %s", name, i, ev.RequestID)
					break
				}
			}
			if want := min(20, len(recent)); len(p.RecentEvents) != want {
				t.Errorf("%s: %d recent events, want %d", name, len(p.RecentEvents), want)
			}
			if sub.company != "" {
				var linked []string
				for u, c := range k.f.linked {
					if c == sub.company {
						linked = append(linked, u)
					}
				}
				var got []string
				for _, u := range p.Users {
					got = append(got, u.UserID)
					// A user's figures are all their events in the range,
					// whichever company each one logged.
					var n float64
					for i := range k.f.events {
						ev := &k.f.events[i]
						if ev.UserID == u.UserID && !ev.Time.Before(r.From) && ev.Time.Before(r.To) {
							n++
						}
					}
					if float64(u.Requests) != n {
						t.Errorf("%s: user %s has %d requests, want %v", name, u.UserID, u.Requests, n)
					}
				}
				sort.Strings(linked)
				sort.Strings(got)
				if strings.Join(got, ",") != strings.Join(linked, ",") {
					t.Errorf("%s: users %v, want %v", name, got, linked)
				}
			}
		}
	}
}

// TestCompanyProfileParts checks that a company's profile, which DuckDB
// computes in one statement, lists the same users and series as the users
// list and the time series asked apart, for companies linked and logged,
// with buckets folded from days (1d, 1w) and not (1h).
func TestCompanyProfileParts(t *testing.T) {
	k := newKnownEnv(t)
	ctx := context.Background()
	r := query.Range{From: k.f.start.Add(5*time.Hour + 11*time.Minute), To: k.f.start.Add(70 * time.Hour)}
	f, _ := query.ParseField("company_id")
	for _, company := range []string{"linked-0", "linked-2", "logged-4", "nobody-yet"} {
		for _, ivName := range []string{"1d", "1w", "1h"} {
			iv, err := query.ParseInterval(ivName, r)
			if err != nil {
				t.Fatal(err)
			}
			for ename, e := range k.engines {
				name := fmt.Sprintf("%s/%s/%s", ename, company, ivName)
				p, err := e.CompanyProfile(ctx, query.ProfileSpec{AppID: k.f.app, ID: company, Range: r, Interval: iv})
				if company == "nobody-yet" {
					if !errors.Is(err, store.ErrNotFound) {
						t.Errorf("%s: %v, want not found", name, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				users, _, err := e.Users(ctx, query.ListSpec{AppID: k.f.app, Range: r, CompanyID: company, Limit: 100, Sort: "requests", Desc: true})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(p.Users, users) {
					t.Errorf("%s: users\n%s\nwant\n%s", name, jsonOf(p.Users), jsonOf(users))
				}
				cond, _ := query.NewCondition(f, query.OpEq, company)
				series, err := e.TimeSeries(ctx, query.SeriesSpec{AppID: k.f.app, Range: r, Filter: cond, Metric: query.Count, Interval: iv})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(p.Series, series) {
					t.Errorf("%s: series\n%s\nwant\n%s", name, jsonOf(p.Series), jsonOf(series))
				}
				companies, _, err := e.Companies(ctx, query.ListSpec{AppID: k.f.app, Range: r, ID: company, Limit: 1})
				if err != nil || len(companies) != 1 {
					t.Fatalf("%s: companies list %v, %v", name, companies, err)
				}
				if got, want := jsonOf(p.Company), jsonOf(companies[0]); got != want {
					t.Errorf("%s: company\n%s\nwant\n%s", name, got, want)
				}
				if strings.HasPrefix(company, "linked-") && len(users) == 0 {
					t.Errorf("%s: no users; the case proves nothing", name)
				}
			}
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestKnownEventByID looks events up by request id without their time,
// across the fixture's hours (the latest included, which the request-id
// rollup does not hold yet), and an id that was never stored.
func TestKnownEventByID(t *testing.T) {
	k := newKnownEnv(t)
	ctx := context.Background()
	latest := 0
	for i := range k.f.events {
		if k.f.events[i].Time.After(k.f.events[latest].Time) {
			latest = i
		}
	}
	for _, i := range []int{0, 1, 777, 5003, len(k.f.events) / 2, len(k.f.events) - 1, latest} {
		want := &k.f.events[i]
		for ename, e := range k.engines {
			got, err := e.Event(ctx, k.f.app, want.RequestID, time.Time{})
			if err != nil || got.RequestID != want.RequestID || !got.Time.Equal(want.Time) || got.AppID != k.f.app {
				t.Errorf("%s: event %s: %+v, %v", ename, want.RequestID, got.RequestID, err)
			}
		}
	}
	for ename, e := range k.engines {
		if _, err := e.Event(ctx, k.f.app, "no-such-request", time.Time{}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: unknown id: %v, want not found", ename, err)
		}
	}
}

// TestKnownFunnelRollups checks funnels whose steps the user-route rollup
// answers (route, method, company, user metadata), so that sealed days
// come from it and the rest from raw events, against paths computed with
// plain loops; split by company and by user metadata, with windows shorter
// and longer than a day.
func TestKnownFunnelRollups(t *testing.T) {
	k := newKnownEnv(t)
	ctx := context.Background()
	steps := []filterCase{
		{"orders-get", `{"and":[{"field":"method","op":"eq","value":"GET"},{"field":"route","op":"eq","value":"/orders"}]}`,
			func(_ *knownEnv, ev *event.Event) bool { return ev.Method == "GET" && ev.Route == "/orders" }},
		{"products", `{"field":"route","op":"in","values":["/products","/orders/{id}"]}`,
			func(_ *knownEnv, ev *event.Event) bool { return ev.Route == "/products" || ev.Route == "/orders/{id}" }},
		{"order-not-linked-0", `{"and":[{"field":"route","op":"eq","value":"/orders"},{"field":"method","op":"eq","value":"POST"},{"not":{"field":"company_id","op":"eq","value":"linked-0"}}]}`,
			func(k *knownEnv, ev *event.Event) bool {
				return ev.Route == "/orders" && ev.Method == "POST" && k.company(ev) != "linked-0"
			}},
	}
	r := query.Range{From: k.f.start.Add(3*time.Hour + 11*time.Minute), To: k.f.start.Add(66*time.Hour + 5*time.Minute)}
	company, _ := query.ParseField("company_id")
	plan, _ := query.ParseField("user_metadata.plan")
	for _, window := range []time.Duration{90 * time.Minute, 30 * time.Hour} {
		for _, split := range []*query.Field{&company, &plan} {
			byUser := map[string][]*event.Event{}
			for i := range k.f.events {
				ev := &k.f.events[i]
				if ev.UserID != "" && !ev.Time.Before(r.From) && ev.Time.Before(r.To) {
					byUser[ev.UserID] = append(byUser[ev.UserID], ev)
				}
			}
			type path struct {
				group string
				times []time.Time
			}
			var paths []path
			for u, evs := range byUser {
				sort.Slice(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
				var p path
				for _, ev := range evs {
					if steps[0].pred(k, ev) {
						p.times = []time.Time{ev.Time}
						p.group = k.company(ev)
						if split == &plan {
							p.group = k.plan(u)
						}
						break
					}
				}
				if p.times == nil {
					continue
				}
				for s := 1; s < len(steps); s++ {
					found := false
					for _, ev := range evs {
						if ev.Time.After(p.times[s-1]) && ev.Time.Sub(p.times[0]) <= window && steps[s].pred(k, ev) {
							p.times = append(p.times, ev.Time)
							found = true
							break
						}
					}
					if !found {
						break
					}
				}
				paths = append(paths, p)
			}
			spec := query.FunnelSpec{AppID: k.f.app, Range: r, Window: window, SplitBy: split}
			for _, s := range steps {
				spec.Steps = append(spec.Steps, query.FunnelStep{Name: s.name, Filter: mustFilter(t, s.json)})
			}
			for ename, e := range k.engines {
				got, err := e.Funnel(ctx, spec)
				if err != nil {
					t.Fatal(err)
				}
				check := func(name string, gotSteps []query.FunnelStepResult, ps []path) {
					for s := range steps {
						var users int64
						var d []float64
						for _, p := range ps {
							if len(p.times) > s {
								users++
								if s > 0 {
									d = append(d, p.times[s].Sub(p.times[s-1]).Seconds())
								}
							}
						}
						var median *float64
						if len(d) > 0 {
							sort.Float64s(d)
							median = &d[(len(d)+1)/2-1]
						}
						if g := gotSteps[s]; g.Users != users || !close("x", g.MedianSecondsFromPrv, median) {
							t.Errorf("%s/%v/%s/%s step %d: users %d median %s, want %d %s", ename, window, split.Name, name, s, g.Users,
								fmtv(g.MedianSecondsFromPrv), users, fmtv(median))
						}
					}
				}
				check("all", got.Steps, paths)
				if got.Steps[len(steps)-1].Users == 0 {
					t.Fatalf("no conversions: the case proves nothing")
				}
				groups := map[string][]path{}
				for _, p := range paths {
					groups[p.group] = append(groups[p.group], p)
				}
				if len(got.Splits) != len(groups) {
					t.Errorf("%s: %d splits, want %d", ename, len(got.Splits), len(groups))
				}
				for _, sp := range got.Splits {
					check("group "+deref(sp.Group), sp.Steps, groups[stringOr(sp.Group)])
				}
			}
		}
	}
}

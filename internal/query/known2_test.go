package query_test

import (
	"context"
	"errors"
	"maps"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query"
	"github.com/gatescope/gatescope/internal/store"
)

// TestKnownFunnel computes each user's path through the steps with plain
// loops (first step-1 event, then the first later event of each next step
// within the window) and compares the step counts, conversions and
// median times, overall and split by company.
func TestKnownFunnel(t *testing.T) {
	k := newKnownEnv(t)
	ctx := context.Background()
	steps := []filterCase{
		{"signup", `{"and":[{"field":"method","op":"eq","value":"POST"},{"field":"route","op":"eq","value":"/signup"}]}`,
			func(_ *knownEnv, ev *event.Event) bool { return ev.Method == "POST" && ev.Route == "/signup" }},
		{"browse", `{"field":"route","op":"eq","value":"/products"}`,
			func(_ *knownEnv, ev *event.Event) bool { return ev.Route == "/products" }},
		{"order", `{"and":[{"field":"method","op":"eq","value":"POST"},{"field":"route","op":"eq","value":"/orders"},{"field":"status","op":"class","value":"2xx"}]}`,
			func(_ *knownEnv, ev *event.Event) bool {
				return ev.Method == "POST" && ev.Route == "/orders" && ev.Status >= 200 && ev.Status < 300
			}},
	}
	r := query.Range{From: k.f.start.Add(3 * time.Hour), To: k.f.start.Add(60 * time.Hour)}
	window := 2 * time.Hour
	byUser := map[string][]*event.Event{}
	for i := range k.f.events {
		ev := &k.f.events[i]
		if ev.UserID != "" && !ev.Time.Before(r.From) && ev.Time.Before(r.To) {
			byUser[ev.UserID] = append(byUser[ev.UserID], ev)
		}
	}
	type path struct {
		company string
		times   []time.Time
	}
	var paths []path
	for _, evs := range byUser {
		sort.Slice(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
		var p path
		for _, ev := range evs {
			if steps[0].pred(k, ev) {
				p.times = []time.Time{ev.Time}
				p.company = k.company(ev)
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
	expect := func(ps []path) (users []int64, medians []*float64) {
		users = make([]int64, len(steps))
		medians = make([]*float64, len(steps))
		for s := range steps {
			var d []float64
			for _, p := range ps {
				if len(p.times) > s {
					users[s]++
					if s > 0 {
						d = append(d, p.times[s].Sub(p.times[s-1]).Seconds())
					}
				}
			}
			if len(d) > 0 {
				sort.Float64s(d)
				m := d[(len(d)+1)/2-1]
				medians[s] = &m
			}
		}
		return
	}
	var spec query.FunnelSpec
	spec = query.FunnelSpec{AppID: k.f.app, Range: r, Window: window}
	for _, s := range steps {
		spec.Steps = append(spec.Steps, query.FunnelStep{Name: s.name, Filter: mustFilter(t, s.json)})
	}
	company, _ := query.ParseField("company_id")
	spec.SplitBy = &company
	check := func(name string, gotSteps []query.FunnelStepResult, ps []path) {
		users, medians := expect(ps)
		if users[len(users)-1] == 0 && strings.HasSuffix(name, "all") {
			t.Fatalf("the fixture gives no conversions; the test would prove nothing")
		}
		for s := range steps {
			g := gotSteps[s]
			if g.Users != users[s] || !close("x", g.MedianSecondsFromPrv, medians[s]) {
				t.Errorf("%s step %d: users %d median %s, want %d %s", name, s, g.Users, fmtv(g.MedianSecondsFromPrv), users[s], fmtv(medians[s]))
			}
			if s > 0 && users[s-1] > 0 {
				if w := float64(users[s]) / float64(users[s-1]); g.ConversionFromPrev == nil || math.Abs(*g.ConversionFromPrev-w) > 1e-12 {
					t.Errorf("%s step %d: conversion %s, want %v", name, s, fmtv(g.ConversionFromPrev), w)
				}
				if w := float64(users[s]) / float64(users[0]); g.ConversionFromFirst == nil || math.Abs(*g.ConversionFromFirst-w) > 1e-12 {
					t.Errorf("%s step %d: conversion from first %s, want %v", name, s, fmtv(g.ConversionFromFirst), w)
				}
			}
		}
	}
	byCompany := map[string][]path{}
	for _, p := range paths {
		byCompany[p.company] = append(byCompany[p.company], p)
	}
	for ename, e := range k.engines {
		got, err := e.Funnel(ctx, spec)
		if err != nil {
			t.Fatalf("%s: %v", ename, err)
		}
		check(ename+" all", got.Steps, paths)
		if len(got.Splits) != len(byCompany) {
			t.Fatalf("%s: %d splits, want %d", ename, len(got.Splits), len(byCompany))
		}
		for _, sp := range got.Splits {
			check(ename+" company "+deref(sp.Group), sp.Steps, byCompany[stringOr(sp.Group)])
		}
	}
}

func stringOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestKnownRetention builds the cohort grid with plain loops: each user's
// first matching event, the day cohorts starting in the range, and the
// days with a returning event.
func TestKnownRetention(t *testing.T) {
	k := newKnownEnv(t)
	ctx := context.Background()
	r := query.Range{From: k.f.start.Add(7 * time.Hour), To: k.f.start.Add(71*time.Hour + 30*time.Minute)}
	cases := []struct{ first, returning filterCase }{
		{filterCases[0], filterCases[2]},
		{filterCases[7], filterCases[0]},
		{filterCases[1], filterCases[3]},
	}
	for _, c := range cases {
		firstAt := map[string]time.Time{}
		for i := range k.f.events {
			ev := &k.f.events[i]
			if ev.UserID == "" || !ev.Time.Before(r.To) || !c.first.pred(k, ev) {
				continue
			}
			if t0, ok := firstAt[ev.UserID]; !ok || ev.Time.Before(t0) {
				firstAt[ev.UserID] = ev.Time
			}
		}
		day := func(t time.Time) time.Time { return t.Truncate(24 * time.Hour) }
		size := map[time.Time]int64{}
		back := map[time.Time]map[int]map[string]bool{}
		for _, t0 := range firstAt {
			if t0.Before(r.From) {
				continue
			}
			size[day(t0)]++
		}
		for i := range k.f.events {
			ev := &k.f.events[i]
			t0, ok := firstAt[ev.UserID]
			if !ok || t0.Before(r.From) || !ev.Time.Before(r.To) || ev.Time.Before(t0) || !c.returning.pred(k, ev) {
				continue
			}
			cohort := day(t0)
			period := int(day(ev.Time).Sub(cohort) / (24 * time.Hour))
			if back[cohort] == nil {
				back[cohort] = map[int]map[string]bool{}
			}
			if back[cohort][period] == nil {
				back[cohort][period] = map[string]bool{}
			}
			back[cohort][period][ev.UserID] = true
		}
		for ename, e := range k.engines {
			got, err := e.Retention(ctx, query.RetentionSpec{AppID: k.f.app, Range: r, First: mustFilter(t, c.first.json),
				Returning: mustFilter(t, c.returning.json), Period: "day"})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Cohorts) != 3 {
				t.Fatalf("%d cohorts, want 3", len(got.Cohorts))
			}
			total := int64(0)
			for _, co := range got.Cohorts {
				total += co.Users
				if co.Users != size[co.Start] {
					t.Errorf("%s %s/%s: cohort %s has %d users, want %d", ename, c.first.name, c.returning.name, co.Start, co.Users, size[co.Start])
				}
				wantPeriods := int(day(r.To.Add(-time.Microsecond)).Sub(co.Start)/(24*time.Hour)) + 1
				if len(co.Retained) != wantPeriods {
					t.Errorf("cohort %s: %d periods, want %d", co.Start, len(co.Retained), wantPeriods)
				}
				for _, cell := range co.Retained {
					want := int64(len(back[co.Start][cell.Period]))
					if cell.Users != want {
						t.Errorf("%s %s/%s: cohort %s period %d: %d users, want %d", ename, c.first.name, c.returning.name, co.Start, cell.Period, cell.Users, want)
					}
					if co.Users > 0 && math.Abs(cell.Rate-float64(want)/float64(co.Users)) > 1e-12 {
						t.Errorf("cohort %s period %d: rate %v", co.Start, cell.Period, cell.Rate)
					}
				}
			}
			if total == 0 {
				t.Errorf("%s/%s: empty grid proves nothing", c.first.name, c.returning.name)
			}
		}
	}
}

// TestKnownUsersAndEvents checks the users and companies lists' figures
// and order, and that paging the event log with a filter yields exactly
// the matching events, newest first.
func TestKnownUsersAndEvents(t *testing.T) {
	k := newKnownEnv(t)
	ctx := context.Background()
	r := query.Range{From: k.f.start.Add(2*time.Hour + 30*time.Minute), To: k.f.start.Add(40 * time.Hour)}
	users := map[string]*figures{}
	companies := map[string]*figures{}
	for i := range k.f.events {
		ev := &k.f.events[i]
		if ev.Time.Before(r.From) || !ev.Time.Before(r.To) {
			continue
		}
		if ev.UserID != "" {
			if users[ev.UserID] == nil {
				users[ev.UserID] = newFigures()
			}
			users[ev.UserID].add(ev, "")
		}
		if c := k.company(ev); c != "" {
			if companies[c] == nil {
				companies[c] = newFigures()
			}
			companies[c].add(ev, c)
		}
	}
	for ename, e := range k.engines {
		companies := maps.Clone(companies)
		list, total, err := e.Users(ctx, query.ListSpec{AppID: k.f.app, Range: r, Sort: "requests", Desc: true, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if total != 40 || len(list) != 40 {
			t.Fatalf("%s: %d users (total %d), want 40", ename, len(list), total)
		}
		for i, u := range list {
			f := users[u.UserID]
			if f == nil {
				f = newFigures()
			}
			if float64(u.Requests) != f.count || float64(u.Errors4xx) != f.e4 || float64(u.Errors5xx) != f.e5 ||
				!close("error_rate", u.ErrorRate, f.metric("error_rate")) || !close("latency_p95", u.LatencyP95, f.metric("latency_p95")) {
				t.Errorf("%s: user %s: %+v, want %v requests %v/%v errors p95 %s", ename, u.UserID, u.Stats, f.count, f.e4, f.e5, fmtv(f.metric("latency_p95")))
			}
			if i > 0 && (list[i-1].Requests < u.Requests || list[i-1].Requests == u.Requests && list[i-1].UserID > u.UserID) {
				t.Errorf("%s: users not sorted by requests then id at %d", ename, i)
			}
		}
		clist, _, err := e.Companies(ctx, query.ListSpec{AppID: k.f.app, Range: r, Sort: "company_id", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range clist {
			f := companies[c.CompanyID]
			if f == nil {
				f = newFigures()
			}
			if float64(c.Requests) != f.count || !close("latency_p95", c.LatencyP95, f.metric("latency_p95")) {
				t.Errorf("%s: company %s: %d requests p95 %s, want %v %s", ename, c.CompanyID, c.Requests, fmtv(c.LatencyP95), f.count, fmtv(f.metric("latency_p95")))
			}
			delete(companies, c.CompanyID)
		}
		if len(companies) > 0 {
			t.Errorf("companies missing from the list: %v", companies)
		}
		// Sorted by p95, the list holds the same companies and p95s, in
		// their order; on DuckDB every company's p95 is computed grouped
		// by the hashes of the ids (the anonymous calls' NULL company
		// included), which map back to the ids.
		byP95, _, err := e.Companies(ctx, query.ListSpec{AppID: k.f.app, Range: r, Sort: "latency_p95", Desc: true, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(byP95) != len(clist) {
			t.Errorf("%s: %d companies sorted by p95, %d by id", ename, len(byP95), len(clist))
		}
		p95 := map[string]*float64{}
		for _, c := range clist {
			p95[c.CompanyID] = c.LatencyP95
		}
		for i, c := range byP95 {
			if want, ok := p95[c.CompanyID]; !ok || fmtv(want) != fmtv(c.LatencyP95) {
				t.Errorf("%s: company %s sorted by p95: p95 %s, want %s", ename, c.CompanyID, fmtv(c.LatencyP95), fmtv(want))
			}
			if i > 0 && !sortedDesc(byP95[i-1].LatencyP95, byP95[i-1].CompanyID, c.LatencyP95, c.CompanyID) {
				t.Errorf("%s: companies not sorted by p95 then id at %d", ename, i)
			}
		}
		if !strings.HasPrefix(ename, "clickhouse") {
			if ok, err := e.CompanyKeysMapBack(ctx, k.f.app, r); err != nil || !ok {
				t.Errorf("%s: the companies' hashed keys map back: %v (%v)", ename, ok, err)
			}
		}
	}
	// The event log, 5xx only, in pages of 37.
	var want []*event.Event
	for i := range k.f.events {
		ev := &k.f.events[i]
		if ev.Status >= 500 && ev.Status <= 599 && !ev.Time.Before(r.From) && ev.Time.Before(r.To) {
			want = append(want, ev)
		}
	}
	sort.Slice(want, func(i, j int) bool {
		if !want[i].Time.Equal(want[j].Time) {
			return want[i].Time.After(want[j].Time)
		}
		return want[i].RequestID > want[j].RequestID
	})
	f := mustFilter(t, `{"field":"status","op":"class","value":"5xx"}`)
	for ename, eng := range k.engines {
		var got []query.Event
		cursor := ""
		for pages := 0; ; pages++ {
			page, next, err := eng.Events(ctx, k.f.app, r, f, query.Page{Limit: 37, Cursor: cursor})
			if err != nil {
				t.Fatalf("%s: %v", ename, err)
			}
			got = append(got, page...)
			if next == "" || pages > 1000 {
				break
			}
			cursor = next
		}
		if len(got) != len(want) {
			t.Fatalf("%s: paged %d events, want %d", ename, len(got), len(want))
		}
		for _, at := range []time.Time{{}, want[3].Time} {
			one, err := eng.Event(ctx, k.f.app, want[3].RequestID, at)
			if err != nil || one.RequestID != want[3].RequestID || !one.Time.Equal(want[3].Time) {
				t.Errorf("%s: event by id (time hint %v): %+v, %v", ename, at, one.RequestID, err)
			}
		}
		if _, err := eng.Event(ctx, k.f.app, want[3].RequestID, want[3].Time.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: event by id with a wrong time: %v, want not found", ename, err)
		}
		for i := range got {
			if got[i].RequestID != want[i].RequestID || *got[i].Status != int64(want[i].Status) || !got[i].Time.Equal(want[i].Time) {
				t.Fatalf("%s: event %d is %s at %s, want %s at %s", ename, i, got[i].RequestID, got[i].Time, want[i].RequestID, want[i].Time)
			}
			if got[i].RejectedAtGateway != rejected(want[i]) {
				t.Errorf("event %s: rejected_at_gateway %v", got[i].RequestID, got[i].RejectedAtGateway)
			}
			wantCompany := k.company(want[i])
			if (got[i].CompanyID == nil) != (wantCompany == "") || got[i].CompanyID != nil && *got[i].CompanyID != wantCompany {
				t.Errorf("event %s: company %v, want %q", got[i].RequestID, got[i].CompanyID, wantCompany)
			}
		}
	}
}

// sortedDesc reports whether (p, id) may come before (q, id2) in a list
// sorted by p95 descending: those without one last, ties by id.
func sortedDesc(p *float64, id string, q *float64, id2 string) bool {
	switch {
	case p == nil && q == nil, p != nil && q != nil && *p == *q:
		return id < id2
	case p == nil:
		return false
	case q == nil:
		return true
	}
	return *p > *q
}

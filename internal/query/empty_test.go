package query_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/query"
)

// TestNothingToCount asks every query of an app with no events, and of an
// app with events over a range holding none: each answers empty figures,
// never an error (an empty app is what a new user sees first).
func TestNothingToCount(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	f := newFixture("app1", 3000, 5)
	load(t, s, f.app, f.events, f.links, 1000)
	engines := duckEngines(t, s)
	for name, cs := range clickhouseStores(t) {
		load(t, cs, f.app, f.events, f.links, 1000)
		var err error
		if engines[name], err = query.NewEngine(cs); err != nil {
			t.Fatal(err)
		}
	}
	future := query.Range{From: time.Now().Add(24 * time.Hour).Truncate(time.Hour), To: time.Now().Add(48 * time.Hour).Truncate(time.Hour)}
	cases := []struct {
		name string
		app  string
		r    query.Range
	}{
		{"app without events", "app-none", query.Range{From: f.start.Add(-24 * time.Hour), To: f.start.Add(10 * 24 * time.Hour)}},
		{"range without events", f.app, future},
	}
	route, _ := query.ParseGroupField("route")
	for _, c := range cases {
		for ename, e := range engines {
			label := c.name + "/" + ename
			rows, err := e.Segmentation(ctx, query.SegSpec{AppID: c.app, Range: c.r, Metrics: query.Metrics})
			if err != nil {
				t.Fatalf("%s: segmentation: %v", label, err)
			}
			// An ungrouped segmentation over nothing has no row or one
			// whose count is zero.
			if len(rows) > 1 {
				t.Errorf("%s: %d ungrouped rows", label, len(rows))
			}
			for _, row := range rows {
				if v, _ := row["count"].(*float64); v != nil && *v != 0 {
					t.Errorf("%s: count %v over nothing", label, *v)
				}
			}
			rows, err = e.Segmentation(ctx, query.SegSpec{AppID: c.app, Range: c.r, GroupBy: []query.Field{route}, Metrics: query.Metrics, Limit: 10})
			if err != nil || len(rows) != 0 {
				t.Errorf("%s: grouped segmentation: %d rows, %v", label, len(rows), err)
			}
			iv, _ := query.ParseInterval("1h", c.r)
			for _, m := range []query.Metric{query.Count, query.LatencyP95, query.UniqueUsers} {
				ts, err := e.TimeSeries(ctx, query.SeriesSpec{AppID: c.app, Range: c.r, Metric: m, Interval: iv})
				if err != nil {
					t.Fatalf("%s: %s series: %v", label, m, err)
				}
				if len(ts.Series) != 1 || len(ts.Series[0].Points) == 0 {
					t.Errorf("%s: %s series: %d series, want one of empty buckets", label, m, len(ts.Series))
				}
				ts, err = e.TimeSeries(ctx, query.SeriesSpec{AppID: c.app, Range: c.r, Metric: m, Interval: iv, GroupBy: &route, Limit: 3})
				if err != nil {
					t.Fatalf("%s: %s grouped series: %v", label, m, err)
				}
				// Clients read "series" as a list: it must not be null.
				b, _ := json.Marshal(ts)
				var back struct{ Series []any }
				if json.Unmarshal(b, &back); back.Series == nil || len(back.Series) != 0 {
					t.Errorf("%s: %s grouped series over nothing is %s", label, m, b)
				}
			}
			// The lists hold every known user and company (an empty app
			// has none), each with no activity in the range.
			users, total, err := e.Users(ctx, query.ListSpec{AppID: c.app, Range: c.r, Sort: "requests", Desc: true, Limit: 10})
			if err != nil || (c.app == "app-none" && total != 0) {
				t.Errorf("%s: users %d (total %d), %v", label, len(users), total, err)
			}
			for _, u := range users {
				if u.Requests != 0 {
					t.Errorf("%s: user %s has %d requests", label, u.UserID, u.Requests)
				}
			}
			comps, total, err := e.Companies(ctx, query.ListSpec{AppID: c.app, Range: c.r, Sort: "requests", Desc: true, Limit: 10})
			if err != nil || (c.app == "app-none" && total != 0) {
				t.Errorf("%s: companies %d (total %d), %v", label, len(comps), total, err)
			}
			for _, co := range comps {
				if co.Requests != 0 {
					t.Errorf("%s: company %s has %d requests", label, co.CompanyID, co.Requests)
				}
			}
			fn, err := e.Funnel(ctx, query.FunnelSpec{AppID: c.app, Range: c.r, Window: 24 * time.Hour, Steps: []query.FunnelStep{
				{Name: "2xx", Filter: mustFilter(t, `{"field":"status","op":"class","value":"2xx"}`)}, {Name: "5xx", Filter: mustFilter(t, `{"field":"status","op":"class","value":"5xx"}`)}}})
			if err != nil {
				t.Fatalf("%s: funnel: %v", label, err)
			}
			for _, st := range fn.Steps {
				if st.Users != 0 {
					t.Errorf("%s: funnel step %s has %d users", label, st.Name, st.Users)
				}
			}
			ret, err := e.Retention(ctx, query.RetentionSpec{AppID: c.app, Range: c.r, Period: "day", Loc: time.UTC})
			if err != nil {
				t.Fatalf("%s: retention: %v", label, err)
			}
			for _, co := range ret.Cohorts {
				if co.Users != 0 {
					t.Errorf("%s: a cohort of %d users", label, co.Users)
				}
			}
			evs, _, err := e.Events(ctx, c.app, c.r, nil, query.Page{Limit: 10})
			if err != nil || len(evs) != 0 {
				t.Errorf("%s: events %d, %v", label, len(evs), err)
			}
		}
	}
}

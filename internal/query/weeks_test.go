package query_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query"
	"github.com/gatescope/gatescope/internal/query/rollup"
)

// TestKnownPercentilesOverWeeks checks the percentiles per company and per
// user over ranges of two weeks, which the engine reads from many daily
// and hourly rollup rows and raw events at the ends, against the events
// in Go. Each day's events have a latency of their own (1 ms on the first
// day, 51 on the second...), so a day read twice or not at all moves the
// percentiles by more than the histograms' tolerance.
func TestKnownPercentilesOverWeeks(t *testing.T) {
	f := newFixtureOver("app1", 12000, 11, 16*24*time.Hour) // Monday 2 March to 18 March
	for i := range f.events {
		if ev := &f.events[i]; ev.LatencyMs != event.Absent {
			ev.LatencyMs = float64(1 + 50*int(ev.Time.Sub(f.start)/(24*time.Hour)))
		}
	}
	t.Run("from a Monday", func(t *testing.T) {
		checkPercentilesOverWeeks(t, f, []query.Range{
			{From: f.start, To: f.start.Add(15*24*time.Hour + 20*time.Hour + 10*time.Minute)},
			{From: f.start.Add(5*time.Hour + 30*time.Minute), To: f.start.Add(15*24*time.Hour + 3*time.Hour)},
			{To: f.start.Add(9 * 24 * time.Hour)}, // unbounded start
		})
	})
	// Data from a Wednesday: a range from before it reads the week of its
	// first day whole from the weekly rollup.
	g := *f
	g.events = nil
	wednesday := f.start.Add(2 * 24 * time.Hour)
	for _, ev := range f.events {
		if !ev.Time.Before(wednesday) {
			g.events = append(g.events, ev)
		}
	}
	t.Run("from a Wednesday", func(t *testing.T) {
		checkPercentilesOverWeeks(t, &g, []query.Range{
			{From: f.start, To: f.start.Add(15*24*time.Hour + 20*time.Hour + 10*time.Minute)},
			{To: f.start.Add(14 * 24 * time.Hour)},
			{From: wednesday.Add(3 * time.Hour), To: f.start.Add(15 * 24 * time.Hour)}, // after the data's start
		})
	})
}

// checkPercentilesOverWeeks loads f and checks its percentiles over the
// ranges.
func checkPercentilesOverWeeks(t *testing.T, f *fixture, ranges []query.Range) {
	ctx := context.Background()
	s := openStore(t)
	load(t, s, f.app, f.events, f.links, 1500)
	engines := duckEngines(t, s)
	company := func(ev *event.Event) string {
		if ev.CompanyID != "" {
			return ev.CompanyID
		}
		return f.linked[ev.UserID]
	}
	companyField, _ := query.ParseField("company_id")
	for ri, r := range ranges {
		byCompany, byUser := map[string]*figures{}, map[string]*figures{}
		for i := range f.events {
			ev := &f.events[i]
			if ev.Time.Before(r.From) || !ev.Time.Before(r.To) {
				continue
			}
			for m, key := range map[*map[string]*figures]string{&byCompany: company(ev), &byUser: ev.UserID} {
				if key == "" {
					continue
				}
				if (*m)[key] == nil {
					(*m)[key] = newFigures()
				}
				(*m)[key].add(ev, company(ev))
			}
		}
		if len(byCompany) < 5 || len(byUser) < 20 {
			t.Fatalf("range %d: only %d companies and %d users", ri, len(byCompany), len(byUser))
		}
		userBuckets := map[string]*float64{} // each user's p95 as its bucket's value
		for id, fg := range byUser {
			if p := fg.metric("latency_p95"); p != nil {
				v := rollup.Value(rollup.Bucket(*p))
				userBuckets[id] = &v
			} else {
				userBuckets[id] = nil
			}
		}
		for ename, e := range engines {
			name := fmt.Sprintf("range %d/%s", ri, ename)
			rows, err := e.Segmentation(ctx, query.SegSpec{AppID: f.app, Range: r, GroupBy: []query.Field{companyField},
				Metrics: []query.Metric{query.Count, query.LatencyP50, query.LatencyP95, query.LatencyP99}, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			seen := 0
			for _, row := range rows {
				v := row["company_id"]
				if v == nil {
					continue
				}
				key := fmt.Sprint(v)
				want := byCompany[key]
				if want == nil {
					t.Errorf("%s: segmentation row for unknown company %q", name, key)
					continue
				}
				seen++
				for _, m := range []string{"count", "latency_p50", "latency_p95", "latency_p99"} {
					if got, _ := row[m].(*float64); !close(m, got, want.metric(m)) {
						t.Errorf("%s: company %q %s = %s, want %s", name, key, m, fmtv(got), fmtv(want.metric(m)))
					}
				}
			}
			if seen != len(byCompany) {
				t.Errorf("%s: %d companies in the segmentation, want %d", name, seen, len(byCompany))
			}
			// The lists' p95: each entry's against its events'.
			p95s := map[string]*float64{}
			companies, _, err := e.Companies(ctx, query.ListSpec{AppID: f.app, Range: r, Limit: 100})
			for _, c := range companies {
				p95s["company "+c.CompanyID] = c.LatencyP95
			}
			users, _, err2 := e.Users(ctx, query.ListSpec{AppID: f.app, Range: r, Limit: 100})
			for _, u := range users {
				p95s["user "+u.UserID] = u.LatencyP95
			}
			if err != nil || err2 != nil || len(companies) == 0 || len(users) == 0 {
				t.Fatalf("%s: lists: %v, %v", name, err, err2)
			}
			for key, got := range p95s {
				kind, id, _ := strings.Cut(key, " ")
				want := map[string]map[string]*figures{"company": byCompany, "user": byUser}[kind][id]
				if want != nil && !close("latency_p95", got, want.metric("latency_p95")) {
					t.Errorf("%s: %s p95 in its list = %s, want %s", name, key, fmtv(got), fmtv(want.metric("latency_p95")))
				}
			}
			// The users sorted by p95, and ranked by it in a segmentation,
			// whose first pass reads the weekly rows' bands (bandcols.go):
			// the first ten in order, against their p95s' buckets.
			for _, desc := range []bool{true, false} {
				want := sortedByP95(userBuckets, desc)[:10]
				got, p95s, _ := usersPage(t, e, query.ListSpec{Range: r, Desc: desc, Limit: 10})
				if err := samePage(got, p95s, want, userBuckets); err != nil {
					t.Errorf("%s desc=%v: users sorted by p95: %v", name, desc, err)
				}
				got, p95s = segByP95(t, e, r, desc, 10)
				if err := samePage(got, p95s, want, userBuckets); err != nil {
					t.Errorf("%s desc=%v: segmentation by user sorted by p95: %v", name, desc, err)
				}
			}
		}
	}
}

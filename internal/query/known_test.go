package query_test

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query"
)

// knownEnv is a store holding a fixture, and engines over it with and
// without rollups, plus engines over the same fixture in ClickHouse (one
// server and a two-shard cluster) when its servers are up: all must give
// the known answers.
type knownEnv struct {
	f       *fixture
	engines map[string]*query.Engine
}

func newKnownEnv(t *testing.T) *knownEnv {
	s := openStore(t)
	f := newFixture("app1", 20000, 42)
	// A second app's events must never leak into app1's answers.
	other := newFixture("app2", 2000, 9)
	load(t, s, f.app, f.events, f.links, 3000)
	load(t, s, other.app, other.events, other.links, 2000)
	engines := duckEngines(t, s)
	for name, cs := range clickhouseStores(t) {
		load(t, cs, f.app, f.events, f.links, 3000)
		load(t, cs, other.app, other.events, other.links, 2000)
		var err error
		if engines[name], err = query.NewEngine(cs); err != nil {
			t.Fatal(err)
		}
	}
	return &knownEnv{f: f, engines: engines}
}

func (k *knownEnv) company(ev *event.Event) string {
	if ev.CompanyID != "" {
		return ev.CompanyID
	}
	return k.f.linked[ev.UserID]
}

// filterCase is a JSON filter and the same condition in Go.
type filterCase struct {
	name string
	json string
	pred func(k *knownEnv, ev *event.Event) bool
}

var filterCases = []filterCase{
	{"none", "", func(*knownEnv, *event.Event) bool { return true }},
	{"status-5xx", `{"field":"status","op":"class","value":"5xx"}`,
		func(_ *knownEnv, ev *event.Event) bool { return ev.Status >= 500 && ev.Status <= 599 }},
	{"route-in-and-method", `{"and":[{"field":"route","op":"in","values":["/orders","/orders/{id}"]},{"field":"method","op":"eq","value":"GET"}]}`,
		func(_ *knownEnv, ev *event.Event) bool {
			return (ev.Route == "/orders" || ev.Route == "/orders/{id}") && ev.Method == "GET"
		}},
	{"company-resolved", `{"field":"company_id","op":"prefix","value":"linked-"}`,
		func(k *knownEnv, ev *event.Event) bool { return strings.HasPrefix(k.company(ev), "linked-") }},
	{"user-or-rejected", `{"or":[{"field":"user_id","op":"eq","value":"u07"},{"field":"rejected_at_gateway","op":"eq","value":true}]}`,
		func(_ *knownEnv, ev *event.Event) bool { return ev.UserID == "u07" || rejected(ev) }},
	{"not-metadata", `{"not":{"field":"metadata.tier","op":"eq","value":"gold"}}`,
		func(_ *knownEnv, ev *event.Event) bool {
			return !strings.Contains(string(ev.Metadata), `"tier":"gold"`)
		}},
	{"latency-range-no-user", `{"and":[{"field":"latency_ms","op":"between","values":[50,200]},{"field":"user_id","op":"exists","value":false}]}`,
		func(_ *knownEnv, ev *event.Event) bool {
			return ev.LatencyMs != event.Absent && ev.LatencyMs >= 50 && ev.LatencyMs <= 200 && ev.UserID == ""
		}},
	{"user-metadata", `{"field":"user_metadata.plan","op":"eq","value":"pro"}`,
		func(k *knownEnv, ev *event.Event) bool { return k.plan(ev.UserID) == "pro" }},
}

func (k *knownEnv) plan(user string) string {
	for _, l := range k.f.links {
		if l.UserID == user {
			return map[bool]string{true: "pro", false: "free"}[strings.Contains(string(l.Metadata), "pro")]
		}
	}
	return ""
}

func mustFilter(t *testing.T, s string) *query.Filter {
	f, err := query.ParseFilter([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func fmtv(v *float64) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprint(*v)
}

// TestKnownTimeSeries compares every metric's buckets, for every filter,
// over a range whose ends fall inside hours (so rollups and raw edges
// combine), and with calendar days in a zone with daylight saving.
func TestKnownTimeSeries(t *testing.T) {
	k := newKnownEnv(t)
	ctx := context.Background()
	ny, _ := time.LoadLocation("America/New_York")
	cases := []struct {
		name     string
		r        query.Range
		interval string
		loc      *time.Location
	}{
		{"hourly-unaligned", query.Range{From: k.f.start.Add(37*time.Minute + 12*time.Second), To: k.f.start.Add(50*time.Hour + 13*time.Minute)}, "1h", time.UTC},
		{"15m-raw", query.Range{From: k.f.start.Add(5 * time.Hour), To: k.f.start.Add(9*time.Hour + 7*time.Minute)}, "15m", time.UTC},
		{"days-new-york", query.Range{From: k.f.start.Add(-24 * time.Hour), To: k.f.start.Add(96 * time.Hour)}, "1d", ny},
	}
	for _, c := range cases {
		iv, err := query.ParseInterval(c.interval, c.r)
		if err != nil {
			t.Fatal(err)
		}
		for _, fc := range filterCases {
			// Expected buckets.
			want := map[time.Time]*figures{}
			for i := range k.f.events {
				ev := &k.f.events[i]
				if ev.Time.Before(c.r.From) || !ev.Time.Before(c.r.To) || !fc.pred(k, ev) {
					continue
				}
				b := bucketOf(ev.Time, iv.D, c.loc, iv.Calendar)
				if want[b] == nil {
					want[b] = newFigures()
				}
				want[b].add(ev, k.company(ev))
			}
			for ename, e := range k.engines {
				for _, m := range query.Metrics {
					ts, err := e.TimeSeries(ctx, query.SeriesSpec{AppID: k.f.app, Range: c.r, Metric: m, Interval: iv, Loc: c.loc, Filter: mustFilter(t, fc.json)})
					if err != nil {
						t.Fatalf("%s/%s/%s/%s: %v", c.name, fc.name, ename, m, err)
					}
					if len(ts.Series) != 1 {
						t.Fatalf("%d series", len(ts.Series))
					}
					seen := 0
					for _, p := range ts.Series[0].Points {
						f := want[p.T]
						if f == nil {
							f = newFigures()
						} else {
							seen++
						}
						if w := f.metric(string(m)); !close(string(m), p.V, w) {
							t.Errorf("%s/%s/%s: %s at %s = %s, want %s", c.name, fc.name, ename, m, p.T, fmtv(p.V), fmtv(w))
						}
					}
					if seen != len(want) {
						t.Errorf("%s/%s/%s/%s: %d buckets have events, the series shows %d of them", c.name, fc.name, ename, m, len(want), seen)
					}
				}
			}
		}
	}
}

// TestKnownGroups checks grouped time series (top N and "other") and
// segmentation rows against groups computed in Go.
func TestKnownGroups(t *testing.T) {
	k := newKnownEnv(t)
	ctx := context.Background()
	r := query.Range{From: k.f.start.Add(90 * time.Minute), To: k.f.start.Add(70*time.Hour + 30*time.Minute)}
	groupOf := map[string]func(ev *event.Event) *string{
		"route": func(ev *event.Event) *string { return strp(ev.Route) },
		"company_id": func(ev *event.Event) *string {
			return strp(k.company(ev))
		},
		"status": func(ev *event.Event) *string {
			if ev.Status == event.Absent {
				return nil
			}
			s := fmt.Sprint(ev.Status)
			return &s
		},
		"user_id": func(ev *event.Event) *string { return strp(ev.UserID) },
	}
	for gname, gf := range groupOf {
		for _, fc := range []filterCase{filterCases[0], filterCases[1], filterCases[3]} {
			groups := map[string]*figures{}
			for i := range k.f.events {
				ev := &k.f.events[i]
				if ev.Time.Before(r.From) || !ev.Time.Before(r.To) || !fc.pred(k, ev) {
					continue
				}
				key := "\x00null"
				if g := gf(ev); g != nil {
					key = *g
				}
				if groups[key] == nil {
					groups[key] = newFigures()
				}
				groups[key].add(ev, k.company(ev))
			}
			field, _ := query.ParseGroupField(gname)
			for ename, e := range k.engines {
				for _, m := range []query.Metric{query.Count, query.UniqueUsers, query.ErrorRate, query.LatencyP95, query.Rejected} {
					// Segmentation: every group, sorted by the metric.
					rows, err := e.Segmentation(ctx, query.SegSpec{AppID: k.f.app, Range: r, Filter: mustFilter(t, fc.json),
						GroupBy: []query.Field{field}, Metrics: query.Metrics, Sort: string(m), Desc: true, Limit: 1000})
					if err != nil {
						t.Fatalf("%s/%s/%s: %v", gname, ename, m, err)
					}
					if len(rows) != len(groups) {
						t.Errorf("%s/%s/%s/%s: %d rows, want %d", gname, fc.name, ename, m, len(rows), len(groups))
					}
					var prev *float64
					for i, row := range rows {
						key := "\x00null"
						if v := row[gname]; v != nil {
							key = fmt.Sprint(v)
						}
						f := groups[key]
						if f == nil {
							t.Errorf("%s: row for unknown group %q", gname, key)
							continue
						}
						sameFigures(t, fmt.Sprintf("%s/%s/%s: group %q", gname, fc.name, ename, key), row, f)
						cur, _ := row[string(m)].(*float64)
						if i > 0 && prev != nil && cur != nil && *cur > *prev+1e-9 {
							t.Errorf("%s/%s: rows not sorted by %s desc", gname, ename, m)
						}
						prev = cur
					}
					// Time series: the top 3 by the metric, and other.
					iv, _ := query.ParseInterval("1h", r)
					ts, err := e.TimeSeries(ctx, query.SeriesSpec{AppID: k.f.app, Range: r, Metric: m, Interval: iv, GroupBy: &field, Limit: 3, Filter: mustFilter(t, fc.json)})
					if err != nil {
						t.Fatal(err)
					}
					checkTop(t, k, r, ts, gf, fc, m, groups, gname+"/"+ename)
				}
			}
		}
	}
}

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// checkTop verifies a grouped series: the groups are the top 3 by the
// metric over the range, and every bucket of each (and of "other") holds
// the metric over exactly its events.
func checkTop(t *testing.T, k *knownEnv, r query.Range, ts *query.TimeSeries, gf func(*event.Event) *string, fc filterCase, m query.Metric, groups map[string]*figures, name string) {
	t.Helper()
	type ranked struct {
		key string
		v   *float64
	}
	var rank []ranked
	for key, f := range groups {
		rank = append(rank, ranked{key, f.metric(string(m))})
	}
	// Ranking ties are broken by the group value; compare values only.
	sort.Slice(rank, func(i, j int) bool {
		a, b := rank[i].v, rank[j].v
		if (a == nil) != (b == nil) {
			return a != nil
		}
		if a != nil && *a != *b {
			return *a > *b
		}
		return rank[i].key < rank[j].key
	})
	wantSeries := min(3, len(rank))
	hasOther := len(rank) > 3
	if hasOther {
		wantSeries++
	}
	if len(ts.Series) != wantSeries {
		t.Fatalf("%s/%s: %d series, want %d", name, m, len(ts.Series), wantSeries)
	}
	top := map[string]bool{}
	for i, s := range ts.Series {
		if s.Other {
			continue
		}
		key := "\x00null"
		if s.Group != nil {
			key = *s.Group
		}
		top[key] = true
		got, want := groups[key].metric(string(m)), rank[i].v
		// Percentiles rank by histogram bucket: groups whose exact
		// values share a bucket (within 10%) may come in either order.
		if strings.HasPrefix(string(m), "latency_p") && got != nil && want != nil && math.Abs(*got-*want) <= 0.1**want {
			continue
		}
		if !close(string(m), got, want) {
			t.Errorf("%s/%s: series %d is %q (%s), want the %d-th ranked value %s", name, m, i, key, fmtv(got), i+1, fmtv(want))
		}
	}
	for _, s := range ts.Series {
		want := map[time.Time]*figures{}
		for i := range k.f.events {
			ev := &k.f.events[i]
			if ev.Time.Before(r.From) || !ev.Time.Before(r.To) || !fc.pred(k, ev) {
				continue
			}
			key := "\x00null"
			if g := gf(ev); g != nil {
				key = *g
			}
			mine := top[key] != s.Other && (s.Other || key == deref(s.Group))
			if !mine {
				continue
			}
			b := ev.Time.Truncate(time.Hour)
			if want[b] == nil {
				want[b] = newFigures()
			}
			want[b].add(ev, k.company(ev))
		}
		for _, p := range s.Points {
			f := want[p.T]
			if f == nil {
				f = newFigures()
			}
			if w := f.metric(string(m)); !close(string(m), p.V, w) {
				t.Errorf("%s/%s: series %s other=%v at %s = %s, want %s", name, m, deref(s.Group), s.Other, p.T, fmtv(p.V), fmtv(w))
			}
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "\x00null"
	}
	return *s
}

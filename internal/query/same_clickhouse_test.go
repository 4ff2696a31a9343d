package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/query"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/clickhouse/chtest"
)

// TestClickHouseSameAnswers asks DuckDB (with its rollups) and ClickHouse
// (one server and the two-shard cluster) the same questions over the same
// events, across what the known-answer tests leave out: every interval in
// zones with daylight saving and half-hour offsets, grouping by booleans,
// metadata and user metadata, cut rankings, list sorts and searches,
// profiles, funnels split by user metadata, weekly and monthly retention,
// metadata keys and the live tail. The answers must be the same, floats
// to 1e-9, profiles' first_seen to the second (ClickHouse keeps them in
// seconds) and their last_seen to the minute (DuckDB updates it a minute
// at a time). Percentiles are read from the same histogram on
// both, so they are equal, not merely close.
func TestClickHouseSameAnswers(t *testing.T) {
	if !chtest.Available() {
		chtest.Targets(t) // skips, or fails in CI
	}
	ctx := context.Background()
	f := newFixture("app1", 20000, 42)
	// Metadata of every JSON kind, and user metadata on more users.
	for i := range f.events {
		ev := &f.events[i]
		switch i % 7 {
		case 0:
			ev.Metadata = []byte(fmt.Sprintf(`{"n":%d,"flag":true,"s":"x\"y","tier":"%s"}`, i%13, []string{"gold", "silver"}[i%2]))
		case 1:
			ev.Metadata = []byte(`{"nested":{"k":1},"nothing":null,"tier":"bronze"}`)
		}
	}
	now := time.Now().UTC().Truncate(time.Millisecond) // events are stored to the millisecond
	recent := newFixture("recent", 300, 5)
	for i := range recent.events {
		recent.events[i].Time = now.Add(-time.Duration(i+1) * time.Minute)
		recent.events[i].Metadata = []byte(fmt.Sprintf(`{"k%d":1,"common":"v"}`, i%4))
	}
	stores := map[string]store.Store{"duckdb": openStore(t)}
	for name, s := range clickhouseStores(t) {
		stores[name] = s
	}
	engines := map[string]*query.Engine{}
	tails := map[string]*query.Tail{}
	for name, s := range stores {
		load(t, s, f.app, f.events, f.links, 4000)
		e, err := query.NewEngine(s)
		if err != nil {
			t.Fatal(err)
		}
		engines[name] = e
		tails[name] = e.NewTail(time.Second)
		load(t, s, recent.app, recent.events, recent.links, 1000)
	}
	ny, _ := time.LoadLocation("America/New_York")
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	field := func(name string) *query.Field {
		fd, err := query.ParseField(name)
		if err != nil {
			t.Fatal(err)
		}
		return &fd
	}
	filters := []string{"",
		`{"field":"metadata.n","op":"gt","value":6}`,
		`{"field":"metadata.flag","op":"eq","value":"true"}`,
		`{"field":"metadata.s","op":"eq","value":"x\"y"}`,
		`{"field":"metadata.nothing","op":"exists","value":false}`,
		`{"and":[{"field":"route","op":"contains","value":"order"},{"field":"status","op":"not_in","values":[200,404]}]}`,
		`{"or":[{"field":"user_metadata.plan","op":"ne","value":"free"},{"field":"company_id","op":"exists","value":true}]}`,
		`{"not":{"field":"rejected_at_gateway","op":"eq","value":false}}`,
		`{"field":"status_class","op":"in","values":["4xx","5xx"]}`,
	}
	type question struct {
		name string
		ask  func(e *query.Engine) (any, error)
	}
	var qs []question
	add := func(name string, ask func(e *query.Engine) (any, error)) { qs = append(qs, question{name, ask}) }
	start := f.start
	for _, c := range []struct {
		iv       string
		from, to time.Duration
	}{{"1m", 5*time.Hour + 17*time.Second, 6*time.Hour + 3*time.Minute}, {"5m", 13 * time.Hour, 20*time.Hour + 1},
		{"15m", 30*time.Hour + 7*time.Minute, 40 * time.Hour}, {"1h", -time.Hour, 75 * time.Hour},
		{"1d", -48 * time.Hour, 100 * time.Hour}, {"1w", -24 * 30 * time.Hour, 24 * 30 * time.Hour}} {
		r := query.Range{From: start.Add(c.from), To: start.Add(c.to)}
		iv, err := query.ParseInterval(c.iv, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, loc := range []*time.Location{time.UTC, ny, kolkata} {
			for fi, fs := range filters {
				for _, g := range []string{"", "status_class", "rejected_at_gateway", "metadata.tier", "user_metadata.plan"} {
					for _, m := range []query.Metric{query.Count, query.LatencyP90, query.UniqueCompanies, query.ErrorRate} {
						zoned := loc != time.UTC && (m == query.UniqueCompanies || m == query.ErrorRate)
						filtered := fi > 0 && (g == "metadata.tier" || g == "status_class" || loc != time.UTC || m == query.UniqueCompanies ||
							m == query.ErrorRate || c.iv == "1m" || c.iv == "5m" || c.iv == "1w")
						if zoned || filtered {
							continue // keep the matrix affordable
						}
						spec := query.SeriesSpec{AppID: f.app, Range: r, Metric: m, Interval: iv, Loc: loc, Filter: mustFilter(t, fs), Limit: 3}
						if g != "" {
							spec.GroupBy = field(g)
						}
						add(fmt.Sprintf("series/%s/%s/f%d/%s/%s", c.iv, loc, fi, g, m), func(e *query.Engine) (any, error) { return e.TimeSeries(ctx, spec) })
					}
				}
			}
		}
	}
	week := query.Range{From: start.Add(-time.Hour), To: start.Add(80 * time.Hour)}
	for fi, fs := range filters {
		for _, gs := range [][]string{{"method", "route"}, {"rejected_at_gateway"}, {"metadata.tier", "status"}, {"user_metadata.plan", "company_id"}} {
			var groups []query.Field
			for _, g := range gs {
				groups = append(groups, *field(g))
			}
			for _, sortBy := range []string{"-latency_p99", "-" + gs[0], "unique_users"} {
				key, desc, err := query.ParseSort(sortBy, query.Metrics, groups)
				if err != nil {
					t.Fatal(err)
				}
				spec := query.SegSpec{AppID: f.app, Range: week, Filter: mustFilter(t, fs), GroupBy: groups, Metrics: query.Metrics, Sort: key, Desc: desc, Limit: 4}
				add(fmt.Sprintf("segmentation/f%d/%v/%s", fi, gs, sortBy), func(e *query.Engine) (any, error) { return e.Segmentation(ctx, spec) })
			}
		}
	}
	// Not by last_seen: DuckDB moves a profile's last_seen by a minute or
	// more only (its lastSeenGrain), so the two orders may differ.
	for _, sortBy := range []string{"first_seen", "requests", "error_rate", "latency_p95", "user_id", "company_id"} {
		for _, order := range []string{"asc", "desc"} {
			for _, search := range []string{"", "U1", "pro", "linked-2"} {
				key, desc, err := query.ParseListSort(sortBy, order, false)
				if err != nil {
					t.Fatal(err)
				}
				spec := query.ListSpec{AppID: f.app, Range: week, Search: search, Sort: key, Desc: desc, Limit: 7, Offset: 2}
				add(fmt.Sprintf("users/%s/%s/%q", sortBy, order, search), func(e *query.Engine) (any, error) {
					list, n, err := e.Users(ctx, spec)
					return []any{list, n}, err
				})
			}
		}
	}
	add("users/of-company", func(e *query.Engine) (any, error) {
		list, n, err := e.Users(ctx, query.ListSpec{AppID: f.app, Range: week, CompanyID: "linked-1", Limit: 100})
		return []any{list, n}, err
	})
	for _, sortBy := range []string{"first_seen", "requests", "error_rate", "latency_p95", "company_id", "users"} {
		for _, search := range []string{"", "LOGGED", "linked"} {
			key, desc, err := query.ParseListSort(sortBy, "", true)
			if err != nil {
				t.Fatal(err)
			}
			spec := query.ListSpec{AppID: f.app, Range: week, Search: search, Sort: key, Desc: desc, Limit: 5, Offset: 1}
			add(fmt.Sprintf("companies/%s/%q", sortBy, search), func(e *query.Engine) (any, error) {
				list, n, err := e.Companies(ctx, spec)
				return []any{list, n}, err
			})
		}
	}
	daily, _ := query.ParseInterval("1d", week)
	add("profile/user", func(e *query.Engine) (any, error) {
		return e.UserProfile(ctx, query.ProfileSpec{AppID: f.app, ID: "u07", Range: week, Interval: daily})
	})
	add("profile/company", func(e *query.Engine) (any, error) {
		return e.CompanyProfile(ctx, query.ProfileSpec{AppID: f.app, ID: "linked-1", Range: week, Interval: daily})
	})
	steps := []query.FunnelStep{
		{Name: "any", Filter: mustFilter(t, `{"field":"status","op":"exists","value":true}`)},
		{Name: "browse", Filter: mustFilter(t, `{"field":"route","op":"eq","value":"/products"}`)},
		{Name: "order", Filter: mustFilter(t, `{"field":"route","op":"prefix","value":"/orders"}`)},
		{Name: "gold", Filter: mustFilter(t, `{"field":"metadata.tier","op":"eq","value":"gold"}`)},
	}
	for _, split := range []string{"", "user_metadata.plan", "company_id"} {
		spec := query.FunnelSpec{AppID: f.app, Range: week, Steps: steps, Window: 3 * time.Hour}
		if split != "" {
			spec.SplitBy = field(split)
		}
		add("funnel/"+split, func(e *query.Engine) (any, error) { return e.Funnel(ctx, spec) })
	}
	for _, c := range []struct {
		period string
		loc    *time.Location
	}{{"week", ny}, {"month", ny}, {"day", kolkata}} {
		spec := query.RetentionSpec{AppID: f.app, Range: query.Range{From: start.Add(-40 * 24 * time.Hour), To: start.Add(70 * time.Hour)},
			Period: c.period, Loc: c.loc, Returning: mustFilter(t, filters[1])}
		add("retention/"+c.period, func(e *query.Engine) (any, error) { return e.Retention(ctx, spec) })
	}
	for fi, fs := range filters {
		add(fmt.Sprintf("events/f%d", fi), func(e *query.Engine) (any, error) {
			evs, next, err := e.Events(ctx, f.app, week, mustFilter(t, fs), query.Page{Limit: 25})
			return []any{evs, next}, err
		})
	}
	add("metadata-keys", func(e *query.Engine) (any, error) { return e.MetadataKeys(ctx, recent.app) })

	answers := map[string]map[string]any{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, e := range engines {
		wg.Go(func() {
			mine := map[string]any{}
			defer func() {
				mu.Lock()
				answers[name] = mine
				mu.Unlock()
			}()
			for _, q := range qs {
				a, err := q.ask(e)
				if err != nil {
					t.Errorf("%s: %s: %v", name, q.name, err)
					return
				}
				mine[q.name] = normalizeJSON(t, a)
			}
			evs, err := e.Poll(ctx, tails[name], recent.app, nil, 1000)
			if err != nil {
				t.Errorf("%s: poll: %v", name, err)
				return
			}
			// The tail gives arrival order, which differs between stores
			// within a load; compare the set.
			sort.Slice(evs, func(i, j int) bool { return evs[i].RequestID < evs[j].RequestID })
			if len(evs) != len(recent.events) {
				t.Errorf("%s: the tail gave %d events, want %d", name, len(evs), len(recent.events))
			}
			mine["tail"] = normalizeJSON(t, evs)
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	differ := 0
	for name, got := range answers {
		if name == "duckdb" {
			continue
		}
		for q, want := range answers["duckdb"] {
			if path, ok := sameJSON(want, got[q], ""); !ok {
				differ++
				if differ <= 10 {
					w, _ := json.Marshal(want)
					g, _ := json.Marshal(got[q])
					t.Errorf("%s: %s differs at %s:\nduckdb     %.600s\nclickhouse %.600s", name, q, path, w, g)
				}
			}
		}
	}
	if differ > 0 {
		t.Errorf("%d answers differ", differ)
	}
	t.Logf("%d questions, asked %d engines", len(qs)+1, len(engines))
}

// normalizeJSON is a's JSON, decoded into generic values.
func normalizeJSON(t *testing.T, a any) any {
	b, err := json.Marshal(a)
	if err != nil {
		t.Error(err)
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Error(err)
	}
	return v
}

// sameJSON compares decoded JSON: numbers to 1e-9 (relative), a profile's
// first_seen to the second and last_seen to the minute; it returns where
// they differ.
func sameJSON(a, b any, path string) (string, bool) {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return path, false
		}
		for k, v := range x {
			if k == "first_seen" || k == "last_seen" {
				grain := time.Second
				if k == "last_seen" {
					grain = time.Minute
				}
				if !sameTime(v, y[k], grain) {
					return path + "." + k, false
				}
				continue
			}
			if p, ok := sameJSON(v, y[k], path+"."+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return path + fmt.Sprintf("[len %d]", len(x)), false
		}
		for i := range x {
			if p, ok := sameJSON(x[i], y[i], fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	case float64:
		y, ok := b.(float64)
		return path, ok && math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(x))
	}
	return path, a == b
}

// sameTime says a and b are times less than grain apart, or the same.
func sameTime(a, b any, grain time.Duration) bool {
	as, aok := a.(string)
	bs, bok := b.(string)
	if !aok || !bok {
		return a == b
	}
	ta, err1 := time.Parse(time.RFC3339Nano, as)
	tb, err2 := time.Parse(time.RFC3339Nano, bs)
	d := ta.Sub(tb)
	return err1 == nil && err2 == nil && d < grain && d > -grain
}

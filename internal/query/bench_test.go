package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query"
	"github.com/gatescope/gatescope/internal/simulate/traffic"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/duckdb"
)

// The dashboard benchmark's data set: GATESCOPE_QUERY_BENCH_EVENTS
// simulated events (default 10 million) over 30 days, kept in
// GATESCOPE_QUERY_BENCH_DIR between runs (default: a temporary directory,
// rebuilt each run).
const benchApp = "bench"

var benchEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func benchStore(b *testing.B) (*duckdb.Store, time.Time) {
	n := 10_000_000
	if s := os.Getenv("GATESCOPE_QUERY_BENCH_EVENTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	dir := os.Getenv("GATESCOPE_QUERY_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	} else {
		dir = filepath.Join(dir, fmt.Sprintf("events-%d", n))
	}
	marker := filepath.Join(dir, "complete")
	ctx := context.Background()
	cfg := duckdb.DefaultConfig(dir)
	cfg.Threads = 2
	cfg.MemoryLimit = "6GB"
	if _, err := os.Stat(marker); err != nil {
		os.RemoveAll(dir)
		cfg.NoSync = true
		cfg.FlushInterval = 10 * time.Second
		s, err := duckdb.Open(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		last := generate(b, s, n)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.Logf("loaded %d events in %v", n, time.Since(start).Round(time.Second))
		if err := os.WriteFile(marker, []byte(last.Format(time.RFC3339Nano)), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	raw, err := os.ReadFile(marker)
	if err != nil {
		b.Fatal(err)
	}
	last, err := time.Parse(time.RFC3339Nano, string(raw))
	if err != nil {
		b.Fatal(err)
	}
	cfg.NoSync = false
	s, err := duckdb.Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, last
}

// generate stores n simulated events (REST API, recommended format, 5000
// users of 400 companies, 30 days) and the users-API links; it returns
// the last event's time.
func generate(b *testing.B, s store.Store, n int) time.Time {
	ctx := context.Background()
	if err := s.CreateApp(ctx, store.App{ID: benchApp, Name: "bench", ApplicationID: "bench-key", Created: benchEnd}); err != nil {
		b.Fatal(err)
	}
	m, err := traffic.New(traffic.Config{Seed: 3, Users: 5000, Companies: 400, API: accesslog.REST,
		Start: benchEnd.AddDate(0, 0, -30), End: benchEnd, EventsPerUserDay: 130})
	if err != nil {
		b.Fatal(err)
	}
	var links []event.UserUpdate
	for _, l := range m.UserLinks() {
		meta, _ := json.Marshal(l.Metadata)
		links = append(links, event.UserUpdate{AppID: benchApp, UserID: l.UserID, CompanyID: l.CompanyID, Metadata: meta, Modified: l.Modified})
	}
	var p accesslog.Parser
	pctx := &accesslog.Context{AppID: benchApp, Source: event.SourceFirehose}
	batch := make([]event.Event, 0, 20000)
	var last time.Time
	for i := 0; i < n; i++ {
		e, ok := m.Next()
		if !ok {
			b.Fatalf("the model ended after %d events", i)
		}
		pctx.Received = e.Time
		var ev event.Event
		if err := p.Parse(e.Line, pctx, &ev); err != nil {
			b.Fatal(err)
		}
		last = ev.Time
		batch = append(batch, ev)
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := s.Append(ctx, &store.Batch{AppID: benchApp, Events: batch, Users: links}); err != nil {
				b.Fatal(err)
			}
			links = nil
			batch = batch[:0]
			if fl, ok := s.(store.Flusher); ok && ((i+1)%200_000 == 0 || i == n-1) {
				if err := fl.Flush(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	return last
}

// cpuTime is the user and system time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mustF(b *testing.B, s string) *query.Filter {
	f, err := query.ParseFilter([]byte(s))
	if err != nil {
		b.Fatal(err)
	}
	return f
}

func fieldOf(name string) *query.Field {
	f, err := query.ParseField(name)
	if err != nil {
		panic(err)
	}
	return &f
}

// BenchmarkDashboardQueries times each kind of query the dashboard's
// panels make, over the simulated data set, and reports p50 and p95 in
// milliseconds (run with -benchtime=30x for 30 samples each).
func BenchmarkDashboardQueries(b *testing.B) {
	s, now := benchStore(b)
	benchDashboard(b, s, now)
}

// benchDashboard runs the dashboard's queries on a store holding the data
// set whose last event is at now (bench_clickhouse_test.go: ClickHouse).
func benchDashboard(b *testing.B, s store.Store, now time.Time) {
	e, err := query.NewEngine(s)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	day := query.Range{From: now.Add(-24 * time.Hour), To: now}
	week := query.Range{From: now.Add(-7 * 24 * time.Hour), To: now}
	month := query.Range{From: now.Add(-30 * 24 * time.Hour), To: now}
	iv := func(name string, r query.Range) query.Interval {
		i, err := query.ParseInterval(name, r)
		if err != nil {
			b.Fatal(err)
		}
		return i
	}
	var someUser, someCompany, someRequest string
	var someTime time.Time
	if users, _, err := e.Users(ctx, query.ListSpec{AppID: benchApp, Range: day, Sort: "requests", Desc: true, Limit: 1}); err != nil || len(users) == 0 {
		b.Fatal(err)
	} else {
		someUser = users[0].UserID
		someCompany = *users[0].CompanyID
	}
	if evs, _, err := e.Events(ctx, benchApp, query.Range{}, nil, query.Page{Limit: 500}); err != nil {
		b.Fatal(err)
	} else {
		someRequest, someTime = evs[len(evs)-1].RequestID, evs[len(evs)-1].Time
	}
	status5xx := mustF(b, `{"field":"status","op":"class","value":"5xx"}`)
	steps := []query.FunnelStep{
		{Name: "signup", Filter: mustF(b, `{"field":"route","op":"eq","value":"/signup"}`)},
		{Name: "browse", Filter: mustF(b, `{"field":"route","op":"eq","value":"/products"}`)},
		{Name: "order", Filter: mustF(b, `{"and":[{"field":"route","op":"eq","value":"/orders"},{"field":"method","op":"eq","value":"POST"}]}`)},
	}
	queries := []struct {
		name string
		run  func() error
	}{
		{"events/latest", func() error {
			_, _, err := e.Events(ctx, benchApp, query.Range{}, nil, query.Page{Limit: 100})
			return err
		}},
		{"events/5xx-24h", func() error { _, _, err := e.Events(ctx, benchApp, day, status5xx, query.Page{Limit: 100}); return err }},
		{"events/by-id", func() error { _, err := e.Event(ctx, benchApp, someRequest, time.Time{}); return err }},
		{"events/by-id-with-time", func() error { _, err := e.Event(ctx, benchApp, someRequest, someTime); return err }},
		{"timeseries/count-24h", func() error {
			_, err := e.TimeSeries(ctx, query.SeriesSpec{AppID: benchApp, Range: day, Metric: query.Count, Interval: iv("auto", day)})
			return err
		}},
		{"timeseries/error-rate-24h-by-status-class", func() error {
			_, err := e.TimeSeries(ctx, query.SeriesSpec{AppID: benchApp, Range: day, Metric: query.ErrorRate, Interval: iv("auto", day), GroupBy: fieldOf("status_class")})
			return err
		}},
		{"timeseries/p95-7d-by-route", func() error {
			_, err := e.TimeSeries(ctx, query.SeriesSpec{AppID: benchApp, Range: week, Metric: query.LatencyP95, Interval: iv("1h", week), GroupBy: fieldOf("route")})
			return err
		}},
		{"timeseries/unique-users-30d", func() error {
			_, err := e.TimeSeries(ctx, query.SeriesSpec{AppID: benchApp, Range: month, Metric: query.UniqueUsers, Interval: iv("1d", month)})
			return err
		}},
		{"timeseries/count-30d-by-company", func() error {
			_, err := e.TimeSeries(ctx, query.SeriesSpec{AppID: benchApp, Range: month, Metric: query.Count, Interval: iv("1d", month), GroupBy: fieldOf("company_id")})
			return err
		}},
		{"timeseries/count-1h-by-minute", func() error {
			r := query.Range{From: now.Add(-time.Hour), To: now}
			_, err := e.TimeSeries(ctx, query.SeriesSpec{AppID: benchApp, Range: r, Metric: query.Count, Interval: iv("1m", r)})
			return err
		}},
		{"segmentation/route-7d", func() error {
			_, err := e.Segmentation(ctx, query.SegSpec{AppID: benchApp, Range: week, GroupBy: []query.Field{*fieldOf("method"), *fieldOf("route")},
				Metrics: []query.Metric{query.Count, query.ErrorRate, query.LatencyP50, query.LatencyP95, query.LatencyP99, query.UniqueUsers}})
			return err
		}},
		{"segmentation/company-30d", func() error {
			_, err := e.Segmentation(ctx, query.SegSpec{AppID: benchApp, Range: month, GroupBy: []query.Field{*fieldOf("company_id")},
				Metrics: []query.Metric{query.Count, query.UniqueUsers, query.ErrorRate, query.Rejected}})
			return err
		}},
		{"segmentation/user-by-p95-30d", func() error {
			_, err := e.Segmentation(ctx, query.SegSpec{AppID: benchApp, Range: month, GroupBy: []query.Field{*fieldOf("user_id")},
				Metrics: []query.Metric{query.Count, query.ErrorRate, query.LatencyP95}, Sort: "latency_p95", Desc: true, Limit: 50})
			return err
		}},
		{"segmentation/raw-user-agent-24h", func() error {
			_, err := e.Segmentation(ctx, query.SegSpec{AppID: benchApp, Range: day, GroupBy: []query.Field{*fieldOf("user_agent")},
				Metrics: []query.Metric{query.Count, query.LatencyP95}})
			return err
		}},
		{"users/list-last-seen", func() error {
			_, _, err := e.Users(ctx, query.ListSpec{AppID: benchApp, Range: month, Limit: 50})
			return err
		}},
		{"users/list-by-requests", func() error {
			_, _, err := e.Users(ctx, query.ListSpec{AppID: benchApp, Range: month, Sort: "requests", Desc: true, Limit: 50})
			return err
		}},
		{"users/list-by-p95", func() error {
			_, _, err := e.Users(ctx, query.ListSpec{AppID: benchApp, Range: month, Sort: "latency_p95", Desc: true, Limit: 50})
			return err
		}},
		{"users/profile", func() error {
			_, err := e.UserProfile(ctx, query.ProfileSpec{AppID: benchApp, ID: someUser, Range: month, Interval: iv("1d", month)})
			return err
		}},
		{"companies/list", func() error {
			_, _, err := e.Companies(ctx, query.ListSpec{AppID: benchApp, Range: month, Limit: 50})
			return err
		}},
		{"companies/list-by-p95", func() error {
			_, _, err := e.Companies(ctx, query.ListSpec{AppID: benchApp, Range: month, Sort: "latency_p95", Desc: true, Limit: 50})
			return err
		}},
		{"companies/profile", func() error {
			_, err := e.CompanyProfile(ctx, query.ProfileSpec{AppID: benchApp, ID: someCompany, Range: month, Interval: iv("1d", month)})
			return err
		}},
		{"funnel/3-steps-30d", func() error {
			_, err := e.Funnel(ctx, query.FunnelSpec{AppID: benchApp, Range: month, Steps: steps, Window: 7 * 24 * time.Hour})
			return err
		}},
		{"retention/weekly-30d", func() error {
			_, err := e.Retention(ctx, query.RetentionSpec{AppID: benchApp, Range: month, Period: "week"})
			return err
		}},
		{"retention/daily-14d-orders", func() error {
			r := query.Range{From: now.Add(-14 * 24 * time.Hour), To: now}
			_, err := e.Retention(ctx, query.RetentionSpec{AppID: benchApp, Range: r, Period: "day", Returning: steps[2].Filter})
			return err
		}},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			if err := q.run(); err != nil { // warm
				b.Fatal(err)
			}
			var d []time.Duration
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if err := q.run(); err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(t0))
			}
			cpu := cpuTime() - cpu0
			sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
			pct := func(p int) float64 { return float64(d[(p*len(d)+99)/100-1].Microseconds()) / 1000 }
			b.ReportMetric(pct(50), "p50-ms")
			b.ReportMetric(pct(95), "p95-ms")
			// The process's CPU time per query (DuckDB's threads included;
			// not the servers' on ClickHouse): less sensitive than the
			// wall clock to other work on a shared machine.
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

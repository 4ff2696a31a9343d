package query_test

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/query"
	"github.com/gatescope/gatescope/internal/store/duckdb"
)

type timedStore struct {
	*duckdb.Store
	t *testing.T
}

func (s timedStore) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	t0 := time.Now()
	rows, err := s.Store.Query(ctx, q, args...)
	if err == nil {
		n := 0
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			rows.Scan(ptrs...)
			n++
		}
		rows.Close()
		d := time.Since(t0)
		s.t.Logf("%v rows=%d\n%s\n", d, n, strings.Join(strings.Fields(q), " ")[:min(len(strings.Join(strings.Fields(q), " ")), 300)])
		if d > 30*time.Millisecond && os.Getenv("DBG_EXPLAIN") != "" {
			r2, err := s.Store.Query(ctx, "EXPLAIN ANALYZE "+q, args...)
			if err == nil {
				for r2.Next() {
					var a, b string
					r2.Scan(&a, &b)
					s.t.Log(b)
				}
				r2.Close()
			}
		}
	}
	return s.Store.Query(ctx, q, args...)
}

func TestZZDebug(t *testing.T) {
	dir := os.Getenv("DBG_DIR")
	if dir == "" {
		t.Skip()
	}
	cfg := duckdb.DefaultConfig(dir)
	cfg.Threads = 2
	s, err := duckdb.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e, _ := query.NewEngine(timedStore{s, t})
	ctx := context.Background()
	raw, _ := os.ReadFile(dir + "/complete")
	now, _ := time.Parse(time.RFC3339Nano, string(raw))
	month := query.Range{From: now.Add(-30 * 24 * time.Hour), To: now}
	which := os.Getenv("DBG_Q")
	if strings.Contains(which, "events") {
		e.Events(ctx, "bench", query.Range{}, nil, query.Page{Limit: 100})
	}
	if strings.Contains(which, "company") {
		iv, _ := query.ParseInterval("1d", month)
		f, _ := query.ParseField("company_id")
		e.TimeSeries(ctx, query.SeriesSpec{AppID: "bench", Range: month, Metric: query.Count, Interval: iv, GroupBy: &f})
	}
	if strings.Contains(which, "cprofile") {
		iv, _ := query.ParseInterval("1d", month)
		us, _, _ := e.Users(ctx, query.ListSpec{AppID: "bench", Range: month, Limit: 1, Sort: "requests", Desc: true})
		e.CompanyProfile(ctx, query.ProfileSpec{AppID: "bench", ID: *us[0].CompanyID, Range: month, Interval: iv})
	}
}

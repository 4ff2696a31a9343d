package query_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/clickhouse"
	"github.com/gatescope/gatescope/internal/store/clickhouse/chtest"
)

// BenchmarkDashboardQueriesClickHouse is BenchmarkDashboardQueries on
// ClickHouse, one server and the two-shard cluster: the same simulated
// data set (GATESCOPE_QUERY_BENCH_EVENTS events, default 10 million) in
// the database gs_bench_<events>, which is kept between runs when
// GATESCOPE_QUERY_BENCH_DIR is set (as DuckDB's file is) and dropped
// otherwise. GATESCOPE_QUERY_BENCH_TARGETS=single or cluster runs one.
func BenchmarkDashboardQueriesClickHouse(b *testing.B) {
	for _, tg := range chtest.Targets(b) {
		if only := os.Getenv("GATESCOPE_QUERY_BENCH_TARGETS"); only != "" && only != tg.Name {
			continue
		}
		b.Run(tg.Name, func(b *testing.B) {
			s, now := chBenchStore(b, tg)
			benchDashboard(b, s, now)
		})
	}
}

// chBenchStore opens the target's data set, loading it first when it is
// missing or incomplete, and returns the time of its last event.
func chBenchStore(b *testing.B, tg chtest.Target) (store.Store, time.Time) {
	n := 10_000_000
	if s := os.Getenv("GATESCOPE_QUERY_BENCH_EVENTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	keep := os.Getenv("GATESCOPE_QUERY_BENCH_DIR") != ""
	cfg := tg.ConfigFor(b, fmt.Sprintf("gs_bench_%d", n), !keep)
	ctx := context.Background()
	s := chtest.Open(b, cfg)
	count, last := chBenchData(b, s)
	if count != int64(n) {
		if count > 0 {
			s.Close()
			if err := clickhouse.DropDatabase(ctx, cfg); err != nil {
				b.Fatal(err)
			}
			s = chtest.Open(b, cfg)
		}
		start := time.Now()
		generate(b, s, n)
		b.Logf("%s: loaded %d events in %v", tg.Name, n, time.Since(start).Round(time.Second))
		if count, last = chBenchData(b, s); count != int64(n) {
			b.Fatalf("%s: %d events stored, want %d", tg.Name, count, n)
		}
	}
	return s, last
}

func chBenchData(b *testing.B, s store.Store) (int64, time.Time) {
	rows, err := s.Query(context.Background(), "SELECT count(), max(time_ms) FROM events WHERE app_id = ?", benchApp)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var n, ms int64
	if rows.Next() {
		if err := rows.Scan(&n, &ms); err != nil {
			b.Fatal(err)
		}
	}
	return n, time.UnixMilli(ms).UTC()
}

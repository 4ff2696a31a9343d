package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/duckdb"
	"github.com/gatescope/gatescope/internal/store/storetest"
)

// BenchmarkAppend is the store's ingest, from Append to the store's
// acknowledgement: deliveries of `size` events, each its own batch, with
// `inflight` of them at a time (Firehose keeps several requests open per
// stream; collectors serve several streams). Reported as events/s. The
// DuckDB store runs first as the baseline of the same run: it acknowledges
// once the batch is in its fsynced spool.
func BenchmarkAppend(b *testing.B) {
	type opener struct {
		name string
		open func(b *testing.B) store.Store
	}
	openers := []opener{{"duckdb", func(b *testing.B) store.Store {
		s, err := duckdb.Open(context.Background(), duckdb.DefaultConfig(b.TempDir()))
		if err != nil {
			b.Fatal(err)
		}
		return s
	}}}
	for _, tg := range targets(b) {
		openers = append(openers, opener{tg.name, func(b *testing.B) store.Store { return tg.open(b, tg.freshConfig(b)) }})
	}
	for _, o := range openers {
		for _, c := range []struct{ size, inflight int }{{500, 1}, {5000, 1}, {500, 8}} {
			b.Run(fmt.Sprintf("%s/batch=%d/inflight=%d", o.name, c.size, c.inflight), func(b *testing.B) {
				s := o.open(b)
				defer s.Close()
				template := collectorEvents("app1", c.size)
				var seq atomic.Int64
				b.SetParallelism((c.inflight + 1) / 2) // GOMAXPROCS is 2 on the CI machine
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					evs := make([]event.Event, c.size)
					for pb.Next() {
						i := seq.Add(1)
						for j := range evs {
							evs[j] = template[j]
							evs[j].RequestID = fmt.Sprintf("r%d-%d", i, j)
						}
						res, err := s.Append(ctx, &store.Batch{AppID: "app1", ID: fmt.Sprint("b", i), Received: time.Now(), Events: evs})
						if err != nil || res.Stored != c.size {
							b.Errorf("append: %+v %v", res, err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N*c.size)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// benchEvents returns n events of one app over a week: 500 users, 40
// routes, latencies spread over three orders of magnitude.
func benchEvents(n int) []event.Event {
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]event.Event, n)
	step := 7 * 24 * time.Hour / time.Duration(n)
	for i := range evs {
		e := storetest.Event("app1", i, base.Add(time.Duration(i)*step))
		e.RequestID = fmt.Sprintf("%016x", uint64(i)*0x9E3779B97F4A7C15)
		e.UserID = fmt.Sprintf("u%d", i*7919%500)
		e.Route = fmt.Sprintf("/r%d/{id}", i*31%40)
		e.LatencyMs = float64(i*2654435761%100000) / 100
		evs[i] = e
	}
	return evs
}

// BenchmarkDedupRead is the price of exact answers before merges: the same
// dashboard-like queries over 1M events, reading the table as it is (raw,
// wrong if copies of an event wait to be merged), with FINAL (the store's
// choice), and deduplicating by a GROUP BY on the sorting key.
func BenchmarkDedupRead(b *testing.B) {
	const n = 1_000_000
	for _, tg := range targets(b) {
		b.Run(tg.name, func(b *testing.B) {
			s := tg.open(b, tg.freshConfig(b))
			defer s.Close()
			ctx := s.writeCtx(context.Background())
			evs := benchEvents(n)
			ptrs := make([]*event.Event, n)
			for i := range evs {
				ptrs[i] = &evs[i]
			}
			for chunk := range slices.Chunk(ptrs, 100_000) {
				if err := s.insertEvents(ctx, chunk, arrivals(len(chunk))); err != nil {
					b.Fatal(err)
				}
			}
			day := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
			queries := []struct{ name, raw, final, grouped string }{
				{"status_counts_1day",
					"SELECT status, count() FROM events WHERE app_id = ? AND time >= ? AND time < ? GROUP BY status",
					"SELECT status, count() FROM events FINAL WHERE app_id = ? AND time >= ? AND time < ? GROUP BY status",
					"SELECT status, count() FROM (SELECT any(status) AS status FROM events WHERE app_id = ? AND time >= ? AND time < ? GROUP BY app_id, time, request_id) GROUP BY status"},
				{"route_p95_week",
					"SELECT route, quantileExact(0.95)(latency_ms) FROM events WHERE app_id = ? AND time >= ? - 172800 AND time < ? + 432000 GROUP BY route",
					"SELECT route, quantileExact(0.95)(latency_ms) FROM events FINAL WHERE app_id = ? AND time >= ? - 172800 AND time < ? + 432000 GROUP BY route",
					"SELECT route, quantileExact(0.95)(latency_ms) FROM (SELECT any(route) AS route, any(latency_ms) AS latency_ms FROM events WHERE app_id = ? AND time >= ? - 172800 AND time < ? + 432000 GROUP BY app_id, time, request_id) GROUP BY route"},
				{"event_log_page",
					"SELECT request_id, time_ms, route, status FROM events WHERE app_id = ? AND time >= ? AND time < ? ORDER BY time_ms DESC, request_id DESC LIMIT 100",
					"SELECT request_id, time_ms, route, status FROM events FINAL WHERE app_id = ? AND time >= ? AND time < ? ORDER BY time_ms DESC, request_id DESC LIMIT 100",
					""},
			}
			for _, q := range queries {
				for _, v := range []struct{ name, sql string }{{"raw", q.raw}, {"final", q.final}, {"groupby", q.grouped}} {
					if v.sql == "" {
						continue
					}
					b.Run(q.name+"/"+v.name, func(b *testing.B) {
						for b.Loop() {
							rows, err := s.Query(context.Background(), v.sql, "app1", day, day.Add(24*time.Hour))
							if err != nil {
								b.Fatal(err)
							}
							for rows.Next() {
							}
							if err := rows.Err(); err != nil {
								b.Fatal(err)
							}
							rows.Close()
						}
					})
				}
			}
		})
	}
}

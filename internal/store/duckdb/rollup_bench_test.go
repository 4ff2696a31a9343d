package duckdb

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
)

// BenchmarkLoadHours is BenchmarkLoad with the events spread over days (a
// second apart, 3 600 an hour) rather than within one hour: each load
// moves the hours and days on, so it pays for what happens when an hour
// or a day is done (sealing, compaction, derived rollups), which
// BenchmarkLoad never triggers. It reports rows per CPU-second of the
// whole process.
func BenchmarkLoadHours(b *testing.B) {
	for _, perLoad := range []int{10_000, 50_000} {
		b.Run(fmt.Sprintf("rows-per-load=%d", perLoad), func(b *testing.B) {
			ctx := context.Background()
			cfg := DefaultConfig(b.TempDir())
			cfg.FlushInterval = 10 * time.Second // the benchmark loads by hand
			cfg.NoSync = true
			cfg.Threads = 1
			cfg.MemoryLimit = "2GB"
			s, err := Open(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			at := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
			const total = 400_000
			batch := make([]event.Event, 0, 1000)
			n := 0
			b.ResetTimer()
			cpu0 := cpuSeconds(b)
			for i := 0; i < b.N; i++ {
				for n%total != 0 || n == i*total {
					batch = batch[:0]
					for j := 0; j < 1000; j++ {
						ev := benchEvent(n, at)
						ev.Time = at.Add(time.Duration(n) * time.Second)
						batch = append(batch, ev)
						n++
					}
					b.StopTimer()
					if _, err := s.Append(ctx, &store.Batch{AppID: "app1", Events: batch}); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					if n%perLoad == 0 {
						if err := s.Flush(ctx); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := s.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := s.db.ExecContext(ctx, "CHECKPOINT"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/(cpuSeconds(b)-cpu0), "rows/cpu-s")
		})
	}
}

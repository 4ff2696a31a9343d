package duckdb

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
)

// BenchmarkLoad measures the loader alone: batches already durable in the
// spool, moved into DuckDB in loads of the given size. It reports rows per
// CPU-second of the whole process (DuckDB's threads included).
func BenchmarkLoad(b *testing.B) {
	for _, perLoad := range []int{10_000, 50_000, 200_000} {
		b.Run(fmt.Sprintf("rows-per-load=%d", perLoad), func(b *testing.B) {
			ctx := context.Background()
			cfg := DefaultConfig(b.TempDir())
			cfg.FlushInterval = 10 * time.Second // the benchmark loads by hand
			cfg.NoSync = true
			cfg.Threads = 1
			cfg.MemoryLimit = "2GB"
			if v := os.Getenv("GATESCOPE_BENCH_CHECKPOINT"); v != "" {
				cfg.CheckpointThreshold = v
			}
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
						batch = append(batch, benchEvent(n, at))
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
				// Count the checkpoint a load's WAL leads to sooner or later.
				if _, err := s.db.ExecContext(ctx, "CHECKPOINT"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/(cpuSeconds(b)-cpu0), "rows/cpu-s")
		})
	}
}

func benchEvent(i int, at time.Time) event.Event {
	return event.Event{
		AppID: "app1", RequestID: fmt.Sprintf("%08x-3c45-4965-868c-e6f687eaf545", i), Time: at.Add(time.Duration(i) * time.Millisecond),
		APIID: "a1b2c3d4e5", Method: "GET", Path: fmt.Sprintf("/prod/orders/%d/items", i%9973), Route: "/prod/orders/{id}/items",
		Host: "api.example.com", Protocol: "HTTP/1.1", Status: []int{200, 200, 201, 404, 500}[i%5], ResponseBytes: int64(100 + i%4000),
		LatencyMs: float64(5 + i%300), IntegrationLatencyMs: event.Absent, IP: fmt.Sprintf("198.51.%d.%d", i%256, i/256%256),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		UserID:    fmt.Sprintf("key%05d", i%5000), APIKeyID: fmt.Sprintf("key%05d", i%5000), Source: event.SourceFirehose,
		Metadata: []byte(fmt.Sprintf(`{"apiKey":"****%04d"}`, i%5000)),
	}
}

func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

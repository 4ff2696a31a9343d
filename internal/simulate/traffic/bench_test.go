package traffic_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/simulate/traffic"
)

// BenchmarkNext measures the model's generation rate, lines included; the
// lines/s metric is the figure the backfill target (>= 500k/s/core) is
// about. The baseline sub-benchmark formats the same number of
// requestTime stamps with time.Format, as a yardstick measured in the same
// run.
func BenchmarkNext(b *testing.B) {
	end := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		api    accesslog.API
		format traffic.Format
	}{
		{"rest-seed", accesslog.REST, traffic.FormatSeed},
		{"rest-recommended", accesslog.REST, traffic.FormatRecommended},
		{"http", accesslog.HTTP, ""},
		{"websocket", accesslog.WebSocket, ""},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cfg := traffic.Config{Seed: 1, Users: 2000, Companies: 100, API: c.api, Format: c.format,
				Start: end.AddDate(0, 0, -365), End: end, EventsPerUserDay: 200}
			m, err := traffic.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			bytes := 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				e, ok := m.Next()
				if !ok {
					b.Fatal("the model ran out of events; widen the range")
				}
				bytes += len(e.Line)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
			b.ReportMetric(float64(bytes)/float64(b.N), "B/line")
		})
	}
	b.Run("baseline-time-format", func(b *testing.B) {
		t := end
		n := 0
		for range b.N {
			n += len(t.Format("02/Jan/2006:15:04:05 +0000"))
			t = t.Add(time.Second)
		}
		if n == 0 {
			b.Fatal(fmt.Sprint(n))
		}
	})
}

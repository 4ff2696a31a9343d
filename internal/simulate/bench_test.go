package simulate_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/simulate"
	"github.com/gatescope/gatescope/internal/simulate/firehoseclient"
	"github.com/gatescope/gatescope/internal/simulate/traffic"
)

// BenchmarkBackfill runs the demo's backfill shape (2,000 users) end to end
// against a loopback endpoint that only gunzips and acknowledges, and
// reports events/s. The model-only sub-benchmark generates the same events
// without delivering them: the baseline the pipeline's cost is read
// against.
func BenchmarkBackfill(b *testing.B) {
	const days = 3
	cfg := simulate.Config{AccessKey: key, Backfill: days * 24 * time.Hour, End: end, Users: 2000, Companies: 100, Seed: 1,
		API: accesslog.REST, Firehose: firehoseclient.Config{BufferSize: 5 << 20, BufferInterval: 60 * time.Second, Concurrency: 2}}
	b.Run("model-only", func(b *testing.B) {
		events := 0
		for range b.N {
			m, err := traffic.New(traffic.Config{Seed: 1, Users: cfg.Users, Companies: cfg.Companies, API: cfg.API,
				Start: end.Add(-cfg.Backfill), End: end})
			if err != nil {
				b.Fatal(err)
			}
			for _, ok := m.Next(); ok; _, ok = m.Next() {
				events++
			}
		}
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	})
	for _, api := range []accesslog.API{accesslog.REST, accesslog.HTTP} {
		b.Run("deliver-"+string(api), func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				zr, err := gzip.NewReader(r.Body)
				if err == nil {
					_, err = io.Copy(io.Discard, zr)
				}
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				_ = json.NewEncoder(w).Encode(map[string]any{"requestId": r.Header.Get("X-Amz-Firehose-Request-Id"), "timestamp": time.Now().UnixMilli()})
			}))
			defer srv.Close()
			c := cfg
			c.API, c.URL = api, srv.URL
			c.Firehose.BackupDir = b.TempDir()
			var events int64
			for range b.N {
				sum, err := simulate.Run(context.Background(), c, nil)
				if err != nil {
					b.Fatal(err)
				}
				events += sum.Events
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

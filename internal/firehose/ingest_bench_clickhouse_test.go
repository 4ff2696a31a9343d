package firehose_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"testing"

	"github.com/gatescope/gatescope/internal/service"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/clickhouse/chtest"
)

// BenchmarkIngestStores is BenchmarkIngest on each store in one run, so
// that the figures compare: DuckDB (the baseline), ClickHouse on one
// server, and on the two-shard cluster; each with one delivery at a time
// and with 8 in flight (Firehose's default is one per shard of the stream,
// and a collector commits the deliveries that wait together). The clock
// stops when every row is committed: for DuckDB after its loader's flush,
// for ClickHouse at the last 200 (its Append returns once the rows are
// on every shard). events/s is wall-clock; the ClickHouse servers run on
// the same 2 cores, so per-CPU figures would leave out their share.
func BenchmarkIngestStores(b *testing.B) {
	lines := benchLines(b)
	bodies := firehoseBodies(b, lines, 4<<20)
	targets := chtest.Targets(b)
	for _, inflight := range []int{1, 8} {
		b.Run(fmt.Sprintf("duckdb/inflight-%d", inflight), func(b *testing.B) {
			cfg := service.DefaultConfig(b.TempDir())
			cfg.DuckDB.MemoryLimit = "2GB"
			cfg.DuckDB.Threads = runtime.GOMAXPROCS(0)
			ingest(b, cfg, lines, bodies, inflight)
		})
		for _, tg := range targets {
			b.Run(fmt.Sprintf("clickhouse-%s/inflight-%d", tg.Name, inflight), func(b *testing.B) {
				cfg := service.DefaultConfig(b.TempDir())
				chc := tg.Config(b)
				cfg.Store, cfg.ClickHouseURL, cfg.ClickHouse.Cluster = "clickhouse", chc.URL, chc.Cluster
				ingest(b, cfg, lines, bodies, inflight)
			})
		}
	}
}

// ingest starts a service on cfg and delivers the bodies b.N times, each
// round to a new app, inflight deliveries at a time.
func ingest(b *testing.B, cfg service.Config, lines, bodies [][]byte, inflight int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.Server.Addr = "127.0.0.1:0"
	svc, err := service.Start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	base := "http://" + svc.Addr()
	token, _ := svc.AdminToken()
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = createApp(b, base, token)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: inflight}}
	b.SetBytes(int64(len(bytes.Join(lines, nil))))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		work := make(chan int)
		var mu sync.Mutex
		var first error
		var wg sync.WaitGroup
		for range inflight {
			wg.Go(func() {
				for j := range work {
					if err := deliver(client, base, keys[i], fmt.Sprintf("bench-%d-%d", i, j), bodies[j]); err != nil {
						mu.Lock()
						first = cmp.Or(first, err)
						mu.Unlock()
					}
				}
			})
		}
		for j := range bodies {
			work <- j
		}
		close(work)
		wg.Wait()
		if first != nil {
			b.Fatal(first)
		}
	}
	if fl, ok := svc.Store().(store.Flusher); ok {
		if err := fl.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "events/s")
}

// deliver is post for any goroutine: it returns the failure.
func deliver(c *http.Client, base, key, id string, body []byte) error {
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/firehose", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("X-Amz-Firehose-Protocol-Version", "1.0")
	req.Header.Set("X-Amz-Firehose-Request-Id", id)
	req.Header.Set("X-Amz-Firehose-Access-Key", key)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("delivery %s: status %d", id, resp.StatusCode)
	}
	return nil
}

package firehose_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/gatescope/gatescope/internal/service"
	"github.com/gatescope/gatescope/internal/store"
)

// BenchmarkIngest measures the whole path a Firehose delivery takes: gzip
// body over loopback HTTP, decode, parse, identify, spool fsync, answer,
// and the load into DuckDB, timed until every row is committed there. It
// reports events/s; `make bench` runs it pinned to one core, next to
// GoAccess parsing the same lines (scripts/bench.sh).
//
// Lines come from the file named by GATESCOPE_BENCH_LINES (one access-log
// line per line), else from a built-in generator.
func BenchmarkIngest(b *testing.B) {
	lines := benchLines(b)
	bodies := firehoseBodies(b, lines, 4<<20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := service.DefaultConfig(b.TempDir())
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.DuckDB.MemoryLimit = "2GB"
	cfg.DuckDB.Threads = runtime.GOMAXPROCS(0)
	svc, err := service.Start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	base := "http://" + svc.Addr()
	token, _ := svc.AdminToken()
	key := createApp(b, base, token)
	client := &http.Client{}

	b.SetBytes(int64(len(bytes.Join(lines, nil))))
	cpu0 := cpuSeconds(b)
	b.ResetTimer()
	sent := 0
	for i := 0; i < b.N; i++ {
		for j, body := range bodies {
			post(b, client, base, key, fmt.Sprintf("bench-%d-%d", i, j), body)
		}
		// Each round re-sends the same lines as new batches: the store
		// drops them as duplicates unless ids differ, so vary the app.
		sent += len(lines)
		if i+1 < b.N {
			key = createApp(b, base, token)
		}
	}
	if err := svc.Store().(store.Flusher).Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	// CPU time of the whole process (Go and DuckDB threads): events per
	// CPU-second is events per second per core, whatever else the machine
	// is doing.
	cpu := cpuSeconds(b) - cpu0
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(sent)/cpu, "events/cpu-s")
	cancel()
	<-done
}

func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func benchLines(b *testing.B) [][]byte {
	var lines [][]byte
	if path := os.Getenv("GATESCOPE_BENCH_LINES"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines = append(lines, append(bytes.Clone(sc.Bytes()), '\n'))
		}
		if err := sc.Err(); err != nil {
			b.Fatal(err)
		}
		return lines
	}
	for i := 0; i < 200_000; i++ {
		lines = append(lines, []byte(fmt.Sprintf(`{"apiId":"a1b2c3d4e5","requestId":"%08x-3c45-4965-868c-e6f687eaf545","requestTime":"25/Nov/2026:%02d:%02d:%02d +0000","protocol":"HTTP/1.1","httpMethod":"GET","resourcePath":"/prod/orders/%d/items","requestHostHeader":"api.example.com","requestUserAgentHeader":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36","ip":"198.51.%d.%d","status":"%d","responseLength":"%d","durationMs":"%d","caller":"-","user":"-","principalId":"-","cognitoIdentityId":"-","userArn":"-","apiKey":"0bDZnoYyOTSiMVuAP2Fnqjvwmmubfawd%08d","apiKeyId":"key%05d"}`+"\n",
			i, i/3600%24, i/60%60, i%60, i%9973, i%256, i/256%256, []int{200, 200, 200, 201, 404, 429, 500}[i%7], 100+i%4000, 5+i%300, i%5000, i%5000)))
	}
	return lines
}

// firehoseBodies packs lines, one record each, into gzip'd delivery bodies
// of about size bytes before compression, the way Firehose buffers.
func firehoseBodies(b *testing.B, lines [][]byte, size int) [][]byte {
	type record struct {
		Data string `json:"data"`
	}
	var bodies [][]byte
	var recs []record
	n := 0
	flush := func() {
		raw, err := json.Marshal(map[string]any{"requestId": "x", "timestamp": 1, "records": recs})
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		bodies = append(bodies, buf.Bytes())
		recs, n = nil, 0
	}
	for _, l := range lines {
		recs = append(recs, record{Data: base64.StdEncoding.EncodeToString(l)})
		n += len(l) * 4 / 3
		if n >= size {
			flush()
		}
	}
	if len(recs) > 0 {
		flush()
	}
	return bodies
}

func createApp(b *testing.B, base, token string) string {
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/apps", bytes.NewReader([]byte(`{"name":"bench"}`)))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var app struct {
		ApplicationID string `json:"application_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&app); err != nil || app.ApplicationID == "" {
		b.Fatalf("create app: %v", err)
	}
	return app.ApplicationID
}

func post(b *testing.B, c *http.Client, base, key, id string, body []byte) {
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/firehose", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("X-Amz-Firehose-Protocol-Version", "1.0")
	req.Header.Set("X-Amz-Firehose-Request-Id", id)
	req.Header.Set("X-Amz-Firehose-Access-Key", key)
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("delivery %s: status %d", id, resp.StatusCode)
	}
}

// BenchmarkLargeBatchMemory sends one Firehose batch of about 60 MiB and
// reports the Go heap's peak growth while it is stored, as a multiple of
// the body: the contract's "a 64 MiB batch never needs more than a small
// multiple of itself". With GATESCOPE_BENCH_MEMLIMIT (bytes) the runtime's
// soft limit (--go-memory-limit) is set first.
func BenchmarkLargeBatchMemory(b *testing.B) {
	lines := benchLines(b)
	for len(lines) < 80_000 {
		lines = append(lines, lines...)
	}
	bodies := firehoseBodies(b, lines[:80_000], 1<<30)
	body := bodies[0]
	raw := 0
	for _, l := range lines[:80_000] {
		raw += (len(l) + 2) / 3 * 4
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := service.DefaultConfig(b.TempDir())
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.DuckDB.MemoryLimit = "512MB"
	svc, err := service.Start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	go svc.Run(ctx)
	base := "http://" + svc.Addr()
	token, _ := svc.AdminToken()
	if v := os.Getenv("GATESCOPE_BENCH_MEMLIMIT"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(n))
	}
	var worst float64
	for i := 0; i < b.N; i++ {
		key := createApp(b, base, token)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before, peak := ms.HeapInuse, ms.HeapInuse
		done := make(chan struct{})
		go func() {
			defer close(done)
			post(b, http.DefaultClient, base, key, fmt.Sprint("large-", i), body)
		}()
	sample:
		for {
			select {
			case <-done:
				break sample
			case <-time.After(2 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
		worst = max(worst, float64(peak-before)/float64(raw))
	}
	b.ReportMetric(float64(raw>>20), "MiB-decoded-body")
	b.ReportMetric(worst, "peak-heap-x-body")
}

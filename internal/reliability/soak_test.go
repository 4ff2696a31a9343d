package reliability_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/reliability"
	"github.com/gatescope/gatescope/internal/simulate"
	"github.com/gatescope/gatescope/internal/simulate/firehoseclient"
	"github.com/gatescope/gatescope/internal/simulate/traffic"
)

type soakSample struct {
	rss        int64
	goroutines float64
	fds        int
}

func median[T int | int64 | float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestSoak runs the server at a steady rate with the dashboard's queries
// every half second, sampling its memory, goroutines and file descriptors
// each second. After a warm-up, the late samples must not exceed the early
// ones: flat memory (median within 25% + 64 MiB), goroutines and file
// descriptors back to the same level; and every acknowledged event is
// stored once.
func TestSoak(t *testing.T) {
	duration, rate := 24*time.Second, 300.0
	if full() {
		duration, rate = 5*time.Minute, 1500
	}
	duration = envDuration(t, "GATESCOPE_SOAK_DURATION", duration)
	dir := t.TempDir()
	s := startServerIn(t, dir, "--duckdb-memory-limit", "256MB", "--duckdb-threads", "2", "--log-level", "info")
	a := s.createApp(t, "soak")

	rec := reliability.NewAckRecorder(&http.Transport{MaxIdleConnsPerHost: 4})
	cfg := simulate.Config{
		URL: s.URL("/v1/firehose"), AccessKey: a.Key, Rate: rate, Duration: duration,
		Users: 400, Companies: 40, Seed: 11, API: accesslog.REST, Format: traffic.FormatRecommended,
		Firehose: firehoseclient.Config{BufferSize: 256 << 10, BufferInterval: time.Second, Relaxed: true, Concurrency: 2,
			BackupDir: t.TempDir(), HTTPClient: &http.Client{Transport: rec}},
	}
	var sum simulate.Summary
	var simErr error
	simDone := make(chan struct{})
	go func() {
		defer close(simDone)
		sum, simErr = simulate.Run(context.Background(), cfg, io.Discard)
	}()

	// The dashboard: a query every half second, round robin.
	queries := []string{
		"/api/v1/metrics/timeseries?metric=count&from=-1h&group_by=route",
		"/api/v1/metrics/segmentation?group_by=route,status&metrics=count,latency_p95,error_rate&from=-1h",
		"/api/v1/events?limit=50",
		"/api/v1/users?limit=50&sort=requests",
		"/api/v1/companies?limit=20",
	}
	var qmu sync.Mutex
	qstatus := map[int]int{}
	stopQ := make(chan struct{})
	var qwg sync.WaitGroup
	qwg.Add(1)
	go func() {
		defer qwg.Done()
		for i := 0; ; i++ {
			select {
			case <-stopQ:
				return
			case <-time.After(500 * time.Millisecond):
			}
			req, _ := http.NewRequest("GET", s.URL(queries[i%len(queries)]+"&app_id="+url.QueryEscape(a.ID)), nil)
			req.Header.Set("Authorization", "Bearer "+s.Token)
			resp, err := s.Client.Do(req)
			st := 0
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				st = resp.StatusCode
			}
			qmu.Lock()
			qstatus[st]++
			qmu.Unlock()
		}
	}()

	var samples []soakSample
	for deadline := time.Now().Add(duration); time.Now().Before(deadline); time.Sleep(time.Second) {
		m, err := reliability.ReadMemory(s.PID())
		if err != nil {
			t.Fatal(err)
		}
		fds, err := reliability.OpenFDs(s.PID())
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, soakSample{m.RSS, s.metrics(t)["go_goroutines"], fds})
	}
	close(stopQ)
	qwg.Wait()
	<-simDone
	if simErr != nil {
		t.Fatalf("simulator: %v", simErr)
	}

	warm := len(samples) * 3 / 10
	mid := warm + (len(samples)-warm)/2
	split := func(from, to int) (rss []int64, g []float64, fds []int) {
		for _, x := range samples[from:to] {
			rss, g, fds = append(rss, x.rss), append(g, x.goroutines), append(fds, x.fds)
		}
		return
	}
	er, eg, ef := split(warm, mid)
	lr, lg, lf := split(mid, len(samples))
	qmu.Lock()
	figure(t, "soak: %s at %.0f events/s, %d events delivered, %d queries (%d ok), samples %d: RSS median %s early / %s late (max %s), goroutines median %.0f / %.0f (max %.0f / %.0f), fds median %d / %d (max %d / %d)",
		duration, rate, sum.Delivery.DeliveredEvents, qstatus[0]+qstatus[200]+qstatus[503]+qstatus[500], qstatus[200], len(samples),
		reliability.MiB(median(er)), reliability.MiB(median(lr)), reliability.MiB(slices.Max(lr)),
		median(eg), median(lg), slices.Max(eg), slices.Max(lg), median(ef), median(lf), slices.Max(ef), slices.Max(lf))
	for st, n := range qstatus {
		if st != http.StatusOK {
			t.Errorf("%d queries answered %d", n, st)
		}
	}
	qmu.Unlock()
	// DuckDB's buffer cache fills toward --duckdb-memory-limit as the
	// data grows; that is the allowance above the early level.
	if median(lr) > median(er)*5/4+64<<20 {
		t.Errorf("memory grew: median RSS %s early, %s late", reliability.MiB(median(er)), reliability.MiB(median(lr)))
	}
	if median(lg) > median(eg)+5 || slices.Max(lg) > slices.Max(eg)+20 {
		t.Errorf("goroutines grew: median %.0f -> %.0f, max %.0f -> %.0f", median(eg), median(lg), slices.Max(eg), slices.Max(lg))
	}
	// A new spool segment or DuckDB file is a step, not a leak: a leak
	// grows with requests (thousands here).
	if median(lf) > median(ef)+16 || slices.Max(lf) > slices.Max(ef)+16 {
		t.Errorf("file descriptors grew: median %d -> %d, max %d -> %d", median(ef), median(lf), slices.Max(ef), slices.Max(lf))
	}
	if err := s.Stop(time.Minute); err != nil {
		t.Fatal(err)
	}
	ids := storedIDs(t, dir, a.ID)
	if len(ids) != len(rec.Acked()) || int64(len(ids)) != sum.Events {
		t.Errorf("%d events stored, %d acknowledged, %d generated", len(ids), len(rec.Acked()), sum.Events)
	}
}

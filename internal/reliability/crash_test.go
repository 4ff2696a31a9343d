package reliability_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the independent reader of the store's file

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/reliability"
	"github.com/gatescope/gatescope/internal/simulate"
	"github.com/gatescope/gatescope/internal/simulate/firehoseclient"
	"github.com/gatescope/gatescope/internal/simulate/traffic"
)

// storedIDs opens a stopped server's DuckDB file with the plain driver
// (not Gatescope's store) and returns request id -> rows for an app.
func storedIDs(t *testing.T, dir, appID string) map[string]int {
	t.Helper()
	db, err := sql.Open("duckdb", dbPath(dir)+"?access_mode=READ_ONLY")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT request_id, count(*) FROM events WHERE app_id = ? GROUP BY request_id`, appID)
	if err != nil {
		t.Fatalf("reading the stored events: %v", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// round is one simulator run: a backfill delivered as fast as the server
// takes it.
func round(url, key string, n int, seed uint64, rec *reliability.AckRecorder, backupDir string) simulate.Config {
	end := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(n) * 24 * time.Hour)
	return simulate.Config{
		URL: url, AccessKey: key,
		Backfill: 24 * time.Hour, End: end, EventsPerUserDay: 40,
		Users: 300, Companies: 30, Seed: seed, API: accesslog.REST, Format: traffic.FormatRecommended,
		Firehose: firehoseclient.Config{
			// Small buffers make many deliveries, several in flight: many
			// chances for a kill to land inside one.
			BufferSize: 128 << 10, BufferInterval: 100 * time.Millisecond, Relaxed: true, Concurrency: 6,
			RetryDuration: 2 * time.Hour, ResponseTimeout: 30 * time.Second,
			Backoff: 20 * time.Millisecond, MaxBackoff: 250 * time.Millisecond,
			BackupDir: backupDir, HTTPClient: &http.Client{Transport: rec},
		},
	}
}

// truth regenerates a round's events from the traffic model alone and
// returns their request ids.
func truth(t *testing.T, cfg simulate.Config, into map[string]int) {
	t.Helper()
	end := cfg.End.Truncate(time.Millisecond)
	m, err := traffic.New(traffic.Config{Seed: cfg.Seed, Users: cfg.Users, Companies: cfg.Companies, API: cfg.API,
		Format: cfg.Format, Start: end.Add(-cfg.Backfill), End: end, EventsPerUserDay: cfg.EventsPerUserDay})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, ok := m.Next()
		if !ok {
			return
		}
		into[ev.Truth.RequestID]++
	}
}

// TestCrashSafety drives the real binary with the simulator at full speed,
// kills it with SIGKILL at random (seeded) moments — while deliveries are
// in flight, at random, and during start-up while the spool replays — and
// restarts it on the same data directory; Firehose retries what was not
// acknowledged with the same request id, and some acknowledged deliveries
// are delivered again under a new request id (Firehose's at-least-once).
// At the end every request id the traffic model generated must be stored
// exactly once: none acknowledged and lost, none duplicated.
func TestCrashSafety(t *testing.T) {
	kills := 5
	if full() {
		kills = 25
	}
	kills = envInt(t, "GATESCOPE_CRASH_KILLS", kills)
	seed := uint64(envInt(t, "GATESCOPE_CRASH_SEED", 20260301))
	rng := rand.New(rand.NewPCG(seed, 1))

	dir := t.TempDir()
	s := startServerIn(t, dir, "--flush-interval", "50ms", "--duckdb-threads", "2", "--duckdb-memory-limit", "512MB")
	a := s.createApp(t, "crash")
	url := s.URL("/v1/firehose")

	transport := &http.Transport{MaxIdleConnsPerHost: 16}
	rec := reliability.NewAckRecorder(transport)
	// Redeliver one acknowledged delivery in 16 under a new request id,
	// until it is acknowledged again.
	var redelivered atomic.Int64
	var redeliveries sync.WaitGroup
	var redeliverRng sync.Mutex
	rrng := rand.New(rand.NewPCG(seed, 2))
	rec.OnAck = func(batch string, body []byte, gzipped bool, _ []string) {
		redeliverRng.Lock()
		again := rrng.IntN(16) == 0
		redeliverRng.Unlock()
		if !again {
			return
		}
		redelivered.Add(1)
		redeliveries.Add(1)
		go func() {
			defer redeliveries.Done()
			redeliver(t, transport, url, a.Key, batch+"-again", body, gzipped)
		}()
	}

	// The simulator runs rounds until the kills are done.
	backup := t.TempDir()
	var (
		simMu   sync.Mutex
		rounds  []simulate.Config
		simErrs []error
		events  int64
	)
	stopRounds := make(chan struct{})
	simDone := make(chan struct{})
	go func() {
		defer close(simDone)
		for n := 0; ; n++ {
			select {
			case <-stopRounds:
				return
			default:
			}
			cfg := round(url, a.Key, n, seed*1000+uint64(n), rec, backup)
			sum, err := simulate.Run(context.Background(), cfg, io.Discard)
			simMu.Lock()
			rounds = append(rounds, cfg)
			events += sum.Events
			if err != nil {
				simErrs = append(simErrs, fmt.Errorf("round %d: %w", n, err))
			}
			simMu.Unlock()
		}
	}()

	start := time.Now()
	var inflightKills, startupKills, randomKills, terms int
	for k := 0; inflightKills+startupKills+randomKills < kills; k++ {
		// Let it run a while (and the loader commit to DuckDB a few
		// times) before choosing the moment.
		time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
		switch mode := rng.IntN(10); {
		case mode == 9:
			// A graceful stop under load: in-flight deliveries finish,
			// and it must exit cleanly.
			if err := s.Stop(2 * time.Minute); err != nil {
				t.Fatalf("SIGTERM under load: %v", err)
			}
			terms++
		case mode < 2:
			// During start-up: the spool replays before the port opens.
			if err := s.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := s.Launch(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
			startupKills++
		case mode < 6:
			// While a delivery is in flight: reading, parsing, or waiting
			// for its group commit.
			deadline := time.Now().Add(5 * time.Second)
			for rec.InFlight() == 0 && time.Now().Before(deadline) {
				time.Sleep(200 * time.Microsecond)
			}
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
			if rec.InFlight() > 0 {
				inflightKills++
			} else {
				randomKills++
			}
		default:
			time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
			if rec.InFlight() > 0 {
				inflightKills++
			} else {
				randomKills++
			}
		}
		if err := s.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(60 * time.Second); err != nil {
			t.Fatalf("restart %d: %v", k+1, err)
		}
	}
	killPhase := time.Since(start)
	close(stopRounds)
	select {
	case <-simDone:
	case <-time.After(10 * time.Minute):
		t.Fatal("the simulator did not finish delivering within 10 minutes of the last restart")
	}
	redeliveries.Wait()
	if err := s.Stop(2 * time.Minute); err != nil {
		t.Fatalf("graceful stop at the end: %v", err)
	}
	for _, err := range simErrs {
		t.Errorf("simulator: %v", err)
	}

	want := map[string]int{}
	for _, cfg := range rounds {
		truth(t, cfg, want)
	}
	sent, acked := rec.Sent(), rec.Acked()
	stored := storedIDs(t, dir, a.ID)
	var lost, duplicated, unacked, invented, notSent int
	for id, n := range want {
		if n != 1 {
			t.Fatalf("the traffic model generated request id %s %d times", id, n)
		}
		if !sent[id] {
			notSent++
		}
		if acked[id] == 0 {
			unacked++
		}
		if acked[id] > 0 && stored[id] == 0 {
			lost++
		}
	}
	for id, n := range stored {
		if n > 1 {
			duplicated++
		}
		if want[id] == 0 {
			invented++
		}
	}
	st := rec.Statuses()
	figure(t, "crash: kills=%d (in-flight %d, start-up %d, idle %d, SIGTERM %d) seed=%d rounds=%d events=%d batches_acked=%d redelivered=%d attempts=%d answers_503=%d no_answer=%d lost=%d duplicated=%d kill_phase=%s",
		kills, inflightKills, startupKills, randomKills, terms, seed, len(rounds), len(want), rec.AckedBatches(), redelivered.Load(),
		rec.Attempts(), st[http.StatusServiceUnavailable], st[0], lost, duplicated, killPhase.Round(time.Second))
	if int64(len(want)) != events {
		t.Errorf("the simulator reports %d events, the traffic model %d", events, len(want))
	}
	if notSent > 0 || unacked > 0 {
		t.Errorf("%d generated events never sent, %d never acknowledged", notSent, unacked)
	}
	if lost > 0 {
		t.Errorf("%d acknowledged events are not stored", lost)
	}
	if duplicated > 0 {
		t.Errorf("%d events are stored more than once", duplicated)
	}
	if invented > 0 {
		t.Errorf("%d stored events were never generated", invented)
	}
	if len(stored) != len(want) {
		t.Errorf("%d events stored, %d generated", len(stored), len(want))
	}
	if inflightKills == 0 {
		t.Error("no kill landed while a delivery was in flight")
	}
}

// redeliver posts an acknowledged body again under a new request id until
// the server acknowledges it, as Firehose may.
func redeliver(t *testing.T, rt http.RoundTripper, url, key, batch string, body []byte, gzipped bool) {
	client := &http.Client{Transport: rt, Timeout: 30 * time.Second}
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("X-Amz-Firehose-Request-Id", batch)
		req.Header.Set("X-Amz-Firehose-Access-Key", key)
		req.Header.Set("X-Amz-Firehose-Protocol-Version", "1.0")
		if gzipped {
			req.Header.Set("Content-Encoding", "gzip")
		}
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		} else if errors.Is(err, context.Canceled) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("redelivery %s never acknowledged", batch)
}

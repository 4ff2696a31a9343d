package clickhouse

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/apps"
	"github.com/gatescope/gatescope/internal/firehose"
	"github.com/gatescope/gatescope/internal/simulate"
	"github.com/gatescope/gatescope/internal/simulate/firehoseclient"
	"github.com/gatescope/gatescope/internal/store"
)

// spreader stands between the simulator's Firehose client and the
// collectors, as a load balancer would: each attempt goes to the next
// collector in turn. Some answers are lost after the collector handled the
// request (Firehose then retries the batch, on the other collector), and
// some attempts are given up at once while the collector keeps working
// (Firehose's response timeout: the retry races the first attempt).
type spreader struct {
	hosts       []string
	base        http.RoundTripper
	n           atomic.Uint64
	lost, early atomic.Int64
	background  sync.WaitGroup
}

func (s *spreader) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	i := s.n.Add(1)
	out := req.Clone(req.Context())
	out.URL.Host = s.hosts[int(i)%len(s.hosts)]
	out.Host = out.URL.Host
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	switch {
	case i%5 == 1:
		s.lost.Add(1)
		if resp, err := s.base.RoundTrip(out); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return nil, errors.New("spreader: the answer was lost")
	case i%7 == 3:
		s.early.Add(1)
		out = out.WithContext(context.WithoutCancel(req.Context()))
		s.background.Go(func() {
			if resp, err := s.base.RoundTrip(out); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		return nil, errors.New("spreader: gave up waiting for the answer")
	}
	return s.base.RoundTrip(out)
}

// simulateOver runs a simulator backfill against the collectors through a
// spreader and returns how many events it generated; every one was
// acknowledged (simulate.Run fails otherwise).
func simulateOver(t *testing.T, hosts []string, accessKey string) int64 {
	t.Helper()
	sp := &spreader{hosts: hosts, base: http.DefaultTransport}
	cfg := simulate.Config{
		URL: "http://" + hosts[0] + "/v1/firehose", AccessKey: accessKey,
		Backfill: 24 * time.Hour, End: time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC), // spans midnight
		Users: 100, Companies: 8, Seed: 88, API: accesslog.REST, EventsPerUserDay: 200,
		Firehose: firehoseclient.Config{
			Relaxed: true, BufferSize: 48 << 10, BufferInterval: 100 * time.Millisecond, Concurrency: 4,
			RetryDuration: 3 * time.Minute, Backoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
			BackupDir: t.TempDir(), HTTPClient: &http.Client{Transport: sp},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sum, err := simulate.Run(ctx, cfg, nil)
	sp.background.Wait()
	if err != nil {
		t.Fatalf("simulate: %v (%+v)", err, sum.Delivery)
	}
	t.Logf("simulated %d events in %d batches: %d attempts, %d retries, %d answers lost, %d attempts abandoned while running",
		sum.Events, sum.Delivery.Batches, sum.Delivery.Attempts, sum.Delivery.Retries, sp.lost.Load(), sp.early.Load())
	if sp.lost.Load() == 0 || sp.early.Load() == 0 {
		t.Fatalf("the run had too few batches to exercise retries (%d)", sum.Delivery.Batches)
	}
	return sum.Events
}

// checkExactlyOnce asserts that the database holds every event once, as
// readers that use FINAL see it.
func checkExactlyOnce(t *testing.T, s *Store, app string, want int64) {
	t.Helper()
	ctx := context.Background()
	var n, distinct, raw, rejected uint64
	if err := s.conn.QueryRow(ctx, "SELECT count(), uniqExact(request_id) FROM events FINAL WHERE app_id = ?", app).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM events WHERE app_id = ?", app).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM rejected WHERE app_id = ?", app).Scan(&rejected); err != nil {
		t.Fatal(err)
	}
	if int64(n) != want || int64(distinct) != want || rejected != 0 {
		t.Fatalf("stored %d events (%d distinct request ids, %d rejected), want each of the %d simulated once", n, distinct, rejected, want)
	}
	t.Logf("%d events stored once each; %d rows before merges", n, raw)
}

// TestTwoCollectorsSimulatedFirehose: two collectors (stores plus Firehose
// endpoints, in this process, over real HTTP) share the two-shard cluster
// while the simulator spreads batches and retries over both.
func TestTwoCollectorsSimulatedFirehose(t *testing.T) {
	tg := clusterTarget(t)
	cfg := tg.freshConfig(t)
	ctx := context.Background()
	var hosts []string
	var first *Store
	app := store.App{ID: "app_e2e", Name: "E2E", ApplicationID: "gsk_e2e_secret_0123456789", Created: time.Now().UTC()}
	for i := range 2 {
		s := tg.open(t, cfg)
		defer s.Close()
		if i == 0 {
			first = s
			if err := s.CreateApp(ctx, app); err != nil {
				t.Fatal(err)
			}
		}
		reg, err := apps.NewRegistry(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		h, err := firehose.NewHandler(firehose.DefaultConfig(), s, reg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("POST /v1/firehose", h)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		hosts = append(hosts, strings.TrimPrefix(srv.URL, "http://"))
	}
	want := simulateOver(t, hosts, app.ApplicationID)
	checkExactlyOnce(t, first, app.ID, want)
}

// TestTwoServeProcesses is the same with two `gatescope serve` processes,
// and checks the answer through the query API of each: both count every
// event once, and the event log, paged through with each page asked of the
// other process (the cursor is all the state a page needs), lists every
// event once.
func TestTwoServeProcesses(t *testing.T) {
	tg := clusterTarget(t)
	if testing.Short() {
		t.Skip("builds and starts two gatescope processes")
	}
	cfg := tg.freshConfig(t)
	bin := filepath.Join(t.TempDir(), "gatescope")
	build := exec.Command("go", "build", "-o", bin, "github.com/gatescope/gatescope/cmd/gatescope")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const token = "e2e-admin-token-0123456789abcdef"
	var hosts []string
	for range 2 {
		hosts = append(hosts, startServe(t, bin, cfg, token))
	}
	// Create the app through the first process; the second learns of it
	// from ClickHouse when the key first reaches it.
	req, _ := http.NewRequest("POST", "http://"+hosts[0]+"/api/v1/apps", strings.NewReader(`{"name":"E2E"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var app store.App
	err = json.NewDecoder(resp.Body).Decode(&app)
	resp.Body.Close()
	if err != nil || resp.StatusCode/100 != 2 || app.ApplicationID == "" {
		t.Fatalf("create app: %d %+v %v", resp.StatusCode, app, err)
	}
	want := simulateOver(t, hosts, app.ApplicationID)
	s := tg.open(t, cfg)
	defer s.Close()
	checkExactlyOnce(t, s, app.ID, want)

	// The simulated day ends at 2026-03-02T06:00Z.
	span := "&from=2026-02-01T00:00:00Z&to=2026-04-01T00:00:00Z"
	for _, h := range hosts {
		var seg struct {
			Rows []map[string]any `json:"rows"`
		}
		apiGet(t, h, token, "/api/v1/metrics/segmentation?app_id="+app.ID+"&metrics=count"+span, &seg)
		if len(seg.Rows) != 1 || seg.Rows[0]["count"] != float64(want) {
			t.Errorf("%s: segmentation %v, want a count of %d", h, seg.Rows, want)
		}
	}
	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		var list struct {
			Events []struct {
				RequestID string `json:"request_id"`
			} `json:"events"`
			Next string `json:"next_cursor"`
		}
		apiGet(t, hosts[page%2], token, "/api/v1/events?app_id="+app.ID+"&limit=1000"+span+"&cursor="+cursor, &list)
		for _, ev := range list.Events {
			if seen[ev.RequestID] {
				t.Fatalf("the event log lists %s twice", ev.RequestID)
			}
			seen[ev.RequestID] = true
		}
		if list.Next == "" || page > 1000 {
			break
		}
		cursor = list.Next
	}
	if int64(len(seen)) != want {
		t.Errorf("the event log lists %d events, want %d", len(seen), want)
	}
}

// apiGet calls the query API of the serve process at host and decodes
// the JSON answer into out. A 429 is waited out: the simulator's retries
// from this address may have tripped the server's limit on failed
// authentications (a collector that does not know the app yet).
func apiGet(t *testing.T, host, token, path string, out any) {
	t.Helper()
	var resp *http.Response
	var body []byte
	for try := 0; ; try++ {
		req, _ := http.NewRequest("GET", "http://"+host+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		var err error
		if resp, err = http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || try == 30 {
			break
		}
		time.Sleep(time.Second)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

var listening = regexp.MustCompile(`listening on https?://(\S+)`)

// startServe starts `gatescope serve` on the store of cfg and returns its
// address; the process is stopped (SIGINT) when the test ends.
func startServe(t *testing.T, bin string, cfg Config, token string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--admin-token", token,
		"--store", "clickhouse", "--clickhouse-url", cfg.URL, "--clickhouse-cluster", cfg.Cluster, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "GATESCOPE_STORE=", "GATESCOPE_CLICKHOUSE_URL=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if ok {
			return a
		}
	case <-time.After(2 * time.Minute):
	}
	cmd.Wait()
	t.Fatalf("serve did not start: %s", stderr.String())
	return ""
}

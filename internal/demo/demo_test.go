package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"
)

// syncBuffer lets the test read what Run prints while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var announced = regexp.MustCompile(`Dashboard:\s+(http://\S+)/\n\s+Admin token:\s+(\S+)\n\s+App:\s+.*\((app_\w+)\)`)

// TestDemo runs the demo briefly against a temporary data directory, reads
// the backfilled and live events back through the API, stops it, and runs
// it again to see the data reused.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig(dir)
	cfg.Service.Server.Addr = "127.0.0.1:0"
	cfg.Service.DuckDB.MemoryLimit = "512MB"
	cfg.Users, cfg.Companies, cfg.Backfill, cfg.Rate = 40, 5, 48*time.Hour, 50

	first := runUntilAnnounced(t, cfg)
	n := countEvents(t, first)
	if n == 0 {
		t.Fatal("no events after the backfill")
	}
	// Live traffic keeps arriving.
	deadline := time.Now().Add(20 * time.Second)
	for countEvents(t, first) <= n {
		if time.Now().After(deadline) {
			t.Fatal("no live events within 20 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	first.stop(t)
	if out := first.out.String(); !bytes.Contains([]byte(out), []byte("History delivered:")) {
		t.Fatalf("first run did not backfill:\n%s", out)
	}

	second := runUntilAnnounced(t, cfg)
	defer second.stop(t)
	if bytes.Contains([]byte(second.out.String()), []byte("Delivering")) {
		t.Fatal("second run delivered the history again")
	}
	if second.app != first.app {
		t.Fatalf("second run used app %s, first %s", second.app, first.app)
	}
	if got := countEvents(t, second); got < n {
		t.Fatalf("second run sees %d events, first saw %d", got, n)
	}
}

type running struct {
	base, token, app string
	out              *syncBuffer
	cancel           context.CancelFunc
	done             chan error
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("demo ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30 s of Ctrl-C")
	}
}

func runUntilAnnounced(t *testing.T, cfg Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{out: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- Run(ctx, cfg, r.out, slog.New(slog.DiscardHandler)) }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if m := announced.FindStringSubmatch(r.out.String()); m != nil {
			r.base, r.token, r.app = m[1], m[2], m[3]
			return r
		}
		select {
		case err := <-r.done:
			t.Fatalf("demo ended before announcing: %v\n%s", err, r.out.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("demo did not announce itself within 2 minutes:\n%s", r.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// countEvents pages through the app's event log.
func countEvents(t *testing.T, r *running) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/events?app_id=%s&limit=1000&cursor=%s", r.base, r.app, cursor), nil)
		req.Header.Set("Authorization", "Bearer "+r.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Events     []json.RawMessage `json:"events"`
			NextCursor string            `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET events: %d %v", resp.StatusCode, err)
		}
		n += len(page.Events)
		if page.NextCursor == "" {
			return n
		}
		cursor = page.NextCursor
	}
}

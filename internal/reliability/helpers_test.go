package reliability_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/reliability"
)

// full selects the long runs of make reliability.
func full() bool { return os.Getenv("GATESCOPE_RELIABILITY") == "full" }

// envInt reads a positive integer knob, def when unset.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q is not a non-negative integer", name, s)
	}
	return n
}

// envDuration reads a duration knob, def when unset.
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q is not a positive duration", name, s)
	}
	return d
}

var figuresMu sync.Mutex

// figure prints one line of measured figures: in the test log, and
// appended to $GATESCOPE_FIGURES when set (make prints that file, since go
// test hides the logs of passing tests).
func figure(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	mode := "short"
	if full() {
		mode = "full"
	}
	t.Logf("FIGURES (%s) %s", mode, line)
	path := os.Getenv("GATESCOPE_FIGURES")
	if path == "" {
		return
	}
	figuresMu.Lock()
	defer figuresMu.Unlock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("figures file: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %-8s %s\n", time.Now().UTC().Format(time.RFC3339), mode, line)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds ./cmd/gatescope once per test process. A failed build
// fails the test: these tests must not skip.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := reliability.ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "gatescope-reliability-bin-")
		if err != nil {
			buildErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		binPath, buildErr = reliability.Build(ctx, root, dir)
	})
	if buildErr != nil {
		t.Fatalf("the reliability tests need the gatescope binary: %v", buildErr)
	}
	return binPath
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// server is a child gatescope with the secrets it must never print.
type server struct {
	*reliability.Server
	mu      sync.Mutex
	secrets []string
}

// startServer starts `gatescope serve` on a fresh data directory. At the
// end of the test it is stopped gracefully, and its whole output is
// checked for every secret it was given or handed out.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	return startServerIn(t, t.TempDir(), args...)
}

func startServerIn(t *testing.T, dir string, args ...string) *server {
	t.Helper()
	s := newServerIn(t, dir, args...)
	if err := s.Start(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	return s
}

// newServerIn is startServerIn without the start, for servers that need
// more set up (a TLS client) first.
func newServerIn(t *testing.T, dir string, args ...string) *server {
	t.Helper()
	token := "gsa_test_" + randomHex(24)
	rs, err := reliability.NewServer(binary(t), dir, token, args...)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{Server: rs, secrets: []string{token}}
	t.Cleanup(func() {
		if s.Running() {
			if err := s.Stop(90 * time.Second); err != nil {
				t.Errorf("stopping the server: %v", err)
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if leaked := s.LeakedSecrets(s.secrets...); len(leaked) > 0 {
			t.Errorf("%d secrets appear in the server's logs (%d runs)", len(leaked), s.Starts)
		}
		if t.Failed() {
			t.Logf("server output (tail):\n%s", s.Tail(6000))
		}
		if p := os.Getenv("GATESCOPE_SERVER_LOG"); p != "" {
			os.WriteFile(p, []byte(s.Log.String()), 0o644)
		}
	})
	return s
}

func (s *server) secret(v string) {
	s.mu.Lock()
	s.secrets = append(s.secrets, v)
	s.mu.Unlock()
}

// app is a created app: its id and its secret application id.
type app struct{ ID, Key string }

func (s *server) createApp(t *testing.T, name string) app {
	t.Helper()
	var a struct {
		ID  string `json:"app_id"`
		Key string `json:"application_id"`
	}
	s.api(t, "POST", "/api/v1/apps", map[string]string{"name": name}, http.StatusCreated, &a)
	if a.ID == "" || a.Key == "" {
		t.Fatalf("created app without ids: %+v", a)
	}
	s.secret(a.Key)
	return app(a)
}

// api sends an admin API request and decodes the JSON answer into out.
func (s *server) api(t *testing.T, method, path string, body any, want int, out any) []byte {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL(path), rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return b
}

// metrics scrapes /metrics into series -> value.
func (s *server) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := s.Client.Get(s.URL("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[sp+1:], 64); err == nil {
			out[line[:sp]] = v
		}
	}
	return out
}

// dbPath is the DuckDB file of a data directory.
func dbPath(dir string) string { return filepath.Join(dir, "gatescope.duckdb") }

package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/service"
	"github.com/gatescope/gatescope/internal/simulate"
	"github.com/gatescope/gatescope/internal/simulate/firehoseclient"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/web"
)

// The browser test: a real `gatescope serve` (in-process, over loopback)
// filled by the simulator through the real Firehose endpoint, and Debian's
// chromium driven by playwright-core (web/e2e/dashboard.mjs), which checks
// what each page shows against the API's own answers.
//
// Environment:
//   - CI set: missing chromium, node or web/node_modules fail the test
//     instead of skipping it.
//   - GATESCOPE_E2E_SCREENSHOTS: where screenshots go (default
//     web/e2e/screenshots, git-ignored); the test prints it.
//   - GATESCOPE_README_SCREENSHOT=1: also write docs/images/overview.png.
//   - GATESCOPE_E2E_SERVE=<duration>: serve the filled instance that long
//     instead of running the browser (for working on the dashboard).

const chromiumPath = "/usr/bin/chromium"

func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	node := requirements(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := service.DefaultConfig(t.TempDir())
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.DuckDB.MemoryLimit = "1GB"
	cfg.DuckDB.Threads = 2
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	svc, err := service.Start(ctx, cfg, log)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(2 * time.Minute):
			t.Error("Run did not return")
		}
	}()
	base := "http://" + svc.Addr()
	token, _ := svc.AdminToken()

	var app struct {
		ID  string `json:"app_id"`
		Key string `json:"application_id"`
	}
	adminJSON(t, token, "POST", base+"/api/v1/apps", `{"name":"Orders API"}`, http.StatusCreated, &app)
	// A second app with no data: the picker and the empty states.
	adminJSON(t, token, "POST", base+"/api/v1/apps", `{"name":"Empty API"}`, http.StatusCreated, nil)

	fill(t, ctx, base, app.Key)
	if f, ok := svc.Store().(store.Flusher); ok {
		if err := f.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}

	if d := os.Getenv("GATESCOPE_E2E_SERVE"); d != "" {
		hold, err := time.ParseDuration(d)
		if err != nil {
			t.Fatalf("GATESCOPE_E2E_SERVE: %v", err)
		}
		fmt.Printf("serving %s for %v\n  token: %s\n  app: %s\n", base, hold, token, app.ID)
		time.Sleep(hold)
		return
	}

	shots := os.Getenv("GATESCOPE_E2E_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join("e2e", "screenshots")
	}
	if shots, err = filepath.Abs(shots); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	// Only this run's pictures: drop the previous run's.
	old, _ := filepath.Glob(filepath.Join(shots, "*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	env := append(os.Environ(),
		"GATESCOPE_URL="+base, "GATESCOPE_TOKEN="+token, "GATESCOPE_APP="+app.ID,
		"GATESCOPE_SCREENSHOTS="+shots, "CHROMIUM="+chromiumPath)
	if os.Getenv("GATESCOPE_README_SCREENSHOT") != "" {
		readme, _ := filepath.Abs(filepath.Join("..", "docs", "images", "overview.png"))
		env = append(env, "GATESCOPE_README_SCREENSHOT="+readme)
	}
	runCtx, stop := context.WithTimeout(ctx, 8*time.Minute)
	defer stop()
	cmd := exec.CommandContext(runCtx, node, filepath.Join("e2e", "dashboard.mjs"))
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, testLog{t})
	cmd.Stderr = cmd.Stdout
	err = cmd.Run()
	t.Logf("screenshots: %s", shots)
	if err != nil {
		t.Fatalf("the browser test failed: %v (its output is above)", err)
	}
	if !strings.Contains(out.String(), "dashboard e2e: all checks passed") {
		t.Fatalf("the browser test did not finish:\n%s", out.String())
	}
}

// requirements finds node and checks for chromium, playwright-core and a
// built dashboard. Under CI their absence is a failure, elsewhere a skip.
func requirements(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI is set, so this fails; .ci/run installs it)", msg)
		}
		t.Skip(msg)
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		missing("no browser at %s: apt-get install chromium", chromiumPath)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("no node: apt-get install nodejs npm")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		missing("no web/node_modules/playwright-core: run npm ci in web/")
	}
	if !web.Built() {
		missing("the dashboard is not built into this test binary: run make web")
	}
	return node
}

// fill delivers a week of history for 200 users through the Firehose
// endpoint, as Firehose would, plus one batch with records Gatescope must
// reject.
func fill(t *testing.T, ctx context.Context, base, key string) {
	t.Helper()
	sum, err := simulate.Run(ctx, simulate.Config{
		URL: base + "/v1/firehose", AccessKey: key,
		Backfill: 7 * 24 * time.Hour, Users: 200, Companies: 20, Seed: 5, API: accesslog.REST,
		LinkUsers: true,
		Firehose: firehoseclient.Config{Relaxed: true, BufferSize: 1 << 20, BufferInterval: time.Second,
			RetryDuration: 30 * time.Second, Backoff: 50 * time.Millisecond, BackupDir: t.TempDir(), Concurrency: 2},
	}, io.Discard)
	if err != nil {
		t.Fatalf("simulate: %v", err)
	}
	if sum.Events < 10000 {
		t.Fatalf("the simulator delivered only %d events", sum.Events)
	}
	t.Logf("simulator: %d events, %d users linked", sum.Events, sum.UsersLinked)

	// One delivery (the HTTP endpoint delivery request format) whose two
	// records cannot become events: the set-up page lists them.
	records := []map[string]string{
		{"data": base64.StdEncoding.EncodeToString([]byte("this is not an access log line"))},
		{"data": base64.StdEncoding.EncodeToString([]byte(`{"httpMethod":"GET"}`))},
	}
	body, _ := json.Marshal(map[string]any{"requestId": "e2e-bad-batch-0001", "timestamp": time.Now().UnixMilli(), "records": records})
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/firehose", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Firehose-Protocol-Version", "1.0")
	req.Header.Set("X-Amz-Firehose-Request-Id", "e2e-bad-batch-0001")
	req.Header.Set("X-Amz-Firehose-Access-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bad batch: %d %s", resp.StatusCode, b)
	}
}

func adminJSON(t *testing.T, token, method, url, body string, want int, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

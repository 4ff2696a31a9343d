package reliability_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/service"
)

// FuzzQueryAPI sends arbitrary query strings to the query API's routes on
// a real in-process server: every answer is JSON, and 200, 400 or 404 (a
// 500 would be an input the API does not classify; a 503 a query that
// runs away).
func FuzzQueryAPI(f *testing.F) {
	for _, s := range []string{
		"metrics=count,latency_p95&group_by=route,status&sort=-count&limit=5",
		"from=-7d&to=now&interval=1h&tz=Europe/Paris&metric=unique_users&group_by=company_id",
		"status=5xx&route=/orders/{id}&user_id=' OR 1=1 --&cursor=eyJ0IjoxfQ",
		`filter={"and":[{"field":"metadata.k","op":"gt","value":3},{"not":{"field":"status","op":"class","value":"4xx"}}]}`,
		"from=9999-99-99&to=-99999999w&limit=-1&offset=1e9",
		"q=%00%ff&sort=error_rate&order=asc&company_id=<script>",
	} {
		f.Add(uint8(0), s)
	}
	cfg := service.DefaultConfig(f.TempDir())
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.DuckDB.MemoryLimit = "256MB"
	cfg.DuckDB.Threads = 1
	cfg.API.QueryTimeout = 10 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := service.Start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	f.Cleanup(func() { cancel(); <-done })
	app, err := svc.Apps().Create(ctx, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	token, _ := svc.AdminToken()
	routes := []string{"/api/v1/events", "/api/v1/metrics/timeseries", "/api/v1/metrics/segmentation",
		"/api/v1/users", "/api/v1/companies", "/api/v1/users/u1", "/api/v1/companies/c1", "/api/v1/events/r1", "/api/v1/fields"}
	client := &http.Client{Timeout: 30 * time.Second}
	f.Fuzz(func(t *testing.T, route uint8, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		q.Set("app_id", app.ID)
		path := routes[int(route)%len(routes)]
		req, err := http.NewRequest("GET", "http://"+svc.Addr()+path+"?"+q.Encode(), nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		switch resp.StatusCode {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound:
		default:
			t.Fatalf("GET %s?%s: %d %s", path, q.Encode(), resp.StatusCode, b)
		}
		if !json.Valid(b) || strings.Contains(string(b), "SELECT") {
			t.Fatalf("GET %s?%s: answer %.200s", path, q.Encode(), b)
		}
	})
}

package service_test

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
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/service"
)

// running is a Gatescope started in-process, serving over loopback.
type running struct {
	svc   *service.Service
	base  string // http://127.0.0.1:port
	token string // the admin token
	stop  func() // cancels and waits for Run; idempotent
}

// start starts Gatescope on dir with the test defaults, adjusted by tune.
func start(t *testing.T, dir string, tune func(*service.Config)) *running {
	t.Helper()
	cfg := service.DefaultConfig(dir)
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.DuckDB.MemoryLimit = "512MB"
	cfg.DuckDB.Threads = 2
	if tune != nil {
		tune(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	svc, err := service.Start(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("start: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	token, _ := svc.AdminToken()
	r := &running{svc: svc, base: "http://" + svc.Addr(), token: token}
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("Run did not return after its context was cancelled")
		}
	}
	t.Cleanup(r.stop)
	return r
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// do sends an admin API request and decodes the JSON answer into out.
func (r *running) do(t *testing.T, method, path string, body any, wantStatus int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, wantStatus)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// app is a created app: its public id and its secret application id, the
// Firehose access key.
type app struct{ ID, Key string }

func (r *running) createApp(t *testing.T, name string) app {
	t.Helper()
	var a struct {
		ID  string `json:"app_id"`
		Key string `json:"application_id"`
	}
	r.do(t, "POST", "/api/v1/apps", map[string]string{"name": name}, http.StatusCreated, &a)
	if a.ID == "" || a.Key == "" {
		t.Fatalf("created app without ids: %+v", a)
	}
	return app(a)
}

// delivery is one Firehose HTTP endpoint request.
type delivery struct {
	key       string // X-Amz-Firehose-Access-Key; "" sends none
	requestID string
	body      []byte // the body before any Content-Encoding
	gzip      bool   // compress and say so, as Firehose does with GZIP content encoding
	// encoding overrides Content-Encoding (for bodies that lie about it).
	encoding string
	attrs    map[string]string // X-Amz-Firehose-Common-Attributes
}

// answer is what the endpoint said, checked against the specification's
// response format by post.
type answer struct {
	status    int
	requestID string
	timestamp int64
	errorMsg  *string
	raw       []byte
}

// post sends d as Firehose would and checks the response format the
// specification requires of every answer: Content-Type application/json,
// a JSON object with the echoed requestId and a timestamp, and an
// errorMessage exactly when the status is not 200.
func (r *running) post(t *testing.T, d delivery) answer {
	t.Helper()
	return r.postWith(t, d, nil)
}

// postWith is post with some headers set to other values.
func (r *running) postWith(t *testing.T, d delivery, headers map[string]string) answer {
	t.Helper()
	body := d.body
	if d.gzip {
		body = gzipBytes(t, body)
	}
	req, err := http.NewRequest("POST", r.base+"/v1/firehose", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Firehose-Protocol-Version", "1.0")
	req.Header.Set("X-Amz-Firehose-Request-Id", d.requestID)
	req.Header.Set("X-Amz-Firehose-Source-Arn", "arn:aws:firehose:us-east-1:123456789012:deliverystream/amazon-apigateway-gatescope")
	if d.key != "" {
		req.Header.Set("X-Amz-Firehose-Access-Key", d.key)
	}
	switch {
	case d.encoding != "":
		req.Header.Set("Content-Encoding", d.encoding)
	case d.gzip:
		req.Header.Set("Content-Encoding", "gzip")
	}
	if d.attrs != nil {
		b, _ := json.Marshal(map[string]any{"commonAttributes": d.attrs})
		req.Header.Set("X-Amz-Firehose-Common-Attributes", string(b))
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	before := time.Now().UnixMilli()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /v1/firehose %s: %v", d.requestID, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST /v1/firehose %s: reading the answer: %v", d.requestID, err)
	}
	after := time.Now().UnixMilli()
	a := answer{status: resp.StatusCode, raw: raw}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", d.requestID, ct)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatalf("%s: answer %q is not a JSON object: %v", d.requestID, raw, err)
	}
	for k := range fields {
		if k != "requestId" && k != "timestamp" && k != "errorMessage" {
			t.Errorf("%s: answer has key %q outside the specification: %s", d.requestID, k, raw)
		}
	}
	if err := json.Unmarshal(fields["requestId"], &a.requestID); err != nil || a.requestID != d.requestID {
		t.Errorf("%s: answer's requestId %s does not echo the request's", d.requestID, fields["requestId"])
	}
	if err := json.Unmarshal(fields["timestamp"], &a.timestamp); err != nil || a.timestamp < before || a.timestamp > after {
		t.Errorf("%s: answer's timestamp %s is not the time of answering in ms (%d..%d)", d.requestID, fields["timestamp"], before, after)
	}
	if m, ok := fields["errorMessage"]; ok {
		var s string
		if err := json.Unmarshal(m, &s); err != nil || s == "" {
			t.Errorf("%s: errorMessage %s is not a message", d.requestID, m)
		}
		a.errorMsg = &s
	}
	if (a.status == http.StatusOK) != (a.errorMsg == nil) {
		t.Errorf("%s: status %d with errorMessage %v: want one exactly on failure", d.requestID, a.status, a.errorMsg)
	}
	return a
}

// apiEvent is an event as GET /api/v1/events returns it, every field kept.
type apiEvent map[string]any

// events lists every event of an app.
func (r *running) events(t *testing.T, appID string) map[string]apiEvent {
	t.Helper()
	out := map[string]apiEvent{}
	cursor := ""
	for {
		q := url.Values{"app_id": {appID}, "limit": {"1000"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Events []json.RawMessage `json:"events"`
			Next   string            `json:"next_cursor"`
		}
		r.do(t, "GET", "/api/v1/events?"+q.Encode(), nil, http.StatusOK, &page)
		for _, raw := range page.Events {
			var ev apiEvent
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&ev); err != nil {
				t.Fatal(err)
			}
			id, _ := ev["request_id"].(string)
			if _, dup := out[id]; dup {
				t.Errorf("request %q listed twice", id)
			}
			out[id] = ev
		}
		if page.Next == "" {
			return out
		}
		cursor = page.Next
	}
}

// waitEvents polls the API until the app has n events, and returns them.
// Loads are asynchronous (the store's FlushInterval), so this is how a
// test waits without sleeping a fixed time.
func (r *running) waitEvents(t *testing.T, appID string, n int) map[string]apiEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := r.events(t, appID)
		if len(evs) >= n || time.Now().After(deadline) {
			if len(evs) != n {
				t.Fatalf("app %s has %d events, want %d", appID, len(evs), n)
			}
			return evs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor polls the API until the event requestID of appID is listed.
// The spool loads in order, so once it is, everything acknowledged before
// it is queryable too: this is how a test checks that nothing else was
// stored.
func (r *running) waitFor(t *testing.T, appID, requestID string) map[string]apiEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := r.events(t, appID)
		if _, ok := evs[requestID]; ok {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s of app %s never became queryable", requestID, appID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metrics scrapes /metrics into series → value, series written as
// name{label="value",...} the way the exposition format prints them.
func (r *running) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get(r.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:sp]] = v
	}
	return out
}

// rejectedRow is a row of the rejected-records store.
type rejectedRow struct {
	appID, source, reason, batchID string
	received                       time.Time
	raw                            []byte
}

func (r *running) rejected(t *testing.T, appID string) []rejectedRow {
	t.Helper()
	rows, err := r.svc.Store().Query(context.Background(),
		`SELECT app_id, received_at, source, reason, batch_id, raw FROM rejected WHERE app_id = ? ORDER BY received_at, batch_id, raw`, appID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []rejectedRow
	for rows.Next() {
		var x rejectedRow
		var batch *string
		if err := rows.Scan(&x.appID, &x.received, &x.source, &x.reason, &batch, &x.raw); err != nil {
			t.Fatal(err)
		}
		if batch != nil {
			x.batchID = *batch
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// body builds a Firehose request body from record data.
func body(requestID string, records ...[]byte) []byte {
	fb := firehoseBody{RequestID: requestID, Timestamp: time.Now().UnixMilli()}
	for _, r := range records {
		fb.Records = append(fb.Records, firehoseRecord{Data: b64(r)})
	}
	b, _ := json.Marshal(fb)
	return b
}

// logLine is a seed-format line for a request id, at a fixed time.
func logLine(requestID string) []byte {
	return []byte(fmt.Sprintf(`{"apiId":"a1b2c3d4e5","requestId":%q,"requestTime":"28/Feb/2026:10:00:00 +0000",`+
		`"protocol":"HTTP/1.1","httpMethod":"GET","resourcePath":"/prod/orders/1","requestHostHeader":"api.example.com",`+
		`"requestUserAgentHeader":"curl/8.5.0","ip":"192.0.2.1","status":"200","responseLength":"10","durationMs":"5",`+
		`"caller":"-","user":"-","principalId":"-","cognitoIdentityId":"-","userArn":"-","apiKey":"-","apiKeyId":"k1"}`, requestID))
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

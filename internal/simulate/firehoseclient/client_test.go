package firehoseclient_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/simulate/firehoseclient"
	"github.com/gatescope/gatescope/internal/simulate/firehoseclient/firehosetest"
)

const accessKey = "app-key-0123456789"

func records(n, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf(`{"requestId":"r-%06d","pad":"%s"}`+"\n", i, strings.Repeat("x", max(0, size-40))))
	}
	return out
}

func newClient(t *testing.T, cfg firehoseclient.Config) *firehoseclient.Client {
	t.Helper()
	if cfg.BackupDir == "" {
		cfg.BackupDir = t.TempDir()
	}
	c, err := firehoseclient.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func putAll(t *testing.T, c *firehoseclient.Client, recs [][]byte) {
	t.Helper()
	for _, r := range recs {
		if err := c.Put(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func noViolations(t *testing.T, r *firehosetest.Receiver) {
	t.Helper()
	for _, v := range r.Violations() {
		t.Error(v)
	}
}

func TestDeliversBatchesAsFirehoseDoes(t *testing.T) {
	cases := []struct {
		name  string
		gzip  bool
		attrs map[string]string
	}{
		{"gzip", true, nil},
		{"uncompressed", false, nil},
		{"gzip with common attributes", true, map[string]string{"env": "demo", "team": "api"}},
		{"uncompressed with common attributes", false, map[string]string{"source": "simulator"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := firehoseclient.Config{AccessKey: accessKey, StreamName: "amazon-apigateway-test", Region: "eu-west-1", AccountID: "111122223333",
				Uncompressed: !tc.gzip, CommonAttributes: tc.attrs, Relaxed: true, BufferSize: 20 << 10, BufferInterval: 900 * time.Second,
				RetryDuration: 5 * time.Second}
			rcv := firehosetest.Start(t, firehosetest.Options{AccessKey: accessKey, Gzip: tc.gzip, CommonAttributes: tc.attrs,
				SourceARN: "arn:aws:firehose:eu-west-1:111122223333:deliverystream/amazon-apigateway-test"})
			cfg.URL = rcv.URL
			c := newClient(t, cfg)
			recs := records(500, 300)
			putAll(t, c, recs)
			noViolations(t, rcv)

			got := rcv.Records()
			if len(got) != len(recs) {
				t.Fatalf("received %d records, put %d", len(got), len(recs))
			}
			for i := range recs {
				if !bytes.Equal(got[i], recs[i]) {
					t.Fatalf("record %d: got %q, want %q", i, got[i], recs[i])
				}
			}
			reqs := rcv.Requests()
			ids := map[string]bool{}
			for _, q := range reqs {
				size := 0
				for _, r := range q.Records {
					size += len(r)
				}
				if size > cfg.BufferSize {
					t.Errorf("a batch of %d bytes exceeds the %d-byte buffer", size, cfg.BufferSize)
				}
				if ids[q.ID] {
					t.Errorf("request id %s reused by a different batch", q.ID)
				}
				ids[q.ID] = true
			}
			// 500 records of 300 bytes in 20 KiB buffers: 68 per batch.
			if want := (500 + 67) / 68; len(reqs) != want {
				t.Errorf("%d requests, want %d", len(reqs), want)
			}
			st := c.Stats()
			if st.Records != 500 || st.DeliveredRecords != 500 || st.Events != 500 || st.DeliveredEvents != 500 || st.DeliveredBatches != int64(len(reqs)) || st.Retries != 0 || st.FailedBatches != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestBufferIntervalFlushes(t *testing.T) {
	rcv := firehosetest.Start(t, firehosetest.Options{AccessKey: accessKey, Gzip: true})
	c := newClient(t, firehoseclient.Config{URL: rcv.URL, AccessKey: accessKey, Relaxed: true, BufferSize: 1 << 20, BufferInterval: 100 * time.Millisecond,
		RetryDuration: 5 * time.Second})
	for _, r := range records(3, 100) {
		if err := c.Put(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(rcv.Requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if reqs := rcv.Requests(); len(reqs) != 1 || len(reqs[0].Records) != 3 {
		t.Fatalf("before Close the interval should have sent one batch of 3 records; got %d requests", len(reqs))
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	noViolations(t, rcv)
	if n := len(rcv.Requests()); n != 1 {
		t.Fatalf("%d requests after Close, want 1", n)
	}
}

// failing answers the first n attempts of each batch with fail.
func failing(n int, fail firehosetest.Response) func(*firehosetest.Request) firehosetest.Response {
	return func(q *firehosetest.Request) firehosetest.Response {
		if q.Attempt <= n {
			return fail
		}
		return firehosetest.Response{}
	}
}

func TestRetriesUntilAcknowledged(t *testing.T) {
	cases := []struct {
		name    string
		respond func(*firehosetest.Request) firehosetest.Response
		timeout time.Duration
		retries int
	}{
		{"500", failing(2, firehosetest.Response{Status: 500}), 0, 2},
		{"503", failing(1, firehosetest.Response{Status: 503}), 0, 1},
		{"wrong requestId", failing(1, firehosetest.Response{RequestID: "00000000-0000-4000-8000-000000000000"}), 0, 1},
		{"missing requestId", failing(1, firehosetest.Response{OmitRequestID: true}), 0, 1},
		{"not JSON", failing(1, firehosetest.Response{Body: "OK"}), 0, 1},
		{"202 is not 200", failing(1, firehosetest.Response{Status: 202}), 0, 1},
		{"response timeout", failing(1, firehosetest.Response{Delay: 3 * time.Second}), 300 * time.Millisecond, 1},
		{"varied", func(q *firehosetest.Request) firehosetest.Response {
			return [...]firehosetest.Response{{Status: 500}, {RequestID: "nope"}, {Status: 413}, {}}[min(q.Attempt-1, 3)]
		}, 0, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcv := firehosetest.Start(t, firehosetest.Options{AccessKey: accessKey, Gzip: true, Respond: tc.respond})
			backups := t.TempDir()
			c := newClient(t, firehoseclient.Config{URL: rcv.URL, AccessKey: accessKey, Relaxed: true, BufferSize: 1 << 20,
				BufferInterval: 900 * time.Second, Backoff: 10 * time.Millisecond, RetryDuration: 30 * time.Second,
				ResponseTimeout: tc.timeout, BackupDir: backups})
			recs := records(10, 200)
			putAll(t, c, recs)
			noViolations(t, rcv)
			reqs := rcv.Requests()
			if len(reqs) != tc.retries+1 {
				t.Fatalf("%d attempts, want %d", len(reqs), tc.retries+1)
			}
			for i, q := range reqs {
				if q.ID != reqs[0].ID || q.Attempt != i+1 {
					t.Fatalf("attempt %d has request id %s (attempt %d); the first had %s", i+1, q.ID, q.Attempt, reqs[0].ID)
				}
				if len(q.Records) != len(recs) {
					t.Fatalf("attempt %d carried %d records", i+1, len(q.Records))
				}
			}
			st := c.Stats()
			if st.Retries != int64(tc.retries) || st.DeliveredBatches != 1 || st.FailedBatches != 0 || st.BackedUpBatches != 0 {
				t.Errorf("stats %+v", st)
			}
			if files := backupFiles(t, backups); len(files) != 0 {
				t.Errorf("backed up %v after a successful delivery", files)
			}
		})
	}
}

func backupFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var backupName = regexp.MustCompile(`^http-endpoint-failed/(\d{4})/(\d{2})/(\d{2})/(\d{2})/amazon-apigateway-test-1-(\d{4})-(\d{2})-(\d{2})-(\d{2})-\d{2}-\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// readBackup checks one backup object's layout and returns its lines.
func readBackup(t *testing.T, dir, rel string) []map[string]any {
	t.Helper()
	m := backupName.FindStringSubmatch(rel)
	if m == nil {
		t.Fatalf("backup object %q is not laid out as Firehose's", rel)
	}
	if m[1] != m[5] || m[2] != m[6] || m[3] != m[7] || m[4] != m[8] {
		t.Fatalf("backup prefix and object name disagree on the hour: %q", rel)
	}
	f, err := os.Open(filepath.Join(dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var v map[string]any
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("backup line is not JSON: %v", err)
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		want := "[arrivalTimestamp attemptEndingTimestamp attemptsMade errorCode errorMessage rawData]"
		if got := fmt.Sprint(sortStrings(keys)); got != want {
			t.Fatalf("backup line keys %s, want %s", got, want)
		}
		lines = append(lines, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestGivesUpAfterRetryDurationAndBacksUp(t *testing.T) {
	var first, last atomic.Int64
	rcv := firehosetest.Start(t, firehosetest.Options{AccessKey: accessKey, Gzip: true, Respond: func(q *firehosetest.Request) firehosetest.Response {
		now := time.Now().UnixMilli()
		first.CompareAndSwap(0, now)
		last.Store(now)
		return firehosetest.Response{Status: 500}
	}})
	backups := t.TempDir()
	retry := 1500 * time.Millisecond
	c := newClient(t, firehoseclient.Config{URL: rcv.URL, AccessKey: accessKey, StreamName: "amazon-apigateway-test", Relaxed: true,
		BufferSize: 4 << 10, BufferInterval: 900 * time.Second, Backoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		RetryDuration: retry, BackupDir: backups, Concurrency: 2})
	before := time.Now().UnixMilli()
	recs := records(30, 300) // three batches of 13, 13 and 4
	putAll(t, c, recs)
	noViolations(t, rcv)

	attempts := map[string]int{}
	for _, q := range rcv.Requests() {
		attempts[q.ID] = q.Attempt
	}
	if len(attempts) != 3 {
		t.Fatalf("%d batches, want 3", len(attempts))
	}
	for id, n := range attempts {
		if n < 4 {
			t.Errorf("batch %s gave up after %d attempts", id, n)
		}
	}
	// Attempts go on until the retry duration has elapsed, not beyond one
	// more back-off.
	if span := time.Duration(last.Load()-first.Load()) * time.Millisecond; span < retry-300*time.Millisecond {
		t.Errorf("attempts spanned %v, want about the retry duration %v", span, retry)
	}

	files := backupFiles(t, backups)
	if len(files) != 3 {
		t.Fatalf("backup objects %v, want 3", files)
	}
	var raw [][]byte
	for _, f := range files {
		lines := readBackup(t, backups, f)
		for _, v := range lines {
			data, err := base64.StdEncoding.DecodeString(v["rawData"].(string))
			if err != nil {
				t.Fatal(err)
			}
			raw = append(raw, data)
			made, _ := v["attemptsMade"].(json.Number).Int64()
			arrival, _ := v["arrivalTimestamp"].(json.Number).Int64()
			ending, _ := v["attemptEndingTimestamp"].(json.Number).Int64()
			if made < 4 || v["errorCode"] != "HttpEndpoint.DestinationException" || !strings.Contains(v["errorMessage"].(string), "500") ||
				arrival < before || ending < arrival+retry.Milliseconds() {
				t.Errorf("backup line %v", v)
			}
		}
	}
	if len(raw) != len(recs) {
		t.Fatalf("backed up %d records, put %d", len(raw), len(recs))
	}
	seen := map[string]bool{}
	for _, r := range raw {
		seen[string(r)] = true
	}
	for _, r := range recs {
		if !seen[string(r)] {
			t.Fatalf("record %q missing from the backup", r)
		}
	}
	st := c.Stats()
	if st.FailedBatches != 3 || st.BackedUpBatches != 3 || st.BackedUpRecords != 30 || st.DeliveredBatches != 0 || st.BackupErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestFailuresWithoutRetries(t *testing.T) {
	// A port nobody listens on: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/v1/firehose"
	ln.Close()

	cases := []struct {
		name, code string
		url        func(t *testing.T) string
	}{
		{"connection refused", "HttpEndpoint.ConnectionFailed", func(*testing.T) string { return refused }},
		{"wrong request id", "HttpEndpoint.InvalidResponseFromDestination", func(t *testing.T) string {
			return firehosetest.Start(t, firehosetest.Options{AccessKey: accessKey, Gzip: true, Respond: failing(99, firehosetest.Response{RequestID: "x"})}).URL
		}},
		{"timeout", "HttpEndpoint.RequestTimeout", func(t *testing.T) string {
			return firehosetest.Start(t, firehosetest.Options{AccessKey: accessKey, Gzip: true, Respond: failing(99, firehosetest.Response{Delay: 5 * time.Second})}).URL
		}},
		{"redirect", "HttpEndpoint.DestinationException", func(t *testing.T) string {
			srv := http.Server{Handler: http.RedirectHandler("https://example.invalid/", http.StatusFound)}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = srv.Serve(l) }()
			t.Cleanup(func() { _ = srv.Close() })
			return "http://" + l.Addr().String() + "/v1/firehose"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			backups := t.TempDir()
			c := newClient(t, firehoseclient.Config{URL: tc.url(t), AccessKey: accessKey, StreamName: "amazon-apigateway-test", Relaxed: true,
				BufferSize: 1 << 20, BufferInterval: 900 * time.Second, RetryDuration: firehoseclient.NoRetries,
				ResponseTimeout: 200 * time.Millisecond, BackupDir: backups})
			putAll(t, c, records(5, 100))
			files := backupFiles(t, backups)
			if len(files) != 1 {
				t.Fatalf("backups %v", files)
			}
			for _, v := range readBackup(t, backups, files[0]) {
				if v["errorCode"] != tc.code || v["attemptsMade"].(json.Number).String() != "1" {
					t.Errorf("backup line %v, want error code %s after 1 attempt", v, tc.code)
				}
			}
			if st := c.Stats(); st.Attempts != 1 || st.Retries != 0 || st.BackedUpRecords != 5 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestCloseDeadlineBacksUpPending(t *testing.T) {
	rcv := firehosetest.Start(t, firehosetest.Options{AccessKey: accessKey, Gzip: true, Respond: failing(999, firehosetest.Response{Status: 500})})
	backups := t.TempDir()
	c := newClient(t, firehoseclient.Config{URL: rcv.URL, AccessKey: accessKey, Relaxed: true, BufferSize: 1 << 10,
		BufferInterval: 900 * time.Second, Backoff: 50 * time.Millisecond, RetryDuration: time.Hour, BackupDir: backups})
	for _, r := range records(20, 200) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_ = c.Put(ctx, r) // may time out queueing; the batch stays with the client
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := c.Close(ctx); err == nil {
		t.Fatal("Close returned nil although its deadline cut retries short")
	}
	st := c.Stats()
	if st.Records != 20 || st.BackedUpRecords != 20 || st.BackedUpEvents != 20 || st.FailedEvents != 20 || st.DeliveredRecords != 0 {
		t.Fatalf("stats %+v: every record must be backed up", st)
	}
	if err := c.Put(context.Background(), []byte("late")); err != firehoseclient.ErrClosed {
		t.Fatalf("Put after Close = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := firehoseclient.Config{URL: "https://gatescope.example/v1/firehose", BackupDir: "/tmp/x"}
	cases := []struct {
		name   string
		mutate func(*firehoseclient.Config)
		valid  bool
	}{
		{"defaults", func(*firehoseclient.Config) {}, true},
		{"no url", func(c *firehoseclient.Config) { c.URL = "" }, false},
		{"ftp url", func(c *firehoseclient.Config) { c.URL = "ftp://x/y" }, false},
		{"buffer below 1 MiB", func(c *firehoseclient.Config) { c.BufferSize = 1 << 10 }, false},
		{"buffer above 64 MiB", func(c *firehoseclient.Config) { c.BufferSize = 65 << 20 }, false},
		{"buffer 64 MiB", func(c *firehoseclient.Config) { c.BufferSize = 64 << 20 }, true},
		{"interval below 60 s", func(c *firehoseclient.Config) { c.BufferInterval = time.Second }, false},
		{"interval above 900 s", func(c *firehoseclient.Config) { c.BufferInterval = 901 * time.Second }, false},
		{"relaxed small", func(c *firehoseclient.Config) { c.Relaxed, c.BufferSize, c.BufferInterval = true, 10, time.Millisecond }, true},
		{"retry 7200 s", func(c *firehoseclient.Config) { c.RetryDuration = 7200 * time.Second }, true},
		{"retry above 7200 s", func(c *firehoseclient.Config) { c.RetryDuration = 7201 * time.Second }, false},
		{"no retries", func(c *firehoseclient.Config) { c.RetryDuration = firehoseclient.NoRetries }, true},
		{"bad stream name", func(c *firehoseclient.Config) { c.StreamName = "a b" }, false},
		{"bad account", func(c *firehoseclient.Config) { c.AccountID = "12" }, false},
		{"bad region", func(c *firehoseclient.Config) { c.Region = "mars" }, false},
		{"no backup dir", func(c *firehoseclient.Config) { c.BackupDir = "" }, false},
		{"empty attribute name", func(c *firehoseclient.Config) { c.CommonAttributes = map[string]string{"": "v"} }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mutate(&c)
			if err := c.Validate(); (err == nil) != tc.valid {
				t.Fatalf("Validate() = %v, want valid=%v", err, tc.valid)
			}
		})
	}
	if got := ok.SourceARN(); got != "arn:aws:firehose:us-east-1:123456789012:deliverystream/amazon-apigateway-gatescope" {
		t.Errorf("default source ARN %s", got)
	}
}

func TestPutRejectsOversizedRecords(t *testing.T) {
	c := newClient(t, firehoseclient.Config{URL: "http://127.0.0.1:1/", Relaxed: true, BufferSize: 1 << 20, BufferInterval: 900 * time.Second})
	if err := c.Put(context.Background(), make([]byte, firehoseclient.MaxRecordSize+1)); err != firehoseclient.ErrRecordTooLarge {
		t.Fatalf("Put = %v", err)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

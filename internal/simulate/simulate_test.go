package simulate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/simulate"
	"github.com/gatescope/gatescope/internal/simulate/firehoseclient"
	"github.com/gatescope/gatescope/internal/simulate/firehoseclient/firehosetest"
	"github.com/gatescope/gatescope/internal/simulate/traffic"
)

const key = "sim-app-key"

var end = time.Date(2025, 3, 3, 6, 0, 0, 0, time.UTC)

func baseConfig(t *testing.T, url string, api accesslog.API) simulate.Config {
	return simulate.Config{
		URL: url, AccessKey: key, Backfill: 48 * time.Hour, End: end,
		Users: 60, Companies: 6, Seed: 42, API: api,
		// A short retry duration makes a spec violation (answered 400)
		// fail the test quickly instead of retrying for minutes.
		Firehose: firehoseclient.Config{Relaxed: true, BufferSize: 256 << 10, BufferInterval: 900 * time.Second,
			Backoff: 10 * time.Millisecond, RetryDuration: 5 * time.Second, BackupDir: t.TempDir(), Concurrency: 2},
	}
}

// modelLines generates the lines the run must have delivered, from the
// model directly.
func modelLines(t *testing.T, cfg simulate.Config) []traffic.Event {
	t.Helper()
	m, err := traffic.New(traffic.Config{Seed: cfg.Seed, Users: cfg.Users, Companies: cfg.Companies, API: cfg.API, Format: cfg.Format,
		Start: cfg.End.Add(-cfg.Backfill), End: cfg.End, EventsPerUserDay: cfg.EventsPerUserDay})
	if err != nil {
		t.Fatal(err)
	}
	var evs []traffic.Event
	for e, ok := m.Next(); ok; e, ok = m.Next() {
		evs = append(evs, e)
	}
	return evs
}

type delivered struct {
	line string
	ms   int64 // CloudWatch event timestamp; -1 for REST records
}

// decodeRecords reads what the receiver acknowledged: REST records are one
// line plus newline; CloudWatch records are gzip'd subscription payloads.
func decodeRecords(t *testing.T, api accesslog.API, records [][]byte) (out []delivered, controls int) {
	t.Helper()
	for _, r := range records {
		if api == accesslog.REST {
			if !bytes.HasSuffix(r, []byte("\n")) || bytes.Count(r, []byte("\n")) != 1 {
				t.Fatalf("REST record is not one line ending in a newline: %q", r)
			}
			out = append(out, delivered{string(bytes.TrimSuffix(r, []byte("\n"))), -1})
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(r))
		if err != nil {
			t.Fatalf("CloudWatch record is not gzip: %v", err)
		}
		raw, _ := io.ReadAll(zr)
		var p struct {
			MessageType string `json:"messageType"`
			LogEvents   []struct {
				ID        string `json:"id"`
				Timestamp int64  `json:"timestamp"`
				Message   string `json:"message"`
			} `json:"logEvents"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		switch p.MessageType {
		case "CONTROL_MESSAGE":
			controls++
		case "DATA_MESSAGE":
			for _, e := range p.LogEvents {
				out = append(out, delivered{e.Message, e.Timestamp})
			}
		default:
			t.Fatalf("messageType %q", p.MessageType)
		}
	}
	return out, controls
}

func TestBackfillDeliversTheModelsLinesOnce(t *testing.T) {
	cases := []struct {
		name   string
		api    accesslog.API
		format traffic.Format
		gzip   bool
	}{
		{"rest recommended gzip", accesslog.REST, traffic.FormatRecommended, true},
		{"rest seed uncompressed", accesslog.REST, traffic.FormatSeed, false},
		{"http via cloudwatch", accesslog.HTTP, "", true},
		{"websocket via cloudwatch", accesslog.WebSocket, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Every first attempt fails, so each batch is retried once.
			rcv := firehosetest.Start(t, firehosetest.Options{AccessKey: key, Gzip: tc.gzip, Respond: func(q *firehosetest.Request) firehosetest.Response {
				if q.Attempt == 1 {
					return firehosetest.Response{Status: 500}
				}
				return firehosetest.Response{}
			}})
			cfg := baseConfig(t, rcv.URL, tc.api)
			cfg.Format = tc.format
			cfg.Firehose.Uncompressed = !tc.gzip
			sum, err := simulate.Run(context.Background(), cfg, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range rcv.Violations() {
				t.Error(v)
			}
			want := modelLines(t, cfg)
			got, controls := decodeRecords(t, tc.api, rcv.Records())
			if tc.api != accesslog.REST && controls != 1 {
				t.Errorf("%d control messages, want 1", controls)
			}
			if len(got) != len(want) || int64(len(want)) != sum.Events || sum.Delivery.DeliveredEvents != sum.Events {
				t.Fatalf("delivered %d lines, model has %d, summary %+v", len(got), len(want), sum)
			}
			byLine := map[string]traffic.Event{}
			for _, e := range want {
				byLine[string(e.Line)] = e
			}
			for _, d := range got {
				e, ok := byLine[d.line]
				if !ok {
					t.Fatalf("delivered a line the model did not make: %s", d.line)
				}
				if d.ms != -1 && d.ms != e.Time.UnixMilli() {
					t.Fatalf("log event timestamp %d, event time %d", d.ms, e.Time.UnixMilli())
				}
				delete(byLine, d.line)
			}
			if sum.Delivery.FailedBatches != 0 || sum.Delivery.BackedUpEvents != 0 {
				t.Errorf("summary %+v", sum)
			}
			if d := sum.Delivery; d.Retries != d.DeliveredBatches || d.Attempts != 2*d.DeliveredBatches {
				t.Errorf("each batch should have been retried once: %+v", d)
			}
		})
	}
}

func TestSameSeedAndEndSameTraffic(t *testing.T) {
	run := func(seed uint64) []string {
		rcv := firehosetest.Start(t, firehosetest.Options{AccessKey: key, Gzip: true})
		cfg := baseConfig(t, rcv.URL, accesslog.REST)
		cfg.Seed = seed
		if _, err := simulate.Run(context.Background(), cfg, io.Discard); err != nil {
			t.Fatal(err)
		}
		got, _ := decodeRecords(t, accesslog.REST, rcv.Records())
		lines := make([]string, len(got))
		for i, d := range got {
			lines[i] = d.line
		}
		slices.Sort(lines)
		return lines
	}
	a, b := run(5), run(5)
	if !slices.Equal(a, b) {
		t.Fatal("two runs with the same seed and end delivered different lines")
	}
	if slices.Equal(a, run(6)) {
		t.Fatal("another seed delivered the same lines")
	}
}

func TestLinkUsersSendsEveryCompanyLink(t *testing.T) {
	rcv := firehosetest.Start(t, firehosetest.Options{AccessKey: key, Gzip: true, Users: true})
	cfg := baseConfig(t, rcv.URL, accesslog.REST)
	cfg.LinkUsers = true
	cfg.Users = 1200 // more than one users batch
	cfg.Backfill = time.Hour
	sum, err := simulate.Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rcv.Violations() {
		t.Error(v)
	}
	m, err := traffic.New(traffic.Config{Seed: cfg.Seed, Users: cfg.Users, Companies: cfg.Companies, API: cfg.API,
		Start: cfg.End.Add(-cfg.Backfill), End: cfg.End})
	if err != nil {
		t.Fatal(err)
	}
	got := rcv.Users()
	if len(got) != cfg.Users || sum.UsersLinked != cfg.Users {
		t.Fatalf("%d links received, %d reported, want %d", len(got), sum.UsersLinked, cfg.Users)
	}
	want := map[string]string{}
	for _, l := range m.UserLinks() {
		want[l.UserID] = l.CompanyID
	}
	for _, l := range got {
		if want[l.UserID] != l.CompanyID || l.Metadata["email"] == "" {
			t.Fatalf("link %+v; want company %q", l, want[l.UserID])
		}
	}
}

func TestUndeliverableTrafficIsBackedUp(t *testing.T) {
	rcv := firehosetest.Start(t, firehosetest.Options{AccessKey: key, Gzip: true, Respond: func(*firehosetest.Request) firehosetest.Response {
		return firehosetest.Response{Status: 503}
	}})
	cfg := baseConfig(t, rcv.URL, accesslog.REST)
	cfg.Backfill = 3 * time.Hour
	cfg.Firehose.RetryDuration = 300 * time.Millisecond
	sum, err := simulate.Run(context.Background(), cfg, io.Discard)
	if !errors.Is(err, simulate.ErrUndelivered) {
		t.Fatalf("Run = %v, want ErrUndelivered", err)
	}
	d := sum.Delivery
	if sum.Events == 0 || d.BackedUpEvents != sum.Events || d.FailedBatches != d.BackedUpBatches || d.Retries == 0 || d.DeliveredEvents != 0 {
		t.Fatalf("summary %+v", sum)
	}
	var lines int
	err = filepath.WalkDir(filepath.Join(cfg.Firehose.BackupDir, firehoseclient.BackupPrefix), func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		lines += bytes.Count(b, []byte("\n"))
		return err
	})
	if err != nil || int64(lines) != sum.Events {
		t.Fatalf("backup holds %d records (%v), want %d", lines, err, sum.Events)
	}
}

func TestLiveRunSendsCurrentTrafficAtTheRate(t *testing.T) {
	rcv := firehosetest.Start(t, firehosetest.Options{AccessKey: key, Gzip: true})
	cfg := baseConfig(t, rcv.URL, accesslog.REST)
	cfg.Backfill, cfg.End = 0, time.Time{}
	cfg.Rate = 100
	cfg.Duration = 3 * time.Second
	cfg.Firehose.BufferInterval = 250 * time.Millisecond
	began := time.Now()
	sum, err := simulate.Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rcv.Violations() {
		t.Error(v)
	}
	// The volume is the model's, a clustered Poisson process: 300 expected
	// events, with the dispersion bound the model's tests use.
	want := 300.0
	if tol := 4.5 * math.Sqrt(8*want); math.Abs(float64(sum.Events)-want) > tol {
		t.Errorf("%d events in 3 s at rate 100, want %.0f ± %.0f", sum.Events, want, tol)
	}
	reqs := rcv.Requests()
	if len(reqs) < 3 {
		t.Errorf("%d requests: the 250 ms interval should have delivered during the run", len(reqs))
	}
	for _, q := range reqs {
		for _, r := range q.Records {
			var v map[string]string
			if err := json.Unmarshal(r, &v); err != nil {
				t.Fatal(err)
			}
			var ms int64
			fmt.Sscan(v["requestTimeEpoch"], &ms)
			at := time.UnixMilli(ms)
			// Live events are stamped when they happen: after the run began
			// and no later than their delivery. The simulator sleeps on the
			// monotonic clock to a wall-clock time, and the wall clock may
			// be slewed meanwhile (one run saw an event 1 ms "after" its
			// delivery): a few milliseconds of slack either way.
			const slack = 5 * time.Millisecond
			if at.Before(began.Add(-slack)) || at.After(q.Received.Add(slack)) {
				t.Fatalf("event at %v, run began %v, delivered %v", at, began, q.Received)
			}
		}
	}
}

func TestLiveRunStopsOnCancel(t *testing.T) {
	rcv := firehosetest.Start(t, firehosetest.Options{AccessKey: key, Gzip: false})
	cfg := baseConfig(t, rcv.URL, accesslog.HTTP)
	cfg.Backfill, cfg.End = 0, time.Time{}
	cfg.Rate = 50
	cfg.Firehose.Uncompressed = true
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	sum, err := simulate.Run(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatalf("a stopped live run is a normal end: %v", err)
	}
	got, _ := decodeRecords(t, accesslog.HTTP, rcv.Records())
	if sum.Events == 0 || int64(len(got)) != sum.Events {
		t.Fatalf("delivered %d of %d events", len(got), sum.Events)
	}
}

func TestMain(t *testing.T) {
	rcv := firehosetest.Start(t, firehosetest.Options{AccessKey: key, Gzip: true, Users: true,
		CommonAttributes: map[string]string{"env": "test"}})
	backups := t.TempDir()
	cases := []struct {
		name    string
		args    []string
		wantErr string
		wantOut []string
	}{
		{"backfill", []string{"--url", rcv.URL, "--access-key", key, "--backfill", "1d", "--users", "30", "--companies", "3",
			"--end", "2025-03-03T00:00:00Z", "--seed", "9", "--link-users", "--common-attribute", "env=test",
			"--relaxed", "--buffer-size", "0.25", "--backup-dir", backups, "--quiet"},
			"", []string{"delivered: ", "retried:   0 attempts", "failed:    0 batches", "backed up: 0 batches", "users API: 30 users"}},
		{"neither mode", []string{"--url", rcv.URL, "--access-key", key}, "either --rate", nil},
		{"both modes", []string{"--url", rcv.URL, "--access-key", key, "--rate", "5", "--backfill", "1d"}, "either --rate", nil},
		{"no url", []string{"--access-key", key, "--rate", "5"}, "--url", nil},
		{"bad api", []string{"--url", rcv.URL, "--rate", "5", "--api", "grpc"}, "--api", nil},
		{"seed format on http", []string{"--url", rcv.URL, "--rate", "5", "--api", "http", "--format", "seed"}, "seed", nil},
		{"bad span", []string{"--url", rcv.URL, "--backfill", "soon"}, "--backfill", nil},
		{"short interval without relaxed", []string{"--url", rcv.URL, "--rate", "5", "--buffer-interval", "5s"}, "interval", nil},
		{"bad attribute", []string{"--url", rcv.URL, "--rate", "5", "--common-attribute", "novalue"}, "KEY=VALUE", nil},
		{"stray argument", []string{"--url", rcv.URL, "--rate", "5", "extra"}, "unexpected", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := simulate.Main(context.Background(), tc.args, &stdout, &stderr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.wantErr) {
					t.Fatalf("Main = %v (stderr %q), want an error about %q", err, stderr.String(), tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Main = %v\n%s", err, stderr.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("summary lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, v := range rcv.Violations() {
				t.Error(v)
			}
		})
	}
}

func TestParseSpan(t *testing.T) {
	cases := map[string]time.Duration{"30d": 30 * 24 * time.Hour, "1.5d": 36 * time.Hour, "12h": 12 * time.Hour, "90m": 90 * time.Minute}
	for in, want := range cases {
		if got, err := simulate.ParseSpan(in); err != nil || got != want {
			t.Errorf("ParseSpan(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "-1d", "0h", "tomorrow", "99999d"} {
		if _, err := simulate.ParseSpan(bad); err == nil {
			t.Errorf("ParseSpan(%q) accepted", bad)
		}
	}
}

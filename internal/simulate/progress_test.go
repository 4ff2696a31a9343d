package simulate

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/simulate/firehoseclient"
)

func TestProgressLine(t *testing.T) {
	st := firehoseclient.Stats{DeliveredEvents: 1234567, Retries: 3, FailedBatches: 1, BackedUpEvents: 500}
	cases := []struct {
		name     string
		live     bool
		elapsed  time.Duration
		events   int64
		fraction float64
		want     []string
	}{
		{"quarter", false, 10 * time.Second, 500000, 0.25, []string{"[#######.......................]", " 25%", "500,000 events", "50,000 events/s", "ETA 0:30",
			"delivered 1,234,567, retried 3, failed 1, backed up 500"}},
		{"done", false, 4 * time.Second, 8, 1, []string{"[##############################]", "100%", "ETA 0:00"}},
		{"start", false, 0, 0, 0, []string{"[..............................]", "ETA --:--", "0 events/s"}},
		{"long eta", false, time.Minute, 10, 0.01, []string{"ETA 1:39:00"}},
		{"live", true, 90 * time.Second, 4500, 0, []string{"live 1m30s: 4,500 events, 50 events/s"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := progressLine(tc.live, tc.elapsed, tc.events, tc.fraction, st)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
		})
	}
}

func TestProgressWritesPlainLinesOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	var n atomic.Int64
	var f atomic.Uint64
	n.Store(42)
	stop := startProgress(&buf, false, time.Now(), time.Now, &n, &f, func() firehoseclient.Stats { return firehoseclient.Stats{} })
	stop()
	stop() // idempotent
	out := buf.String()
	if strings.Count(out, "\n") != 1 || strings.Contains(out, "\r") || !strings.Contains(out, "42 events") {
		t.Fatalf("progress off a terminal: %q", out)
	}
}

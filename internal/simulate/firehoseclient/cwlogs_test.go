package firehoseclient_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/gatescope/gatescope/internal/simulate/firehoseclient"
)

// subscriptionPayload is CloudWatch Logs' subscription filter payload.
type subscriptionPayload struct {
	MessageType         string   `json:"messageType"`
	Owner               string   `json:"owner"`
	LogGroup            string   `json:"logGroup"`
	LogStream           string   `json:"logStream"`
	SubscriptionFilters []string `json:"subscriptionFilters"`
	LogEvents           []struct {
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"`
		Message   string `json:"message"`
	} `json:"logEvents"`
}

func decodeRecord(t *testing.T, rec []byte) subscriptionPayload {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(rec))
	if err != nil {
		t.Fatalf("record is not gzip: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var p subscriptionPayload
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("payload %s: %v", raw, err)
	}
	return p
}

var eventID = regexp.MustCompile(`^[0-9]{56}$`)

func TestLogsBatcherBuildsSubscriptionRecords(t *testing.T) {
	cases := []struct {
		name               string
		events, maxEvents  int
		size, maxBytes     int
		wantRecordsOfSizes []int
	}{
		{"by count", 1234, 500, 100, 0, []int{500, 500, 234}},
		{"by bytes", 5, 0, 100 << 10, 256 << 10, []int{2, 2, 1}},
		{"one", 1, 0, 10, 0, []int{1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := firehoseclient.NewLogsBatcher(firehoseclient.LogsConfig{Owner: "111122223333", LogGroup: "/aws/vendedlogs/http-api/access",
				LogStream: "abc123_$default", SubscriptionFilters: []string{"to-gatescope"}, MaxEvents: tc.maxEvents, MaxBytes: tc.maxBytes})
			if err != nil {
				t.Fatal(err)
			}
			base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
			var recs [][]byte
			var counts []int
			var msgs []string
			for i := range tc.events {
				msg := fmt.Sprintf(`{"requestId":"r%d","path":"/a\"b\\c","ua":"é ✓","n":"%s"}`, i, strings.Repeat("x", max(0, tc.size-60)))
				msgs = append(msgs, msg)
				rec, n, err := b.Add(base.Add(time.Duration(i)*time.Millisecond), []byte(msg))
				if err != nil {
					t.Fatal(err)
				}
				if (rec != nil) != (n > 0) {
					t.Fatalf("Add returned a record of %d events", n)
				}
				if rec != nil {
					recs = append(recs, rec)
					counts = append(counts, n)
				}
			}
			last, n, err := b.Flush()
			if err != nil || last == nil || b.Pending() != 0 {
				t.Fatalf("Flush = %v, %v, pending %d", last, err, b.Pending())
			}
			recs = append(recs, last)
			counts = append(counts, n)
			if again, n, _ := b.Flush(); again != nil || n != 0 {
				t.Fatal("a second Flush returned a record")
			}
			if fmt.Sprint(counts) != fmt.Sprint(tc.wantRecordsOfSizes) {
				t.Fatalf("records of %v events, want %v", counts, tc.wantRecordsOfSizes)
			}
			if len(recs) != len(tc.wantRecordsOfSizes) {
				t.Fatalf("%d records, want %d", len(recs), len(tc.wantRecordsOfSizes))
			}
			ids := map[string]bool{}
			n = 0
			for i, rec := range recs {
				p := decodeRecord(t, rec)
				if p.MessageType != "DATA_MESSAGE" || p.Owner != "111122223333" || p.LogGroup != "/aws/vendedlogs/http-api/access" ||
					p.LogStream != "abc123_$default" || fmt.Sprint(p.SubscriptionFilters) != "[to-gatescope]" {
					t.Fatalf("payload header %+v", p)
				}
				if len(p.LogEvents) != tc.wantRecordsOfSizes[i] {
					t.Fatalf("record %d has %d events, want %d", i, len(p.LogEvents), tc.wantRecordsOfSizes[i])
				}
				for _, e := range p.LogEvents {
					if !eventID.MatchString(e.ID) || ids[e.ID] {
						t.Fatalf("event id %q is not a fresh 56-digit id", e.ID)
					}
					ids[e.ID] = true
					if e.Message != msgs[n] || e.Timestamp != base.Add(time.Duration(n)*time.Millisecond).UnixMilli() {
						t.Fatalf("event %d: %q at %d", n, e.Message, e.Timestamp)
					}
					n++
				}
			}
		})
	}
}

func TestControlRecord(t *testing.T) {
	rec, err := firehoseclient.ControlRecord(time.UnixMilli(1700000000000))
	if err != nil {
		t.Fatal(err)
	}
	p := decodeRecord(t, rec)
	if p.MessageType != "CONTROL_MESSAGE" || len(p.LogEvents) != 1 || p.LogEvents[0].Timestamp != 1700000000000 || !strings.HasPrefix(p.LogEvents[0].Message, "CWL CONTROL MESSAGE") {
		t.Fatalf("control payload %+v", p)
	}
}

func TestLogsConfigValidate(t *testing.T) {
	for _, c := range []firehoseclient.LogsConfig{{}, {LogGroup: "g"}, {LogStream: "s"}, {LogGroup: "g", LogStream: "s", MaxEvents: -1}} {
		if _, err := firehoseclient.NewLogsBatcher(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

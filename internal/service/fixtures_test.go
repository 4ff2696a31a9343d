package service_test

// The end-to-end fixtures: access-log lines written the way API Gateway
// writes them (testdata/*.jsonl), and the Firehose request bodies that
// deliver them (testdata/*.json), written from AWS's "HTTP endpoint
// delivery request and response specifications" and, for HTTP and
// WebSocket APIs, the CloudWatch Logs subscription payload format.
// `go test -run TestFixtureBodies -update` regenerates the bodies from the
// lines; otherwise the test checks that they still decode to the lines.

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "regenerate testdata/*.json from testdata/*.jsonl")

// bodySpec says how one body file is made from fixture lines.
type bodySpec struct {
	file      string   // testdata/<file>: the Firehose request body
	requestID string   // the body's requestId (and the request's header)
	timestamp int64    // the body's timestamp, ms
	lines     []string // testdata/<lines>: concatenated in order
	// records gives, for each record, how many lines it carries. A record
	// of one line holds it without a newline, as API Gateway puts it; a
	// record of several holds each followed by "\n".
	records []int
	// cloudwatch makes each record a gzip-compressed CloudWatch Logs
	// subscription payload of records[i] log events, after a
	// CONTROL_MESSAGE record as CloudWatch sends when a subscription starts.
	cloudwatch []cwGroup
}

// cwGroup is the log group and stream of one subscription payload.
type cwGroup struct{ logGroup, logStream string }

const cwOwner = "123456789012"

var bodySpecs = []bodySpec{
	{
		file: "batch_plain.json", requestID: "0b6f3f7e-8a8a-4c1e-9b57-3b2a1c0d9e01", timestamp: 1772269300000,
		lines:   []string{"rest_seed.jsonl", "custom.jsonl"},
		records: []int{1, 1, 3, 1, 2, 1, 1, 2},
	},
	{
		file: "batch_gzip.json", requestID: "0b6f3f7e-8a8a-4c1e-9b57-3b2a1c0d9e02", timestamp: 1772269900000,
		lines:   []string{"rest_recommended.jsonl"},
		records: []int{1, 2, 1, 2},
	},
	{
		file: "batch_cloudwatch.json", requestID: "0b6f3f7e-8a8a-4c1e-9b57-3b2a1c0d9e03", timestamp: 1772271100000,
		lines:   []string{"cloudwatch.jsonl"},
		records: []int{4, 2},
		cloudwatch: []cwGroup{
			{"/aws/apigateway/http-orders-access", "h7g6f5e4d3_$default"},
			{"/aws/apigateway/ws-chat-access", "w9x8y7z6v5_production"},
		},
	},
}

// deliveredLine is one access-log line as a body delivers it.
type deliveredLine struct {
	line   string
	source string // firehose or cloudwatch
	// cwAttrs are the payload's logGroup, logStream and owner; cwTime is
	// the log event's timestamp (ms).
	cwAttrs map[string]string
	cwTime  int64
}

// firehoseBody is the request body of the specification.
type firehoseBody struct {
	RequestID string           `json:"requestId"`
	Timestamp int64            `json:"timestamp"`
	Records   []firehoseRecord `json:"records"`
}

type firehoseRecord struct {
	Data string `json:"data"`
}

// cwPayload is a CloudWatch Logs subscription payload.
type cwPayload struct {
	MessageType         string       `json:"messageType"`
	Owner               string       `json:"owner"`
	LogGroup            string       `json:"logGroup"`
	LogStream           string       `json:"logStream"`
	SubscriptionFilters []string     `json:"subscriptionFilters"`
	LogEvents           []cwLogEvent `json:"logEvents"`
}

type cwLogEvent struct {
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

func readLines(t testing.TB, names ...string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l != "" {
				out = append(out, l)
			}
		}
	}
	return out
}

// lineEpoch returns a line's requestTimeEpoch, or 0.
func lineEpoch(line string) int64 {
	var v struct {
		Epoch json.Number `json:"requestTimeEpoch"`
	}
	json.Unmarshal([]byte(line), &v)
	n, _ := v.Epoch.Int64()
	return n
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

// makeBody builds spec's body from its lines.
func makeBody(t testing.TB, spec bodySpec) []byte {
	t.Helper()
	lines := readLines(t, spec.lines...)
	body := firehoseBody{RequestID: spec.requestID, Timestamp: spec.timestamp}
	add := func(data []byte) {
		body.Records = append(body.Records, firehoseRecord{Data: base64.StdEncoding.EncodeToString(data)})
	}
	if spec.cloudwatch != nil {
		control := cwPayload{MessageType: "CONTROL_MESSAGE", Owner: "CloudwatchLogs", LogGroup: "", LogStream: "",
			SubscriptionFilters: []string{}, LogEvents: []cwLogEvent{{ID: "", Timestamp: spec.timestamp - 60000,
				Message: "CWL CONTROL MESSAGE: Checking health of destination Firehose."}}}
		b, _ := json.Marshal(control)
		add(gzipBytes(t, b))
	}
	next := 0
	for i, n := range spec.records {
		group := lines[next : next+n]
		next += n
		if spec.cloudwatch != nil {
			p := cwPayload{MessageType: "DATA_MESSAGE", Owner: cwOwner, LogGroup: spec.cloudwatch[i].logGroup,
				LogStream: spec.cloudwatch[i].logStream, SubscriptionFilters: []string{"gatescope"}}
			for j, l := range group {
				// CloudWatch stamps an event when it ingests it, a little
				// after the request; a line without a time of its own
				// gets a fixed one.
				ts := lineEpoch(l) + 150
				if ts == 150 {
					ts = spec.timestamp - 30000
				}
				p.LogEvents = append(p.LogEvents, cwLogEvent{
					ID: fmt.Sprintf("3790256349618349387495634523089493809243204937203637%04d", i*100+j), Timestamp: ts, Message: l})
			}
			b, _ := json.Marshal(p)
			add(gzipBytes(t, b))
			continue
		}
		if n == 1 {
			add([]byte(group[0]))
			continue
		}
		add([]byte(strings.Join(group, "\n") + "\n"))
	}
	if next != len(lines) {
		t.Fatalf("%s: records take %d lines of %d", spec.file, next, len(lines))
	}
	out, err := json.MarshalIndent(body, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// readBody returns a committed body file.
func readBody(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeBody reads a body the way the specification defines it, with the
// standard library only, and returns its lines and how each was delivered.
func decodeBody(t testing.TB, body []byte) (firehoseBody, []deliveredLine) {
	t.Helper()
	var fb firehoseBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fb); err != nil {
		t.Fatalf("body: %v", err)
	}
	var out []deliveredLine
	for i, r := range fb.Records {
		data, err := base64.StdEncoding.DecodeString(r.Data)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if len(data) > 1 && data[0] == 0x1f && data[1] == 0x8b {
			var p cwPayload
			if err := json.Unmarshal(gunzip(t, data), &p); err != nil {
				t.Fatalf("record %d: payload: %v", i, err)
			}
			if p.MessageType != "DATA_MESSAGE" {
				continue
			}
			attrs := map[string]string{"logGroup": p.LogGroup, "logStream": p.LogStream, "owner": p.Owner}
			for _, e := range p.LogEvents {
				out = append(out, deliveredLine{line: e.Message, source: "cloudwatch", cwAttrs: attrs, cwTime: e.Timestamp})
			}
			continue
		}
		for _, l := range strings.SplitAfter(string(data), "\n") {
			if l = strings.TrimSuffix(l, "\n"); l != "" {
				out = append(out, deliveredLine{line: l, source: "firehose"})
			}
		}
	}
	return fb, out
}

func TestFixtureBodies(t *testing.T) {
	for _, spec := range bodySpecs {
		t.Run(spec.file, func(t *testing.T) {
			if *update {
				if err := os.WriteFile(filepath.Join("testdata", spec.file), makeBody(t, spec), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			committed := readBody(t, spec.file)
			fb, got := decodeBody(t, committed)
			if fb.RequestID != spec.requestID || fb.Timestamp != spec.timestamp {
				t.Errorf("requestId, timestamp = %q, %d; want %q, %d", fb.RequestID, fb.Timestamp, spec.requestID, spec.timestamp)
			}
			// The committed body and a fresh one must carry the same lines,
			// records and payloads, byte for byte once decompressed.
			fresh, want := decodeBody(t, makeBody(t, spec))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s no longer matches %v; run go test -run TestFixtureBodies -update", spec.file, spec.lines)
			}
			if len(fb.Records) != len(fresh.Records) {
				t.Fatalf("%d records, want %d", len(fb.Records), len(fresh.Records))
			}
			for i := range fb.Records {
				a, _ := base64.StdEncoding.DecodeString(fb.Records[i].Data)
				b, _ := base64.StdEncoding.DecodeString(fresh.Records[i].Data)
				if spec.cloudwatch != nil {
					a, b = gunzip(t, a), gunzip(t, b)
				}
				if !bytes.Equal(a, b) {
					t.Errorf("record %d differs from the lines:\n got %q\nwant %q", i, a, b)
				}
			}
			var lines []string
			for _, d := range got {
				lines = append(lines, d.line)
			}
			if wantLines := readLines(t, spec.lines...); !reflect.DeepEqual(lines, wantLines) {
				t.Errorf("the body's lines differ from %v", spec.lines)
			}
			multi := false
			for _, n := range spec.records {
				multi = multi || n > 1
			}
			if spec.cloudwatch == nil && !multi {
				t.Error("a plain body without a multi-line record")
			}
		})
	}
}

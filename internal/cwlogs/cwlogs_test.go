package cwlogs

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// gz compresses b the way CloudWatch Logs compresses a subscription
// payload (standard gzip; the standard library's writer, not the
// decoder's own library).
func gz(t testing.TB, b []byte) []byte {
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

// dataMessage is a subscription payload as the CloudWatch Logs
// documentation ("Using CloudWatch Logs subscription filters") shows it.
const dataMessage = `{
  "messageType": "DATA_MESSAGE",
  "owner": "123456789012",
  "logGroup": "/aws/apigateway/http-api-access",
  "logStream": "a1b2c3d4e5_$default",
  "subscriptionFilters": ["gatescope"],
  "logEvents": [
    {"id": "37902563496183493874956345230894938092432049372036374528", "timestamp": 1772270130250,
     "message": "{\"requestId\":\"Jx1abcdEFGHIJ=\",\"status\":\"200\"}"},
    {"id": "37902563496183493874956345230894938092432049372036374529", "timestamp": 1772270131000,
     "message": "line with \"quotes\" and \\ and \u00e9"},
    {"id": "37902563496183493874956345230894938092432049372036374530", "message": "no timestamp"}
  ]
}`

const controlMessage = `{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"",
  "subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1772270130000,
  "message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}`

func TestDecode(t *testing.T) {
	want := &Payload{
		MessageType: DataMessage, Owner: "123456789012", LogGroup: "/aws/apigateway/http-api-access",
		LogStream: "a1b2c3d4e5_$default",
		LogEvents: []LogEvent{
			{ID: "37902563496183493874956345230894938092432049372036374528",
				Timestamp: time.Date(2026, 2, 28, 9, 15, 30, 250e6, time.UTC),
				Message:   []byte(`{"requestId":"Jx1abcdEFGHIJ=","status":"200"}`)},
			{ID: "37902563496183493874956345230894938092432049372036374529",
				Timestamp: time.Date(2026, 2, 28, 9, 15, 31, 0, time.UTC),
				Message:   []byte(`line with "quotes" and \ and é`)},
			{ID: "37902563496183493874956345230894938092432049372036374530", Message: []byte("no timestamp")},
		},
	}
	var d Decoder
	got, err := d.Decode(gz(t, []byte(dataMessage)), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode:\n got %+v\nwant %+v", got, want)
	}
	// The payload must not alias the decoder's memory.
	keep := got.LogEvents[0].Message
	if _, err := d.Decode(gz(t, []byte(strings.Repeat(" ", 4096)+controlMessage)), 1<<20); err != nil {
		t.Fatal(err)
	}
	if string(keep) != `{"requestId":"Jx1abcdEFGHIJ=","status":"200"}` {
		t.Errorf("message changed after the next Decode: %q", keep)
	}
}

func TestDecodeControlMessage(t *testing.T) {
	var d Decoder
	got, err := d.Decode(gz(t, []byte(controlMessage)), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got.MessageType != ControlMessage || len(got.LogEvents) != 0 || got.Owner != "CloudwatchLogs" {
		t.Errorf("control message decoded as %+v; want its type, owner and no log events", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		record  []byte
		max     int64
		tooBig  bool
		wantMsg string
	}{
		{"not gzip", []byte(dataMessage), 1 << 20, false, "gzip"},
		{"gzip header only", gz(t, []byte(dataMessage))[:10], 1 << 20, false, "gzip"},
		{"truncated gzip", func() []byte { b := gz(t, []byte(dataMessage)); return b[:len(b)-12] }(), 1 << 20, false, "gzip"},
		{"corrupt checksum", func() []byte {
			b := bytes.Clone(gz(t, []byte(dataMessage)))
			b[len(b)-6] ^= 0xff
			return b
		}(), 1 << 20, false, "gzip"},
		{"not JSON", gz(t, []byte("DATA_MESSAGE")), 1 << 20, false, "not JSON"},
		{"not an object", gz(t, []byte(`["DATA_MESSAGE"]`)), 1 << 20, false, "not a JSON object"},
		{"unknown type", gz(t, []byte(`{"messageType":"OTHER","logEvents":[]}`)), 1 << 20, false, "messageType"},
		{"no type", gz(t, []byte(`{"logEvents":[{"message":"x"}]}`)), 1 << 20, false, "messageType"},
		{"data without logEvents", gz(t, []byte(`{"messageType":"DATA_MESSAGE"}`)), 1 << 20, false, "logEvents"},
		{"logEvents not an array", gz(t, []byte(`{"messageType":"DATA_MESSAGE","logEvents":{}}`)), 1 << 20, false, "logEvents"},
		{"message not a string", gz(t, []byte(`{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","message":{"a":1}}]}`)), 1 << 20, false, "logEvents[0]"},
		{"message missing", gz(t, []byte(`{"messageType":"DATA_MESSAGE","logEvents":[{"message":"ok"},{"id":"2"}]}`)), 1 << 20, false, "logEvents[1]"},
		{"over the limit by one byte", gz(t, []byte(dataMessage)), int64(len(dataMessage)) - 1, true, "too large"},
		{"bomb", gz(t, bytes.Repeat([]byte{' '}, 8<<20)), 1 << 20, true, "too large"},
	}
	var d Decoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := d.Decode(tt.record, tt.max)
			if err == nil {
				t.Fatalf("Decode accepted it: %+v", p)
			}
			if errors.Is(err, ErrTooLarge) != tt.tooBig {
				t.Errorf("errors.Is(%v, ErrTooLarge) = %v, want %v", err, !tt.tooBig, tt.tooBig)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}
}

func TestDecodeAtTheLimit(t *testing.T) {
	var d Decoder
	if _, err := d.Decode(gz(t, []byte(dataMessage)), int64(len(dataMessage))); err != nil {
		t.Errorf("a payload of exactly the limit was refused: %v", err)
	}
}

func TestDecodeConcatenatedMembers(t *testing.T) {
	// A gzip stream may hold several members; readers must take them all.
	half := len(dataMessage) / 2
	rec := append(gz(t, []byte(dataMessage[:half])), gz(t, []byte(dataMessage[half:]))...)
	var d Decoder
	p, err := d.Decode(rec, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.LogEvents) != 3 {
		t.Errorf("got %d log events, want 3", len(p.LogEvents))
	}
}

func TestIsGzip(t *testing.T) {
	for _, tt := range []struct {
		b    []byte
		want bool
	}{
		{gz(t, []byte("x")), true},
		{[]byte{0x1f, 0x8b}, true},
		{[]byte{0x1f}, false},
		{[]byte(`{"requestId":"x"}`), false},
		{nil, false},
		{[]byte{0x8b, 0x1f}, false},
	} {
		if got := IsGzip(tt.b); got != tt.want {
			t.Errorf("IsGzip(%q) = %v, want %v", tt.b, got, tt.want)
		}
	}
}

// FuzzDecode feeds the decoder payload JSON, gzipped as CloudWatch sends
// it, and raw bytes as a broken record would be.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(dataMessage), true)
	f.Add([]byte(controlMessage), true)
	f.Add([]byte(dataMessage), false)
	f.Add([]byte(`{"messageType":"DATA_MESSAGE","logEvents":[{"message":"x","timestamp":-1}]}`), true)
	f.Add([]byte(`{"messageType":"DATA_MESSAGE","logEvents":[{"message":"x","timestamp":1e400}]}`), true)
	for _, p := range fixturePayloads(f) {
		f.Add(p, true)
	}
	var d Decoder
	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		rec := data
		if compress {
			rec = gz(t, data)
		}
		p, err := d.Decode(rec, limit)
		if err != nil {
			if p != nil {
				t.Fatalf("error %v with a payload", err)
			}
			return
		}
		switch p.MessageType {
		case ControlMessage:
		case DataMessage:
			if p.LogEvents == nil {
				t.Fatal("DATA_MESSAGE decoded without log events")
			}
			for _, le := range p.LogEvents {
				if !le.Timestamp.IsZero() && le.Timestamp.Location() != time.UTC {
					t.Fatalf("timestamp %v not in UTC", le.Timestamp)
				}
			}
		default:
			t.Fatalf("decoded an unknown messageType %q", p.MessageType)
		}
	})
}

// fixturePayloads returns the subscription payloads (decompressed) that the
// end-to-end fixtures' Firehose bodies carry.
func fixturePayloads(f *testing.F) [][]byte {
	names, err := filepath.Glob("../service/testdata/*.json")
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		var body struct {
			Records []struct{ Data string } `json:"records"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			f.Fatalf("%s: %v", n, err)
		}
		for _, r := range body.Records {
			data, err := base64.StdEncoding.DecodeString(r.Data)
			if err != nil || !IsGzip(data) {
				continue
			}
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				f.Fatal(err)
			}
			p, err := io.ReadAll(zr)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		f.Fatal("no CloudWatch payloads in ../service/testdata")
	}
	return out
}

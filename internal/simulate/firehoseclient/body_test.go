package firehoseclient

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/simulate/traffic"
)

// TestBodyMatchesSpecExample encodes the records of the request example in
// the HTTP endpoint delivery specification and compares with it.
func TestBodyMatchesSpecExample(t *testing.T) {
	want, err := os.ReadFile("testdata/spec-request-body.json")
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, want); err != nil {
		t.Fatal(err)
	}
	records := [][]byte{[]byte("hello"), []byte("hello world")}
	for _, uncompressed := range []bool{true, false} {
		got, err := encodeBody("ed4acda5-034f-9f42-bba1-f29aea6d7d8f", 1578090901599, records, uncompressed)
		if err != nil {
			t.Fatal(err)
		}
		if !uncompressed {
			zr, err := gzip.NewReader(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			if got, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, compact.Bytes()) {
			t.Errorf("uncompressed=%v:\n got %s\nwant %s", uncompressed, got, compact.Bytes())
		}
	}
}

func TestRequestIDsAreFreshGUIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newRequestID()
		if len(id) != 36 || id[14] != '4' || !bytes.ContainsAny([]byte{id[19]}, "89ab") || seen[id] {
			t.Fatalf("bad or repeated request id %q", id)
		}
		seen[id] = true
	}
}

func TestAppendJSONStringRoundTrips(t *testing.T) {
	for _, s := range []string{"", "plain", `{"a":"b\\c"}`, "tab\tnl\ncr\r\x00\x1f", "héllo ✓ 🚀", "bad \xff utf8"} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q encoded as invalid JSON %s: %v", s, b, err)
		}
		want, _ := json.Marshal(s)
		var wantS string
		_ = json.Unmarshal(want, &wantS)
		if got != wantS {
			t.Errorf("%q round-trips as %q, want %q", s, got, wantS)
		}
	}
}

// BenchmarkEncodeBody measures building a 1 MiB gzip body of access-log
// of simulated access-log lines. The baseline compresses the same bytes with
// the same gzip level and no base64 or JSON framing.
func BenchmarkEncodeBody(b *testing.B) {
	end := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	m, err := traffic.New(traffic.Config{Seed: 1, Users: 200, Companies: 10, API: accesslog.REST, Start: end.AddDate(0, 0, -7), End: end})
	if err != nil {
		b.Fatal(err)
	}
	var records [][]byte
	size := 0
	for size < 1<<20 {
		e, ok := m.Next()
		if !ok {
			b.Fatal("too few events")
		}
		records = append(records, append(e.Line, '\n'))
		size += len(e.Line) + 1
	}
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(size))
		for range b.N {
			if _, err := encodeBody("ed4acda5-034f-9f42-bba1-f29aea6d7d8f", 1, records, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-gzip-only", func(b *testing.B) {
		raw := bytes.Join(records, nil)
		b.SetBytes(int64(size))
		for range b.N {
			var out bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
			_, _ = zw.Write(raw)
			_ = zw.Close()
		}
	})
}

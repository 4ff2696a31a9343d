package service_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/service"
)

// gzipBomb returns a gzip stream, concatenated members as the format
// allows, that inflates to a valid Firehose body of more than decoded
// bytes: a good record followed by a sea of whitespace. Only the size
// limit stands between it and the store.
func gzipBomb(t *testing.T, requestID string, decoded int) []byte {
	t.Helper()
	var out bytes.Buffer
	out.Write(gzipBytes(t, []byte(`{"requestId":"`+requestID+`","timestamp":1,"records":[{"data":"`+b64(logLine(requestID+"-1"))+`"}]`)))
	member := gzipBytes(t, bytes.Repeat([]byte{' '}, 1<<20))
	for n := 0; n <= decoded; n += 1 << 20 {
		out.Write(member)
	}
	out.Write(gzipBytes(t, []byte("}")))
	return out.Bytes()
}

// zeroBomb is the classic bomb: gzip of zeros, far past decoded bytes.
func zeroBomb(t *testing.T, decoded int) []byte {
	t.Helper()
	var out bytes.Buffer
	member := gzipBytes(t, make([]byte, 1<<20))
	for n := 0; n <= decoded; n += 1 << 20 {
		out.Write(member)
	}
	return out.Bytes()
}

// TestFirehoseBadInput walks the table of PRODUCT.md section 4: each bad
// delivery gets its exact status and a specification answer, and nothing
// of it is stored, checked through the API, the rejected-records table
// and /metrics once a later good delivery is queryable.
func TestFirehoseBadInput(t *testing.T) {
	const maxBody, maxDecoded = 256 << 10, 1 << 20
	r := start(t, t.TempDir(), func(c *service.Config) {
		c.Firehose.MaxBodyBytes = maxBody
		c.Firehose.MaxDecodedBytes = maxDecoded
	})
	a := r.createApp(t, "bad input")

	incompressible := make([]byte, maxBody+1)
	rand.Read(incompressible)
	tests := []struct {
		name   string
		d      delivery
		status int
	}{
		{"missing access key", delivery{body: body("bad-nokey", logLine("bad-nokey-1"))}, http.StatusUnauthorized},
		{"unknown access key", delivery{key: "gsk_" + strings.Repeat("x", 43), body: body("bad-unknown", logLine("bad-unknown-1"))}, http.StatusUnauthorized},
		{"access key of another case", delivery{key: strings.ToUpper(a.Key), body: body("bad-case", logLine("bad-case-1"))}, http.StatusUnauthorized},
		{"says gzip but is not", delivery{key: a.Key, body: body("bad-notgzip", logLine("bad-notgzip-1")), encoding: "gzip"}, http.StatusBadRequest},
		{"gzip but truncated", delivery{key: a.Key, body: gzipBytes(t, body("bad-truncated", logLine("bad-truncated-1")))[:60], encoding: "gzip"}, http.StatusBadRequest},
		{"not JSON", delivery{key: a.Key, body: []byte("requestId=bad-notjson&records=" + b64(logLine("bad-notjson-1")))}, http.StatusBadRequest},
		{"not JSON, gzip", delivery{key: a.Key, body: []byte(`{"requestId":"bad-notjson2","records":[{"data":"` + b64(logLine("bad-notjson2-1")) + `"}`), gzip: true}, http.StatusBadRequest},
		{"no records", delivery{key: a.Key, body: []byte(`{"requestId":"bad-norecords","timestamp":1772269300000}`)}, http.StatusBadRequest},
		{"records not an array", delivery{key: a.Key, body: []byte(`{"requestId":"bad-recobj","timestamp":1,"records":{"data":"` + b64(logLine("bad-recobj-1")) + `"}}`)}, http.StatusBadRequest},
		{"unsupported protocol version", delivery{key: a.Key, body: body("bad-proto", logLine("bad-proto-1"))}, http.StatusBadRequest},
		{"unsupported Content-Encoding", delivery{key: a.Key, body: body("bad-br", logLine("bad-br-1")), encoding: "br"}, http.StatusBadRequest},
		{"malformed common attributes", delivery{key: a.Key, body: body("bad-attrs", logLine("bad-attrs-1")), attrs: nil}, http.StatusBadRequest},
		{"over max body bytes", delivery{key: a.Key, body: body("bad-big", logLine("bad-big-1"), bytes.Repeat([]byte("x"), maxBody))}, http.StatusRequestEntityTooLarge},
		{"over max body bytes, gzip", delivery{key: a.Key, body: body("bad-biggz", logLine("bad-biggz-1"), incompressible), gzip: true}, http.StatusRequestEntityTooLarge},
		{"gzip bomb of a valid body", delivery{key: a.Key, body: gzipBomb(t, "bad-bomb", maxDecoded), encoding: "gzip"}, http.StatusRequestEntityTooLarge},
		{"gzip bomb of zeros", delivery{key: a.Key, body: zeroBomb(t, 64*maxDecoded), encoding: "gzip"}, http.StatusRequestEntityTooLarge},
	}
	codes := map[int]float64{}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.d
			d.requestID = fmt.Sprintf("bad-request-%02d", i)
			switch tt.name {
			case "unsupported protocol version":
				ans := r.postWith(t, d, map[string]string{"X-Amz-Firehose-Protocol-Version": "2.0"})
				checkStatus(t, ans, tt.status)
				return
			case "malformed common attributes":
				ans := r.postWith(t, d, map[string]string{"X-Amz-Firehose-Common-Attributes": `{"commonAttributes":["x"]}`})
				checkStatus(t, ans, tt.status)
				return
			}
			checkStatus(t, r.post(t, d), tt.status)
		})
		codes[tt.status]++
	}

	// One batch with good records and one of each bad kind: the good are
	// stored, the bad kept verbatim with their reasons, and the answer is 200.
	notBase64 := `{"data":"this*is*not*base64"}`
	noRequestID := `{"requestTime":"28/Feb/2026:10:00:00 +0000","httpMethod":"GET","status":"200"}`
	mixed := fmt.Sprintf(`{"requestId":"mixed","timestamp":1772269300000,"records":[{"data":%q},%s,{"data":%q},{"data":%q}]}`,
		b64(logLine("good-1")), notBase64,
		b64([]byte(string(logLine("good-2"))+"\nthis is not json\n"+string(logLine("good-3"))+"\n")),
		b64([]byte(noRequestID)))
	before := time.Now()
	if ans := r.post(t, delivery{key: a.Key, requestID: "mixed-batch", body: []byte(mixed), gzip: true}); ans.status != http.StatusOK {
		t.Fatalf("mixed batch: %d %s", ans.status, ans.raw)
	}
	after := time.Now()
	codes[http.StatusOK]++

	// The sentinel goes last: once it is queryable, so is all before it.
	if ans := r.post(t, delivery{key: a.Key, requestID: "sentinel-batch", body: body("sentinel-batch", logLine("sentinel-1"))}); ans.status != http.StatusOK {
		t.Fatalf("sentinel: %d %s", ans.status, ans.raw)
	}
	codes[http.StatusOK]++
	evs := r.waitFor(t, a.ID, "sentinel-1")
	for id := range evs {
		switch id {
		case "good-1", "good-2", "good-3", "sentinel-1":
		default:
			t.Errorf("event %q stored from a refused delivery", id)
		}
	}
	for _, id := range []string{"good-1", "good-2", "good-3"} {
		if _, ok := evs[id]; !ok {
			t.Errorf("good record %s of the mixed batch not stored", id)
		}
	}

	rej := r.rejected(t, a.ID)
	wantRej := map[string]string{ // raw → what the reason must mention
		notBase64:          "base64",
		"this is not json": "not JSON",
		noRequestID:        "requestId",
	}
	if len(rej) != len(wantRej) {
		t.Errorf("%d rejected records, want %d: %+v", len(rej), len(wantRej), rej)
	}
	for _, x := range rej {
		mention, ok := wantRej[string(x.raw)]
		if !ok {
			t.Errorf("rejected record %q is not one of the batch's bad records verbatim", x.raw)
			continue
		}
		delete(wantRej, string(x.raw))
		if !strings.Contains(x.reason, mention) || x.source != "firehose" || x.batchID != "mixed-batch" || x.appID != a.ID {
			t.Errorf("rejected %q: reason %q source %q batch %q app %q; want a reason about %q from firehose batch mixed-batch",
				x.raw, x.reason, x.source, x.batchID, x.appID, mention)
		}
		if x.received.Before(before.Add(-time.Second)) || x.received.After(after.Add(time.Second)) {
			t.Errorf("rejected %q received at %v, not when the batch came (%v..%v)", x.raw, x.received, before, after)
		}
	}
	for raw := range wantRej {
		t.Errorf("bad record %q not kept", raw)
	}

	m := r.metrics(t)
	want := map[string]float64{
		`gatescope_firehose_rejected_total{reason="bad_record"}`:         1,
		`gatescope_firehose_rejected_total{reason="not_json"}`:           1,
		`gatescope_firehose_rejected_total{reason="missing_request_id"}`: 1,
		`gatescope_firehose_events_stored_total`:                         4,
		`gatescope_firehose_records_total`:                               5,
	}
	for code, n := range codes {
		want[fmt.Sprintf(`gatescope_firehose_batches_total{code="%d"}`, code)] = n
	}
	for series, v := range want {
		if got, ok := m[series]; !ok || got != v {
			t.Errorf("/metrics %s = %v (present %v), want %v", series, got, ok, v)
		}
	}
	for series := range m {
		if strings.HasPrefix(series, "gatescope_firehose_batches_total") || strings.HasPrefix(series, "gatescope_firehose_rejected_total") {
			if _, ok := want[series]; !ok && m[series] != 0 {
				t.Errorf("/metrics has unexpected %s = %v", series, m[series])
			}
		}
	}
}

func checkStatus(t *testing.T, ans answer, status int) {
	t.Helper()
	if ans.status != status {
		t.Errorf("status %d (%s), want %d", ans.status, ans.raw, status)
	}
}

// TestFirehoseTightMemoryLimits runs with every limit at its smallest
// consistent setting (body = decoded = in-flight bytes): a body of exactly
// the limit is taken, one byte more is refused, and no delivery is refused
// for want of memory the configuration grants.
func TestFirehoseTightMemoryLimits(t *testing.T) {
	const limit = 64 << 10
	r := start(t, t.TempDir(), func(c *service.Config) {
		c.Firehose.MaxBodyBytes = limit
		c.Firehose.MaxDecodedBytes = limit
		c.Firehose.MaxInflightBytes = limit
	})
	a := r.createApp(t, "tight")

	exact := func(id string, size int) []byte {
		b := body(id, logLine(id+"-1"))
		b = append(b[:len(b)-1], bytes.Repeat([]byte{' '}, size-len(b))...)
		return append(b, '}')
	}
	small := body("tight-small", logLine("tight-small-1"))
	if ans := r.post(t, delivery{key: a.Key, requestID: "tight-small", body: small, gzip: true}); ans.status != http.StatusOK {
		t.Errorf("small batch: %d %s", ans.status, ans.raw)
	}
	if ans := r.post(t, delivery{key: a.Key, requestID: "tight-exact", body: exact("tight-exact", limit)}); ans.status != http.StatusOK {
		t.Errorf("batch of exactly the limit: %d %s", ans.status, ans.raw)
	}
	if ans := r.post(t, delivery{key: a.Key, requestID: "tight-exact-gz", body: exact("tight-exactgz", limit), gzip: true}); ans.status != http.StatusOK {
		t.Errorf("gzip batch of exactly the limit decoded: %d %s", ans.status, ans.raw)
	}
	if ans := r.post(t, delivery{key: a.Key, requestID: "tight-over", body: exact("tight-over", limit+1)}); ans.status != http.StatusRequestEntityTooLarge {
		t.Errorf("batch one byte over the limit: %d %s", ans.status, ans.raw)
	}
	if ans := r.post(t, delivery{key: a.Key, requestID: "tight-over-gz", body: exact("tight-overgz", limit+1), gzip: true}); ans.status != http.StatusRequestEntityTooLarge {
		t.Errorf("gzip batch one byte over the limit decoded: %d %s", ans.status, ans.raw)
	}
	if ans := r.post(t, delivery{key: a.Key, requestID: "tight-bomb", body: zeroBomb(t, 16<<20), encoding: "gzip"}); ans.status != http.StatusRequestEntityTooLarge {
		t.Errorf("gzip bomb: %d %s", ans.status, ans.raw)
	}
	evs := r.waitFor(t, a.ID, "tight-exactgz-1")
	for _, id := range []string{"tight-small-1", "tight-exact-1", "tight-exactgz-1"} {
		if _, ok := evs[id]; !ok {
			t.Errorf("%s not stored", id)
		}
	}
	if len(evs) != 3 {
		t.Errorf("%d events stored, want 3", len(evs))
	}
}

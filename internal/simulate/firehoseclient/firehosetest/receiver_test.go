package firehosetest_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/gatescope/gatescope/internal/simulate/firehoseclient/firehosetest"
)

const (
	id  = "ed4acda5-034f-9f42-bba1-f29aea6d7d8f"
	arn = "arn:aws:firehose:us-east-1:123456789012:deliverystream/amazon-apigateway-x"
)

func gz(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(s))
	_ = zw.Close()
	return b.Bytes()
}

// TestReceiverCatchesEveryDeparture sends hand-written requests, one good
// and each of the others breaking one rule of the specification.
func TestReceiverCatchesEveryDeparture(t *testing.T) {
	good := `{"requestId":"` + id + `","timestamp":NOW,"records":[{"data":"aGVsbG8="}]}`
	headers := func() http.Header {
		return http.Header{
			"Content-Type":                     {"application/json"},
			"Content-Encoding":                 {"gzip"},
			"X-Amz-Firehose-Protocol-Version":  {"1.0"},
			"X-Amz-Firehose-Request-Id":        {id},
			"X-Amz-Firehose-Source-Arn":        {arn},
			"X-Amz-Firehose-Access-Key":        {"k"},
			"X-Amz-Firehose-Common-Attributes": {`{"commonAttributes":{"a":"b"}}`},
		}
	}
	cases := []struct {
		name    string
		mutate  func(http.Header)
		body    string
		raw     bool // send body without gzip
		violate string
	}{
		{"good", nil, good, false, ""},
		{"no protocol version", func(h http.Header) { h.Del("X-Amz-Firehose-Protocol-Version") }, good, false, "Protocol-Version"},
		{"request id not a GUID", func(h http.Header) { h.Set("X-Amz-Firehose-Request-Id", "abc") }, good, false, "not a GUID"},
		{"header and body ids differ", func(h http.Header) { h.Set("X-Amz-Firehose-Request-Id", "11111111-1111-4111-8111-111111111111") }, good, false, "does not match the header"},
		{"wrong access key", func(h http.Header) { h.Set("X-Amz-Firehose-Access-Key", "nope") }, good, false, "Access-Key"},
		{"no access key", func(h http.Header) { h.Del("X-Amz-Firehose-Access-Key") }, good, false, "Access-Key"},
		{"bad source arn", func(h http.Header) { h.Set("X-Amz-Firehose-Source-Arn", "arn:aws:s3:::bucket") }, good, false, "Source-Arn"},
		{"wrong common attributes", func(h http.Header) { h.Set("X-Amz-Firehose-Common-Attributes", `{"commonAttributes":{"a":"c"}}`) }, good, false, "Common-Attributes"},
		{"common attributes not wrapped", func(h http.Header) { h.Set("X-Amz-Firehose-Common-Attributes", `{"a":"b"}`) }, good, false, "Common-Attributes"},
		{"wrong content type", func(h http.Header) { h.Set("Content-Type", "text/plain") }, good, false, "Content-Type"},
		{"no content encoding", func(h http.Header) { h.Del("Content-Encoding") }, good, false, "Content-Encoding"},
		{"says gzip, is not", nil, good, true, "not gzip"},
		{"no records", nil, `{"requestId":"` + id + `","timestamp":NOW,"records":[]}`, false, "no records"},
		{"record not base64", nil, `{"requestId":"` + id + `","timestamp":NOW,"records":[{"data":"%%%"}]}`, false, "base64"},
		{"record without data", nil, `{"requestId":"` + id + `","timestamp":NOW,"records":[{}]}`, false, "no data"},
		{"unknown body field", nil, `{"requestId":"` + id + `","timestamp":NOW,"records":[{"data":"aGVsbG8="}],"x":1}`, false, "request JSON"},
		{"timestamp in seconds", nil, `{"requestId":"` + id + `","timestamp":1578090901,"records":[{"data":"aGVsbG8="}]}`, false, "timestamp"},
		{"no timestamp", nil, `{"requestId":"` + id + `","records":[{"data":"aGVsbG8="}]}`, false, "timestamp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rcv := firehosetest.Start(t, firehosetest.Options{AccessKey: "k", Gzip: true, SourceARN: arn, CommonAttributes: map[string]string{"a": "b"}})
			h := headers()
			if tc.mutate != nil {
				tc.mutate(h)
			}
			body := strings.ReplaceAll(tc.body, "NOW", strconv.FormatInt(time.Now().UnixMilli(), 10))
			payload := gz(body)
			if tc.raw {
				payload = []byte(body)
			}
			req, err := http.NewRequest(http.MethodPost, rcv.URL, bytes.NewReader(payload))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = h
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			v := rcv.Violations()
			if tc.violate == "" {
				if len(v) != 0 || resp.StatusCode != 200 {
					t.Fatalf("good request: status %d, violations %v", resp.StatusCode, v)
				}
				if recs := rcv.Records(); len(recs) != 1 || string(recs[0]) != "hello" {
					t.Fatalf("records %q", recs)
				}
				return
			}
			if resp.StatusCode != 400 || len(v) == 0 || !strings.Contains(strings.Join(v, "\n"), tc.violate) {
				t.Fatalf("status %d, violations %v; want one mentioning %q", resp.StatusCode, v, tc.violate)
			}
		})
	}
}

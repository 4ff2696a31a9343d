package firehose

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gatescope/gatescope/internal/accesslog"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestDecode(t *testing.T) {
	body := fmt.Sprintf(`{"requestId":"ed4acda5-034f-9f42-bba1-f29aea6d7d8f","timestamp":1578090901599,
		"records":[{"data":%q},{"data":%q},{"data":""},{"data":%q}]}`,
		b64(`{"requestId":"a"}`), b64("line one\nline two\n"), b64(strings.Repeat("x", 1000)))
	var d Decoder
	req, err := d.Decode([]byte(body), 10)
	if err != nil {
		t.Fatal(err)
	}
	if req.RequestID != "ed4acda5-034f-9f42-bba1-f29aea6d7d8f" || req.Timestamp != 1578090901599 {
		t.Errorf("requestId, timestamp = %q, %d", req.RequestID, req.Timestamp)
	}
	want := []string{`{"requestId":"a"}`, "line one\nline two\n", "", strings.Repeat("x", 1000)}
	if len(req.Records) != len(want) {
		t.Fatalf("%d records, want %d", len(req.Records), len(want))
	}
	for i, r := range req.Records {
		if r.Err != nil || r.Raw != nil || string(r.Data) != want[i] {
			t.Errorf("record %d = %q (err %v, raw %q), want %q", i, r.Data, r.Err, r.Raw, want[i])
		}
	}
	// Records share one buffer: writing past one record's end must not
	// reach the next one's data.
	req.Records[0].Data = append(req.Records[0].Data, "OVERWRITE"...)
	if string(req.Records[1].Data) != want[1] {
		t.Errorf("appending to record 0 changed record 1: %q", req.Records[1].Data)
	}
}

func TestDecodeBadRecords(t *testing.T) {
	good := b64(`{"requestId":"good"}`)
	body := `{"requestId":"r","timestamp":1,"records":[` +
		`{"data":"` + good + `"},` +
		`{"data":"!!!not base64!!!"},` +
		`{"data":42},` +
		`{"nodata":"x"},` +
		`"just a string",` +
		`{"data":"` + good[:len(good)-1] + `"},` +
		`{"data":"` + good + `"}]}`
	var d Decoder
	req, err := d.Decode([]byte(body), 100)
	if err != nil {
		t.Fatal(err)
	}
	wantRaw := []string{"", `{"data":"!!!not base64!!!"}`, `{"data":42}`, `{"nodata":"x"}`, `"just a string"`,
		`{"data":"` + good[:len(good)-1] + `"}`, ""}
	wantErr := []string{"", "not base64", "data", "data", "data", "not base64", ""}
	for i, r := range req.Records {
		if wantErr[i] == "" {
			if r.Err != nil || string(r.Data) != `{"requestId":"good"}` {
				t.Errorf("record %d: data %q, err %v", i, r.Data, r.Err)
			}
			continue
		}
		if r.Err == nil || !strings.Contains(r.Err.Error(), wantErr[i]) {
			t.Errorf("record %d: err %v, want one saying %q", i, r.Err, wantErr[i])
		}
		if string(r.Raw) != wantRaw[i] {
			t.Errorf("record %d: raw %q, want %q", i, r.Raw, wantRaw[i])
		}
		if r.Data != nil {
			t.Errorf("record %d: bad record has data %q", i, r.Data)
		}
	}
}

func TestDecodeRefusesTheBody(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"not JSON", `requestId=1`, "not JSON"},
		{"empty", ``, "not JSON"},
		{"truncated", `{"requestId":"r","records":[{"data":"eA=="}`, "not JSON"},
		{"array", `[{"data":"eA=="}]`, "not a JSON object"},
		{"no records", `{"requestId":"r","timestamp":1}`, `"records"`},
		{"records not an array", `{"requestId":"r","records":{"data":"eA=="}}`, `"records"`},
		{"records null", `{"requestId":"r","records":null}`, `"records"`},
		{"too many records", `{"requestId":"r","records":[{"data":"eA=="},{"data":"eA=="},{"data":"eA=="}]}`, "limit of 2"},
	}
	var d Decoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := d.Decode([]byte(tt.body), 2)
			if err == nil {
				t.Fatalf("accepted: %+v", req)
			}
			if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v: want ErrBadRequest saying %q", err, tt.want)
			}
		})
	}
}

func TestDecodeEmptyRecords(t *testing.T) {
	var d Decoder
	req, err := d.Decode([]byte(`{"requestId":"r","timestamp":1,"records":[]}`), 10)
	if err != nil || len(req.Records) != 0 {
		t.Errorf("empty records: %+v, %v", req, err)
	}
}

func TestCommonAttributes(t *testing.T) {
	tests := []struct {
		name, header string
		want         []accesslog.Attr
		err          bool
	}{
		{"absent", "", nil, false},
		{"sorted by key", `{"commonAttributes":{"team":"payments","env":"prod","app":"orders"}}`,
			[]accesslog.Attr{{Key: "app", Value: "orders"}, {Key: "env", Value: "prod"}, {Key: "team", Value: "payments"}}, false},
		{"empty", `{"commonAttributes":{}}`, []accesslog.Attr{}, false},
		{"no commonAttributes key", `{"other":{"a":"b"}}`, []accesslog.Attr{}, false},
		{"not JSON", `commonAttributes=a`, nil, true},
		{"non-string value", `{"commonAttributes":{"n":1}}`, nil, true},
		{"not an object", `{"commonAttributes":["a"]}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := commonAttributes(tt.header)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if err != nil {
				if !strings.Contains(err.Error(), HeaderCommonAttributes) {
					t.Errorf("error %q does not name the header", err)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// fixtureBodies returns the Firehose bodies of the end-to-end fixtures.
func fixtureBodies(f *testing.F) [][]byte {
	names, err := filepath.Glob("../service/testdata/*.json")
	if err != nil {
		f.Fatal(err)
	}
	var bodies [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	return bodies
}

func FuzzDecodeBody(f *testing.F) {
	for _, b := range fixtureBodies(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"requestId":"r","timestamp":1,"records":[{"data":"eA=="},{"data":"!"},{"data":1},"x"]}`))
	f.Add([]byte(`{"records":[]}`))
	f.Add([]byte(`{"records":[{"data":"e\nA\r=="}]}`))
	var d Decoder
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := d.Decode(body, 1000)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		fresh, err := new(Decoder).Decode(body, 1000)
		if err != nil {
			t.Fatalf("a fresh decoder refused what a used one took: %v", err)
		}
		for i, r := range req.Records {
			if (r.Err == nil) == (r.Raw != nil) || (r.Err != nil && r.Data != nil) {
				t.Fatalf("record %d: data %q, err %v, raw %q", i, r.Data, r.Err, r.Raw)
			}
			if !bytes.Equal(r.Data, fresh.Records[i].Data) || !bytes.Equal(r.Raw, fresh.Records[i].Raw) {
				t.Fatalf("record %d differs between a used and a fresh decoder", i)
			}
			if r.Err == nil && cap(r.Data) != len(r.Data) {
				t.Fatalf("record %d: data has spare capacity into the next record", i)
			}
		}
	})
}

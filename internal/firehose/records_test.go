package firehose

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
)

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func line(id string) string {
	return `{"requestId":"` + id + `","requestTime":"28/Feb/2026:09:15:30 +0000","status":"200"}`
}

func TestBuild(t *testing.T) {
	cw := `{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/http","logStream":"s1",
		"subscriptionFilters":["f"],"logEvents":[
		{"id":"1","timestamp":1772270131000,"message":` + jsonString(line("cw-1")) + `},
		{"id":"2","timestamp":1772270132000,"message":"{\"requestId\":\"cw-2\"}"},
		{"id":"3","timestamp":1772270133000,"message":"not json"}]}`
	control := `{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","logEvents":[]}`
	req := &Request{Records: []Record{
		{Data: []byte(line("single"))},                                            // as API Gateway writes: no newline
		{Data: []byte(line("multi-1") + "\n" + line("multi-2") + "\n")},           // several lines, each ending in \n
		{Data: []byte(line("crlf-1") + "\r\n\r\n  \n" + line("crlf-2") + "\r\n")}, // CRLF and blank lines
		{Err: errors.New("record data is not base64: bad"), Raw: []byte(`{"data":"!"}`)},
		{Data: []byte(`{"requestTime":"28/Feb/2026:09:15:30 +0000"}` + "\n" + line("after-bad") + "\n")},
		{Data: gzipped(t, cw)},
		{Data: gzipped(t, control)},
		{Data: gzipped(t, `{"messageType":"DATA_MESSAGE"}`)},
		{Data: []byte("\n\n")},
	}}
	received := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	b := &store.Batch{AppID: "app_1", ID: "batch-1", Received: received}
	reasons := map[string]int{}
	var bb batchBuilder
	bb.build(req, b, []accesslog.Attr{{Key: "env", Value: "prod"}}, 1<<20, reasons)

	var ids []string
	for _, ev := range b.Events {
		ids = append(ids, ev.RequestID)
		if ev.AppID != "app_1" || !ev.Received.Equal(received) {
			t.Errorf("%s: app %q received %v", ev.RequestID, ev.AppID, ev.Received)
		}
	}
	wantIDs := []string{"single", "multi-1", "multi-2", "crlf-1", "crlf-2", "after-bad", "cw-1", "cw-2"}
	if !reflect.DeepEqual(ids, wantIDs) {
		t.Errorf("events %v, want %v", ids, wantIDs)
	}
	byID := map[string]event.Event{}
	for _, ev := range b.Events {
		byID[ev.RequestID] = ev
	}
	if ev := byID["single"]; ev.Source != event.SourceFirehose || string(ev.Metadata) != `{"env":"prod"}` {
		t.Errorf("firehose line: source %q metadata %s", ev.Source, ev.Metadata)
	}
	cw1 := byID["cw-1"]
	if cw1.Source != event.SourceCloudWatch || !cw1.Time.Equal(time.Date(2026, 2, 28, 9, 15, 30, 0, time.UTC)) {
		t.Errorf("cw-1: source %q time %v (the line's own time must win)", cw1.Source, cw1.Time)
	}
	var meta map[string]string
	if err := json.Unmarshal(cw1.Metadata, &meta); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(meta, map[string]string{"env": "prod", "logGroup": "/aws/http", "logStream": "s1", "owner": "123456789012"}) {
		t.Errorf("cw-1 metadata %v", meta)
	}
	if cw2 := byID["cw-2"]; !cw2.Time.Equal(time.UnixMilli(1772270132000)) {
		t.Errorf("cw-2 has no time of its own: want the log event's timestamp, got %v", cw2.Time)
	}

	wantRejected := []struct {
		source event.Source
		reason string
		raw    string
	}{
		{event.SourceFirehose, "not base64", `{"data":"!"}`},
		{event.SourceFirehose, "requestId", `{"requestTime":"28/Feb/2026:09:15:30 +0000"}`},
		{event.SourceCloudWatch, "not JSON", "not json"},
		{event.SourceCloudWatch, "logEvents", string(gzipped(t, `{"messageType":"DATA_MESSAGE"}`))},
	}
	if len(b.Rejected) != len(wantRejected) {
		t.Fatalf("%d rejected, want %d: %+v", len(b.Rejected), len(wantRejected), b.Rejected)
	}
	for i, w := range wantRejected {
		r := b.Rejected[i]
		if r.Source != w.source || !strings.Contains(r.Reason, w.reason) || string(r.Raw) != w.raw ||
			r.BatchID != "batch-1" || r.AppID != "app_1" || !r.Received.Equal(received) {
			t.Errorf("rejected %d = %+v, want source %q, reason with %q, raw %q", i, r, w.source, w.reason, w.raw)
		}
	}
	wantReasons := map[string]int{"bad_record": 1, "missing_request_id": 1, "not_json": 1, "bad_cloudwatch_payload": 1}
	if !reflect.DeepEqual(reasons, wantReasons) {
		t.Errorf("reasons %v, want %v", reasons, wantReasons)
	}
}

func TestBuildRejectedRawIsACopy(t *testing.T) {
	data := []byte("not json at all")
	req := &Request{Records: []Record{{Data: data}}}
	b := &store.Batch{AppID: "a", ID: "b"}
	var bb batchBuilder
	bb.build(req, b, nil, 1<<20, map[string]int{})
	copy(data, "XXXXXXXXXXXXXXX")
	if len(b.Rejected) != 1 || string(b.Rejected[0].Raw) != "not json at all" {
		t.Errorf("rejected raw aliases the request's memory: %+v", b.Rejected)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

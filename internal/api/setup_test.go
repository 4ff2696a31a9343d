package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/storetest"
)

var bearer = map[string]string{"Authorization": "Bearer " + dashToken}

func TestLogFormats(t *testing.T) {
	e := newDashEnv(t)
	status, body, _ := e.call(t, http.DefaultClient, "GET", "/api/v1/log-formats", "", bearer)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	// Each format is a one-line JSON template of $context variables; the
	// WebSocket one alone logs connectionId and eventType (and no HTTP
	// method), and HTTP APIs have no API keys.
	tests := []struct {
		api       string
		want      []string
		wantNoKey string
	}{
		{"rest", []string{`"requestId":"$context.requestId"`, `"apiKeyId"`, `"routeTemplate":"$context.resourcePath"`}, `"connectionId"`},
		{"http", []string{`"requestId":"$context.requestId"`, `"routeTemplate":"$context.routeKey"`}, `"apiKeyId"`},
		{"websocket", []string{`"connectionId":"$context.connectionId"`, `"eventType":"$context.eventType"`}, `"httpMethod"`},
	}
	for _, tc := range tests {
		f, ok := got[tc.api]
		if !ok {
			t.Errorf("no %s format in %s", tc.api, body)
			continue
		}
		var fields map[string]string
		if err := json.Unmarshal([]byte(f), &fields); err != nil || strings.Contains(f, "\n") {
			t.Errorf("%s format is not one JSON line: %v\n%s", tc.api, err, f)
		}
		for _, w := range tc.want {
			if !strings.Contains(f, w) {
				t.Errorf("%s format lacks %s:\n%s", tc.api, w, f)
			}
		}
		if strings.Contains(f, tc.wantNoKey) {
			t.Errorf("%s format has %s:\n%s", tc.api, tc.wantNoKey, f)
		}
	}
	if len(got) != 3 {
		t.Errorf("%d formats, want 3", len(got))
	}
}

type statusDoc struct {
	AppID           string     `json:"app_id"`
	LastBatchAt     *time.Time `json:"last_batch_at"`
	LastBatchEvents int64      `json:"last_batch_events"`
	Batches         int64      `json:"batches"`
	Events          int64      `json:"events"`
	Rejected        int64      `json:"rejected"`
	Reasons         []struct {
		Reason string `json:"reason"`
		Count  int64  `json:"count"`
	} `json:"rejected_reasons"`
	Recent []struct {
		ReceivedAt time.Time `json:"received_at"`
		Source     string    `json:"source"`
		Reason     string    `json:"reason"`
		BatchID    *string   `json:"batch_id"`
		Raw        string    `json:"raw"`
		RawBytes   int       `json:"raw_bytes"`
		Truncated  bool      `json:"truncated"`
	} `json:"recent_rejected"`
}

func (e *dashEnv) status(t *testing.T, appID string) statusDoc {
	t.Helper()
	status, body, _ := e.call(t, http.DefaultClient, "GET", "/api/v1/apps/"+appID+"/status", "", bearer)
	if status != 200 {
		t.Fatalf("status: %d %s", status, body)
	}
	var d statusDoc
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	return d
}

func TestAppStatus(t *testing.T) {
	e := newDashEnv(t)
	ctx := context.Background()
	app, err := e.apps.Create(ctx, "Orders")
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.apps.Create(ctx, "Other")
	if err != nil {
		t.Fatal(err)
	}

	empty := e.status(t, app.ID)
	if empty.LastBatchAt != nil || empty.Batches != 0 || empty.Events != 0 || empty.Rejected != 0 ||
		empty.Reasons == nil || len(empty.Reasons) != 0 || empty.Recent == nil || len(empty.Recent) != 0 {
		t.Fatalf("status before any data: %+v", empty)
	}

	t0 := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	// A long rejected record whose cut at 2 KiB falls inside a 3-byte rune.
	long := strings.Repeat("a", rawPreview-1) + "€" + strings.Repeat("b", 500)
	batches := []*store.Batch{
		{AppID: app.ID, ID: "batch-1", Received: t0, Rejected: []event.Rejected{
			{AppID: app.ID, Received: t0, Source: event.SourceFirehose, Reason: "not JSON", BatchID: "batch-1", Raw: []byte("{oops")},
		}},
		{AppID: app.ID, ID: "batch-2", Received: t0.Add(time.Minute), Rejected: []event.Rejected{
			{AppID: app.ID, Received: t0.Add(time.Minute), Source: event.SourceCloudWatch, Reason: "not JSON", BatchID: "batch-2", Raw: []byte(long)},
			{AppID: app.ID, Received: t0.Add(time.Minute), Source: event.SourceFirehose, Reason: "missing requestId", BatchID: "batch-2", Raw: []byte("{\"a\":\"\xff\"}")},
		}},
		// The other app's delivery is later and larger: it must not show.
		{AppID: other.ID, ID: "batch-x", Received: t0.Add(time.Hour), Rejected: []event.Rejected{
			{AppID: other.ID, Received: t0.Add(time.Hour), Source: event.SourceFirehose, Reason: "other app", Raw: []byte("x")},
		}},
	}
	for i := range 5 {
		batches[0].Events = append(batches[0].Events, storetest.Event(app.ID, i, t0))
	}
	for i := range 3 {
		batches[1].Events = append(batches[1].Events, storetest.Event(app.ID, 100+i, t0))
	}
	for i := range 9 {
		batches[2].Events = append(batches[2].Events, storetest.Event(other.ID, i, t0))
	}
	for _, b := range batches {
		if _, err := e.store.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if f, ok := e.store.(store.Flusher); ok {
		if err := f.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}

	got := e.status(t, app.ID)
	if got.LastBatchAt == nil || !got.LastBatchAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("last_batch_at %v, want %v", got.LastBatchAt, t0.Add(time.Minute))
	}
	if got.LastBatchEvents != 3 || got.Batches != 2 || got.Events != 8 || got.Rejected != 3 {
		t.Errorf("last_batch_events %d batches %d events %d rejected %d, want 3 2 8 3",
			got.LastBatchEvents, got.Batches, got.Events, got.Rejected)
	}
	if len(got.Reasons) != 2 || got.Reasons[0].Reason != "not JSON" || got.Reasons[0].Count != 2 ||
		got.Reasons[1].Reason != "missing requestId" || got.Reasons[1].Count != 1 {
		t.Errorf("reasons %+v, want not JSON ×2 then missing requestId ×1", got.Reasons)
	}
	if len(got.Recent) != 3 {
		t.Fatalf("%d recent rejected, want 3", len(got.Recent))
	}
	if !got.Recent[2].ReceivedAt.Equal(t0) || got.Recent[2].Raw != "{oops" || got.Recent[2].Truncated ||
		got.Recent[2].BatchID == nil || *got.Recent[2].BatchID != "batch-1" {
		t.Errorf("oldest rejected record: %+v", got.Recent[2])
	}
	for _, r := range got.Recent[:2] {
		if !r.ReceivedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("recent rejected not newest first: %v", r.ReceivedAt)
		}
		if !utf8.ValidString(r.Raw) {
			t.Errorf("raw %q is not valid UTF-8", r.Raw)
		}
		switch r.Reason {
		case "not JSON":
			if !r.Truncated || r.RawBytes != len(long) || r.Raw != strings.Repeat("a", rawPreview-1) || r.Source != "cloudwatch" {
				t.Errorf("long record: truncated=%v raw_bytes=%d len(raw)=%d source=%s", r.Truncated, r.RawBytes, len(r.Raw), r.Source)
			}
		case "missing requestId":
			if r.Truncated || r.Raw != "{\"a\":\"\uFFFD\"}" {
				t.Errorf("invalid UTF-8 record shown as %q", r.Raw)
			}
		}
	}

	if status, _, _ := e.call(t, http.DefaultClient, "GET", "/api/v1/apps/nope/status", "", bearer); status != http.StatusNotFound {
		t.Errorf("unknown app: %d, want 404", status)
	}
	if status, _, _ := e.call(t, http.DefaultClient, "GET", "/api/v1/apps/"+app.ID+"/status", "", nil); status != http.StatusUnauthorized {
		t.Errorf("without token: %d, want 401", status)
	}
}

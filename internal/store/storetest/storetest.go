// Package storetest is the conformance suite every store.Store passes: the
// same ingestion and read-back checks, run against DuckDB and ClickHouse.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
)

// Opener returns a fresh, empty store for one test; the suite closes it.
type Opener func(t *testing.T) store.Store

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	t.Run("Apps", func(t *testing.T) { testApps(t, open(t)) })
	t.Run("AppendAndRead", func(t *testing.T) { testAppendAndRead(t, open(t)) })
	t.Run("Dedup", func(t *testing.T) { testDedup(t, open(t)) })
	t.Run("Isolation", func(t *testing.T) { testIsolation(t, open(t)) })
	t.Run("Profiles", func(t *testing.T) { testProfiles(t, open(t)) })
}

// Flush waits until everything appended to s is queryable.
func Flush(t *testing.T, s store.Store) {
	t.Helper()
	if f, ok := s.(store.Flusher); ok {
		if err := f.Flush(context.Background()); err != nil {
			t.Fatalf("flush: %v", err)
		}
	}
}

// Event returns a complete event for tests; i varies its identity.
func Event(app string, i int, at time.Time) event.Event {
	return event.Event{
		AppID: app, RequestID: fmt.Sprintf("req-%06d", i), Time: at.UTC().Truncate(time.Millisecond), Received: at.UTC(),
		APIID: "a1b2c3", Stage: "prod", Method: "GET", Path: fmt.Sprintf("/prod/orders/%d", i), Route: "/orders/{id}",
		Host: "api.example.com", Protocol: "HTTP/1.1", Status: 200 + (i%3)*100, ResponseBytes: int64(100 + i),
		LatencyMs: float64(10 + i%50), IntegrationLatencyMs: event.Absent, IP: "203.0.113.9", UserAgent: "curl/8.5",
		UserID: fmt.Sprintf("user-%d", i%4), APIKeyID: fmt.Sprintf("user-%d", i%4), Source: event.SourceFirehose,
		Metadata: []byte(`{"tier":"gold"}`),
	}
}

func count(t *testing.T, s store.Store, q string, args ...any) int64 {
	t.Helper()
	rows, err := s.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var n int64
	if !rows.Next() {
		t.Fatalf("%s: no row (%v)", q, rows.Err())
	}
	if err := rows.Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func closeStore(t *testing.T, s store.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

func testApps(t *testing.T, s store.Store) {
	defer closeStore(t, s)
	ctx := context.Background()
	a := store.App{ID: "app1", Name: "Orders API", ApplicationID: "secret-1", Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	b := store.App{ID: "app2", Name: "Billing", ApplicationID: "secret-2", Created: a.Created.Add(time.Hour)}
	for _, app := range []store.App{a, b} {
		if err := s.CreateApp(ctx, app); err != nil {
			t.Fatalf("create %s: %v", app.ID, err)
		}
	}
	if err := s.CreateApp(ctx, a); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second create of app1: got %v, want ErrConflict", err)
	}
	apps, err := s.Apps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 2 || apps[0] != a || apps[1] != b {
		t.Fatalf("apps = %+v, want %+v and %+v", apps, a, b)
	}
}

func testAppendAndRead(t *testing.T, s store.Store) {
	defer closeStore(t, s)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b := &store.Batch{AppID: "app1", ID: "batch-1", Received: at}
	for i := 0; i < 100; i++ {
		b.Events = append(b.Events, Event("app1", i, at.Add(time.Duration(i)*time.Second)))
	}
	b.Rejected = []event.Rejected{{AppID: "app1", Received: at, Source: event.SourceFirehose, Reason: "not JSON", BatchID: "batch-1", Raw: []byte("\x00not json\xff")}}
	res, err := s.Append(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 100 || res.Duplicates != 0 || res.BatchDuplicate {
		t.Fatalf("append result %+v, want 100 stored", res)
	}
	Flush(t, s)
	if n := count(t, s, "SELECT count(*) FROM events WHERE app_id = ?", "app1"); n != 100 {
		t.Fatalf("events = %d, want 100", n)
	}
	if n := count(t, s, "SELECT count(*) FROM events WHERE app_id = ? AND status = 400", "app1"); n != 33 {
		t.Fatalf("events with status 400 = %d, want 33", n)
	}
	if n := count(t, s, "SELECT count(*) FROM events WHERE app_id = ? AND integration_latency_ms IS NULL", "app1"); n != 100 {
		t.Fatalf("absent integration latency stored as NULL: %d rows, want 100", n)
	}
	if n := count(t, s, "SELECT count(*) FROM rejected WHERE app_id = ?", "app1"); n != 1 {
		t.Fatalf("rejected = %d, want 1", n)
	}
	rows, err := s.Query(ctx, "SELECT raw, reason FROM rejected WHERE app_id = ?", "app1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	rows.Next()
	var raw []byte
	var reason string
	if err := rows.Scan(&raw, &reason); err != nil {
		t.Fatal(err)
	}
	if string(raw) != "\x00not json\xff" || reason != "not JSON" {
		t.Fatalf("rejected record = %q (%q), want it verbatim", raw, reason)
	}
	if n := count(t, s, "SELECT count(*) FROM users WHERE app_id = ?", "app1"); n != 4 {
		t.Fatalf("users = %d, want 4", n)
	}
	// Events i, i+4, i+8... belong to user-i, one second apart: user-0 is
	// first seen with event 0 and last seen with event 96.
	rows2, err := s.Query(ctx, "SELECT first_seen, last_seen FROM users WHERE app_id = ? AND user_id = ?", "app1", "user-0")
	if err != nil {
		t.Fatal(err)
	}
	defer rows2.Close()
	rows2.Next()
	var first, last time.Time
	if err := rows2.Scan(&first, &last); err != nil {
		t.Fatal(err)
	}
	if !first.Equal(at) || !last.Equal(at.Add(96*time.Second)) {
		t.Fatalf("user-0 seen %v..%v, want %v..%v", first, last, at, at.Add(96*time.Second))
	}
}

func testDedup(t *testing.T, s store.Store) {
	defer closeStore(t, s)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mk := func(id string, from, to int) *store.Batch {
		b := &store.Batch{AppID: "app1", ID: id, Received: at}
		for i := from; i < to; i++ {
			b.Events = append(b.Events, Event("app1", i, at))
		}
		return b
	}
	for _, step := range []struct {
		name        string
		batch       *store.Batch
		stored, dup int
		batchDup    bool
	}{
		{"first delivery", mk("b1", 0, 10), 10, 0, false},
		{"retry of the same batch", mk("b1", 0, 10), 0, 10, true},
		{"overlapping records in a new batch", mk("b2", 5, 15), 5, 5, false},
		{"a batch repeating a record inside itself", &store.Batch{AppID: "app1", ID: "b3", Events: []event.Event{Event("app1", 20, at), Event("app1", 20, at)}}, 1, 1, false},
	} {
		res, err := s.Append(ctx, step.batch)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if res.Stored != step.stored || res.Duplicates != step.dup || res.BatchDuplicate != step.batchDup {
			t.Fatalf("%s: result %+v, want stored %d dup %d batchDup %v", step.name, res, step.stored, step.dup, step.batchDup)
		}
	}
	Flush(t, s)
	if n := count(t, s, "SELECT count(*) FROM events WHERE app_id = ?", "app1"); n != 16 {
		t.Fatalf("events = %d, want 16", n)
	}
	if n := count(t, s, "SELECT count(DISTINCT request_id) FROM events WHERE app_id = ?", "app1"); n != 16 {
		t.Fatalf("distinct request ids = %d, want 16", n)
	}
}

func testIsolation(t *testing.T, s store.Store) {
	defer closeStore(t, s)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// The same request id in two apps is two events: dedup is per app.
	for _, app := range []string{"appA", "appB"} {
		res, err := s.Append(ctx, &store.Batch{AppID: app, ID: "same-batch-id", Events: []event.Event{Event(app, 1, at)}})
		if err != nil || res.Stored != 1 {
			t.Fatalf("append to %s: %+v %v", app, res, err)
		}
	}
	Flush(t, s)
	for _, app := range []string{"appA", "appB"} {
		if n := count(t, s, "SELECT count(*) FROM events WHERE app_id = ?", app); n != 1 {
			t.Fatalf("%s has %d events, want 1", app, n)
		}
	}
}

func testProfiles(t *testing.T, s store.Store) {
	defer closeStore(t, s)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	upd := []event.UserUpdate{
		{AppID: "app1", UserID: "u1", CompanyID: "acme", Metadata: []byte(`{"plan":"pro","email":"a@x.io"}`), Modified: t0},
		{AppID: "app1", UserID: "u1", Metadata: []byte(`{"plan":"free"}`), Modified: t0.Add(-time.Hour)}, // older: loses
		{AppID: "app1", UserID: "u1", Metadata: []byte(`{"email":"b@x.io"}`), Modified: t0.Add(time.Hour)},
	}
	for _, u := range upd {
		if _, err := s.Append(ctx, &store.Batch{AppID: "app1", Users: []event.UserUpdate{u}}); err != nil {
			t.Fatal(err)
		}
	}
	Flush(t, s)
	if n := count(t, s, "SELECT count(*) FROM users WHERE app_id = ? AND user_id = ? AND company_id = ?", "app1", "u1", "acme"); n != 1 {
		t.Fatalf("u1 not linked to acme")
	}
	rows, err := s.Query(ctx, "SELECT metadata FROM users WHERE app_id = ? AND user_id = ?", "app1", "u1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	rows.Next()
	var meta string
	if err := rows.Scan(&meta); err != nil {
		t.Fatal(err)
	}
	if meta != `{"email":"b@x.io","plan":"pro"}` {
		t.Fatalf("merged metadata = %s", meta)
	}
}

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
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("UserCompany", func(t *testing.T) { testUserCompany(t, open(t)) })
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
		{"a batch repeating a record further on", &store.Batch{AppID: "app1", ID: "b4", Events: []event.Event{Event("app1", 30, at), Event("app1", 31, at), Event("app1", 30, at), Event("app1", 32, at)}}, 3, 1, false},
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
	if n := count(t, s, "SELECT count(*) FROM events WHERE app_id = ?", "app1"); n != 19 {
		t.Fatalf("events = %d, want 19", n)
	}
	if n := count(t, s, "SELECT count(DISTINCT request_id) FROM events WHERE app_id = ?", "app1"); n != 19 {
		t.Fatalf("distinct request ids = %d, want 19", n)
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

// testRoundTrip reads every field of two events back: one with every
// optional field set, one with none (all NULL). Event times keep their
// milliseconds; each dialect names its epoch-milliseconds expression.
func testRoundTrip(t *testing.T, s store.Store) {
	defer closeStore(t, s)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	full := Event("app1", 1, at.Add(123*time.Millisecond))
	full.IntegrationLatencyMs = 7.25
	full.LatencyMs = 12.5
	full.CompanyID, full.PrincipalID, full.CognitoIdentityID = "acme", "p-1", "eu-west-1:abc"
	full.Caller, full.UserARN = "AIDAEXAMPLE", "arn:aws:iam::123456789012:user/alice"
	full.ErrorMessage, full.ErrorType = "Forbidden", "ACCESS_DENIED"
	full.Source = event.SourceCloudWatch
	bare := event.Event{AppID: "app1", RequestID: "req-bare", Time: at.Add(999 * time.Millisecond), Source: event.SourceSDK,
		Status: event.Absent, ResponseBytes: event.Absent, LatencyMs: event.Absent, IntegrationLatencyMs: event.Absent}
	if _, err := s.Append(ctx, &store.Batch{AppID: "app1", ID: "rt", Received: at, Events: []event.Event{full, bare}}); err != nil {
		t.Fatal(err)
	}
	Flush(t, s)
	epochMs := "epoch_ms(time)"
	if s.Dialect() == store.ClickHouse {
		epochMs = "time_ms"
	}
	rows, err := s.Query(ctx, `SELECT request_id, `+epochMs+`, api_id, stage, method, path, route, host, protocol, status,
		response_bytes, latency_ms, integration_latency_ms, ip, user_agent, user_id, company_id, api_key_id, principal_id,
		cognito_identity_id, caller, user_arn, error_message, error_type, source, metadata
		FROM events WHERE app_id = ? ORDER BY request_id`, "app1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	num := func(p *float64) string {
		if p == nil {
			return "<nil>"
		}
		return fmt.Sprint(*p)
	}
	want := func(e event.Event) string {
		opt := func(s string) string {
			if s == "" {
				return "<nil>"
			}
			return s
		}
		optN := func(x float64) string {
			if x == event.Absent {
				return "<nil>"
			}
			return fmt.Sprint(x)
		}
		return fmt.Sprint(e.RequestID, e.Time.UnixMilli(), opt(e.APIID), opt(e.Stage), opt(e.Method), opt(e.Path), opt(e.Route),
			opt(e.Host), opt(e.Protocol), optN(float64(e.Status)), optN(float64(e.ResponseBytes)), optN(e.LatencyMs),
			optN(e.IntegrationLatencyMs), opt(e.IP), opt(e.UserAgent), opt(e.UserID), opt(e.CompanyID), opt(e.APIKeyID),
			opt(e.PrincipalID), opt(e.CognitoIdentityID), opt(e.Caller), opt(e.UserARN), opt(e.ErrorMessage),
			opt(e.ErrorType), string(e.Source), opt(string(e.Metadata)))
	}
	for _, e := range []event.Event{full, bare} { // ordered by request id
		if !rows.Next() {
			t.Fatalf("event %s missing (%v)", e.RequestID, rows.Err())
		}
		var id, source string
		var ms int64
		var p [21]*string
		var status, bytes *int64
		var lat, integ *float64
		err := rows.Scan(&id, &ms, &p[0], &p[1], &p[2], &p[3], &p[4], &p[5], &p[6], &status, &bytes, &lat, &integ,
			&p[7], &p[8], &p[9], &p[10], &p[11], &p[12], &p[13], &p[14], &p[15], &p[16], &p[17], &source, &p[18])
		if err != nil {
			t.Fatal(err)
		}
		var st, by *float64
		if status != nil {
			f := float64(*status)
			st = &f
		}
		if bytes != nil {
			f := float64(*bytes)
			by = &f
		}
		got := fmt.Sprint(id, ms, str(p[0]), str(p[1]), str(p[2]), str(p[3]), str(p[4]), str(p[5]), str(p[6]), num(st), num(by),
			num(lat), num(integ), str(p[7]), str(p[8]), str(p[9]), str(p[10]), str(p[11]), str(p[12]), str(p[13]), str(p[14]),
			str(p[15]), str(p[16]), str(p[17]), source, str(p[18]))
		if w := want(e); got != w {
			t.Errorf("read back\n got %s\nwant %s", got, w)
		}
	}
}

// testUserCompany pins down a user's company (users.company_id): only the
// users API links a user to a company (PRODUCT.md section 6); a companyId
// logged on an event belongs to that event alone. Among links, the update
// with the later modified time wins.
func testUserCompany(t *testing.T, s store.Store) {
	defer closeStore(t, s)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	arrival := t0
	ev := func(i int, company string) *store.Batch {
		arrival = arrival.Add(time.Minute)
		e := Event("app1", i, t0.Add(time.Duration(i)*time.Second))
		e.UserID, e.CompanyID = "u1", company
		return &store.Batch{AppID: "app1", ID: fmt.Sprint("b", i), Received: arrival, Events: []event.Event{e}}
	}
	upd := func(company string, modified time.Time) *store.Batch {
		arrival = arrival.Add(time.Minute)
		return &store.Batch{AppID: "app1", Received: arrival, Users: []event.UserUpdate{
			{AppID: "app1", UserID: "u1", CompanyID: company, Metadata: []byte(`{"n":1}`), Modified: modified}}}
	}
	for _, step := range []struct {
		name  string
		batch *store.Batch
		want  string
	}{
		{"an event logging a company does not link the user", ev(1, "logged"), ""},
		{"a link", upd("acme", t0.Add(-time.Hour)), "acme"},
		{"an event without a company changes nothing", ev(2, ""), "acme"},
		{"an event logging another company changes nothing", ev(3, "other"), "acme"},
		{"an update without a company changes nothing", upd("", t0.Add(time.Hour)), "acme"},
		{"an update modified before the earlier link loses", upd("old", t0.Add(-2*time.Hour)), "acme"},
		{"a newer link wins", upd("newest", t0.Add(2*time.Hour)), "newest"},
	} {
		if _, err := s.Append(ctx, step.batch); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		Flush(t, s)
		rows, err := s.Query(ctx, "SELECT company_id FROM users WHERE app_id = ? AND user_id = ?", "app1", "u1")
		if err != nil {
			t.Fatal(err)
		}
		var got *string
		if !rows.Next() {
			t.Fatalf("%s: no user u1 (%v)", step.name, rows.Err())
		}
		err = rows.Scan(&got)
		rows.Close()
		if err != nil {
			t.Fatal(err)
		}
		if (got == nil) != (step.want == "") || got != nil && *got != step.want {
			t.Fatalf("%s: company %v, want %q", step.name, got, step.want)
		}
	}
}

package duckdb

import (
	"context"
	"crypto/md5"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query/rollup"
	"github.com/gatescope/gatescope/internal/store"
)

// routeEvent is rollupEvent with several methods and routes, and absent
// ones.
func routeEvent(i int, at time.Time) event.Event {
	ev := rollupEvent(i, at)
	ev.Method = []string{"GET", "POST", "GET", ""}[i%4]
	ev.Route = []string{"/orders", "/orders/{id}", "/products", ""}[i%7%4]
	ev.LatencyMs = []float64{ev.LatencyMs, 0.4, 3, 1234.5, event.Absent}[i%5]
	if i%11 == 0 {
		ev.LatencyMs = event.Absent
	}
	return ev
}

type routeFigures struct {
	n, n4, n5, rej, latN, bytesSum, bytesN int64
	latSum                                 float64
	first, last                            time.Time
	hist                                   map[int]int64
}

// expectedRoutes aggregates events by the user-route keys with plain Go,
// restating the table's contract.
func expectedRoutes(evs []event.Event) map[string]*routeFigures {
	out := map[string]*routeFigures{}
	for i := range evs {
		ev := &evs[i]
		k := fmt.Sprint(ev.AppID, "|", ev.Time.Truncate(24*time.Hour).Unix(), "|", ev.UserID, "|", ev.CompanyID, "|", ev.Method, "|", ev.Route)
		f := out[k]
		if f == nil {
			f = &routeFigures{first: ev.Time, last: ev.Time, hist: map[int]int64{}}
			out[k] = f
		}
		f.n++
		if ev.Status >= 400 && ev.Status < 500 {
			f.n4++
		}
		if ev.Status >= 500 && ev.Status < 600 {
			f.n5++
		}
		if rollup.RejectedAtGateway(ev, hasTopLevelKey(ev.Metadata, rollup.IntegrationStatusKey)) {
			f.rej++
		}
		if ev.LatencyMs != event.Absent {
			f.latN++
			f.latSum += ev.LatencyMs
			f.hist[rollup.Bucket(ev.LatencyMs)]++
		}
		if ev.ResponseBytes != event.Absent {
			f.bytesN++
			f.bytesSum += ev.ResponseBytes
		}
		if ev.Time.Before(f.first) {
			f.first = ev.Time
		}
		if ev.Time.After(f.last) {
			f.last = ev.Time
		}
	}
	return out
}

func storedRoutes(t *testing.T, s *Store) map[string]*routeFigures {
	t.Helper()
	out := map[string]*routeFigures{}
	key := func(app string, day time.Time, user, company, method, route *string) string {
		d := func(p *string) string {
			if p == nil {
				return ""
			}
			return *p
		}
		return fmt.Sprint(app, "|", day.Unix(), "|", d(user), "|", d(company), "|", d(method), "|", d(route))
	}
	rows, err := s.db.Query(`SELECT ` + routeKeys + `, ` + routeSums + ` FROM ` + rollup.UserRouteDay + ` GROUP BY ALL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var app string
		var day time.Time
		var user, company, method, route *string
		f := &routeFigures{hist: map[int]int64{}}
		if err := rows.Scan(&app, &day, &user, &company, &method, &route, &f.n, &f.n4, &f.n5, &f.rej, &f.latSum, &f.latN,
			&f.bytesSum, &f.bytesN, &f.first, &f.last); err != nil {
			t.Fatal(err)
		}
		f.first, f.last = f.first.UTC(), f.last.UTC()
		out[key(app, day, user, company, method, route)] = f
	}
	rows.Close()
	rows, err = s.db.Query(`SELECT ` + routeKeys + `, b, sum(c) FROM (SELECT ` + routeKeys + `, unnest(hist_b) AS b, unnest(hist_n) AS c
		FROM ` + rollup.UserRouteDay + `) x GROUP BY ALL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var app string
		var day time.Time
		var user, company, method, route *string
		var b int
		var c int64
		if err := rows.Scan(&app, &day, &user, &company, &method, &route, &b, &c); err != nil {
			t.Fatal(err)
		}
		f := out[key(app, day, user, company, method, route)]
		if f == nil {
			t.Fatalf("histogram of a key without measures")
		}
		f.hist[b] += c
	}
	rows.Close()
	return out
}

func compareRoutes(t *testing.T, name string, got, want map[string]*routeFigures) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d keys, want %d", name, len(got), len(want))
	}
	bad := 0
	for k, w := range want {
		g := got[k]
		if g == nil {
			t.Errorf("%s: key %s missing", name, k)
			bad++
		} else {
			gc, wc := *g, *w
			lat := gc.latSum - wc.latSum
			gc.latSum, wc.latSum = 0, 0
			if !reflect.DeepEqual(gc, wc) || lat > 1e-6 || lat < -1e-6 {
				t.Errorf("%s: key %s: %+v, want %+v", name, k, *g, *w)
				bad++
			}
		}
		if bad > 5 {
			t.FailNow()
		}
	}
}

func loadEvents(t *testing.T, s *Store, evs []event.Event) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Append(ctx, &store.Batch{AppID: "app1", Events: evs}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRouteRollupAndRequestIDs loads events over several loads and days
// (with compactions), and checks the user-route rollup against the events
// aggregated in Go, both as the loader wrote it and as the one-time fill
// from the events table writes it; then the request-id table likewise.
func TestRouteRollupAndRequestIDs(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 4, 1, 22, 0, 0, 0, time.UTC)
	var all []event.Event
	n := 0
	for load := 0; load < 5; load++ {
		var evs []event.Event
		for range 15000 {
			t0 := at.Add(time.Duration(n%5_000_000) * time.Millisecond)
			if n%40 == 0 {
				t0 = t0.Add(-30 * time.Hour)
			}
			evs = append(evs, routeEvent(n, t0))
			n++
		}
		loadEvents(t, s, evs)
		all = append(all, evs...)
	}
	var compacted int
	if err := s.db.QueryRow(`SELECT count(*) FILTER (WHERE compacted) FROM ` + rollup.UserRouteDay).Scan(&compacted); err != nil {
		t.Fatal(err)
	}
	if compacted == 0 {
		t.Errorf("no compaction happened; the test does not cover it")
	}
	want := expectedRoutes(all)
	if len(want) < 1000 {
		t.Fatalf("only %d keys", len(want))
	}
	compareRoutes(t, "loader", storedRoutes(t, s), want)
	wantIDs := expectedIDs(all)
	compareIDs(t, "loader", storedIDs(t, s), wantIDs)

	// The one-time fill, as for a database from before these tables.
	if _, err := s.db.Exec(`DELETE FROM ` + rollup.UserRouteDay + `; DELETE FROM ` + rollup.RequestIDs + `;
		UPDATE rollup_state SET version = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(rollupSchema[len(rollupSchema)-1]); err != nil {
		t.Fatal(err)
	}
	compareRoutes(t, "fill", storedRoutes(t, s), want)
	compareIDs(t, "fill", storedIDs(t, s), wantIDs)
}

// expectedIDs counts the events per app, hour and request-id hash,
// computed here with crypto/md5 as the contract states it.
func expectedIDs(evs []event.Event) map[string]int {
	want := map[string]int{}
	for i := range evs {
		sum := md5.Sum([]byte(evs[i].RequestID))
		h := uint32(sum[0]) | uint32(sum[1])<<8 | uint32(sum[2])<<16 | uint32(sum[3])<<24
		want[fmt.Sprint(evs[i].AppID, evs[i].Time.Truncate(time.Hour).Unix(), h)]++
	}
	return want
}

func storedIDs(t *testing.T, s *Store) map[string]int {
	t.Helper()
	got := map[string]int{}
	rows, err := s.db.Query(`SELECT app_id, hour, h FROM ` + rollup.RequestIDs)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var app string
		var hour time.Time
		var h uint32
		if err := rows.Scan(&app, &hour, &h); err != nil {
			t.Fatal(err)
		}
		got[fmt.Sprint(app, hour.Unix(), h)]++
	}
	return got
}

func compareIDs(t *testing.T, name string, got, want map[string]int) {
	t.Helper()
	bad := 0
	for k, w := range want {
		if got[k] != w {
			bad++
		}
	}
	if bad > 0 || len(got) != len(want) {
		t.Errorf("%s: %d request-id keys, want %d; %d differ", name, len(got), len(want), bad)
	}
}

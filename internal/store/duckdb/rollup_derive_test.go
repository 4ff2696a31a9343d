package duckdb

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query/rollup"
	"github.com/gatescope/gatescope/internal/store"
)

// routeEvent is rollupEvent with several methods and routes, absent ones,
// and latencies in several histogram buckets.
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

// userFigures are a derived rollup key's measures and histogram.
type userFigures struct {
	n, n4, n5, rej, latN, bytesSum, bytesN int64
	latSum                                 float64
	first, last                            time.Time
	hist                                   map[int]int64
	times                                  []int64 // sorted, microseconds
}

// histTable describes a derived rollup for the test: its keys (after
// app_id and the time column), its grain, and whether it has UserHour's
// measures besides the histogram.
type histTable struct {
	name, timeCol string
	keys          []string
	grain         time.Duration
	measures      bool
}

var histTables = []histTable{
	{rollup.UserHistHour, "hour", []string{"user_id", "company_id"}, time.Hour, false},
	{rollup.UserHistDay, "day", []string{"user_id", "company_id"}, 24 * time.Hour, false},
	// Go's Truncate counts from 1 January of year 1, a Monday: ISO weeks.
	{rollup.UserHistWeek, "day", []string{"user_id", "company_id"}, 7 * 24 * time.Hour, false},
	{rollup.UserRouteDay, "day", []string{"user_id", "company_id", "method", "route"}, 24 * time.Hour, true},
}

func (h histTable) key(ev *event.Event) string {
	vals := map[string]string{"user_id": ev.UserID, "company_id": ev.CompanyID, "method": ev.Method, "route": ev.Route}
	k := fmt.Sprint(ev.AppID, "|", ev.Time.Truncate(h.grain).Unix())
	for _, c := range h.keys {
		k += "|" + vals[c]
	}
	return k
}

// expected aggregates the events before `before` by the table's keys
// with plain Go, restating its contract.
func (h histTable) expected(evs []event.Event, before time.Time) map[string]*userFigures {
	out := map[string]*userFigures{}
	for i := range evs {
		ev := &evs[i]
		if !ev.Time.Before(before) {
			continue
		}
		k := h.key(ev)
		f := out[k]
		if f == nil {
			f = &userFigures{first: ev.Time, last: ev.Time, hist: map[int]int64{}}
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
		if h.measures {
			f.times = append(f.times, ev.Time.UnixMicro())
		}
	}
	for _, f := range out {
		slices.Sort(f.times)
	}
	if !h.measures {
		// A histogram-only table's keys without latencies have nothing to
		// compare.
		for k, f := range out {
			if len(f.hist) == 0 {
				delete(out, k)
			}
			*f = userFigures{hist: f.hist}
		}
	}
	return out
}

// stored reads the table summed per key, its histograms summed per key
// and bucket.
func (h histTable) stored(t *testing.T, s *Store) map[string]*userFigures {
	t.Helper()
	out := map[string]*userFigures{}
	cols := h.cols()
	if h.measures {
		rows, err := s.db.Query(`SELECT ` + cols + `, sum(n), sum(n_4xx), sum(n_5xx), sum(n_rejected), sum(lat_sum), sum(lat_n),
			sum(bytes_sum), sum(bytes_n), min(first_time), max(last_time) FROM ` + h.name + ` GROUP BY ALL`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			f := &userFigures{hist: map[int]int64{}}
			k := h.scanKey(t, rows, &f.n, &f.n4, &f.n5, &f.rej, &f.latSum, &f.latN, &f.bytesSum, &f.bytesN, &f.first, &f.last)
			f.first, f.last = f.first.UTC(), f.last.UTC()
			out[k] = f
		}
		rows.Close()
		rows, err = s.db.Query(`SELECT ` + cols + `, epoch_us(t) FROM (SELECT ` + cols + `, unnest(times) AS t FROM ` + h.name + `) x`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var us int64
			k := h.scanKey(t, rows, &us)
			if f := out[k]; f != nil {
				f.times = append(f.times, us)
			} else {
				t.Fatalf("%s: times of a key without measures", h.name)
			}
		}
		rows.Close()
		for _, f := range out {
			slices.Sort(f.times)
		}
	}
	rows, err := s.db.Query(`SELECT ` + cols + `, h & 255, sum(h >> 8) FROM (SELECT ` + cols + `, unnest(hist) AS h
		FROM ` + h.name + `) x GROUP BY ALL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var b int
		var c int64
		k := h.scanKey(t, rows, &b, &c)
		f := out[k]
		if f == nil {
			if h.measures {
				t.Fatalf("%s: histogram of a key without measures", h.name)
			}
			f = &userFigures{hist: map[int]int64{}}
			out[k] = f
		}
		f.hist[b] += c
	}
	rows.Close()
	return out
}

// cols are the table's key columns, as key and scanKey take them.
func (h histTable) cols() string {
	return "app_id, " + h.timeCol + ", " + strings.Join(h.keys, ", ")
}

// scanKey scans a row of cols() and then extra, and returns its key.
func (h histTable) scanKey(t *testing.T, rows interface{ Scan(...any) error }, extra ...any) string {
	t.Helper()
	var app string
	var at time.Time
	keys := make([]*string, len(h.keys))
	dest := []any{&app, &at}
	for i := range keys {
		dest = append(dest, &keys[i])
	}
	if err := rows.Scan(append(dest, extra...)...); err != nil {
		t.Fatal(err)
	}
	k := fmt.Sprint(app, "|", at.Unix())
	for _, v := range keys {
		k += "|"
		if v != nil {
			k += *v
		}
	}
	return k
}

func compareFigures(t *testing.T, name string, got, want map[string]*userFigures) {
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

// TestDerivedRollups loads events over several loads and days (with
// sealing, and late events for done hours and sealed days), and checks the
// derived rollups against the events aggregated in Go, both as the loads
// derived them and as the one-time fill of a database from before them
// writes them.
func TestDerivedRollups(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 4, 1, 22, 0, 0, 0, time.UTC)
	var all []event.Event
	n := 0
	for load := 0; load < 6; load++ {
		var evs []event.Event
		for range 15000 {
			// Half in one hour (so that it compacts), half over days.
			t0 := at.Add(time.Duration(n%20000) * time.Millisecond)
			if n%2 == 1 {
				t0 = at.Add(time.Duration(n) * 6 * time.Second)
			}
			if n%40 == 0 {
				t0 = t0.Add(-30 * time.Hour) // late, for a sealed day once one is
			}
			evs = append(evs, routeEvent(n, t0))
			n++
		}
		loadEvents(t, s, evs)
		all = append(all, evs...)
	}
	var sealed, done time.Time
	if err := s.db.QueryRow(`SELECT sealed, done FROM rollup_state`).Scan(&sealed, &done); err != nil || !sealed.After(at) {
		t.Fatalf("sealed %v, %v: a day should be sealed", sealed, err)
	}
	if last := all[len(all)-1].Time.Truncate(time.Hour); !done.Equal(last.Add(-time.Hour)) {
		t.Fatalf("done %v, want the hour before the last event's %v", done, last)
	}
	check := func(stage string) {
		for _, h := range histTables {
			// UserHistHour holds the done hours, UserHistWeek the sealed
			// whole weeks, the others the sealed days.
			before := sealed
			switch h.name {
			case rollup.UserHistHour:
				before = done
			case rollup.UserHistWeek:
				before = rollup.Week(sealed) // whole weeks only
			}
			want := h.expected(all, before)
			if len(want) < 100 {
				t.Fatalf("%s: only %d keys", h.name, len(want))
			}
			compareFigures(t, stage+" "+h.name, h.stored(t, s), want)
		}
		checkCompanyRoutes(t, s, stage, all, sealed)
		checkOpenWeek(t, s, stage, all, done)
		checkBands(t, s, stage)
	}
	check("loader")
	// Late events within the open week's rows: the load builds them again.
	var openTo time.Time
	if err := s.db.QueryRow(`SELECT open_to FROM rollup_state`).Scan(&openTo); err != nil {
		t.Fatal(err)
	}
	var late []event.Event
	for i := range 2000 {
		if at := rollup.OpenWeek(openTo).Add(time.Duration(i) * time.Minute); at.Before(openTo) {
			late = append(late, routeEvent(n, at))
			n++
		}
	}
	loadEvents(t, s, late)
	all = append(all, late...)
	check("late in the open week")
	// rollupOrder: each day's derived rows are stored in its order (late
	// events for a sealed day rebuild all of its rows).
	for _, tb := range []struct{ name, key string }{
		{rollup.UserRouteDay, "[route, method, user_id]"},
		{rollup.UserHistDay, "[user_id]"},
	} {
		var days, disordered int
		if err := s.db.QueryRow(`SELECT count(DISTINCT day), count(*) FILTER (WHERE prev > k) FROM (
			SELECT day, k, lag(k) OVER (PARTITION BY app_id, day ORDER BY rowid) AS prev FROM (
				SELECT app_id, day, rowid, `+tb.key+` AS k FROM `+tb.name+`))`).Scan(&days, &disordered); err != nil {
			t.Fatal(err)
		}
		if days == 0 || disordered > 0 {
			t.Errorf("%s: %d rows out of %s order over %d days", tb.name, disordered, tb.key, days)
		}
	}
	wantIDs := expectedIDs(t, s, all, sealed)
	compareIDs(t, "loader", storedIDs(t, s), wantIDs)

	// The one-time fill, as for a database of version 1.
	if _, err := s.db.Exec(`DELETE FROM ` + rollup.UserRouteDay + `; DELETE FROM ` + rollup.RequestIDs + `;
		DELETE FROM ` + rollup.CompanyRouteDay + `;
		DELETE FROM ` + rollup.UserHistHour + `; DELETE FROM ` + rollup.UserHistDay + `; DELETE FROM ` + rollup.UserHistWeek + `;
		UPDATE rollup_state SET version = 1, done = NULL`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(rollupSchema[len(rollupSchema)-1]); err != nil {
		t.Fatal(err)
	}
	// The bands of a database from before them: the schema's upgrade
	// computes them for the rows already there.
	dropBands(t, s)
	for _, table := range []string{rollup.UserHistWeek, rollup.UserHistOpen} {
		if _, err := s.db.Exec(bandsUpgrade(table)); err != nil {
			t.Fatal(err)
		}
	}
	checkBands(t, s, "upgrade")
	// And the open week's rows, as for a database from before them.
	if _, err := s.db.Exec(`DELETE FROM ` + rollup.UserHistOpen + `; UPDATE rollup_state SET open_to = NULL`); err != nil {
		t.Fatal(err)
	}
	if err := s.fillOpen(ctx); err != nil {
		t.Fatal(err)
	}
	check("fill")
	compareIDs(t, "fill", storedIDs(t, s), wantIDs)

	// Another DuckDB's hash(): the request-id table is built again.
	if _, err := s.db.Exec(`DELETE FROM ` + rollup.RequestIDs + ` WHERE h % 2 = 0; UPDATE rollup_state SET ids_engine = 'v0.0.1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(rollupSchema[len(rollupSchema)-1]); err != nil {
		t.Fatal(err)
	}
	compareIDs(t, "new engine", storedIDs(t, s), wantIDs)
}

// expectedIDs counts the events before `before` per app, hour and
// request-id hash: the hash is DuckDB's, so it is computed in one pass
// over the events table (holding the events of evs, which the count per
// hour, from Go, checks), against which the per-day derivation is held.
func expectedIDs(t *testing.T, s *Store, evs []event.Event, before time.Time) map[string]int {
	t.Helper()
	perHour := map[string]int{}
	for i := range evs {
		if evs[i].Time.Before(before) {
			perHour[fmt.Sprint(evs[i].AppID, evs[i].Time.Truncate(time.Hour).Unix())]++
		}
	}
	want := map[string]int{}
	gotHour := map[string]int{}
	rows, err := s.db.Query(`SELECT app_id, date_trunc('hour', time), `+rollup.RequestIDHashSQL("request_id")+` FROM events WHERE time < ?`, ts(before))
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
		want[fmt.Sprint(app, hour.Unix(), h)]++
		gotHour[fmt.Sprint(app, hour.Unix())]++
	}
	if !reflect.DeepEqual(gotHour, perHour) {
		t.Fatalf("the events table's hours differ from the events loaded")
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

// checkOpenWeek holds rollup.UserHistOpen to the events from the Monday of
// its week up to State's open_to, aggregated in Go, and open_to to its
// place: a done hour, less than openStep behind done.
func checkOpenWeek(t *testing.T, s *Store, stage string, all []event.Event, done time.Time) {
	t.Helper()
	var openTo time.Time
	if err := s.db.QueryRow(`SELECT open_to FROM rollup_state`).Scan(&openTo); err != nil {
		t.Fatalf("%s: open_to: %v", stage, err)
	}
	if openTo.After(done) || done.Sub(openTo) >= openStep || !openTo.Equal(openTo.Truncate(time.Hour)) {
		t.Fatalf("%s: open_to %v, done %v: want a done hour less than %v behind", stage, openTo, done, openStep)
	}
	w := rollup.OpenWeek(openTo)
	var inWeek []event.Event
	for _, ev := range all {
		if !ev.Time.Before(w) {
			inWeek = append(inWeek, ev)
		}
	}
	h := histTable{rollup.UserHistOpen, "day", []string{"user_id", "company_id"}, 7 * 24 * time.Hour, false}
	want := h.expected(inWeek, openTo)
	if len(want) < 100 {
		t.Fatalf("%s: only %d keys in the open week", stage, len(want))
	}
	compareFigures(t, stage+" "+h.name, h.stored(t, s), want)
}

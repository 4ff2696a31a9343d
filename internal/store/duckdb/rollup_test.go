package duckdb

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query/rollup"
	"github.com/gatescope/gatescope/internal/store"
)

// rollupEvent varies every field the rollups key on or measure.
func rollupEvent(i int, at time.Time) event.Event {
	ev := benchEvent(i, at)
	ev.Stage = []string{"prod", "", "dev"}[i%3]
	ev.UserID = fmt.Sprintf("u%05d", i%25000)
	if i%4 == 0 {
		ev.UserID = ""
	}
	if i%6 == 0 {
		ev.CompanyID = fmt.Sprintf("c%d", i%7)
	}
	switch i % 10 {
	case 1:
		ev.Status, ev.ErrorType = 429, "THROTTLED"
	case 2:
		ev.Status, ev.Metadata = 403, nil // seed-format rejection
	case 3:
		ev.Status, ev.Metadata = 403, []byte(`{"integrationStatus":403}`)
	case 4:
		ev.Status, ev.ErrorType, ev.IntegrationLatencyMs = 504, "INTEGRATION_TIMEOUT", 29000
	case 5:
		ev.Status, ev.LatencyMs, ev.ResponseBytes = event.Absent, event.Absent, event.Absent
	case 6:
		ev.LatencyMs = 0.25
	}
	return ev
}

func rollupSnapshot(t *testing.T, s *Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, q := range []struct{ name, sql string }{
		{rollup.TrafficHour, `SELECT app_id, hour, api_id, stage, method, route, status, error_type, rejected, lat_bucket,
			sum(n), sum(lat_sum), sum(lat_n), sum(bytes_sum), sum(bytes_n) FROM ` + rollup.TrafficHour + ` GROUP BY ALL ORDER BY ALL`},
		{rollup.UserHour, `SELECT app_id, hour, user_id, company_id, sum(n), sum(n_4xx), sum(n_5xx), sum(n_rejected),
			sum(lat_sum), sum(lat_n), sum(bytes_sum), sum(bytes_n), min(first_time), max(last_time) FROM ` + rollup.UserHour + ` GROUP BY ALL ORDER BY ALL`},
		{rollup.AppSpan, `SELECT app_id, first_time, last_time FROM ` + rollup.AppSpan + ` ORDER BY ALL`},
	} {
		rows, err := s.db.Query(q.sql)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[q.name] = append(out[q.name], fmt.Sprint(vals...))
		}
		rows.Close()
	}
	return out
}

// TestRollupBackfillMatchesLoader loads events over several loads (with
// compactions), then rebuilds the rollups with the one-time SQL fill from
// the events table: both must hold the same sums. The fill restates the
// rejection and histogram definitions in SQL, so this also holds those to
// the Go ones.
func TestRollupBackfillMatchesLoader(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	n := 0
	var first, last time.Time // of the events, for the app's span
	seen := func(t0 time.Time) {
		if first.IsZero() || t0.Before(first) {
			first = t0
		}
		if t0.After(last) {
			last = t0
		}
	}
	for load := 0; load < 4; load++ {
		var evs []event.Event
		for range 15000 {
			// Milliseconds apart in one hour, plus stragglers hours late.
			t0 := at.Add(time.Duration(n%3_000_000) * time.Millisecond)
			if n%50 == 0 {
				t0 = t0.Add(-5 * time.Hour)
			}
			if load == 3 && n%15000 == 7 {
				t0 = at.Add(-30 * time.Hour) // earlier than all before it
			}
			evs = append(evs, rollupEvent(n, t0))
			seen(evs[len(evs)-1].Time)
			n++
		}
		if _, err := s.Append(ctx, &store.Batch{AppID: "app1", Events: evs}); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A load two days later seals the first day; late events for it then
	// go to both grains.
	for _, shift := range []time.Duration{50 * time.Hour, 0} {
		var evs []event.Event
		for range 3000 {
			t0 := at.Add(shift + time.Duration(n%100_000)*time.Millisecond)
			evs = append(evs, rollupEvent(n, t0))
			seen(evs[len(evs)-1].Time)
			n++
		}
		if _, err := s.Append(ctx, &store.Batch{AppID: "app1", Events: evs}); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var sealed time.Time
	if err := s.db.QueryRow(`SELECT sealed FROM rollup_state`).Scan(&sealed); err != nil || !sealed.After(at) {
		t.Fatalf("sealed %v, %v: the first day should be sealed", sealed, err)
	}
	for _, tb := range rollupTables {
		keys := strings.Replace(tb.keys, "hour", "date_trunc('day', hour)", 1)
		dkeys := strings.Replace(tb.keys, "hour", "day", 1)
		var fromHours, fromDays []string
		for _, q := range []struct {
			sql string
			out *[]string
		}{
			{fmt.Sprintf("SELECT %s, %s FROM %s WHERE hour < ? GROUP BY ALL ORDER BY ALL", keys, tb.aggs, tb.hour), &fromHours},
			{fmt.Sprintf("SELECT %s, %s FROM %s WHERE day < ? GROUP BY ALL ORDER BY ALL", dkeys, tb.aggs, tb.day), &fromDays},
		} {
			rows, err := s.db.Query(q.sql, sealed)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				rows.Scan(ptrs...)
				*q.out = append(*q.out, fmt.Sprint(vals...))
			}
			rows.Close()
		}
		if len(fromHours) == 0 || !reflect.DeepEqual(fromHours, fromDays) {
			t.Fatalf("%s: the sealed days (%d keys) differ from their hours (%d keys)", tb.day, len(fromDays), len(fromHours))
		}
	}
	var compacted, deltas int
	if err := s.db.QueryRow(`SELECT count(*) FILTER (WHERE compacted), count(*) FILTER (WHERE NOT compacted) FROM `+rollup.UserHour).Scan(&compacted, &deltas); err != nil {
		t.Fatal(err)
	}
	if compacted == 0 {
		t.Errorf("no compaction happened (%d delta rows); the test does not cover it", deltas)
	}
	loaded := rollupSnapshot(t, s)
	if want := fmt.Sprint("app1", first, last); len(loaded[rollup.AppSpan]) != 1 || loaded[rollup.AppSpan][0] != want {
		t.Fatalf("app span %v, want %s", loaded[rollup.AppSpan], want)
	}
	if _, err := s.db.Exec(`DELETE FROM ` + rollup.TrafficHour + `; DELETE FROM ` + rollup.UserHour + `; DELETE FROM rollup_state;
		DELETE FROM ` + rollup.AppSpan + `;
		DELETE FROM ` + rollup.TrafficDay + `; DELETE FROM ` + rollup.UserDay); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(rollupSchema[len(rollupSchema)-1]); err != nil {
		t.Fatal(err)
	}
	filled := rollupSnapshot(t, s)
	for table := range loaded {
		if len(loaded[table]) < 10 && table != rollup.AppSpan {
			t.Fatalf("%s has %d keys", table, len(loaded[table]))
		}
		if !reflect.DeepEqual(loaded[table], filled[table]) {
			a, b := loaded[table], filled[table]
			for i := range min(len(a), len(b)) {
				if a[i] != b[i] {
					t.Fatalf("%s differs at key %d:\nloader %s\nfill   %s", table, i, a[i], b[i])
				}
			}
			t.Fatalf("%s: loader %d keys, fill %d", table, len(a), len(b))
		}
	}
	// The rejected flag splits the traffic rows as the definition says.
	var rej int64
	s.db.QueryRow(`SELECT sum(n) FROM ` + rollup.TrafficHour + ` WHERE rejected`).Scan(&rej)
	want := int64(0)
	for i := range n {
		if i%10 == 1 || i%10 == 2 {
			want++
		}
	}
	if rej != want {
		t.Errorf("rejected = %d, want %d", rej, want)
	}
}

package duckdb

import (
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query/rollup"
)

// checkCompanyRoutes holds rollup.CompanyRouteDay to the events before
// sealed, aggregated in Go by UserRouteDay's keys (its counts and
// histograms), and to its order: every row but the unsorted ones written
// last is in company order.
func checkCompanyRoutes(t *testing.T, s *Store, stage string, evs []event.Event, sealed time.Time) {
	t.Helper()
	keys := histTable{rollup.CompanyRouteDay, "day", []string{"user_id", "company_id", "method", "route"}, 24 * time.Hour, true}
	cols := keys.cols()
	want := keys.expected(evs, sealed)
	for _, f := range want {
		*f = userFigures{n: f.n, n4: f.n4, n5: f.n5, hist: f.hist}
	}
	got := map[string]*userFigures{}
	rows, err := s.db.Query(`SELECT ` + cols + `, sum(n), sum(n_4xx), sum(n_5xx) FROM ` + rollup.CompanyRouteDay + ` GROUP BY ALL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		f := &userFigures{hist: map[int]int64{}}
		got[keys.scanKey(t, rows, &f.n, &f.n4, &f.n5)] = f
	}
	rows.Close()
	rows, err = s.db.Query(`SELECT ` + cols + `, h & 255, sum(h >> 8) FROM (SELECT *, unnest(hist) AS h FROM ` + rollup.CompanyRouteDay + `) x GROUP BY ALL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var b int
		var c int64
		k := keys.scanKey(t, rows, &b, &c)
		if got[k] == nil {
			t.Fatalf("%s: histogram of a key without counts", rollup.CompanyRouteDay)
		}
		got[k].hist[b] += c
	}
	rows.Close()
	if len(want) < 100 {
		t.Fatalf("%s: only %d keys", rollup.CompanyRouteDay, len(want))
	}
	compareFigures(t, stage+" "+rollup.CompanyRouteDay, got, want)

	var unsorted, total, disordered int64
	if err := s.db.QueryRow(`SELECT coalesce(max(unsorted), 0) FROM ` + rollup.State).Scan(&unsorted); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE i <= total - ? AND prev > k) FROM (
		SELECT row_number() OVER (ORDER BY rowid) AS i, count(*) OVER () AS total, k, lag(k) OVER (ORDER BY rowid) AS prev FROM (
			SELECT rowid, [app_id, coalesce(company_id, chr(1114111)), coalesce(user_id, chr(1114111)), strftime(day, '%Y%m%d'),
				coalesce(route, chr(1114111)), coalesce(method, chr(1114111))] AS k FROM `+rollup.CompanyRouteDay+`))`, unsorted).Scan(&total, &disordered); err != nil {
		t.Fatal(err)
	}
	if unsorted*sortShare > total || disordered > 0 {
		t.Errorf("%s: %d of %d rows unsorted, %d sorted rows out of order", rollup.CompanyRouteDay, unsorted, total, disordered)
	}
}

package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sort"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query/rollup"
)

// Each load appends its aggregates to the rollup tables as delta rows
// (compacted = false): an append costs far less than updating rows in
// place, and readers sum over rows anyway. An hour whose delta rows
// outnumber max(minCompactRows, its compacted rows) is compacted in the
// same load: its rows are replaced by one row per key. The doubling rule
// keeps the work per appended row constant, and the rows a reader scans
// within a small factor of the keys.
const minCompactRows = 20_000

// rollupTables lists the tables by grain; keys name the time column
// "hour" and are rewritten for the daily tables.
var rollupTables = []struct {
	hour, day string
	keys      string
	aggs      string
}{
	{rollup.TrafficHour, rollup.TrafficDay, "app_id, hour, api_id, stage, method, route, status, error_type, rejected, lat_bucket",
		"sum(n), sum(lat_sum), sum(lat_n), sum(bytes_sum), sum(bytes_n)"},
	{rollup.UserHour, rollup.UserDay, "app_id, hour, user_id, company_id",
		"sum(n), sum(n_4xx), sum(n_5xx), sum(n_rejected), sum(lat_sum), sum(lat_n), sum(bytes_sum), sum(bytes_n), min(first_time), max(last_time)"},
}

const day = 24 * time.Hour

// flush appends the load's aggregates (to the daily tables too for days
// already sealed), compacts what needs it, derives what the maps do not
// hold (rollup_derive.go), and seals the days the load has moved an hour
// past.
func (r *rollups) flush(ctx context.Context, conn *sql.Conn) error {
	if len(r.traffic) == 0 {
		return nil
	}
	var sealed, done, openTo sql.NullTime
	if err := conn.QueryRowContext(ctx, `SELECT sealed, done, open_to FROM `+rollup.State).Scan(&sealed, &done, &openTo); err != nil {
		return fmt.Errorf("rollup state: %w", err)
	}
	hours := map[int64]bool{}
	var latest int64
	for k := range r.traffic {
		hours[k.hour] = true
		latest = max(latest, k.hour)
	}
	if !sealed.Valid {
		// The day tables start with the earliest day this load holds.
		first := latest
		for h := range hours {
			first = min(first, h)
		}
		sealed = sql.NullTime{Time: time.Unix(first, 0).UTC().Truncate(day), Valid: true}
		if _, err := conn.ExecContext(ctx, `UPDATE `+rollup.State+` SET sealed = ?`, sealed.Time); err != nil {
			return fmt.Errorf("rollup state: %w", err)
		}
	}
	w := sealed.Time.Unix()
	var lateTraffic map[trafficKey]*trafficAgg
	var lateUsers map[userKey]*userAgg
	for k, a := range r.traffic {
		if k.hour < w {
			if lateTraffic == nil {
				lateTraffic = map[trafficKey]*trafficAgg{}
			}
			dk := k
			dk.hour = time.Unix(k.hour, 0).UTC().Truncate(day).Unix()
			d := lateTraffic[dk]
			if d == nil {
				d = &trafficAgg{}
				lateTraffic[dk] = d
			}
			d.n, d.latN, d.bytesSum, d.bytesN, d.latSum = d.n+a.n, d.latN+a.latN, d.bytesSum+a.bytesSum, d.bytesN+a.bytesN, d.latSum+a.latSum
		}
	}
	for k, a := range r.users {
		if k.hour < w {
			if lateUsers == nil {
				lateUsers = map[userKey]*userAgg{}
			}
			dk := k
			dk.hour = time.Unix(k.hour, 0).UTC().Truncate(day).Unix()
			d := lateUsers[dk]
			if d == nil {
				d = &userAgg{first: a.first, last: a.last}
				lateUsers[dk] = d
			}
			d.add(a)
		}
	}
	err := conn.Raw(func(dc any) error {
		if err := appendTraffic(dc.(driver.Conn), rollup.TrafficHour, r.traffic); err != nil {
			return err
		}
		if err := appendUsers(dc.(driver.Conn), rollup.UserHour, r.users); err != nil {
			return err
		}
		if err := appendTraffic(dc.(driver.Conn), rollup.TrafficDay, lateTraffic); err != nil {
			return err
		}
		return appendUsers(dc.(driver.Conn), rollup.UserDay, lateUsers)
	})
	if err != nil {
		return fmt.Errorf("append rollups: %w", err)
	}
	if err := r.widenSpans(ctx, conn); err != nil {
		return err
	}
	list := make([]time.Time, 0, len(hours))
	days := map[time.Time]bool{}
	touched := make([]int64, 0, len(hours))
	for h := range hours {
		touched = append(touched, h)
		list = append(list, time.Unix(h, 0).UTC())
		if h < w {
			days[time.Unix(h, 0).UTC().Truncate(day)] = true
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Before(list[j]) })
	var dayList []time.Time
	for d := range days {
		dayList = append(dayList, d)
	}
	for _, t := range rollupTables {
		if err := compact(ctx, conn, t.hour, "hour", t.keys, t.aggs, list); err != nil {
			return err
		}
		if len(dayList) > 0 {
			if err := compact(ctx, conn, t.day, "day", strings.Replace(t.keys, "hour", "day", 1), t.aggs, dayList); err != nil {
				return err
			}
		}
	}
	newDone, err := derive(ctx, conn, touched, time.Unix(latest, 0).UTC(), done.Time, sealed.Time)
	if err != nil {
		return err
	}
	if !newDone.Equal(done.Time) {
		if _, err := conn.ExecContext(ctx, `UPDATE `+rollup.State+` SET done = ?`, ts(newDone)); err != nil {
			return fmt.Errorf("rollup state: %w", err)
		}
	}
	// Seal the days that end an hour or more before the latest hour loaded.
	upto := time.Unix(latest, 0).UTC().Add(-time.Hour).Truncate(day)
	if upto.After(sealed.Time) {
		for _, t := range rollupTables {
			// In the order of their keys: for the users, see rollupOrder.
			q := fmt.Sprintf(`INSERT INTO %s SELECT %s, %s, true FROM %s WHERE hour >= ? AND hour < ? GROUP BY ALL ORDER BY ALL`,
				t.day, strings.Replace(t.keys, "hour", "date_trunc('day', hour)", 1), t.aggs, t.hour)
			if _, err := conn.ExecContext(ctx, q, sealed.Time, upto); err != nil {
				return fmt.Errorf("seal rollup days: %w", err)
			}
		}
		if err := deriveDays(ctx, conn, sealed.Time, upto, upto, false); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, `UPDATE `+rollup.State+` SET sealed = ?`, upto); err != nil {
			return fmt.Errorf("rollup state: %w", err)
		}
	}
	sealedNow := sealed.Time
	if upto.After(sealedNow) {
		sealedNow = upto
	}
	if err := deriveOpen(ctx, conn, touched, newDone, sealedNow, openTo); err != nil { // rollup_open.go
		return err
	}
	if len(dayList) == 0 && !upto.After(sealed.Time) {
		return nil // no day derived: nothing new in the company rollup
	}
	return sortCompanyDays(ctx, conn) // rollup_cluster.go
}

// widenSpans moves each app's span (rollup.AppSpan) out to the load's
// earliest and latest events: a few rows, one per app of the load.
func (r *rollups) widenSpans(ctx context.Context, conn *sql.Conn) error {
	type span struct{ first, last time.Time }
	spans := map[string]*span{}
	for k, a := range r.users {
		sp := spans[k.app]
		if sp == nil {
			spans[k.app] = &span{a.first, a.last}
			continue
		}
		if a.first.Before(sp.first) {
			sp.first = a.first
		}
		if a.last.After(sp.last) {
			sp.last = a.last
		}
	}
	for app, sp := range spans {
		if _, err := conn.ExecContext(ctx, `INSERT INTO `+rollup.AppSpan+` VALUES (?, ?, ?)
			ON CONFLICT (app_id) DO UPDATE SET first_time = least(first_time, excluded.first_time),
				last_time = greatest(last_time, excluded.last_time)`, app, sp.first, sp.last); err != nil {
			return fmt.Errorf("app span: %w", err)
		}
	}
	return nil
}

func (d *userAgg) add(a *userAgg) {
	d.n, d.n4xx, d.n5xx, d.rejected = d.n+a.n, d.n4xx+a.n4xx, d.n5xx+a.n5xx, d.rejected+a.rejected
	d.latN, d.bytesSum, d.bytesN, d.latSum = d.latN+a.latN, d.bytesSum+a.bytesSum, d.bytesN+a.bytesN, d.latSum+a.latSum
	if a.first.Before(d.first) {
		d.first = a.first
	}
	if a.last.After(d.last) {
		d.last = a.last
	}
}

func appendTraffic(dc driver.Conn, table string, m map[trafficKey]*trafficAgg) error {
	if len(m) == 0 {
		return nil
	}
	app, err := duckdb.NewAppenderFromConn(dc, "", table)
	if err != nil {
		return err
	}
	for k, a := range m {
		var status, bucket driver.Value
		if k.status != event.Absent {
			status = k.status
		}
		if k.bucket >= 0 {
			bucket = k.bucket
		}
		if err := app.AppendRow(validText(k.app), time.Unix(k.hour, 0).UTC(), opt(k.apiID), opt(k.stage), opt(k.method),
			opt(k.route), status, opt(k.errT), k.rejected, bucket, a.n, a.latSum, a.latN, a.bytesSum, a.bytesN, false); err != nil {
			app.Close()
			return err
		}
	}
	return app.Close()
}

func appendUsers(dc driver.Conn, table string, m map[userKey]*userAgg) error {
	if len(m) == 0 {
		return nil
	}
	app, err := duckdb.NewAppenderFromConn(dc, "", table)
	if err != nil {
		return err
	}
	for k, a := range m {
		if err := app.AppendRow(validText(k.app), time.Unix(k.hour, 0).UTC(), opt(k.user), opt(k.company),
			a.n, a.n4xx, a.n5xx, a.rejected, a.latSum, a.latN, a.bytesSum, a.bytesN, a.first, a.last, false); err != nil {
			app.Close()
			return err
		}
	}
	return app.Close()
}

// compact replaces the rows of the hours (among those given) whose delta
// rows have piled up by one compacted row per key. table, keys and aggs
// are constants of this file.
func compact(ctx context.Context, conn *sql.Conn, table, timeCol, keys, aggs string, hours []time.Time) error {
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(hours)), ", ")
	args := make([]any, len(hours))
	for i, h := range hours {
		args[i] = h
	}
	rows, err := conn.QueryContext(ctx, fmt.Sprintf(`SELECT %[1]s FROM %[2]s WHERE %[1]s IN (%[3]s) GROUP BY %[1]s
		HAVING count(*) FILTER (WHERE NOT compacted) > greatest(%[4]d, count(*) FILTER (WHERE compacted))`, timeCol, table, ph, minCompactRows), args...)
	if err != nil {
		return fmt.Errorf("rollup compaction: %w", err)
	}
	var due []any
	for rows.Next() {
		var h time.Time
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return fmt.Errorf("rollup compaction: %w", err)
		}
		due = append(due, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(due) == 0 {
		return err
	}
	ph = strings.TrimSuffix(strings.Repeat("?, ", len(due)), ", ")
	stage := table + "_compact"
	stmts := []string{
		fmt.Sprintf(`CREATE OR REPLACE TEMP TABLE %s AS SELECT %s, %s, true AS compacted FROM %s WHERE %s IN (%s) GROUP BY ALL`,
			stage, keys, aggs, table, timeCol, ph),
		fmt.Sprintf(`DELETE FROM %s WHERE %s IN (%s)`, table, timeCol, ph),
		fmt.Sprintf(`INSERT INTO %s SELECT * FROM %s`, table, stage),
		`DROP TABLE ` + stage,
	}
	for _, q := range stmts {
		a := due
		if !strings.Contains(q, "?") {
			a = nil
		}
		if _, err := conn.ExecContext(ctx, q, a...); err != nil {
			return fmt.Errorf("rollup compaction: %w", err)
		}
	}
	return nil
}

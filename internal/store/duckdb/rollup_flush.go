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

var rollupTables = []struct {
	name string
	keys string
	aggs string
}{
	{rollup.TrafficHour, "app_id, hour, api_id, stage, method, route, status, error_type, rejected, lat_bucket",
		"sum(n), sum(lat_sum), sum(lat_n), sum(bytes_sum), sum(bytes_n)"},
	{rollup.UserHour, "app_id, hour, user_id, company_id",
		"sum(n), sum(n_4xx), sum(n_5xx), sum(n_rejected), sum(lat_sum), sum(lat_n), sum(bytes_sum), sum(bytes_n), min(first_time), max(last_time)"},
}

// flush appends the load's aggregates and compacts the hours that need it.
func (r *rollups) flush(ctx context.Context, conn *sql.Conn) error {
	if len(r.traffic) == 0 {
		return nil
	}
	hours := map[int64]bool{}
	err := conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", rollup.TrafficHour)
		if err != nil {
			return err
		}
		for k, a := range r.traffic {
			hours[k.hour] = true
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
		if err := app.Close(); err != nil {
			return err
		}
		app, err = duckdb.NewAppenderFromConn(dc.(driver.Conn), "", rollup.UserHour)
		if err != nil {
			return err
		}
		for k, a := range r.users {
			if err := app.AppendRow(validText(k.app), time.Unix(k.hour, 0).UTC(), opt(k.user), opt(k.company),
				a.n, a.n4xx, a.n5xx, a.rejected, a.latSum, a.latN, a.bytesSum, a.bytesN, a.first, a.last, false); err != nil {
				app.Close()
				return err
			}
		}
		return app.Close()
	})
	if err != nil {
		return fmt.Errorf("append rollups: %w", err)
	}
	list := make([]time.Time, 0, len(hours))
	for h := range hours {
		list = append(list, time.Unix(h, 0).UTC())
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Before(list[j]) })
	for _, t := range rollupTables {
		if err := compact(ctx, conn, t.name, t.keys, t.aggs, list); err != nil {
			return err
		}
	}
	return nil
}

// compact replaces the rows of the hours (among those given) whose delta
// rows have piled up by one compacted row per key. table, keys and aggs
// are constants of this file.
func compact(ctx context.Context, conn *sql.Conn, table, keys, aggs string, hours []time.Time) error {
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(hours)), ", ")
	args := make([]any, len(hours))
	for i, h := range hours {
		args[i] = h
	}
	rows, err := conn.QueryContext(ctx, fmt.Sprintf(`SELECT hour FROM %s WHERE hour IN (%s) GROUP BY hour
		HAVING count(*) FILTER (WHERE NOT compacted) > greatest(%d, count(*) FILTER (WHERE compacted))`, table, ph, minCompactRows), args...)
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
		fmt.Sprintf(`CREATE OR REPLACE TEMP TABLE %s AS SELECT %s, %s, true AS compacted FROM %s WHERE hour IN (%s) GROUP BY ALL`,
			stage, keys, aggs, table, ph),
		fmt.Sprintf(`DELETE FROM %s WHERE hour IN (%s)`, table, ph),
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

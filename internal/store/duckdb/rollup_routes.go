package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// rollup.UserRouteDay is written like the other rollups (rollup_flush.go):
// delta rows appended by each load, a day compacted once its delta rows
// outnumber max(minCompactRows, its compacted rows). It has no hourly
// grain, so there is nothing to seal.

const routeKeys = "app_id, day, user_id, company_id, method, route"

// routeColumns are the table's measures other than the histogram, and
// routeSums merges them over rows.
const (
	routeColumns = "n, n_4xx, n_5xx, n_rejected, lat_sum, lat_n, bytes_sum, bytes_n, first_time, last_time"
	routeSums    = `sum(n) AS n, sum(n_4xx) AS n_4xx, sum(n_5xx) AS n_5xx, sum(n_rejected) AS n_rejected,
		sum(lat_sum) AS lat_sum, sum(lat_n) AS lat_n, sum(bytes_sum) AS bytes_sum, sum(bytes_n) AS bytes_n,
		min(first_time) AS first_time, max(last_time) AS last_time`
)

func appendRoutes(dc driver.Conn, m map[routeKey]*routeAgg) error {
	if len(m) == 0 {
		return nil
	}
	app, err := duckdb.NewAppenderFromConn(dc, "", rollup.UserRouteDay)
	if err != nil {
		return err
	}
	for k, a := range m {
		bs, ns := make([]any, len(a.hist)), make([]any, len(a.hist))
		for i, p := range a.hist {
			bs[i], ns[i] = p.b, p.n
		}
		if err := app.AppendRow(validText(k.app), time.Unix(k.day, 0).UTC(), opt(k.user), opt(k.company), opt(k.method), opt(k.route),
			a.n, a.n4xx, a.n5xx, a.rejected, a.latSum, a.latN, a.bytesSum, a.bytesN, a.first, a.last, bs, ns, false); err != nil {
			app.Close()
			return err
		}
	}
	return app.Close()
}

// minRouteCompactRows is minCompactRows for rollup.UserRouteDay. Its rows
// for a day are read only once the day is over, and a day is compacted as
// it is sealed, so the threshold that bounds the current day's rows can be
// high: most loads then compact nothing.
const minRouteCompactRows = 250_000

// compactRoutes compacts the days (among those given) whose delta rows
// have piled up: one row per key, its histogram summed per bucket.
func compactRoutes(ctx context.Context, conn *sql.Conn, days []time.Time) error {
	if len(days) == 0 {
		return nil
	}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(days)), ", ")
	args := make([]any, len(days))
	for i, d := range days {
		args[i] = ts(d)
	}
	return compactRoutesWhere(ctx, conn, fmt.Sprintf(`SELECT day FROM %s WHERE day IN (%s) GROUP BY day
		HAVING count(*) FILTER (WHERE NOT compacted) > greatest(%d, count(*) FILTER (WHERE compacted))`,
		rollup.UserRouteDay, ph, minRouteCompactRows), args)
}

// compactSealedRoutes compacts the days in [from, to) that have delta rows.
func compactSealedRoutes(ctx context.Context, conn *sql.Conn, from, to time.Time) error {
	return compactRoutesWhere(ctx, conn, `SELECT DISTINCT day FROM `+rollup.UserRouteDay+` WHERE day >= ? AND day < ? AND NOT compacted`,
		[]any{ts(from), ts(to)})
}

// compactRoutesWhere compacts the days that dueQuery lists.
func compactRoutesWhere(ctx context.Context, conn *sql.Conn, dueQuery string, args []any) error {
	rows, err := conn.QueryContext(ctx, dueQuery, args...)
	if err != nil {
		return fmt.Errorf("rollup compaction: %w", err)
	}
	var list []any
	for rows.Next() {
		var d time.Time
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return fmt.Errorf("rollup compaction: %w", err)
		}
		list = append(list, ts(d))
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(list) == 0 {
		return err
	}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(list)), ", ")
	stage := rollup.UserRouteDay + "_compact"
	// Each row contributes its measures (b NULL) and its histogram pairs
	// (zero measures); summing per key and bucket, then per key, merges
	// both in one pass.
	fill := fmt.Sprintf(`CREATE OR REPLACE TEMP TABLE %[1]s AS
		SELECT %[2]s, %[3]s,
			coalesce(list(b ORDER BY b) FILTER (WHERE b IS NOT NULL), []) AS hist_b,
			coalesce(list(c ORDER BY b) FILTER (WHERE b IS NOT NULL), []) AS hist_n, true AS compacted
		FROM (
			SELECT %[2]s, b, sum(c) AS c, %[3]s FROM (
				SELECT %[2]s, NULL::UTINYINT AS b, 0::BIGINT AS c, %[4]s FROM %[5]s WHERE day IN (%[6]s)
				UNION ALL
				SELECT %[2]s, unnest(hist_b), unnest(hist_n), 0, 0, 0, 0, 0.0, 0, 0, 0, NULL::TIMESTAMP, NULL::TIMESTAMP
				FROM %[5]s WHERE day IN (%[6]s)
			) x GROUP BY %[2]s, b
		) y GROUP BY %[2]s`, stage, routeKeys, routeSums, routeColumns, rollup.UserRouteDay, ph)
	stmts := []struct {
		q    string
		args []any
	}{
		{fill, append(append([]any{}, list...), list...)},
		{fmt.Sprintf(`DELETE FROM %s WHERE day IN (%s)`, rollup.UserRouteDay, ph), list},
		{fmt.Sprintf(`INSERT INTO %s SELECT * FROM %s`, rollup.UserRouteDay, stage), nil},
		{`DROP TABLE ` + stage, nil},
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s.q, s.args...); err != nil {
			return fmt.Errorf("rollup compaction: %w", err)
		}
	}
	return nil
}

// ts binds a time as a TIMESTAMP: a bare time.Time binds as TIMESTAMPTZ,
// whose comparison with a TIMESTAMP column goes through the session's
// time zone and defeats zone-map pruning.
func ts(t time.Time) any { return duckdb.Typed(t.UTC(), duckdb.TYPE_TIMESTAMP) }

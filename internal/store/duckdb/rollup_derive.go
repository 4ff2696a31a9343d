package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// The rollups the loader's Go maps do not compute — rollup.UserHistHour,
// UserHistDay, UserRouteDay and RequestIDs — are derived in SQL from the
// events table, in the load's transaction, a done hour or a sealed day at
// a time: DuckDB aggregates a column store far faster than maps and
// appenders take events one by one.
//
//   - An hour is done once a load holds an event an hour past its end;
//     State's done is the end of the done hours. The load that moves done
//     derives the UserHistHour rows of the newly done hours.
//   - A day is sealed (rollup_flush.go) once its hours are done: the load
//     that seals it derives its UserHistDay rows from its hours', and its
//     UserRouteDay and RequestIDs rows from its events.
//   - A load with events of done hours or sealed days (late events)
//     derives those hours and days again.
//
// So UserHistHour holds exactly the events before done, and the others
// exactly those before sealed; readers take the rest from raw events.

// hourRange is [from, to) in whole hours.
type hourRange struct{ from, to time.Time }

// derive derives again the done hours and sealed days the load touched
// (hours, unix seconds) and derives the hours it makes done; latest is
// the load's latest hour, done State's (zero: none yet). It returns the
// new done.
func derive(ctx context.Context, conn *sql.Conn, hours []int64, latest, done, sealed time.Time) (time.Time, error) {
	if done.IsZero() {
		// The derived rollups start with the earliest hour this load holds.
		done = latest
		for _, h := range hours {
			if t := time.Unix(h, 0).UTC(); t.Before(done) {
				done = t
			}
		}
	}
	var late []time.Time
	days := map[time.Time]bool{}
	for _, h := range hours {
		t := time.Unix(h, 0).UTC()
		if t.Before(done) {
			late = append(late, t)
		}
		if t.Before(sealed) {
			days[t.Truncate(day)] = true
		}
	}
	sort.Slice(late, func(i, j int) bool { return late[i].Before(late[j]) })
	var ranges []hourRange
	for _, h := range late {
		if n := len(ranges); n > 0 && ranges[n-1].to.Equal(h) {
			ranges[n-1].to = h.Add(time.Hour)
		} else {
			ranges = append(ranges, hourRange{h, h.Add(time.Hour)})
		}
	}
	if next := latest.Add(-time.Hour); next.After(done) {
		ranges = append(ranges, hourRange{done, next})
		done = next
	}
	for _, r := range ranges {
		if err := deriveHours(ctx, conn, r); err != nil {
			return done, err
		}
	}
	for d := range days {
		if err := deriveDays(ctx, conn, d, d.Add(day), sealed, true); err != nil {
			return done, err
		}
	}
	return done, nil
}

// deriveHours (re)builds the UserHistHour rows of the hours in r.
func deriveHours(ctx context.Context, conn *sql.Conn, r hourRange) error {
	for _, q := range []string{
		`DELETE FROM ` + rollup.UserHistHour + ` WHERE hour >= ? AND hour < ?`,
		`INSERT INTO ` + rollup.UserHistHour + ` BY NAME ` + fillUserHist(userHourKeys, "time >= ? AND time < ?"),
	} {
		if _, err := conn.ExecContext(ctx, q, ts(r.from), ts(r.to)); err != nil {
			return fmt.Errorf("derive rollups: %w", err)
		}
	}
	return nil
}

// deriveDays builds the rows of the days [from, to) of UserHistDay (from
// their hours), UserRouteDay and RequestIDs (from their events), and
// CompanyRouteDay (from UserRouteDay's), replacing those they have when
// again, and the UserHistWeek rows of their weeks that end by sealed (the
// end of the sealed days once they are derived).
func deriveDays(ctx context.Context, conn *sql.Conn, from, to, sealed time.Time, again bool) error {
	type stmt struct {
		q    string
		args []any
	}
	r := []any{ts(from), ts(to)}
	var stmts []stmt
	if again {
		stmts = append(stmts,
			stmt{`DELETE FROM ` + rollup.UserHistDay + ` WHERE day >= ? AND day < ?`, r},
			stmt{`DELETE FROM ` + rollup.UserRouteDay + ` WHERE day >= ? AND day < ?`, r},
			stmt{`DELETE FROM ` + rollup.RequestIDs + ` WHERE hour >= ? AND hour < ?`, r})
	}
	stmts = append(stmts,
		stmt{`INSERT INTO ` + rollup.UserHistDay + ` BY NAME ` + histDays, r},
		stmt{`INSERT INTO ` + rollup.UserRouteDay + ` BY NAME ` + fillRoutes("time >= ? AND time < ?"), r},
		stmt{`INSERT INTO ` + rollup.RequestIDs + ` ` + idsSelect + ` WHERE time >= ? AND time < ?`, r})
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s.q, s.args...); err != nil {
			return fmt.Errorf("derive rollups: %w", err)
		}
	}
	if err := deriveWeeks(ctx, conn, from, to, sealed); err != nil { // rollup_week.go
		return err
	}
	return mirrorCompanyDays(ctx, conn, from, to, again) // rollup_cluster.go
}

// histDays is UserHistDay's rows from UserHistHour's in [?, ?).
var histDays = mergeHists(rollup.UserHistHour, "hour", "day", "hour >= ? AND hour < ?", false) // see rollupOrder

// mergeHists is a SELECT of a coarser user-histogram rollup's rows from
// the rows of table (time column col) that match where: their histogram
// pairs summed per bucket within each app, date_trunc(unit) of the time
// (named day), user and logged company, in user order; with the band
// columns if bands.
func mergeHists(table, col, unit, where string, bands bool) string {
	const hist = "list(CAST(c AS BIGINT) << 8 | b)"
	extra := ""
	if bands {
		extra = ", " + bandSums(hist) // rollup_bands.go
	}
	return `SELECT app_id, day, user_id, company_id, ` + hist + ` AS hist` + extra + ` FROM (
		SELECT app_id, date_trunc('` + unit + `', ` + col + `) AS day, user_id, company_id, h & 255 AS b, sum(h >> 8) AS c
		FROM (SELECT app_id, ` + col + `, user_id, company_id, unnest(hist) AS h FROM ` + table + ` WHERE ` + where + `) u
		GROUP BY ALL
	) x GROUP BY ALL ORDER BY app_id, day, user_id`
}

// ts binds a time as a TIMESTAMP: a bare time.Time binds as TIMESTAMPTZ,
// whose comparison with a TIMESTAMP column goes through the session's
// time zone and defeats zone-map pruning.
func ts(t time.Time) any { return duckdb.Typed(t.UTC(), duckdb.TYPE_TIMESTAMP) }

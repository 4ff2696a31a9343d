package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// rollup.CompanyRouteDay is UserRouteDay in company order. Every write of
// UserRouteDay's rows writes theirs in the same transaction (deriveDays),
// so the two hold the same rows whatever the order. Rows written a day at
// a time land after the sorted ones, in company order within the day;
// once they make up more than 1/sortShare of the table, the load that
// wrote them sorts the whole table again. Sorting took 0.5-0.8 s for
// 680 000 rows on two cores (docs/performance.md); the share keeps its
// cost per written row constant, and what a company's scan reads beyond
// its own vectors within a small fraction of the table.
const sortShare = 8

// companyRows is a SELECT of CompanyRouteDay's rows from UserRouteDay's,
// to be followed by a WHERE; companyOrder is the table's order.
const (
	companyRows = `SELECT app_id, day, company_id, user_id, method, route, n, n_4xx, n_5xx, hist
		FROM ` + rollup.UserRouteDay
	companyOrder = `ORDER BY app_id, company_id NULLS LAST, user_id, day, route, method`
)

// mirrorCompanyDays writes CompanyRouteDay's rows of the days [from, to)
// from UserRouteDay's, replacing those it has when again, and counts them
// as unsorted.
func mirrorCompanyDays(ctx context.Context, conn *sql.Conn, from, to time.Time, again bool) error {
	if again {
		if _, err := conn.ExecContext(ctx, `DELETE FROM `+rollup.CompanyRouteDay+` WHERE day >= ? AND day < ?`, ts(from), ts(to)); err != nil {
			return fmt.Errorf("derive company rollup: %w", err)
		}
	}
	res, err := conn.ExecContext(ctx, `INSERT INTO `+rollup.CompanyRouteDay+` `+companyRows+` WHERE day >= ? AND day < ? `+companyOrder, ts(from), ts(to))
	if err != nil {
		return fmt.Errorf("derive company rollup: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("derive company rollup: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `UPDATE `+rollup.State+` SET unsorted = coalesce(unsorted, 0) + ?`, n); err != nil {
		return fmt.Errorf("derive company rollup: %w", err)
	}
	return nil
}

// sortCompanyDays sorts CompanyRouteDay again when its unsorted rows are
// more than 1/sortShare of it, in the load's transaction: readers see the
// table before or after, as with any load.
func sortCompanyDays(ctx context.Context, conn *sql.Conn) error {
	var unsorted, total int64
	if err := conn.QueryRowContext(ctx, `SELECT coalesce(unsorted, 0), (SELECT count(*) FROM `+rollup.CompanyRouteDay+`) FROM `+rollup.State).
		Scan(&unsorted, &total); err != nil {
		return fmt.Errorf("sort company rollup: %w", err)
	}
	if unsorted == 0 || unsorted*sortShare <= total {
		return nil
	}
	// A new table, not DELETE and INSERT: the deleted rows would stay in
	// the file's row groups, to be skipped by every scan, until vacuumed.
	for _, q := range []string{
		`CREATE OR REPLACE TABLE ` + rollup.CompanyRouteDay + ` AS SELECT * FROM ` + rollup.CompanyRouteDay + ` ` + companyOrder,
		`UPDATE ` + rollup.State + ` SET unsorted = 0`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sort company rollup: %w", err)
		}
	}
	return nil
}

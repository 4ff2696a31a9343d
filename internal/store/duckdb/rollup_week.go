package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// rollup.UserHistWeek holds the ISO weeks whose seven days are sealed:
// readers take whole weeks only, so a week's rows are built once its last
// day is sealed, from its seven days' UserHistDay rows, and built again
// whenever late events derive one of its days again. Building a week as
// each of its days was sealed cost the loader seven times as much for rows
// nobody reads.

// histWeeks is a SELECT of UserHistWeek's rows from the UserHistDay rows
// that match where. DuckDB's week is the ISO week, from Monday.
func histWeeks(where string) string {
	return mergeHists(rollup.UserHistDay, "day", "week", where, true)
}

// wholeWeeksSQL is the condition on a UserHistDay row's day that its week
// is sealed whole: the one-time fill's.
const wholeWeeksSQL = "date_trunc('week', day) + INTERVAL 7 DAY <= " + sealedDay

// deriveWeeks rebuilds the UserHistWeek rows of the weeks that hold any of
// the days [from, to) and end by sealed.
func deriveWeeks(ctx context.Context, conn *sql.Conn, from, to, sealed time.Time) error {
	if from.IsZero() {
		return errors.New("derive weekly rollup: no first day") // the weeks since year 1
	}
	for w := rollup.Week(from); w.Before(to); w = w.AddDate(0, 0, 7) {
		end := w.AddDate(0, 0, 7)
		if end.After(sealed) {
			break
		}
		for _, q := range []string{
			`DELETE FROM ` + rollup.UserHistWeek + ` WHERE day >= ? AND day < ?`,
			`INSERT INTO ` + rollup.UserHistWeek + ` BY NAME ` + histWeeks("day >= ? AND day < ?"),
		} {
			if _, err := conn.ExecContext(ctx, q, ts(w), ts(end)); err != nil {
				return fmt.Errorf("derive weekly rollup: %w", err)
			}
		}
	}
	return nil
}

package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// openStep is how far done may move past the open week's rows
// (rollup.UserHistOpen) before a load builds them again. Queries read the
// done hours after the rows from UserHistHour, so a longer step costs them
// more rows; a shorter one costs a backfill, whose every load moves done,
// a rebuild more often (docs/performance.md).
const openStep = 6 * time.Hour

// deriveOpen builds the open week's rows again, in the load's transaction,
// when they are missing, of another week than done's, openStep or more
// behind done, or hold an hour the load touched (late events; touched in
// unix seconds). done and sealed are State's as the load leaves them,
// openTo its open_to (which only this function writes).
func deriveOpen(ctx context.Context, conn *sql.Conn, touched []int64, done, sealed time.Time, openTo sql.NullTime) error {
	if done.IsZero() {
		return nil
	}
	w := rollup.Week(done)
	if openTo.Valid && rollup.OpenWeek(openTo.Time).Equal(w) && done.Sub(openTo.Time) < openStep &&
		!touchedBefore(touched, w, openTo.Time) {
		return nil
	}
	if !openTo.Valid && done.Equal(w) {
		return nil
	}
	type stmt struct {
		q    string
		args []any
	}
	stmts := []stmt{{`DELETE FROM ` + rollup.UserHistOpen, nil}}
	var to any // NULL when done is the week's Monday: no open rows
	if done.After(w) {
		// The sealed days from UserHistDay, the rest from UserHistHour;
		// sealed may be behind the week's Monday, and is not after done.
		mid := w
		if sealed.After(mid) {
			mid = sealed
		}
		src := `(SELECT app_id, day AS t, user_id, company_id, hist FROM ` + rollup.UserHistDay + ` WHERE day >= ? AND day < ?
			UNION ALL SELECT app_id, hour, user_id, company_id, hist FROM ` + rollup.UserHistHour + ` WHERE hour >= ? AND hour < ?)`
		stmts = append(stmts, stmt{`INSERT INTO ` + rollup.UserHistOpen + ` BY NAME ` + mergeHists(src, "t", "week", "true", true),
			[]any{ts(w), ts(mid), ts(mid), ts(done)}})
		to = ts(done)
	}
	stmts = append(stmts, stmt{`UPDATE ` + rollup.State + ` SET open_to = ?`, []any{to}})
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s.q, s.args...); err != nil {
			return fmt.Errorf("open week rollup: %w", err)
		}
	}
	return nil
}

// touchedBefore reports whether an hour of touched (unix seconds) is in
// [from, to).
func touchedBefore(touched []int64, from, to time.Time) bool {
	for _, h := range touched {
		if h >= from.Unix() && h < to.Unix() {
			return true
		}
	}
	return false
}

// fillOpen builds the open week's rows of a database whose loads came
// before them, as the next load would.
func (s *Store) fillOpen(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open week rollup: %w", err)
	}
	defer conn.Close()
	var sealed, done, openTo sql.NullTime
	err = conn.QueryRowContext(ctx, `SELECT max(sealed), max(done), max(open_to) FROM `+rollup.State).Scan(&sealed, &done, &openTo)
	if err != nil {
		return fmt.Errorf("open week rollup: %w", err)
	}
	if !done.Valid || openTo.Valid {
		return nil
	}
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("open week rollup: %w", err)
	}
	if err := deriveOpen(ctx, conn, nil, done.Time.UTC(), sealed.Time.UTC(), openTo); err != nil {
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("open week rollup: %w", err)
	}
	return nil
}

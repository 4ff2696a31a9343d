package query

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// funnelOnRollups is the funnel's statement (funnelOnEvents' rows) read
// from the user-route rollup for the whole sealed days of the range, and
// raw events around them, when every step (and the split) can be answered
// there; ok is false otherwise. Step 1 takes each user's first_time of
// its rows; each later step reads, from the rows of the users who reached
// the step before and of days the window can reach, each row's earliest
// time after that step's, so the work follows the funnel's users rather
// than the range's events.
func (e *Engine) funnelOnRollups(ctx context.Context, q FunnelSpec) (string, []any, bool, error) {
	if !e.rollups {
		return "", nil, false, nil
	}
	c := e.c.forApp(q.AppID)
	for _, st := range q.Steps {
		if _, _, ok, err := c.where(srcUserRoute, st.Filter); err != nil || !ok {
			return "", nil, false, err
		}
	}
	if q.SplitBy != nil {
		if _, _, ok := c.fieldExpr(srcUserRoute, *q.SplitBy); !ok {
			return "", nil, false, nil
		}
	}
	m, err := e.rollupMarks(ctx, q.AppID)
	if err != nil {
		return "", nil, false, err
	}
	pieces := planDays(q.Range, nil, time.UTC, m)
	if len(pieces) == 1 {
		return "", nil, false, nil // all raw: funnelOnEvents is as good
	}
	win := q.Window.Microseconds()
	var ctes []string
	var args []any
	for k, st := range q.Steps {
		var parts []string
		for _, p := range pieces {
			x, err := funnelPiece(c, q, p, k, st.Filter, win)
			if err != nil {
				return "", nil, false, err
			}
			parts = append(parts, x.text)
			args = append(args, x.args...)
		}
		union := strings.Join(parts, "\nUNION ALL\n")
		if k == 0 {
			ctes = append(ctes, "f0 AS (SELECT uid, min(t) AS t0, "+c.d.ArgMin("sp", "t")+" AS sp FROM ("+union+") x GROUP BY uid)")
			continue
		}
		carry := funnelCarry(k)
		ctes = append(ctes, fmt.Sprintf(`f%d AS (SELECT uid, %s, min(t) AS t%d FROM (%s) x
			WHERE t > t%d AND %s - %s <= %d GROUP BY uid, %s)`, k, carry, k, union, k-1,
			c.d.EpochMicros("t"), c.d.EpochMicros("t0"), win, carry))
	}
	cols := []string{"f0.uid", "f0.sp", "f0.t0"}
	from := " FROM f0"
	for k := 1; k < len(q.Steps); k++ {
		cols = append(cols, fmt.Sprintf("f%d.t%d", k, k))
		from += fmt.Sprintf(" LEFT JOIN f%d ON f%d.uid = f0.uid", k, k)
	}
	return "WITH " + strings.Join(ctes, ",\n") + "\nSELECT " + strings.Join(cols, ", ") + from, args, true, nil
}

// funnelCarry lists the step times a step k carries from the one before.
func funnelCarry(k int) string {
	var t []string
	for j := 0; j < k; j++ {
		t = append(t, fmt.Sprintf("t%d", j))
	}
	return strings.Join(t, ", ")
}

// funnelPiece is step k's events in a piece: for step 1 (uid, t, sp), its
// rows' first times on the rollup; for later ones (uid, t0...t(k-1), t),
// the event times of the users of step k-1 (p), from rows that may hold a
// time after theirs within the window (on the rollup, each row's earliest
// such time: the step takes the minimum).
func funnelPiece(c *compiler, q FunnelSpec, p piece, k int, f *Filter, win int64) (sqlExpr, error) {
	alias, tcol := "e", "e.time"
	table := "events e"
	if p.src == srcUserRoute {
		// A row's earliest time after the previous step's: its first time
		// when that is later, else the earliest later one of its times
		// (the row is kept only when its last time is later). One value
		// per row: unnesting every time would cost far more.
		alias, tcol = "r", fmt.Sprintf("CASE WHEN r.first_time > p.t%[1]d THEN r.first_time ELSE list_min(list_filter(r.times, x -> x > p.t%[1]d)) END", k-1)
		if k == 0 {
			tcol = "r.first_time"
		}
		table = rollup.UserRouteDay + " r"
	}
	w, needUser, _, err := c.where(p.src, f)
	if err != nil {
		return sqlExpr{}, err
	}
	var sel []string
	var selArgs []any
	if k == 0 {
		sp := sqlExpr{text: "NULL"}
		if q.SplitBy != nil {
			var nu bool
			sp, nu, _ = c.fieldExpr(p.src, *q.SplitBy)
			needUser = needUser || nu
		}
		sel = []string{alias + ".user_id AS uid", tcol + " AS t", sp.text + " AS sp"}
		selArgs = sp.args
	} else {
		sel = []string{"p.uid"}
		for j := 0; j < k; j++ {
			sel = append(sel, fmt.Sprintf("p.t%d", j))
		}
		sel = append(sel, tcol+" AS t")
		table = fmt.Sprintf("f%d p JOIN %s ON %s.user_id = p.uid", k-1, table, alias)
	}
	if needUser {
		table += fmt.Sprintf(" LEFT JOIN users u ON u.app_id = %[1]s.app_id AND u.user_id = %[1]s.user_id", alias)
	}
	timeCol := p.timeCol()
	// Events without a user are not dropped here: a condition on user_id
	// reads the whole string column, and their one group (uid NULL) costs
	// less; later steps join on the user, and Funnel skips the group.
	where := []string{alias + ".app_id = ?", timeCol + " < ?"}
	wargs := []any{q.AppID, p.to}
	if !p.from.IsZero() {
		where = append(where, timeCol+" >= ?")
		wargs = append(wargs, p.from)
	}
	if k > 0 {
		first, last := "e.time", "e.time"
		if p.src == srcUserRoute {
			first, last = "r.first_time", "r.last_time"
		}
		where = append(where, fmt.Sprintf("%s > p.t%d", last, k-1),
			fmt.Sprintf("%s - %s <= %d", c.d.EpochMicros(first), c.d.EpochMicros("p.t0"), win))
	}
	// A NULL condition drops the row as false does; left bare, DuckDB
	// pushes the step's comparisons into the scan (a coalesce would make
	// it evaluate one expression per row of the table).
	where = append(where, "("+w.text+")")
	wargs = append(wargs, w.args...)
	return sqlExpr{"SELECT " + strings.Join(sel, ", ") + " FROM " + table + " WHERE " + strings.Join(where, " AND "),
		append(selArgs, wargs...)}, nil
}

package query

import (
	"context"
	"database/sql"
	"strings"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// CompanyKeysMapBack reports whether the statement of every company's p95
// over r, grouped by the ids' hashes, maps back to the ids without
// falling back to text keys (hashkeys.go). ClickHouse groups by text:
// false.
func (e *Engine) CompanyKeysMapBack(ctx context.Context, app string, r Range) (bool, error) {
	if e.onClickHouse() {
		return false, nil
	}
	g, _ := ParseField("company_id")
	s := aggSpec{app: app, r: r, groups: []Field{g}, pcts: []int{95}}
	if err := e.setSealed(ctx, &s); err != nil {
		return false, err
	}
	out, ok, err := e.byHashes(ctx, s)
	return ok && len(out) > 0, err
}

// OpenWeekPlan plans the statement of every user's p95 over r (of their
// band of it if bands), reports whether it reads the open week's rows
// (openweek.go) and whether it reads band columns (bandcols.go), calls
// move (when not nil), which may change the marks it was planned with,
// and then runs it: its error is the statement's.
func (e *Engine) OpenWeekPlan(ctx context.Context, app string, r Range, bands bool, move func() error) (open, bandCols bool, err error) {
	g, _ := ParseField("user_id")
	s := aggSpec{app: app, r: r, groups: []Field{g}, pcts: []int{95}}
	if bands {
		s.band = bandShift
	}
	if err := e.setSealed(ctx, &s); err != nil {
		return false, false, err
	}
	x, _, err := e.c.build(famHistogram, &s, e.rollups)
	if err != nil {
		return false, false, err
	}
	open = strings.Contains(x.text, rollup.UserHistOpen)
	bandCols = strings.Contains(x.text, rollup.BandColumn(0))
	if move != nil {
		if err := move(); err != nil {
			return open, bandCols, err
		}
	}
	return open, bandCols, e.queryRows(ctx, x, func(*sql.Rows) error { return nil })
}

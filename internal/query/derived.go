package query

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// The derived rollups (package rollup) answer what the others cannot.
// UserHistHour and UserHistDay hold latency histograms per user and
// logged company: percentiles per user or company, or for one. UserRouteDay
// (daily only) splits users by method and route: per user or company by
// route, distinct users per route, and latency percentiles per route for
// a user or company. They are derived as hours are done and days sealed,
// so a query reads them for its done hours and sealed days, and raw events
// for the rest.

const userRouteGrain = 24 * time.Hour

// planDays is plan for the user-route rollup: its whole UTC days sealed
// by m, raw events around them, all raw when the buckets are finer than
// UTC calendar days.
func planDays(r Range, iv *Interval, loc *time.Location, m marks) []piece {
	r = fromData(r, m.first)
	sealed := m.sealed
	raw := []piece{{src: srcRaw, from: r.From, to: r.To}}
	if iv != nil && !(iv.Calendar && loc == time.UTC) {
		return raw
	}
	d0, d1 := ceilTo(r.From, userRouteGrain), r.To.Truncate(userRouteGrain)
	if sealed.Before(d1) {
		d1 = sealed
	}
	if sealed.IsZero() || !d0.IsZero() && !d0.Before(d1) {
		return raw
	}
	var out []piece
	if !r.From.IsZero() && r.From.Before(d0) {
		out = append(out, piece{src: srcRaw, from: r.From, to: d0})
	}
	out = append(out, piece{src: srcUserRoute, day: true, from: d0, to: d1})
	if d1.Before(r.To) {
		out = append(out, piece{src: srcRaw, from: d1, to: r.To})
	}
	return out
}

// distinctSince replaces, in a distinct count's user-route plan, the raw
// piece of a partial first day (from mid-day to its end) by that day's
// rows whose last event is at or after the range's start, when the day is
// sealed: a row's user (or company) has an event in the partial day if
// and only if its last one is in it. The events of a day's afternoon are
// several times its rows (a "last 7 days" segmentation's distinct users
// 0.72x, docs/performance.md). The buckets must be UTC days or coarser,
// where the day's rows fall in the bucket of the range's start.
func distinctSince(pieces []piece, iv *Interval, loc *time.Location, sealed time.Time) []piece {
	if len(pieces) == 0 || iv != nil && !(iv.Calendar && loc == time.UTC) {
		return pieces
	}
	p := pieces[0]
	day := p.to.Add(-userRouteGrain)
	if p.src != srcRaw || p.from.IsZero() || !p.to.Equal(p.to.Truncate(userRouteGrain)) || p.to.After(sealed) ||
		!p.from.After(day) {
		return pieces
	}
	out := append([]piece{{src: srcUserRoute, day: true, from: day, to: p.to, since: p.from}}, pieces[1:]...)
	return out
}

// histPairs sums the histogram pairs (rollup.HistPair) that inner, a
// piece on a user rollup, unnests as h, per key and bucket: groupKeys are
// the piece's keys, the bucket b last. flat leaves the pairs unsummed for
// the statement's own sum over its pieces: per user, a piece's pairs
// hardly repeat a (user, bucket), and summing them twice cost the users'
// percentiles a fifth more (docs/performance.md).
func histPairs(inner string, groupKeys []string, flat bool) string {
	keys := strings.Join(groupKeys[:len(groupKeys)-1], ", ")
	if keys != "" {
		keys += ", "
	}
	if flat {
		return "SELECT " + keys + "h & 255 AS b, h >> 8 AS n FROM (" + inner + ") x"
	}
	return "SELECT " + keys + "h & 255 AS b, sum(h >> 8) AS n FROM (" + inner + ") x GROUP BY " + keys + "b"
}

// perUser says whether s groups by the user alone, without time buckets.
func (s *aggSpec) perUser() bool {
	return s.iv == nil && len(s.groups) == 1 && s.groups[0].ref == refColumn && s.groups[0].Name == "user_id"
}

// marks are where the rollups stand for a query of one app: sealed, where
// the daily rollups end; done, where the hourly user histograms do; first,
// the app's earliest event loaded (rollup.AppSpan); openTo, where the open
// week's histograms (rollup.UserHistOpen) end. Zero times when there are
// none.
type marks struct {
	sealed, done, first, openTo time.Time
}

// rollupMarks reads the marks for app's queries: all zero without rollups.
// They are read apart from the statements that use them, so a load may
// come between: the pieces stay right as sealed and done only move on
// (the raw events stay), and only the events of that load older than the
// app's first can be missed, as if the query had come just before it.
// openTo is the exception: a load may change the span of the rows it
// marks, so the statements that read them hold it to their own view of it
// (rollup.OpenGuardSQL, openweek.go).
func (e *Engine) rollupMarks(ctx context.Context, app string) (marks, error) {
	var m marks
	if !e.rollups {
		return m, nil
	}
	rows, err := e.st.Query(ctx, "SELECT s.sealed, s.done, a.first_time, s.open_to FROM "+rollup.State+
		" s LEFT JOIN (SELECT first_time FROM "+rollup.AppSpan+" WHERE app_id = ?) a ON true", app)
	if err != nil {
		return m, fmt.Errorf("query: rollup state: %w", err)
	}
	defer rows.Close()
	var ts [4]*time.Time
	if rows.Next() {
		if err := rows.Scan(&ts[0], &ts[1], &ts[2], &ts[3]); err != nil {
			return m, fmt.Errorf("query: rollup state: %w", err)
		}
	}
	for i, p := range []*time.Time{&m.sealed, &m.done, &m.first, &m.openTo} {
		if ts[i] != nil {
			*p = ts[i].UTC()
		}
	}
	return m, rows.Err()
}

// fromData starts r at the UTC day of first, the app's first event, or
// else at its hour, when r starts earlier (or has no start), and r ends
// after it. The pieces a plan would make before it read nothing, yet each
// costs a statement its scan's set-up and its join to the users (3-10 ms
// each, docs/performance.md), and a "last 30 days" starts before the data
// for every app younger than that. r is unchanged when first is zero.
func fromData(r Range, first time.Time) Range {
	if first.IsZero() {
		return r
	}
	for _, start := range []time.Time{first.Truncate(24 * time.Hour), first.Truncate(time.Hour)} {
		if !r.From.IsZero() && !r.From.Before(start) {
			continue
		}
		if r.To.IsZero() || start.Before(r.To) {
			r.From = start
		}
		return r
	}
	return r
}

// weeks splits a user-histogram day piece without time buckets into the
// days before its first whole ISO week, the whole weeks, and the days
// after them; other pieces, and a piece holding no whole week, stay as
// they are. A piece that starts at the app's data (first, its first
// event) takes the week it starts in whole: the days of it before the
// data hold nothing.
func weeks(p piece, iv *Interval, first time.Time) []piece {
	if p.src != srcUserHist || iv != nil || p.from.IsZero() {
		return []piece{p}
	}
	w0, w1 := rollup.Week(p.from), rollup.Week(p.to)
	if w0.Before(p.from) && (first.IsZero() || p.from.After(first)) {
		w0 = w0.AddDate(0, 0, 7)
	}
	if !w0.Before(w1) {
		return []piece{p}
	}
	var out []piece
	if p.from.Before(w0) {
		out = append(out, piece{src: p.src, day: true, from: p.from, to: w0})
	}
	out = append(out, piece{src: p.src, day: true, week: true, from: w0, to: w1})
	if w1.Before(p.to) {
		out = append(out, piece{src: p.src, day: true, from: w1, to: p.to})
	}
	return out
}

// clampDone makes raw the parts of hourly user-histogram pieces from done
// on, not derived yet, merging adjacent raw pieces.
func clampDone(pieces []piece, done time.Time) []piece {
	var out []piece
	add := func(p piece) {
		if n := len(out); n > 0 && p.src == srcRaw && out[n-1].src == srcRaw && out[n-1].to.Equal(p.from) {
			out[n-1].to = p.to
			return
		}
		out = append(out, p)
	}
	for _, p := range pieces {
		switch {
		case p.src != srcUserHist || p.day:
			add(p)
		case done.IsZero() || !p.from.IsZero() && !p.from.Before(done):
			add(piece{src: srcRaw, from: p.from, to: p.to})
		case done.Before(p.to):
			head := p
			head.to = done
			add(head)
			add(piece{src: srcRaw, from: done, to: p.to})
		default:
			add(p)
		}
	}
	return out
}

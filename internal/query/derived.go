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

// planDays is plan for the user-route rollup: its whole sealed UTC days,
// raw events around them, all raw when the buckets are finer than UTC
// calendar days.
func planDays(r Range, iv *Interval, loc *time.Location, sealed time.Time) []piece {
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

// histPairs sums the histogram pairs (rollup.HistPair) that inner, a
// piece on a user rollup, unnests as h, per key and bucket: groupKeys are
// the piece's keys, the bucket b last.
func histPairs(inner string, groupKeys []string) string {
	keys := strings.Join(groupKeys[:len(groupKeys)-1], ", ")
	if keys != "" {
		keys += ", "
	}
	return "SELECT " + keys + "h & 255 AS b, sum(h >> 8) AS n FROM (" + inner + ") x GROUP BY " + keys + "b"
}

// rollupMarks reads where the daily rollups end (sealed) and where the
// hourly user histograms do (done); zero times when there are none.
func (e *Engine) rollupMarks(ctx context.Context) (sealed, done time.Time, err error) {
	if !e.rollups {
		return
	}
	rows, err := e.st.Query(ctx, "SELECT sealed, done FROM "+rollup.State)
	if err != nil {
		return sealed, done, fmt.Errorf("query: rollup state: %w", err)
	}
	defer rows.Close()
	var s, d *time.Time
	if rows.Next() {
		if err := rows.Scan(&s, &d); err != nil {
			return sealed, done, fmt.Errorf("query: rollup state: %w", err)
		}
	}
	if s != nil {
		sealed = s.UTC()
	}
	if d != nil {
		done = d.UTC()
	}
	return sealed, done, rows.Err()
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

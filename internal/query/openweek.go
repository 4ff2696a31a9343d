package query

import (
	"errors"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// The open week's histograms (rollup.UserHistOpen) hold one row per user
// for the week so far, up to the marks' openTo: the days and hours a
// range ending now would otherwise merge from UserHistDay and
// UserHistHour, about three times as many histogram pairs on the
// benchmark (docs/performance.md). Only statements without time buckets
// read them.
//
// Unlike the other rollups, a load may rebuild them over another span
// between the statement that reads the marks and one that reads the rows.
// Each statement that reads them therefore holds openTo to its own view
// (rollup.OpenGuardSQL) and fails with ErrRollupsMoved when they differ,
// which the API answers by running the query again.

// ErrRollupsMoved is the error of a statement planned with an open week's
// rows that a load has since rebuilt: running the query again plans it
// afresh.
var ErrRollupsMoved = errors.New("query: " + rollup.OpenMoved)

// IsRollupsMoved reports whether err is, or came from, ErrRollupsMoved:
// the store's error holds its text.
func IsRollupsMoved(err error) bool {
	return err != nil && (errors.Is(err, ErrRollupsMoved) || strings.Contains(err.Error(), rollup.OpenMoved))
}

// spliceOpen replaces the histogram pieces of [from, to), the open week's
// rows' span, by one piece of those rows, when the pieces cover the span
// whole and from rollups: not from raw events (a range starting within
// it), nor from a weekly row (never, while the week is open). Pieces that
// start after from but not after first, the app's first event, cover it
// too: nothing is before first. A day piece that runs past to goes on as
// an hourly piece: to is a done hour, and UserHistHour holds every done
// hour.
func spliceOpen(pieces []piece, from, to, first time.Time) []piece {
	if len(pieces) == 0 || pieces[len(pieces)-1].to.Before(to) {
		return pieces
	}
	if start := pieces[0].from; !start.IsZero() && start.After(from) && (first.IsZero() || start.After(first)) {
		return pieces
	}
	overlaps := func(p piece) bool { return p.to.After(from) && (p.from.IsZero() || p.from.Before(to)) }
	for _, p := range pieces {
		if overlaps(p) && (p.src != srcUserHist || p.week) {
			return pieces
		}
	}
	out := make([]piece, 0, len(pieces)+2)
	placed := false
	for _, p := range pieces {
		if !overlaps(p) {
			out = append(out, p)
			continue
		}
		if p.from.IsZero() || p.from.Before(from) {
			head := p
			head.to = from // a Monday: a day or an hour piece may end there
			out = append(out, head)
		}
		if !placed {
			out = append(out, piece{src: srcUserHist, day: true, open: true, from: from, to: to})
			placed = true
		}
		if p.to.After(to) {
			out = append(out, piece{src: srcUserHist, from: to, to: p.to})
		}
	}
	return out
}

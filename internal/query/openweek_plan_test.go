package query

import (
	"testing"
	"time"
)

// TestSpliceOpen holds the open week's piece to its contract: it stands
// for the histogram pieces of its span (2 March 2026 is a Monday) when
// they cover it whole, keeps what comes before and after, goes on after
// it by the hour within a day piece, and leaves alone a plan that starts
// within the week (but for no data before) or ends within its span.
func TestSpliceOpen(t *testing.T) {
	at := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }
	days := func(from, to int) piece { return piece{src: srcUserHist, day: true, from: at(from, 0), to: at(to, 0)} }
	hours := func(d0, h0, d1, h1 int) piece { return piece{src: srcUserHist, from: at(d0, h0), to: at(d1, h1)} }
	raw := func(d0, h0, d1, h1 int) piece { return piece{src: srcRaw, from: at(d0, h0), to: at(d1, h1)} }
	open := func(d, h int) piece {
		return piece{src: srcUserHist, day: true, open: true, from: at(2, 0), to: at(d, h)}
	}
	week := piece{src: srcUserHist, day: true, week: true, from: at(2, 0).AddDate(0, 0, -7), to: at(2, 0)}
	cases := []struct {
		name   string
		pieces []piece
		to     time.Time // the open rows' end
		first  time.Time
		want   []piece
	}{
		{"the span exactly", []piece{days(2, 5), hours(5, 0, 5, 3), raw(5, 3, 5, 5)}, at(5, 3), time.Time{},
			[]piece{open(5, 3), raw(5, 3, 5, 5)}},
		{"a week before", []piece{week, days(2, 5), hours(5, 0, 5, 3), raw(5, 3, 5, 5)}, at(5, 3), time.Time{},
			[]piece{week, open(5, 3), raw(5, 3, 5, 5)}},
		{"a day before the Monday", []piece{days(1, 5), hours(5, 0, 5, 3)}, at(5, 3), time.Time{},
			[]piece{days(1, 2), open(5, 3)}},
		{"the rows end within a day piece", []piece{days(2, 5), hours(5, 0, 5, 3), raw(5, 3, 5, 5)}, at(4, 22), time.Time{},
			[]piece{open(4, 22), hours(4, 22, 5, 0), hours(5, 0, 5, 3), raw(5, 3, 5, 5)}},
		{"the rows end within an hour piece", []piece{days(2, 5), hours(5, 0, 5, 3)}, at(5, 1), time.Time{},
			[]piece{open(5, 1), hours(5, 1, 5, 3)}},
		{"starts within the week", []piece{raw(3, 1, 3, 2), hours(3, 2, 4, 0), days(4, 5), hours(5, 0, 5, 3)}, at(5, 3), time.Time{},
			nil},
		{"starts within the week, at the data", []piece{days(3, 5), hours(5, 0, 5, 3)}, at(5, 3), at(3, 10),
			[]piece{open(5, 3)}},
		{"ends within the span", []piece{days(2, 4), hours(4, 0, 4, 5)}, at(5, 3), time.Time{}, nil},
		{"raw within the span", []piece{days(2, 4), raw(4, 0, 5, 5)}, at(5, 3), time.Time{}, nil},
	}
	for _, c := range cases {
		want := c.want
		if want == nil {
			want = c.pieces // unchanged
		}
		samePieces(t, c.name, spliceOpen(c.pieces, at(2, 0), c.to, c.first), want)
	}
}

package query

import (
	"testing"
	"time"
)

// TestPlanDays holds the user-route plan to its contract: the whole sealed
// UTC days of the range from the rollup, raw events for the rest, the
// pieces adjacent and covering the range exactly, from the app's data
// start when the range starts before it.
func TestPlanDays(t *testing.T) {
	at := func(d int, hm ...int) time.Time {
		t := time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC)
		if len(hm) > 0 {
			t = t.Add(time.Duration(hm[0]) * time.Hour)
		}
		if len(hm) > 1 {
			t = t.Add(time.Duration(hm[1]) * time.Minute)
		}
		return t
	}
	raw := func(from, to time.Time) piece { return piece{src: srcRaw, from: from, to: to} }
	days := func(from, to time.Time) piece { return piece{src: srcUserRoute, day: true, from: from, to: to} }
	daily, _ := ParseInterval("1d", Range{From: at(1), To: at(9)})
	minutes, _ := ParseInterval("5m", Range{From: at(1), To: at(1, 1)})
	cases := []struct {
		name   string
		r      Range
		iv     *Interval
		sealed time.Time
		first  time.Time // the app's first event
		want   []piece
	}{
		{"days, raw ends", Range{From: at(2, 3, 11), To: at(6, 18, 5)}, nil, at(6), time.Time{},
			[]piece{raw(at(2, 3, 11), at(3)), days(at(3), at(6)), raw(at(6), at(6, 18, 5))}},
		{"days cut at sealed", Range{From: at(2), To: at(8, 1)}, &daily, at(5), time.Time{},
			[]piece{days(at(2), at(5)), raw(at(5), at(8, 1))}},
		{"unbounded start", Range{To: at(6, 18)}, &daily, at(6), time.Time{},
			[]piece{days(time.Time{}, at(6)), raw(at(6), at(6, 18))}},
		{"range after sealed", Range{From: at(6, 2, 30), To: at(7, 18)}, nil, at(6), time.Time{},
			[]piece{raw(at(6, 2, 30), at(7, 18))}},
		{"no whole day", Range{From: at(2, 1), To: at(2, 20)}, nil, at(6), time.Time{},
			[]piece{raw(at(2, 1), at(2, 20))}},
		{"nothing sealed", Range{From: at(2), To: at(6)}, nil, time.Time{}, time.Time{},
			[]piece{raw(at(2), at(6))}},
		{"buckets finer than days", Range{From: at(2), To: at(6)}, &minutes, at(6), time.Time{},
			[]piece{raw(at(2), at(6))}},
		{"starts before the data", Range{From: at(1, 3, 11), To: at(6, 18, 5)}, nil, at(6), at(2, 7, 40),
			[]piece{days(at(2), at(6)), raw(at(6), at(6, 18, 5))}},
		{"unbounded, before the data", Range{To: at(6, 18)}, &daily, at(6), at(2, 7, 40),
			[]piece{days(at(2), at(6)), raw(at(6), at(6, 18))}},
		{"starts within the data's first day", Range{From: at(2, 3, 11), To: at(6, 18, 5)}, nil, at(6), at(2, 7, 40),
			[]piece{raw(at(2, 7), at(3)), days(at(3), at(6)), raw(at(6), at(6, 18, 5))}},
		{"starts after the data's start", Range{From: at(2, 9, 11), To: at(6, 18, 5)}, nil, at(6), at(2, 7, 40),
			[]piece{raw(at(2, 9, 11), at(3)), days(at(3), at(6)), raw(at(6), at(6, 18, 5))}},
		{"ends before the data", Range{From: at(1), To: at(1, 20)}, nil, at(6), at(2, 7, 40),
			[]piece{raw(at(1), at(1, 20))}},
	}
	for _, c := range cases {
		got := planDays(c.r, c.iv, time.UTC, marks{sealed: c.sealed, first: c.first})
		if !samePieces(t, c.name, got, c.want) {
			continue
		}
		// Before the data start, only the time before the first event
		// may be left out.
		from := c.r.From
		if !c.first.IsZero() && (from.IsZero() || from.Before(c.first)) && c.first.Before(c.r.To) {
			from = got[0].from
			if got[0].from.After(c.first) || !c.r.From.IsZero() && got[0].from.Before(c.r.From) {
				t.Errorf("%s: the pieces start at %v, after the first event or before the range", c.name, got[0].from)
			}
		}
		if !got[0].from.Equal(from) || !got[len(got)-1].to.Equal(c.r.To) {
			t.Errorf("%s: pieces cover [%v, %v), want %v", c.name, got[0].from, got[len(got)-1].to, c.r)
		}
		for i := 1; i < len(got); i++ {
			if !got[i].from.Equal(got[i-1].to) {
				t.Errorf("%s: gap or overlap between pieces %d and %d", c.name, i-1, i)
			}
		}
	}
}

// TestWeeks holds the split of a user-histogram day piece to its
// contract: whole ISO weeks (2 March 2026 is a Monday) from the weekly
// table, the days around them from the daily one, the pieces adjacent
// and covering the piece exactly; other pieces, time buckets and pieces
// without a whole week unsplit.
func TestWeeks(t *testing.T) {
	at := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	days := func(from, to int) piece { return piece{src: srcUserHist, day: true, from: at(from), to: at(to)} }
	wks := func(from, to int) piece {
		return piece{src: srcUserHist, day: true, week: true, from: at(from), to: at(to)}
	}
	daily, _ := ParseInterval("1d", Range{From: at(1), To: at(30)})
	cases := []struct {
		name  string
		p     piece
		iv    *Interval
		first time.Time // the app's first event
		want  []piece
	}{
		{"days, weeks, days", days(4, 26), nil, time.Time{}, []piece{days(4, 9), wks(9, 23), days(23, 26)}},
		{"from a Monday to a Monday", days(2, 16), nil, time.Time{}, []piece{wks(2, 16)}},
		{"one whole week, days after", days(2, 12), nil, time.Time{}, []piece{wks(2, 9), days(9, 12)}},
		{"days before one whole week", days(5, 16), nil, time.Time{}, []piece{days(5, 9), wks(9, 16)}},
		{"no whole week", days(3, 9), nil, time.Time{}, []piece{days(3, 9)}},
		{"across a Monday, no whole week", days(6, 13), nil, time.Time{}, []piece{days(6, 13)}},
		{"time buckets", days(2, 16), &daily, time.Time{}, []piece{days(2, 16)}},
		{"unbounded start", piece{src: srcUserHist, day: true, to: at(16)}, nil, time.Time{}, []piece{{src: srcUserHist, day: true, to: at(16)}}},
		{"starts at the data, mid-week", days(4, 16), nil, at(4).Add(7 * time.Hour), []piece{wks(2, 16)}},
		{"starts before the data", days(4, 16), nil, at(4).Add(-time.Second), []piece{days(4, 9), wks(9, 16)}},
		{"another rollup", piece{src: srcUser, day: true, from: at(2), to: at(16)}, nil, time.Time{}, []piece{{src: srcUser, day: true, from: at(2), to: at(16)}}},
	}
	for _, c := range cases {
		samePieces(t, c.name, weeks(c.p, c.iv, c.first), c.want)
	}
}

// samePieces reports where got differs from want; false when their
// lengths differ.
func samePieces(t *testing.T, name string, got, want []piece) bool {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %+v, want %+v", name, got, want)
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: piece %d is %+v, want %+v", name, i, got[i], want[i])
		}
	}
	return true
}

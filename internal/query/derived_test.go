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
		if len(got) != len(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: piece %d is %v, want %v", c.name, i, got[i], c.want[i])
			}
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

package query_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query"
)

// TestDistinctFromMidDay: a distinct count over a range that starts in
// the middle of a sealed day reads that day's user-route rows whose last
// event is at or after the start. The events are placed so that a row
// with events only before the start, and one with events on both sides of
// it, decide the answer; the counts are made in Go.
func TestDistinctFromMidDay(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	d1 := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	at := func(day, hour int) time.Time {
		return d1.Add(time.Duration(day)*24*time.Hour + time.Duration(hour)*time.Hour)
	}
	type call struct {
		user, route string
		at          time.Time
	}
	calls := []call{
		{"before-only", "/x", at(0, 8)},                                 // only before the start: not counted
		{"both-sides", "/x", at(0, 9)}, {"both-sides", "/x", at(0, 15)}, // counted by its 15:00 call
		{"after", "/y", at(0, 14)},
		{"next-day", "/x", at(1, 10)},
		{"before-only", "/y", at(1, 11)}, // counted for /y, not for /x
		{"today", "/x", at(2, 5)},        // the load that seals the first two days
	}
	var evs []event.Event
	for i, c := range calls {
		evs = append(evs, event.Event{AppID: "app1", RequestID: fmt.Sprintf("req-%d", i), Time: c.at, Method: "GET", Route: c.route,
			Path: c.route, Status: 200, UserID: c.user, LatencyMs: 5, ResponseBytes: 10, IntegrationLatencyMs: event.Absent, Source: event.SourceFirehose})
	}
	load(t, s, "app1", evs, nil, len(evs))
	r := query.Range{From: at(0, 12), To: at(2, 6)}
	want := map[string]map[string]bool{}
	for _, c := range calls {
		if !c.at.Before(r.From) && c.at.Before(r.To) {
			if want[c.route] == nil {
				want[c.route] = map[string]bool{}
			}
			want[c.route][c.user] = true
		}
	}
	route, _ := query.ParseGroupField("route")
	// Hourly buckets over the rest of the first day: each hour's users
	// (the day's rows cannot tell the hours apart).
	day := query.Range{From: r.From, To: at(1, 0)}
	hourly := map[time.Time]map[string]int{}
	for _, c := range calls {
		if !c.at.Before(day.From) && c.at.Before(day.To) {
			h := c.at.Truncate(time.Hour)
			if hourly[h] == nil {
				hourly[h] = map[string]int{}
			}
			hourly[h][c.route]++
		}
	}
	iv, err := query.ParseInterval("1h", day)
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range duckEngines(t, s) {
		ts, err := e.TimeSeries(ctx, query.SeriesSpec{AppID: "app1", Range: day, Metric: query.UniqueUsers, Interval: iv, GroupBy: &route})
		if err != nil {
			t.Fatal(err)
		}
		for _, ser := range ts.Series {
			for _, pt := range ser.Points {
				if want := float64(hourly[pt.T][fmt.Sprint(deref(ser.Group))]); pt.V == nil && want != 0 || pt.V != nil && *pt.V != want {
					t.Errorf("%s: %s at %s: %s unique users, want %v", name, deref(ser.Group), pt.T, fmtv(pt.V), want)
				}
			}
		}
	}
	for name, e := range duckEngines(t, s) {
		rows, err := e.Segmentation(ctx, query.SegSpec{AppID: "app1", Range: r, GroupBy: []query.Field{route},
			Metrics: []query.Metric{query.UniqueUsers}, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(want) {
			t.Errorf("%s: %d routes, want %d", name, len(rows), len(want))
		}
		for _, row := range rows {
			rt := fmt.Sprint(row["route"])
			got, _ := row["unique_users"].(*float64)
			if got == nil || int(*got) != len(want[rt]) {
				t.Errorf("%s: %s has %v unique users, want %d", name, rt, fmtv(got), len(want[rt]))
			}
		}
	}
}

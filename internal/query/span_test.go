package query_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query"
	"github.com/gatescope/gatescope/internal/store"
)

// TestEarlierThanTheData: a query whose range starts before the app's
// first event is planned from that event's day, and an event loaded later
// with an earlier time moves that start back, so the next query counts it.
// Counts come from the fixture's events, in Go.
func TestEarlierThanTheData(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	f := newFixture("app1", 3000, 11)
	load(t, s, f.app, f.events, f.links, 1000)
	end := f.start.Add(30 * 24 * time.Hour)
	r := query.Range{From: f.start.Add(-20*24*time.Hour - 37*time.Minute), To: end}
	late := f.events[0]
	for _, ev := range f.events {
		if ev.UserID != "" && ev.Time.Before(end) {
			late = ev
			break
		}
	}
	late.RequestID = "late-" + late.RequestID
	late.Time = f.start.Add(-9*24*time.Hour - 5*time.Hour)
	want := map[string]int64{}
	for _, ev := range f.events {
		if !ev.Time.Before(r.From) && ev.Time.Before(r.To) {
			want[ev.UserID]++
		}
	}
	engines := duckEngines(t, s)
	route, _ := query.ParseGroupField("route")
	check := func(stage string) {
		t.Helper()
		var total int64
		for _, n := range want {
			total += n
		}
		for name, e := range engines {
			rows, err := e.Segmentation(ctx, query.SegSpec{AppID: f.app, Range: r, GroupBy: []query.Field{route},
				Metrics: []query.Metric{query.Count}, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			var got int64
			for _, row := range rows {
				got += int64(*row["count"].(*float64))
			}
			if got != total {
				t.Errorf("%s, %s: segmentation counts %d events, want %d", stage, name, got, total)
			}
			users, _, err := e.Users(ctx, query.ListSpec{AppID: f.app, Range: r, ID: late.UserID, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(users) != 1 || users[0].Requests != want[late.UserID] {
				t.Errorf("%s, %s: user %s has %v, want %d requests", stage, name, late.UserID, users, want[late.UserID])
			}
			p, err := e.UserProfile(ctx, query.ProfileSpec{AppID: f.app, ID: late.UserID, Range: r, Interval: dayInterval(t, r)})
			if err != nil {
				t.Fatal(err)
			}
			if p.Totals.Requests != want[late.UserID] {
				t.Errorf("%s, %s: the profile of %s totals %d requests, want %d", stage, name, late.UserID, p.Totals.Requests, want[late.UserID])
			}
		}
	}
	check("as loaded")
	if _, err := s.Append(ctx, &store.Batch{AppID: f.app, Events: []event.Event{late}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want[late.UserID]++
	check("after an earlier event")
}

func dayInterval(t *testing.T, r query.Range) query.Interval {
	t.Helper()
	iv, err := query.ParseInterval("1d", r)
	if err != nil {
		t.Fatal(err)
	}
	return iv
}

package query_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/query"
)

func TestSmoke(t *testing.T) {
	s := openStore(t)
	f := newFixture("app1", 3000, 1)
	load(t, s, f.app, f.events, f.links, 700)
	e, err := query.NewEngine(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := query.Range{From: f.start.Add(37 * time.Minute), To: f.start.Add(50 * time.Hour)}
	iv, _ := query.ParseInterval("1h", r)
	for _, m := range query.Metrics {
		ts, err := e.TimeSeries(ctx, query.SeriesSpec{AppID: f.app, Range: r, Metric: m, Interval: iv})
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		b, _ := json.Marshal(ts.Series[0].Points[:3])
		t.Logf("%s %s", m, b)
	}
	g, _ := query.ParseField("company_id")
	ts, err := e.TimeSeries(ctx, query.SeriesSpec{AppID: f.app, Range: r, Metric: query.UniqueUsers, Interval: iv, GroupBy: &g, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ts.Series {
		b, _ := json.Marshal(s.Points[:2])
		t.Logf("%v %v %s", s.Group, s.Other, b)
	}
	route, _ := query.ParseField("route")
	rows, err := e.Segmentation(ctx, query.SegSpec{AppID: f.app, Range: r, GroupBy: []query.Field{route, g}, Metrics: query.Metrics, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rows)
	t.Logf("%s", b)
}

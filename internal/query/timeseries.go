package query

import (
	"context"
	"fmt"
	"time"
)

// SeriesSpec is a time-series query.
type SeriesSpec struct {
	AppID    string
	Range    Range
	Filter   *Filter
	Metric   Metric
	Interval Interval
	Loc      *time.Location
	GroupBy  *Field // nil: one series
	Limit    int    // groups with their own series; default 10
}

// Point is one bucket of a series; V is nil where the metric is undefined.
type Point struct {
	T time.Time `json:"t"`
	V *float64  `json:"v"`
}

// Series is one group's points.
type Series struct {
	Group  *string `json:"group"`
	Other  bool    `json:"other,omitempty"`
	Points []Point `json:"points"`
}

// TimeSeries is the answer of a time-series query.
type TimeSeries struct {
	Interval string    `json:"interval"`
	Metric   Metric    `json:"metric"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Series   []Series  `json:"series"`
}

// MaxSeriesGroups caps Limit.
const MaxSeriesGroups = 50

// TimeSeries answers a time-series query: buckets aligned to the zone,
// every bucket present (empty ones are zero, or null for metrics
// undefined without events), and with GroupBy the Limit groups ranked
// highest by the metric over the whole range, plus "other" for the rest.
func (e *Engine) TimeSeries(ctx context.Context, q SeriesSpec) (*TimeSeries, error) {
	if q.AppID == "" {
		return nil, badQuery("app_id is required")
	}
	if q.Loc == nil {
		q.Loc = time.UTC
	}
	if q.Limit == 0 {
		q.Limit = 10
	}
	if q.Limit < 1 || q.Limit > MaxSeriesGroups {
		return nil, badQuery("limit %d: want 1 to %d", q.Limit, MaxSeriesGroups)
	}
	if q.Range.From.IsZero() {
		return nil, badQuery("a time series needs from")
	}
	if n := q.Range.To.Sub(q.Range.From) / q.Interval.D; n > MaxBuckets {
		return nil, badQuery("interval %s gives %d buckets, over %d", q.Interval.Name, n, MaxBuckets)
	}
	iv := q.Interval
	s := aggSpec{app: q.AppID, r: q.Range, filter: q.Filter, iv: &iv, loc: q.Loc, textGroups: true, need: partialsOf(q.Metric)}
	var top [][]any
	hasOther := false
	if q.GroupBy != nil {
		s.groups = []Field{*q.GroupBy}
		rs := s
		rs.iv = nil
		var err error
		top, err = e.rank(ctx, rs, q.Metric, 0, true, q.Limit+1, newAggResult())
		if err != nil {
			return nil, err
		}
		if len(top) > q.Limit {
			hasOther = true
			top = top[:q.Limit]
		}
		if hasOther {
			s.topUsed = true
			for _, g := range top {
				s.top = append(s.top, g[0])
			}
		}
	}
	res := newAggResult()
	if err := e.runAll(ctx, s, []Metric{q.Metric}, res); err != nil {
		return nil, err
	}
	bs := buckets(q.Range, q.Interval, q.Loc)
	// Series is never null in JSON: a grouped query over nothing has no groups.
	out := &TimeSeries{Interval: q.Interval.Name, Metric: q.Metric, From: q.Range.From, To: q.Range.To, Series: []Series{}}
	fill := func(groups []any, other bool, name *string) Series {
		ser := Series{Group: name, Other: other, Points: make([]Point, len(bs))}
		for i, t := range bs {
			row := res.rows[rowKey(t, groups, other)]
			if row == nil {
				row = &aggRow{}
			}
			ser.Points[i] = Point{T: t, V: row.value(q.Metric)}
		}
		return ser
	}
	if q.GroupBy == nil {
		all := "all"
		out.Series = []Series{fill([]any{}, false, &all)}
		return out, nil
	}
	for _, g := range top {
		var name *string
		if g[0] != nil {
			s := fmt.Sprint(g[0])
			name = &s
		}
		out.Series = append(out.Series, fill(g, false, name))
	}
	if hasOther {
		other := "other"
		out.Series = append(out.Series, fill([]any{nil}, true, &other))
	}
	return out, nil
}

package query

import (
	"context"
	"strings"
)

// SegSpec is a segmentation query.
type SegSpec struct {
	AppID   string
	Range   Range
	Filter  *Filter
	GroupBy []Field
	Metrics []Metric
	// Sort is a metric or one of GroupBy's names; "" is the first metric.
	Sort  string
	Desc  bool
	Limit int
}

// MaxSegRows caps a segmentation's rows; MaxGroupBy its group fields.
const (
	MaxSegRows = 1000
	MaxGroupBy = 3
)

// ParseSort reads "metric", "-metric", "field" or "-field" against a
// query's metrics and groups; "" sorts by the first metric, descending.
func ParseSort(s string, metrics []Metric, groups []Field) (key string, desc bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return string(metrics[0]), true, nil
	}
	desc = strings.HasPrefix(s, "-")
	key = strings.TrimPrefix(s, "-")
	for _, m := range metrics {
		if string(m) == key {
			return key, desc, nil
		}
	}
	for _, g := range groups {
		if g.Name == key {
			return key, desc, nil
		}
	}
	return "", false, badQuery("sort %q: not one of this query's metrics or group_by fields", s)
}

// Segmentation answers a segmentation query: one row per combination of
// the group fields' values (absent values are null), sorted, at most Limit.
// Each row maps the group field names and the metric names to values.
func (e *Engine) Segmentation(ctx context.Context, q SegSpec) ([]map[string]any, error) {
	if q.AppID == "" {
		return nil, badQuery("app_id is required")
	}
	if len(q.GroupBy) > MaxGroupBy {
		return nil, badQuery("group_by takes at most %d fields", MaxGroupBy)
	}
	if len(q.Metrics) == 0 {
		q.Metrics = []Metric{Count}
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	if q.Limit < 1 || q.Limit > MaxSegRows {
		return nil, badQuery("limit %d: want 1 to %d", q.Limit, MaxSegRows)
	}
	if q.Sort == "" {
		q.Sort, q.Desc = string(q.Metrics[0]), true
	}
	s := aggSpec{app: q.AppID, r: q.Range, filter: q.Filter, groups: q.GroupBy, need: partialsOf(q.Metrics...)}
	res := newAggResult()
	rest := q.Metrics
	if len(q.GroupBy) > 0 {
		var sortMetric Metric
		groupIdx := -1
		for i, g := range q.GroupBy {
			if g.Name == q.Sort {
				groupIdx = i
			}
		}
		if groupIdx < 0 {
			m, err := ParseMetric(q.Sort)
			if err != nil {
				return nil, err
			}
			sortMetric = m
		}
		top, err := e.rank(ctx, s, sortMetric, groupIdx, q.Desc, q.Limit, res)
		if err != nil {
			return nil, err
		}
		if len(top) == 0 {
			return []map[string]any{}, nil
		}
		// Only a cut ranking needs the other families restricted to its
		// groups; otherwise they see the same groups anyway.
		if len(top) == q.Limit {
			s.only = top
		}
		rest = rankedAlready(q.Metrics, sortMetric)
	}
	if err := e.runAll(ctx, s, rest, res); err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(res.order))
	for _, k := range res.order {
		row := res.rows[k]
		m := map[string]any{}
		for i, g := range q.GroupBy {
			m[g.Name] = row.groups[i]
		}
		for _, mt := range q.Metrics {
			m[string(mt)] = row.value(mt)
		}
		out = append(out, m)
	}
	// Groups without a value for the sort metric (no latencies, say) come
	// after the ranked ones.
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// rankedAlready returns the metrics the ranking by sortMetric ("": by a
// group field, which ranks by count) did not compute in full for its
// groups: each ranked row holds its group's complete figures of the
// ranking's family (every additive partial; the one distinct count; the
// sort metric's percentile).
func rankedAlready(metrics []Metric, sortMetric Metric) []Metric {
	fam := famAdditive
	if sortMetric != "" {
		fam = sortMetric.family()
	}
	var hist []Metric
	for _, m := range metrics {
		if m.family() == famHistogram {
			hist = append(hist, m)
		}
	}
	var rest []Metric
	for _, m := range metrics {
		switch {
		case fam == famAdditive && m.family() == famAdditive:
		case fam == famDistinct && m == sortMetric:
		case fam == famHistogram && len(hist) == 1 && m == sortMetric:
		default:
			rest = append(rest, m)
		}
	}
	return rest
}

package query

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// FunnelStep is one step of a funnel request.
type FunnelStep struct {
	Name   string
	Filter *Filter
}

// FunnelSpec is a funnel query. A user enters at their first event in the
// range matching step 1; step k (k > 1) is reached at their first event
// matching step k strictly later than step k-1 was reached and at most
// Window after step 1. Only identified users take part.
type FunnelSpec struct {
	AppID  string
	Range  Range
	Steps  []FunnelStep
	Window time.Duration
	// SplitBy is nil, company_id (the company of the user's step-1 event)
	// or user_metadata.<key>.
	SplitBy *Field
}

// FunnelStepResult is one step's figures.
type FunnelStepResult struct {
	Name                 string   `json:"name"`
	Users                int64    `json:"users"`
	ConversionFromPrev   *float64 `json:"conversion_from_previous"`
	ConversionFromFirst  *float64 `json:"conversion_from_first"`
	MedianSecondsFromPrv *float64 `json:"median_seconds_from_previous"`
}

// FunnelSplit is the funnel of one split group.
type FunnelSplit struct {
	Group *string            `json:"group"`
	Steps []FunnelStepResult `json:"steps"`
}

// Funnel is a funnel's answer.
type Funnel struct {
	WindowSeconds float64            `json:"window_seconds"`
	Steps         []FunnelStepResult `json:"steps"`
	Splits        []FunnelSplit      `json:"splits,omitempty"`
}

// Limits of a funnel.
const (
	MaxFunnelSteps  = 10
	MaxFunnelWindow = 90 * 24 * time.Hour
	// MaxFunnelSplits caps the split groups (the largest are kept).
	MaxFunnelSplits = 50
)

// Funnel answers a funnel query.
func (e *Engine) Funnel(ctx context.Context, q FunnelSpec) (*Funnel, error) {
	if q.AppID == "" {
		return nil, badQuery("app_id is required")
	}
	if len(q.Steps) < 2 || len(q.Steps) > MaxFunnelSteps {
		return nil, badQuery("a funnel has 2 to %d steps", MaxFunnelSteps)
	}
	if q.Window <= 0 || q.Window > MaxFunnelWindow {
		return nil, badQuery("window must be positive and at most %v", MaxFunnelWindow)
	}
	if q.SplitBy != nil && q.SplitBy.Name != "company_id" && q.SplitBy.ref != refUserMetadata {
		return nil, badQuery("split_by is company_id or user_metadata.<key>")
	}
	if e.onClickHouse() { // dispatch hook: dialect_clickhouse_funnel.go
		return e.chFunnel(ctx, q)
	}
	for i, st := range q.Steps {
		if st.Filter == nil {
			return nil, badQuery("step %d has no filter", i+1)
		}
	}
	q2, args, ok, err := e.funnelOnRollups(ctx, q) // funnel_rollup.go
	if err != nil {
		return nil, err
	}
	if !ok {
		if q2, args, err = e.funnelOnEvents(q); err != nil {
			return nil, err
		}
	}
	rows, err := e.query(ctx, q2, args...)
	if err != nil {
		return nil, fmt.Errorf("funnel: %w", err)
	}
	defer rows.Close()
	var paths []funnelPath
	for rows.Next() {
		var uid *string
		var sp any
		ts := make([]*time.Time, len(q.Steps))
		dest := []any{&uid, &sp}
		for i := range ts {
			dest = append(dest, &ts[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("funnel: %w", err)
		}
		if uid == nil {
			continue // events without a user (funnelOnRollups keeps them)
		}
		var s *string
		if sp != nil {
			v := fmt.Sprint(normalize(sp))
			s = &v
		}
		paths = append(paths, funnelPath{s, ts})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("funnel: %w", err)
	}
	return funnelOf(q, paths), nil
}

// funnelOnEvents is the funnel's statement over raw events: the events
// matching any step, then each user's path through them. Its rows are
// (uid, sp, t0, t1, ...): the split group and the time each step was
// reached (NULL: not).
func (e *Engine) funnelOnEvents(q FunnelSpec) (string, []any, error) {
	d := e.c.d
	var conds []string
	var condArgs []any
	needUser := q.SplitBy != nil
	for _, st := range q.Steps {
		x, nu, _, err := e.c.forApp(q.AppID).where(srcRaw, st.Filter)
		if err != nil {
			return "", nil, err
		}
		conds = append(conds, "coalesce(("+x.text+"), false)")
		condArgs = append(condArgs, x.args...)
		needUser = needUser || nu
	}
	split := sqlExpr{text: "NULL"}
	if q.SplitBy != nil {
		x, _, _ := e.c.fieldExpr(srcRaw, *q.SplitBy)
		split = x
	}
	var sel []string
	for i, c := range conds {
		sel = append(sel, fmt.Sprintf("%s AS s%d", c, i))
	}
	join := ""
	if needUser {
		join = " LEFT JOIN users u ON u.app_id = e.app_id AND u.user_id = e.user_id"
	}
	var args []any
	args = append(args, split.args...)
	args = append(args, condArgs...)
	m := fmt.Sprintf(`SELECT e.user_id AS uid, e.time AS t, %s AS sp, %s FROM events e%s
		WHERE e.app_id = ? AND e.time >= ? AND e.time < ? AND e.user_id IS NOT NULL AND (%s)`,
		split.text, strings.Join(sel, ", "), join, strings.Join(conds, " OR "))
	args = append(args, q.AppID, q.Range.From, q.Range.To)
	args = append(args, condArgs...)
	win := q.Window.Microseconds()
	ctes := []string{"m AS MATERIALIZED (" + m + ")",
		"f0 AS (SELECT uid, min(t) AS t0, " + d.ArgMin("sp", "t") + " AS sp FROM m WHERE s0 GROUP BY uid)"}
	cols := []string{"f0.uid", "f0.sp", "f0.t0"}
	for k := 1; k < len(conds); k++ {
		prev := fmt.Sprintf("f%d", k-1)
		carry := []string{"p.uid", "p.t0"}
		for j := 1; j < k; j++ {
			carry = append(carry, fmt.Sprintf("p.t%d", j))
		}
		ctes = append(ctes, fmt.Sprintf(`f%d AS (SELECT %s, min(m.t) AS t%d FROM %s p JOIN m ON m.uid = p.uid AND m.s%d
			AND m.t > p.t%d AND %s - %s <= %d GROUP BY %s)`, k, strings.Join(carry, ", "), k, prev, k, k-1,
			d.EpochMicros("m.t"), d.EpochMicros("p.t0"), win, strings.Join(carry, ", ")))
		cols = append(cols, fmt.Sprintf("f%d.t%d", k, k))
	}
	q2 := "WITH " + strings.Join(ctes, ",\n") + "\nSELECT " + strings.Join(cols, ", ") + " FROM f0"
	for k := 1; k < len(conds); k++ {
		q2 += fmt.Sprintf(" LEFT JOIN f%d ON f%d.uid = f0.uid", k, k)
	}
	return q2, args, nil
}

func ratio(a, b int64) *float64 {
	if b == 0 {
		return nil
	}
	r := float64(a) / float64(b)
	return &r
}

// lowerMedian is the nearest-rank median: the ceil(n/2)-th smallest.
func lowerMedian(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	sort.Float64s(xs)
	m := xs[(len(xs)+1)/2-1]
	return &m
}

// funnelPath is a user's way through the steps: the split group and the
// time each step was reached (nil from the first step not reached).
type funnelPath struct {
	split *string
	times []*time.Time
}

// funnelOf assembles the answer from the users' paths, on every dialect.
func funnelOf(q FunnelSpec, paths []funnelPath) *Funnel {
	names := make([]string, len(q.Steps))
	for i, st := range q.Steps {
		names[i] = st.Name
		if names[i] == "" {
			names[i] = fmt.Sprintf("step %d", i+1)
		}
	}
	compute := func(ps []funnelPath) []FunnelStepResult {
		out := make([]FunnelStepResult, len(names))
		deltas := make([][]float64, len(names))
		for _, p := range ps {
			for k, t := range p.times {
				if t == nil {
					break
				}
				out[k].Users++
				if k > 0 {
					deltas[k] = append(deltas[k], t.Sub(*p.times[k-1]).Seconds())
				}
			}
		}
		for k := range out {
			out[k].Name = names[k]
			if k > 0 {
				out[k].ConversionFromPrev = ratio(out[k].Users, out[k-1].Users)
				out[k].ConversionFromFirst = ratio(out[k].Users, out[0].Users)
				out[k].MedianSecondsFromPrv = lowerMedian(deltas[k])
			} else if out[0].Users > 0 {
				one := 1.0
				out[0].ConversionFromFirst = &one
			}
		}
		return out
	}
	res := &Funnel{WindowSeconds: q.Window.Seconds(), Steps: compute(paths)}
	if q.SplitBy == nil {
		return res
	}
	groups := map[string][]funnelPath{}
	var keys []string
	for _, p := range paths {
		k := "\x00"
		if p.split != nil {
			k = *p.split
		}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], p)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(groups[keys[i]]) != len(groups[keys[j]]) {
			return len(groups[keys[i]]) > len(groups[keys[j]])
		}
		return keys[i] < keys[j]
	})
	if len(keys) > MaxFunnelSplits {
		keys = keys[:MaxFunnelSplits]
	}
	res.Splits = []FunnelSplit{}
	for _, k := range keys {
		ps := groups[k]
		res.Splits = append(res.Splits, FunnelSplit{Group: ps[0].split, Steps: compute(ps)})
	}
	return res
}

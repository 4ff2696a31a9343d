package query

import (
	"fmt"
	"strings"
)

// chBuild is compiler.build on ClickHouse: one statement over raw events
// (there are no rollups on ClickHouse), with the output
// columns of the shared one: the keys (t, g0..., o), then for the
// additive family the partials, for the distinct family v, for the
// histogram family q0... as histogram buckets, so that percentiles are
// those of DuckDB.
func (c *compiler) chBuild(fam family, s *aggSpec) (sqlExpr, []string, error) {
	if s.band > 0 {
		return sqlExpr{}, nil, fmt.Errorf("query: histogram bands are computed on DuckDB only")
	}
	var sel []string
	var selArgs []any
	needUser := false
	if s.iv != nil {
		t, a := c.d.TimeBucket("e.time", *s.iv, s.loc)
		sel = append(sel, t+" AS t")
		selArgs = append(selArgs, a...)
	}
	// cmp are the groups as values compare with them (scanned values of
	// an earlier statement, bound as arguments); out as they are output.
	cmp := make([]sqlExpr, len(s.groups))
	out := make([]sqlExpr, len(s.groups))
	for i, g := range s.groups {
		x, nu := chField(g)
		needUser = needUser || nu
		o := x
		switch {
		case s.textGroups && g.Kind == KindBool:
			x.text = c.d.ToText("CAST(" + x.text + " AS " + chBool + ")")
			o = x
		case s.textGroups && g.Kind != KindString:
			x.text = c.d.ToText(x.text)
			o = x
		case g.Kind == KindBool:
			o.text = "CAST(" + x.text + " AS " + chBool + ")"
		}
		cmp[i], out[i] = x, o
	}
	if s.topUsed {
		g := cmp[0]
		match, cargs := topMatch(g, s.top, "0")
		sel = append(sel, "if("+match+", "+out[0].text+", NULL) AS g0", "if("+match+", 0, 1) AS o")
		selArgs = append(selArgs, cargs...)
		selArgs = append(selArgs, out[0].args...)
		selArgs = append(selArgs, cargs...)
	} else {
		for i, g := range out {
			sel = append(sel, fmt.Sprintf("%s AS g%d", g.text, i))
			selArgs = append(selArgs, g.args...)
		}
	}
	keys := s.keys()
	groupKeys := append([]string{}, keys...)
	var measures []string
	var mArgs []any
	var more []sqlExpr
	switch fam {
	case famAdditive:
		rj, a := chRejected()
		measures = []string{"count() AS n",
			"countIf(e.status_raw >= 400 AND e.status_raw < 500) AS e4",
			"countIf(e.status_raw >= 500 AND e.status_raw < 600) AS e5",
			"sum(" + rj + ") AS rj",
			"sumIf(e.latency_ms_raw, e.latency_ms_raw >= 0) AS lat_sum",
			"countIf(e.latency_ms_raw >= 0) AS lat_n",
			"sumIf(e.response_bytes_raw, e.response_bytes_raw >= 0) AS bytes_sum"}
		mArgs = a
	case famDistinct:
		x, nu := chField(s.distinctOf)
		needUser = needUser || nu
		measures = []string{c.d.CountDistinct(x.text) + " AS v"}
		mArgs = x.args
	case famHistogram:
		measures = []string{chBucket("e.latency_ms_raw") + " AS b", "count() AS n"}
		more = append(more, sqlExpr{text: "e.latency_ms_raw >= 0"})
		groupKeys = append(groupKeys, "b")
	}
	// The groups to keep, in PREWHERE when they need no join: with FINAL,
	// only the rows that pass PREWHERE are folded.
	var pre []sqlExpr
	if s.only != nil {
		only := sqlExpr{text: "0"}
		if len(s.only) > 0 {
			only = onlyCond(cmp, s.only)
		}
		if needUser {
			more = append(more, only)
		} else {
			pre = append(pre, only)
		}
	}
	// A copy of an event changes counts and percentiles, not distinct counts.
	scan, _, err := c.chScan(s.app, s.r, s.filter, fam != famDistinct, needUser, pre, more...)
	if err != nil {
		return sqlExpr{}, nil, err
	}
	q := "SELECT " + strings.Join(append(sel, measures...), ", ") + " FROM " + scan.text
	if len(groupKeys) > 0 {
		q += " GROUP BY " + strings.Join(groupKeys, ", ")
	}
	args := append(append(selArgs, mArgs...), scan.args...)
	if fam == famHistogram {
		q = ClickHouse{}.Quantiles(q, keys, s.pcts)
	}
	return sqlExpr{q, args}, keys, nil
}

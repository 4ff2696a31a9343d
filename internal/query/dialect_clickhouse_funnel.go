package query

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// chFunnel is Funnel on ClickHouse, for a validated spec. 18.16 has
// neither CTEs nor JOIN ... ON, so instead of joining step to step each
// user's matching events are gathered into one array (time in ms and a
// flag per step), and each step's time is found from the previous one
// with array functions. A step not reached is 0 (event times are after
// the epoch). On a cluster the arrays are merged from every shard.
//
// 18.16 quirk: a lambda may use a column of the subquery only if the same
// SELECT uses it outside any lambda (it prunes the column otherwise), so
// the times are re-aliased (toUInt64(m0) AS t0) before lambdas use them.
func (e *Engine) chFunnel(ctx context.Context, q FunnelSpec) (*Funnel, error) {
	var conds []string
	var condArgs []any
	needUser := q.SplitBy != nil
	for i, st := range q.Steps {
		if st.Filter == nil {
			return nil, badQuery("step %d has no filter", i+1)
		}
		x, nu, err := e.c.chWhere(q.AppID, st.Filter)
		if err != nil {
			return nil, err
		}
		conds = append(conds, "toUInt8(coalesce(("+x.text+"), 0))")
		condArgs = append(condArgs, x.args...)
		needUser = needUser || nu
	}
	split := sqlExpr{text: "CAST(NULL AS Nullable(String))"}
	if q.SplitBy != nil {
		split, _ = chField(*q.SplitBy)
	}
	var flags, any1, tuple []string
	for i, c := range conds {
		flags = append(flags, fmt.Sprintf("%s AS s%d", c, i))
		if i > 0 {
			any1 = append(any1, fmt.Sprintf("s%d = 1", i))
			tuple = append(tuple, fmt.Sprintf("s%d", i))
		}
	}
	// No FINAL: a copy of an event has its time, so it changes no step.
	// Events of any step; no FINAL: a copy of an event has its time, so it
	// changes no step.
	anyStep := &Filter{}
	for _, st := range q.Steps {
		anyStep.Or = append(anyStep.Or, st.Filter)
	}
	scan, _, err := e.c.chScan(q.AppID, q.Range, anyStep, false, needUser, []sqlExpr{{text: "e.user_id_raw != ''"}})
	if err != nil {
		return nil, err
	}
	inner := fmt.Sprintf(`SELECT e.user_id_raw AS uid, e.time_ms AS t, %s AS sp, %s FROM %s`, split.text, strings.Join(flags, ", "), scan.text)
	args := append(append(append([]any{}, split.args...), condArgs...), scan.args...)
	perUser := fmt.Sprintf(`SELECT uid, argMinIf(sp, t, s0 = 1) AS sp, minIf(t, s0 = 1) AS m0,
		groupArrayIf((t, %s), %s) AS evs FROM (%s) GROUP BY uid HAVING countIf(s0 = 1) > 0`,
		strings.Join(tuple, ", "), strings.Join(any1, " OR "), inner)
	win := q.Window.Milliseconds()
	cols := []string{"uid", "sp", "toUInt64(m0) AS t0"}
	for k := 1; k < len(conds); k++ {
		// Step k's flag is element k+1 of the tuple (t, s1, s2, ...).
		cols = append(cols, fmt.Sprintf(`if(t%[1]d = 0, toUInt64(0), arrayReduce('min', arrayMap(x -> tupleElement(x, 1),
			arrayFilter(x -> tupleElement(x, %[2]d) = 1 AND tupleElement(x, 1) > t%[1]d AND tupleElement(x, 1) <= t0 + %[3]d, evs)))) AS t%[4]d`,
			k-1, k+1, win, k))
	}
	stmt := "SELECT " + strings.Join(cols, ", ") + " FROM (" + perUser + ") pu"
	rows, err := e.query(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("funnel: %w", err)
	}
	defer rows.Close()
	var paths []funnelPath
	for rows.Next() {
		var uid string
		var sp any
		ms := make([]int64, len(conds))
		dest := []any{&uid, &sp}
		for i := range ms {
			dest = append(dest, &ms[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("funnel: %w", err)
		}
		p := funnelPath{times: make([]*time.Time, len(conds))}
		if sp != nil {
			v := fmt.Sprint(normalize(sp))
			p.split = &v
		}
		for i, m := range ms {
			if m > 0 {
				t := time.UnixMilli(m).UTC()
				p.times[i] = &t
			}
		}
		paths = append(paths, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("funnel: %w", err)
	}
	return funnelOf(q, paths), nil
}

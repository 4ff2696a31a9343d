package query

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// On DuckDB a profile's top routes and totals come from one statement:
// per method and route, the request and error counts and the latency
// histogram pairs (quantiles.go), read from the user-route rollup for
// sealed days and raw events around them. The totals are the sums over
// every route, the total percentile is read off all the routes' pairs:
// the same events, so the same figures as the generic queries, which
// would scan the same rows four times (counts and percentiles, per route
// and in total).

// profileRoutes returns the busiest routes (ties by method then route,
// absent values last) and the totals of the events cond selects.
func (e *Engine) profileRoutes(ctx context.Context, q ProfileSpec, cond *Filter) ([]RouteStats, Stats, error) {
	s := aggSpec{app: q.AppID, r: q.Range}
	if err := e.setSealed(ctx, &s); err != nil {
		return nil, Stats{}, err
	}
	c := e.c.forApp(q.AppID)
	var parts []string
	var args []any
	for _, p := range plan(q.Range, nil, time.UTC, srcUserRoute, e.rollups, s.sealed) {
		x, err := routesPiece(c, q.AppID, p, cond)
		if err != nil {
			return nil, Stats{}, err
		}
		parts = append(parts, x.text)
		args = append(args, x.args...)
	}
	stmt := `SELECT g0, g1, CAST(sum(n) AS BIGINT), CAST(sum(e4) AS BIGINT), CAST(sum(e5) AS BIGINT), flatten(list(h))
		FROM (` + strings.Join(parts, "\nUNION ALL\n") + `) x GROUP BY g0, g1`
	rows, err := e.query(ctx, stmt, args...)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("profile routes: %w", err)
	}
	defer rows.Close()
	type route struct {
		RouteStats
		e4, e5 int64
	}
	var routes []route
	var total Stats
	var all []any
	for rows.Next() {
		var r route
		var h []any
		if err := rows.Scan(&r.Method, &r.Route, &r.Requests, &r.e4, &r.e5, &h); err != nil {
			return nil, Stats{}, fmt.Errorf("profile routes: %w", err)
		}
		p95, err := quantilesOf(h, []int{95})
		if err != nil {
			return nil, Stats{}, err
		}
		r.LatencyP95 = bucketValue(p95[0])
		if r.Requests > 0 {
			v := float64(r.e4+r.e5) / float64(r.Requests)
			r.ErrorRate = &v
		}
		total.Requests += r.Requests
		total.Errors4xx += r.e4
		total.Errors5xx += r.e5
		all = append(all, h...)
		routes = append(routes, r)
	}
	if err := rows.Err(); err != nil {
		return nil, Stats{}, fmt.Errorf("profile routes: %w", err)
	}
	total.setRate()
	p95, err := quantilesOf(all, []int{95})
	if err != nil {
		return nil, Stats{}, err
	}
	total.LatencyP95 = bucketValue(p95[0])
	slices.SortFunc(routes, func(a, b route) int {
		if c := cmp.Compare(b.Requests, a.Requests); c != 0 {
			return c
		}
		if c := compareValues(ptrValue(a.Method), ptrValue(b.Method)); c != 0 {
			return c
		}
		return compareValues(ptrValue(a.Route), ptrValue(b.Route))
	})
	out := []RouteStats{}
	for _, r := range routes[:min(len(routes), topRoutes)] {
		out = append(out, r.RouteStats)
	}
	return out, total, nil
}

// routesPiece is one piece of profileRoutes: (g0 method, g1 route, n, e4,
// e5, h the histogram pairs) per route.
func routesPiece(c *compiler, app string, p piece, cond *Filter) (sqlExpr, error) {
	w, needUser, ok, err := c.where(p.src, cond)
	if err != nil {
		return sqlExpr{}, err
	}
	if !ok {
		return sqlExpr{}, fmt.Errorf("query: source %s cannot filter this", p.src)
	}
	if needUser {
		return sqlExpr{}, fmt.Errorf("query: a profile's condition needs no join")
	}
	alias := "e."
	if p.src != srcRaw {
		alias = "r."
	}
	where := []string{alias + "app_id = ?", p.timeCol() + " < ?"}
	args := []any{app, p.to}
	if !p.from.IsZero() {
		where = append(where, p.timeCol()+" >= ?")
		args = append(args, p.from)
	}
	where = append(where, "("+w.text+")")
	args = append(args, w.args...)
	if p.src == srcUserRoute {
		return sqlExpr{`SELECT r.method AS g0, r.route AS g1, sum(r.n) AS n, sum(r.n_4xx) AS e4, sum(r.n_5xx) AS e5,
			flatten(list(r.hist)) AS h FROM ` + p.table() + ` r WHERE ` + strings.Join(where, " AND ") + ` GROUP BY g0, g1`, args}, nil
	}
	// Raw events: one pair per bucket; events without a latency (b = -1)
	// are counted but have no pair, as in the histogram family.
	return sqlExpr{fmt.Sprintf(`SELECT g0, g1, sum(n) AS n, sum(e4) AS e4, sum(e5) AS e5,
			coalesce(list(CAST(n AS BIGINT) << 8 | b) FILTER (WHERE b >= 0), []::BIGINT[]) AS h FROM (
		SELECT e.method AS g0, e.route AS g1,
			CASE WHEN e.latency_ms IS NULL THEN -1 ELSE coalesce(%s, %d) END AS b, count(*) AS n,
			sum(CASE WHEN e.status >= 400 AND e.status < 500 THEN 1 ELSE 0 END) AS e4,
			sum(CASE WHEN e.status >= 500 AND e.status < 600 THEN 1 ELSE 0 END) AS e5
		FROM events e WHERE %s GROUP BY g0, g1, b) y GROUP BY g0, g1`,
		c.d.HistogramBucket("e.latency_ms"), nullBucket, strings.Join(where, " AND ")), args}, nil
}

func ptrValue(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

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
	for _, p := range plan(q.Range, nil, time.UTC, srcUserRoute, e.rollups, s.marks) {
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
	var t routeTally
	for rows.Next() {
		var method, route *string
		var n, e4, e5 int64
		var h []any
		if err := rows.Scan(&method, &route, &n, &e4, &e5, &h); err != nil {
			return nil, Stats{}, fmt.Errorf("profile routes: %w", err)
		}
		if err := t.add(method, route, n, e4, e5, h); err != nil {
			return nil, Stats{}, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, Stats{}, fmt.Errorf("profile routes: %w", err)
	}
	return t.result()
}

// routeTally gathers a profile's per-route figures: each route's counts
// and p95, and the totals over all of them, whose p95 is read off every
// route's histogram pairs.
type routeTally struct {
	routes []RouteStats
	sum    tally
}

// add takes one route's counts and histogram pairs (h is retained).
func (t *routeTally) add(method, route *string, n, e4, e5 int64, h []any) error {
	s, err := pairStats(n, e4, e5, h)
	if err != nil {
		return err
	}
	t.routes = append(t.routes, RouteStats{Method: method, Route: route, Requests: n, ErrorRate: s.ErrorRate, LatencyP95: s.LatencyP95})
	t.sum.add(n, e4, e5, h)
	return nil
}

// tally sums rows' requests, 4xx, 5xx and histogram pairs.
type tally struct {
	n, e4, e5 int64
	h         []any
}

func (t *tally) add(n, e4, e5 int64, h []any) {
	t.n, t.e4, t.e5 = t.n+n, t.e4+e4, t.e5+e5
	t.h = append(t.h, h...)
}

// stats are the tally's figures (pairStats).
func (t *tally) stats() (Stats, error) { return pairStats(t.n, t.e4, t.e5, t.h) }

// pairStats are the figures of n requests, e4 and e5 of them errors,
// whose latencies are the histogram pairs h.
func pairStats(n, e4, e5 int64, h []any) (Stats, error) {
	s := Stats{Requests: n, Errors4xx: e4, Errors5xx: e5}
	s.setRate()
	p95, err := quantilesOf(h, []int{95})
	if err != nil {
		return Stats{}, err
	}
	s.LatencyP95 = bucketValue(p95[0])
	return s, nil
}

// result returns the busiest routes (ties by method then route, absent
// values last) and the totals.
func (t *routeTally) result() ([]RouteStats, Stats, error) {
	total, err := t.sum.stats()
	if err != nil {
		return nil, Stats{}, err
	}
	slices.SortFunc(t.routes, func(a, b RouteStats) int {
		if c := cmp.Compare(b.Requests, a.Requests); c != 0 {
			return c
		}
		if c := compareValues(ptrValue(a.Method), ptrValue(b.Method)); c != 0 {
			return c
		}
		return compareValues(ptrValue(a.Route), ptrValue(b.Route))
	})
	return append([]RouteStats{}, t.routes[:min(len(t.routes), topRoutes)]...), total, nil
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
	return sqlExpr{rawPairs(c, "e.method AS g0, e.route AS g1", "g0, g1", "events e", strings.Join(where, " AND ")), args}, nil
}

// rawPairs groups raw events (from, with alias e, where) by keys (the
// select list; names are their aliases), then gives per key: n, e4, e5
// and h, one histogram pair per latency bucket. Events without a latency
// (b = -1) are counted but have no pair, as in the histogram family.
func rawPairs(c *compiler, keys, names, from, where string) string {
	return fmt.Sprintf(`SELECT %[5]s, sum(n) AS n, sum(e4) AS e4, sum(e5) AS e5,
			coalesce(list(CAST(n AS BIGINT) << 8 | b) FILTER (WHERE b >= 0), []::BIGINT[]) AS h FROM (
		SELECT %[4]s,
			CASE WHEN e.latency_ms IS NULL THEN -1 ELSE coalesce(%[1]s, %[2]d) END AS b, count(*) AS n,
			sum(CASE WHEN e.status >= 400 AND e.status < 500 THEN 1 ELSE 0 END) AS e4,
			sum(CASE WHEN e.status >= 500 AND e.status < 600 THEN 1 ELSE 0 END) AS e5
		FROM %[6]s WHERE %[3]s GROUP BY %[5]s, b) y GROUP BY %[5]s`,
		c.d.HistogramBucket("e.latency_ms"), nullBucket, where, keys, names, from)
}

func ptrValue(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

package query

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// pageItem is an entity of a list: its id and the summary scan made.
type pageItem struct {
	id string
	v  any
}

// bandShift sets the width of the coarse pass's latency bands: 2^3
// histogram buckets each, a factor of Gamma^8 (about 2.1) in latency, as
// the rollups' band columns have them (bandcols.go). Narrower bands leave
// fewer entities to the exact pass and cost the coarse pass more groups;
// on the 10 million event benchmark a band of 8 took 39 ms against 48 for
// 4 and 146 for the buckets themselves.
const bandShift = rollup.BandShift

// maxWindow is the most users the second pass restricts its statements
// to by id. Past it the bands have not narrowed the work much, and
// statements listing thousands of ids would cost more than computing
// every user's p95.
const maxWindow = 1000

// usersByP95 is the users' list sorted by p95 on DuckDB: ids lists the
// ids of the users listed, and list gives the summaries of some of them.
//
// The p95 of every user costs a hash aggregate of every (user, bucket)
// pair of the range (docs/performance.md), so the sort takes two passes.
// The first computes each user's band: the p95 read off histograms whose
// buckets are merged bandShift bits at a time. A band holds its user's
// exact p95 (the cumulative counts at the bands' edges are the buckets'
// own), so the bands order the users as their p95 does, but for ties
// within a band. The second computes the exact p95 of the users in the
// bands the page reaches into (the window), and sorts those alone. The
// window's summaries are read meanwhile: both statements read a few rows
// of rollups each, which leaves a core idle.
//
// The companies take one pass: their (company, bucket) groups are a
// tenth of the users', and their p95s crowd into a band or two, so the
// second pass would compute most of them again (on the benchmark, 171 ms
// against 89 for one pass).
func (e *Engine) usersByP95(ctx context.Context, ids sqlExpr, list func(only []string) (sqlExpr, error),
	q ListSpec) ([]any, int64, error) {
	var items []pageItem
	if err := e.queryRows(ctx, ids, func(rows *sql.Rows) error {
		var id string
		err := rows.Scan(&id)
		items = append(items, pageItem{id: id})
		return err
	}); err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	total := int64(len(items))
	lo, hi := min(q.Offset, len(items)), min(q.Offset+q.Limit, len(items))
	if lo == hi {
		return []any{}, total, nil
	}
	bands, err := e.p95Bands(ctx, q.AppID, q.Range)
	if err != nil {
		return nil, 0, err
	}
	sortByValue(items, bands, q.Desc)
	sameBand := func(i, j int) bool {
		a, aok := bands[items[i].id]
		b, bok := bands[items[j].id]
		return aok == bok && a == b
	}
	start, end := bandWindow(len(items), lo, hi, sameBand)
	window := items[start:end]
	var p95 map[string]float64
	var byID map[string]*UserSummary
	if len(window) > maxWindow {
		// Most users share the page's bands: every user's p95 at once, as
		// without bands, then the page's summaries.
		if p95, err = e.p95By(ctx, q.AppID, q.Range, "user_id", nil); err != nil {
			return nil, 0, err
		}
		sortByValue(window, p95, q.Desc)
		if byID, err = e.userSummaries(ctx, list, idsOf(items[lo:hi])); err != nil {
			return nil, 0, err
		}
	} else {
		exact := []string{} // not nil: nil asks p95By for every user
		for _, it := range window {
			if _, ok := bands[it.id]; ok {
				exact = append(exact, it.id)
			}
		}
		var exactErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			p95, exactErr = e.p95By(ctx, q.AppID, q.Range, "user_id", exact)
		}()
		byID, err = e.userSummaries(ctx, list, idsOf(window))
		<-done
		if err != nil {
			return nil, 0, err
		}
		if exactErr != nil {
			return nil, 0, exactErr
		}
		sortByValue(window, p95, q.Desc)
	}
	out := make([]any, 0, hi-lo)
	for _, it := range items[lo:hi] {
		// A user the ids statement listed is gone only if deleted since.
		if u := byID[it.id]; u != nil {
			if p, ok := p95[it.id]; ok {
				u.LatencyP95 = &p
			}
			out = append(out, u)
		}
	}
	return out, total, nil
}

// idsOf lists the items' ids.
func idsOf(items []pageItem) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	return ids
}

// userSummaries reads the summaries of the users ids.
func (e *Engine) userSummaries(ctx context.Context, list func(only []string) (sqlExpr, error), ids []string) (map[string]*UserSummary, error) {
	stmt, err := list(ids)
	if err != nil {
		return nil, err
	}
	byID := map[string]*UserSummary{}
	if err := e.queryRows(ctx, stmt, func(rows *sql.Rows) error {
		id, v, err := scanUserSummary(rows)
		if err == nil {
			byID[id] = v.(*UserSummary)
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return byID, nil
}

// sortByValue sorts items by their value in v, those without one last,
// ties by id.
func sortByValue(items []pageItem, v map[string]float64, desc bool) {
	sortPresentFirst(items, func(it pageItem) (float64, bool) {
		x, ok := v[it.id]
		return x, ok
	}, desc, func(a, b pageItem) int { return cmp.Compare(a.id, b.id) })
}

// sortPresentFirst sorts xs by their values (cmpPresentFirst), ties by
// tie. Each value is looked up once: two map lookups per comparison cost
// the users' list 4-5 ms for its 4 811 users.
func sortPresentFirst[T any, V cmp.Ordered](xs []T, value func(T) (V, bool), desc bool, tie func(a, b T) int) {
	type keyed struct {
		x  T
		v  V
		ok bool
	}
	ks := make([]keyed, len(xs))
	for i, x := range xs {
		v, ok := value(x)
		ks[i] = keyed{x, v, ok}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if c := cmpPresentFirst(a.v, a.ok, b.v, b.ok, desc); c != 0 {
			return c
		}
		return tie(a.x, b.x)
	})
	for i, k := range ks {
		xs[i] = k.x
	}
}

// cmpPresentFirst orders two values that may be absent (ok false) as the
// sorts by a metric do: present before absent, then ascending, or
// descending when desc; 0 when neither goes first.
func cmpPresentFirst[T cmp.Ordered](x T, xok bool, y T, yok bool, desc bool) int {
	switch {
	case xok != yok:
		if xok {
			return -1
		}
		return 1
	case !xok:
		return 0
	case desc:
		return cmp.Compare(y, x)
	}
	return cmp.Compare(x, y)
}

// deref is *p, and whether p is not nil.
func deref[T any](p *T) (T, bool) {
	var zero T
	if p == nil {
		return zero, false
	}
	return *p, true
}

// p95Bands computes each user's band of p95 (see usersByP95).
func (e *Engine) p95Bands(ctx context.Context, app string, r Range) (map[string]float64, error) {
	g, _ := ParseField("user_id")
	bands, err := e.bandsOf(ctx, aggSpec{app: app, r: r, groups: []Field{g}, pcts: []int{95}})
	if err != nil {
		return nil, err
	}
	return byID(bands, func(b int64) float64 { return float64(b) }), nil
}

// byID keeps the string keys of a percentilesOf result that have a
// percentile, its bucket (or band) b as value(b).
func byID(bs map[any]*int64, value func(b int64) float64) map[string]float64 {
	out := make(map[string]float64, len(bs))
	for k, b := range bs {
		if id, ok := k.(string); ok && b != nil {
			out[id] = value(*b)
		}
	}
	return out
}

// bandsOf computes the band of the percentile s.pcts[0] of each group of
// s, as percentilesOf does the bucket.
func (e *Engine) bandsOf(ctx context.Context, s aggSpec) (map[any]*int64, error) {
	s.band = bandShift
	return e.percentilesOf(ctx, s)
}

// bandWindow widens the positions [lo, hi) of n entities sorted by band
// to the ends of the bands at lo and hi-1; same says whether the
// entities at two positions share a band.
func bandWindow(n, lo, hi int, same func(i, j int) bool) (start, end int) {
	start, end = lo, hi
	for start > 0 && same(start-1, lo) {
		start--
	}
	for end < n && same(end, hi-1) {
		end++
	}
	return start, end
}

// rankPercentile computes the groups of s and ranks them by percentile m
// on DuckDB, returning their rows and the keys of the first limit. Ranked
// by user alone, it takes usersByP95's two passes: each user's band of m,
// then the exact m of the users in the bands the first limit reach into.
// Other groups, and users too many of whom share those bands, have m
// computed for every group.
func (e *Engine) rankPercentile(ctx context.Context, s aggSpec, m Metric, desc bool, limit int) (*aggResult, []string, error) {
	ms := []Metric{m}
	every := func() (*aggResult, []string, error) {
		all := newAggResult()
		if err := e.runFamily(ctx, famHistogram, &s, ms, all, ""); err != nil {
			return nil, nil, err
		}
		return all, rankInGo(all, m, desc, limit), nil
	}
	if !s.perUser() || s.topUsed || s.only != nil {
		return every()
	}
	bands, err := e.bandsOf(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	// Sorted as rankInGo sorts, by band instead of percentile: those
	// without one last, ties by group.
	order := make([]any, 0, len(bands))
	for g := range bands {
		order = append(order, g)
	}
	sortPresentFirst(order, func(g any) (int64, bool) { return deref(bands[g]) }, desc, compareValues)
	hi := min(limit, len(order))
	if hi == 0 {
		return newAggResult(), nil, nil
	}
	// Groups without a band have no percentile: their order is their
	// groups', already final, so the window takes none past the limit.
	sameBand := func(i, j int) bool {
		a, b := bands[order[i]], bands[order[j]]
		return a != nil && b != nil && *a == *b
	}
	_, end := bandWindow(len(order), 0, hi, sameBand)
	if end > maxWindow {
		return every()
	}
	es := s
	es.only = make([][]any, end)
	for i, g := range order[:end] {
		es.only[i] = []any{g}
	}
	exact := newAggResult()
	if err := e.runFamily(ctx, famHistogram, &es, ms, exact, ""); err != nil {
		return nil, nil, err
	}
	return exact, rankInGo(exact, m, desc, limit), nil
}

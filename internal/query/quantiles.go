package query

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// On DuckDB a histogram family's statement returns, per key, the list of
// its (bucket, count) pairs, and the percentiles are read off in Go: a
// hash aggregate into lists costs DuckDB about a third of the window
// functions that would rank the buckets in SQL (measured on the 10
// million event benchmark: 55 ms against 120 ms for 3,600 hours × routes).

// nullBucket stands for events whose bucket is NULL (a negative latency):
// they count toward the total, as the SQL form counted them, but are
// never a percentile.
const nullBucket = 255

// histLists turns a statement producing (keys..., b, n) into one producing
// (keys..., h) where h lists n<<8 | b for each of the key's buckets.
func histLists(inner string, keys []string) string {
	// sum() gives HUGEINT, which the driver returns as *big.Int.
	q := fmt.Sprintf("SELECT %slist(CAST(n AS BIGINT) << 8 | CAST(coalesce(b, %d) AS BIGINT)) AS h FROM (%s) y",
		keyList(keys), nullBucket, inner)
	if len(keys) > 0 {
		q += " GROUP BY " + keyList(keys)[:len(keyList(keys))-2]
	} else {
		// Without keys an aggregate over no rows still yields one row,
		// whose NULL list the driver cannot scan; no rows is what a
		// grouped statement gives for the same nothing.
		q += " HAVING count(*) > 0"
	}
	return q
}

// quantilesOf reads the percentiles pcts off the pairs of a histLists row:
// for each, the smallest bucket whose cumulative count reaches the
// nearest rank ceil(p * total / 100); nil where there is none.
func quantilesOf(h []any, pcts []int) ([]*int64, error) {
	type pair struct{ b, n int64 }
	pairs := make([]pair, 0, len(h))
	var total int64
	for _, x := range h {
		v, ok := x.(int64)
		if !ok {
			return nil, fmt.Errorf("query: histogram pair %v (%T)", x, x)
		}
		p := pair{b: v & 255, n: v >> 8}
		total += p.n
		pairs = append(pairs, p)
	}
	slices.SortFunc(pairs, func(a, b pair) int { return cmp.Compare(a.b, b.b) })
	out := make([]*int64, len(pcts))
	for i, pct := range pcts {
		rank := (int64(pct)*total + 99) / 100
		var cum int64
		for _, p := range pairs {
			cum += p.n
			if cum >= rank && p.b != nullBucket {
				b := p.b
				out[i] = &b
				break
			}
		}
	}
	return out, nil
}

// rankInGo orders the rows of res by metric m's value (nulls last), then
// by their groups ascending (nulls last), and returns the first limit
// rows' keys: rank's ORDER BY ... LIMIT for a percentile, which on DuckDB
// is computed in Go.
func rankInGo(res *aggResult, m Metric, desc bool, limit int) []string {
	keys := append([]string{}, res.order...)
	slices.SortStableFunc(keys, func(a, b string) int {
		ra, rb := res.rows[a], res.rows[b]
		va, vaok := deref(ra.value(m))
		vb, vbok := deref(rb.value(m))
		if c := cmpPresentFirst(va, vaok, vb, vbok, desc); c != 0 {
			return c
		}
		for i := range ra.groups {
			if c := compareValues(ra.groups[i], rb.groups[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	if len(keys) > limit {
		keys = keys[:limit]
	}
	return keys
}

// compareValues orders two group values of one field as SQL's ASC NULLS
// LAST does.
func compareValues(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return cmp.Compare(x, y)
		}
	case int64:
		if y, ok := b.(int64); ok {
			return cmp.Compare(x, y)
		}
	case float64:
		if y, ok := b.(float64); ok {
			return cmp.Compare(x, y)
		}
	case bool:
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	}
	return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// bucketValue is a percentile's bucket as milliseconds (nil stays nil).
func bucketValue(b *int64) *float64 {
	if b == nil {
		return nil
	}
	v := rollup.Value(int(*b))
	return &v
}

// pairIndex returns, for a histogram grouped by the company alone,
// restricted to some companies (aggSpec.only) and without time buckets,
// those companies: a piece that unnests rollup histogram pairs then joins
// its rows to the companies' indexes and groups the pairs by index, not
// by text, which costs DuckDB less (text group keys are compressed for
// every pair; the join is once per row): about 15 % of the companies
// list. Grouped by user the join costs as much as it saves. nil when the
// piece groups otherwise.
func (s *aggSpec) pairIndex(groupExprs []sqlExpr) []any {
	if s.iv != nil || s.topUsed || len(s.groups) != 1 || len(s.only) == 0 || s.groups[0].ref != refCompany || len(groupExprs[0].args) > 0 {
		return nil
	}
	vals := make([]any, len(s.only))
	for i, t := range s.only {
		v, ok := t[0].(string)
		if !ok {
			return nil
		}
		vals[i] = v
	}
	return vals
}

// valuesOf is a VALUES list of (index, value) rows.
func valuesOf(vals []any) sqlExpr {
	rows := make([]string, len(vals))
	for i := range vals {
		rows[i] = fmt.Sprintf("(%d, ?)", i)
	}
	return sqlExpr{"(VALUES " + strings.Join(rows, ", ") + ")", vals}
}

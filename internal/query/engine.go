package query

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/query/rollup"
	"github.com/gatescope/gatescope/internal/store"
)

// Engine answers analytics queries against one store. It is safe for
// concurrent use.
type Engine struct {
	st store.Store
	c  compiler
	// rollups says the store keeps the tables of package rollup.
	rollups bool
	now     func() time.Time
}

// NewEngine returns the engine for a store's dialect.
func NewEngine(st store.Store) (*Engine, error) {
	switch st.Dialect() {
	case store.DuckDB:
		return &Engine{st: st, c: compiler{d: DuckDB{}}, rollups: true, now: time.Now}, nil
	case store.ClickHouse:
		// No rollups on ClickHouse: every query reads raw events.
		return &Engine{st: st, c: compiler{d: ClickHouse{}}, now: time.Now}, nil
	}
	return nil, fmt.Errorf("query: no compiler for the %s dialect", st.Dialect())
}

// Now is the engine's clock, for relative times.
func (e *Engine) Now() time.Time { return e.now() }

// NoRollups makes the engine answer from raw events only (tests compare
// both paths).
func (e *Engine) NoRollups() { e.rollups = false }

// query runs a statement, binding times as the dialect needs them.
func (e *Engine) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	for i, a := range args {
		if t, ok := a.(time.Time); ok {
			args[i] = e.c.d.Time(t)
		}
	}
	return e.st.Query(ctx, q, args...)
}

// queryRows runs x and hands each of its rows to scan.
func (e *Engine) queryRows(ctx context.Context, x sqlExpr, scan func(*sql.Rows) error) error {
	rows, err := e.query(ctx, x.text, x.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// queryRow scans the row of x, a statement of one row, into dest.
func (e *Engine) queryRow(ctx context.Context, x sqlExpr, dest ...any) error {
	return e.queryRows(ctx, x, func(rows *sql.Rows) error { return rows.Scan(dest...) })
}

// setSealed reads the marks (where the rollups end, the app's span) into
// s.
func (e *Engine) setSealed(ctx context.Context, s *aggSpec) error {
	if !e.rollups || !s.sealed.IsZero() {
		return nil
	}
	var err error
	s.marks, err = e.rollupMarks(ctx, s.app) // derived.go
	return err
}

// aggRow is one key's values across families.
type aggRow struct {
	t        time.Time
	groups   []any
	other    bool
	part     [7]float64 // partials, in their order
	distinct map[Metric]float64
	quant    map[Metric]*int64
}

type aggResult struct {
	rows  map[string]*aggRow
	order []string // keys in the order first seen
}

func newAggResult() *aggResult { return &aggResult{rows: map[string]*aggRow{}} }

func rowKey(t time.Time, groups []any, other bool) string {
	var b strings.Builder
	if !t.IsZero() {
		fmt.Fprintf(&b, "%d", t.UnixMicro())
	}
	for _, g := range groups {
		if g == nil {
			b.WriteString("|\x00nil")
		} else {
			fmt.Fprintf(&b, "|%T:%v", g, g)
		}
	}
	if other {
		b.WriteString("|\x00other")
	}
	return b.String()
}

func (r *aggResult) get(t time.Time, groups []any, other bool) *aggRow {
	k := rowKey(t, groups, other)
	row := r.rows[k]
	if row == nil {
		row = &aggRow{t: t, groups: groups, other: other, distinct: map[Metric]float64{}, quant: map[Metric]*int64{}}
		r.rows[k] = row
		r.order = append(r.order, k)
	}
	return row
}

// normalize makes scanned group values comparable and JSON-friendly.
func normalize(v any) any {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case []byte:
		return string(x)
	}
	return v
}

// runFamily runs one family's statement and folds its rows into res.
// orderLimit, when set, is appended to the statement (primary queries).
func (e *Engine) runFamily(ctx context.Context, fam family, s *aggSpec, metrics []Metric, res *aggResult, orderLimit string, limitArgs ...any) error {
	if err := e.setSealed(ctx, s); err != nil {
		return err
	}
	x, _, err := e.c.build(fam, s, e.rollups)
	if err != nil {
		return err
	}
	q := x.text
	if orderLimit != "" {
		q = "SELECT * FROM (" + q + ") z " + orderLimit
	}
	rows, err := e.query(ctx, q, append(x.args, limitArgs...)...)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	var hist []Metric
	for _, m := range metrics {
		if m.family() == famHistogram {
			hist = append(hist, m)
		}
	}
	for rows.Next() {
		var t time.Time
		groups := make([]any, len(s.groups))
		var other int64
		dest := []any{}
		if s.iv != nil {
			dest = append(dest, &t)
		}
		for i := range groups {
			dest = append(dest, &groups[i])
		}
		if s.topUsed {
			dest = append(dest, &other)
		}
		var part [7]sql.NullFloat64
		var v sql.NullFloat64
		qs := make([]sql.NullInt64, len(hist))
		var h []any // DuckDB's histogram pairs (quantiles.go)
		switch fam {
		case famAdditive:
			for i := range part {
				dest = append(dest, &part[i])
			}
		case famDistinct:
			dest = append(dest, &v)
		case famHistogram:
			if e.onClickHouse() {
				for i := range qs {
					dest = append(dest, &qs[i])
				}
			} else {
				dest = append(dest, &h)
			}
		}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("query: scan: %w", err)
		}
		if fam == famHistogram && !e.onClickHouse() {
			q, err := quantilesOf(h, s.pcts)
			if err != nil {
				return err
			}
			for i, b := range q {
				if b != nil {
					qs[i] = sql.NullInt64{Int64: *b, Valid: true}
				}
			}
		}
		for i := range groups {
			groups[i] = normalize(groups[i])
		}
		if !t.IsZero() {
			t = t.UTC()
		}
		row := res.get(t, groups, other == 1)
		switch fam {
		case famAdditive:
			for i := range part {
				row.part[i] += part[i].Float64
			}
		case famDistinct:
			for _, m := range metrics {
				if m.family() == famDistinct {
					row.distinct[m] = v.Float64
				}
			}
		case famHistogram:
			for i, m := range hist {
				if qs[i].Valid {
					b := qs[i].Int64
					row.quant[m] = &b
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return nil
}

// value computes a metric from a row; nil where it is undefined.
func (r *aggRow) value(m Metric) *float64 {
	f := func(x float64) *float64 { return &x }
	n, e4, e5, rj, latSum, latN, bytes := r.part[0], r.part[1], r.part[2], r.part[3], r.part[4], r.part[5], r.part[6]
	switch m {
	case Count:
		return f(n)
	case ErrorRate, ErrorRate4xx, ErrorRate5xx:
		if n == 0 {
			return nil
		}
		num := e4 + e5
		if m == ErrorRate4xx {
			num = e4
		} else if m == ErrorRate5xx {
			num = e5
		}
		return f(num / n)
	case LatencyAvg:
		if latN == 0 {
			return nil
		}
		return f(latSum / latN)
	case Bytes:
		return f(bytes)
	case Rejected:
		return f(rj)
	case UniqueUsers, UniqueCompanies:
		return f(r.distinct[m])
	case LatencyP50, LatencyP90, LatencyP95, LatencyP99:
		if b := r.quant[m]; b != nil {
			return f(rollup.Value(int(*b)))
		}
	}
	return nil
}

// sortExpr is a metric's value over a family's output columns, for ORDER
// BY; percentiles sort by their bucket, which orders the same way.
func sortExpr(m Metric, hist []Metric) string {
	switch m {
	case Count:
		return "n"
	case ErrorRate:
		return "CASE WHEN n = 0 THEN NULL ELSE (e4 + e5) / n END"
	case ErrorRate4xx:
		return "CASE WHEN n = 0 THEN NULL ELSE e4 / n END"
	case ErrorRate5xx:
		return "CASE WHEN n = 0 THEN NULL ELSE e5 / n END"
	case LatencyAvg:
		return "CASE WHEN lat_n = 0 THEN NULL ELSE lat_sum / lat_n END"
	case Bytes:
		return "bytes_sum"
	case Rejected:
		return "rj"
	case UniqueUsers, UniqueCompanies:
		return "v"
	}
	for i, h := range hist {
		if h == m {
			return fmt.Sprintf("q%d", i)
		}
	}
	return "1"
}

// families groups metrics by family, in a fixed order.
func families(ms []Metric) map[family][]Metric {
	out := map[family][]Metric{}
	for _, m := range ms {
		out[m.family()] = append(out[m.family()], m)
	}
	return out
}

func pctsOf(ms []Metric) []int {
	var out []int
	for _, m := range ms {
		if m.family() == famHistogram {
			out = append(out, int(m.quantile()*100+0.5))
		}
	}
	return out
}

// distinctField is the field a distinct metric counts.
func distinctField(m Metric) Field {
	if m == UniqueCompanies {
		f, _ := ParseField("company_id")
		return f
	}
	f, _ := ParseField("user_id")
	return f
}

// runAll runs every family the metrics need over s (one statement per
// family, and per distinct metric) and merges them.
func (e *Engine) runAll(ctx context.Context, s aggSpec, metrics []Metric, res *aggResult) error {
	fams := families(metrics)
	for _, fam := range []family{famAdditive, famDistinct, famHistogram} {
		ms := fams[fam]
		if len(ms) == 0 {
			continue
		}
		switch fam {
		case famDistinct:
			for _, m := range ms {
				sp := s
				sp.distinctOf = distinctField(m)
				if err := e.runFamily(ctx, fam, &sp, []Metric{m}, res, ""); err != nil {
					return err
				}
			}
		case famHistogram:
			sp := s
			sp.pcts = pctsOf(ms)
			if err := e.runFamily(ctx, fam, &sp, ms, res, ""); err != nil {
				return err
			}
		default:
			if err := e.runFamily(ctx, fam, &s, ms, res, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// rank runs the primary query of a grouped aggregate: the groups ordered
// by sortBy (a metric, or group index when metric is ""), limited.
func (e *Engine) rank(ctx context.Context, s aggSpec, m Metric, groupIdx int, desc bool, limit int, res *aggResult) ([][]any, error) {
	fam := famAdditive
	if m != "" {
		fam = m.family()
	}
	sp := s
	var hist []Metric
	switch fam {
	case famDistinct:
		sp.distinctOf = distinctField(m)
	case famHistogram:
		hist = []Metric{m}
		sp.pcts = pctsOf(hist)
	}
	dir := "ASC"
	if desc {
		dir = "DESC"
	}
	var order []string
	if m != "" {
		order = append(order, sortExpr(m, hist)+" "+dir+" NULLS LAST")
	} else {
		order = append(order, fmt.Sprintf("g%d %s NULLS LAST", groupIdx, dir))
	}
	for i := range s.groups {
		order = append(order, fmt.Sprintf("g%d ASC NULLS LAST", i))
	}
	ms := []Metric{m}
	if m == "" {
		ms = []Metric{Count}
	}
	before := len(res.order)
	if fam == famHistogram && !e.onClickHouse() {
		// DuckDB's percentiles are computed in Go (quantiles.go), so is
		// their ranking (bands.go).
		all, keys, err := e.rankPercentile(ctx, sp, m, desc, limit)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			row := all.rows[k]
			*res.get(row.t, row.groups, row.other) = *row
		}
	} else if err := e.runFamily(ctx, fam, &sp, ms, res, "ORDER BY "+strings.Join(order, ", ")+" LIMIT ?", limit); err != nil {
		return nil, err
	}
	var out [][]any
	for _, k := range res.order[before:] {
		out = append(out, res.rows[k].groups)
	}
	return out, nil
}

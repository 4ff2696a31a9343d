package query

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// srcKind is where a piece of a query reads from: raw events or one of the
// rollup tables (package rollup).
type srcKind int

const (
	srcRaw srcKind = iota
	srcTraffic
	srcUser
	srcUserRoute // daily only (derived.go)
	srcUserHist  // histograms only (derived.go)
)

func (k srcKind) String() string {
	return [...]string{"raw", "traffic", "user", "user-route", "user-hist"}[k]
}

// sqlExpr is SQL text with its bind arguments in order.
type sqlExpr struct {
	text string
	args []any
}

// fieldExpr returns a field's expression on a source, or ok=false when
// the source cannot answer it. needUser reports that it reads the users
// table (alias u).
func (c *compiler) fieldExpr(src srcKind, f Field) (x sqlExpr, needUser, ok bool) {
	d := c.d
	switch src {
	case srcRaw:
		switch f.ref {
		case refColumn:
			return sqlExpr{text: "e." + f.Name}, false, true
		case refCompany:
			return sqlExpr{text: "coalesce(e.company_id, u.company_id)"}, true, true
		case refStatusClass:
			return sqlExpr{text: statusClass("e.status")}, false, true
		case refRejected:
			t, a := rejectedExpr(d, "e.")
			return sqlExpr{t, a}, false, true
		case refMetadata:
			t, a := d.JSONText("e.metadata", f.Key)
			return sqlExpr{t, a}, false, true
		case refUserMetadata:
			t, a := d.JSONText("u.metadata", f.Key)
			return sqlExpr{t, a}, true, true
		}
	case srcTraffic:
		switch f.ref {
		case refColumn:
			switch f.Name {
			case "api_id", "stage", "method", "route", "status", "error_type":
				return sqlExpr{text: "r." + f.Name}, false, true
			}
		case refStatusClass:
			return sqlExpr{text: statusClass("r.status")}, false, true
		case refRejected:
			return sqlExpr{text: "r.rejected"}, false, true
		}
	case srcUser, srcUserRoute, srcUserHist:
		switch f.ref {
		case refColumn:
			if f.Name == "user_id" || src == srcUserRoute && (f.Name == "method" || f.Name == "route") {
				return sqlExpr{text: "r." + f.Name}, false, true
			}
		case refCompany:
			return sqlExpr{text: "coalesce(r.company_id, u.company_id)"}, true, true
		case refUserMetadata:
			t, a := d.JSONText("u.metadata", f.Key)
			return sqlExpr{t, a}, true, true
		}
	}
	return sqlExpr{}, false, false
}

func statusClass(col string) string {
	return fmt.Sprintf(`CASE WHEN %[1]s >= 100 AND %[1]s < 200 THEN '1xx' WHEN %[1]s >= 200 AND %[1]s < 300 THEN '2xx'
		WHEN %[1]s >= 300 AND %[1]s < 400 THEN '3xx' WHEN %[1]s >= 400 AND %[1]s < 500 THEN '4xx'
		WHEN %[1]s >= 500 AND %[1]s < 600 THEN '5xx' END`, col)
}

// compiler builds statements for one dialect.
type compiler struct {
	d Dialect
	// app, when set (forApp), lets a condition on the company read the
	// app's users through a semi-join instead of joining every row.
	app string
}

// where compiles a filter on a source; ok=false when the source cannot
// answer one of its fields.
func (c *compiler) where(src srcKind, f *Filter) (x sqlExpr, needUser, ok bool, err error) {
	if f == nil {
		return sqlExpr{text: "true"}, false, true, nil
	}
	join := func(list []*Filter, sep string) (sqlExpr, bool, bool, error) {
		var parts []string
		var args []any
		nu := false
		for _, s := range list {
			x, u, ok, err := c.where(src, s)
			if err != nil || !ok {
				return x, false, ok, err
			}
			parts = append(parts, "("+x.text+")")
			args = append(args, x.args...)
			nu = nu || u
		}
		return sqlExpr{strings.Join(parts, sep), args}, nu, true, nil
	}
	switch {
	case f.And != nil:
		return join(f.And, " AND ")
	case f.Or != nil:
		return join(f.Or, " OR ")
	case f.Not != nil:
		x, u, ok, err := c.where(src, f.Not)
		// NOT of a condition on an absent value is true: absent is not
		// equal to anything.
		return sqlExpr{"NOT coalesce((" + x.text + "), false)", x.args}, u, ok, err
	}
	if x, ok := c.companySemiJoin(src, f); ok { // company.go
		return x, false, true, nil
	}
	fx, nu, ok := c.fieldExpr(src, *f.Field)
	if !ok {
		return sqlExpr{}, false, false, nil
	}
	cx, err := c.condition(fx, f)
	return cx, nu, true, err
}

func (c *compiler) condition(fx sqlExpr, f *Filter) (sqlExpr, error) {
	e := fx.text
	args := append([]any{}, fx.args...)
	// arg appends the field's own args once more for each extra use of e.
	use := func(n int) []any {
		var out []any
		for range n {
			out = append(out, fx.args...)
		}
		return out
	}
	numeric := f.Field.Kind == KindNumber
	if !numeric && f.Field.ref != refMetadata && f.Field.ref != refUserMetadata {
		switch f.Op {
		case OpGt, OpGte, OpLt, OpLte, OpBetween:
			return sqlExpr{}, badQuery("%s compares numbers; %s is not one", f.Op, f.Field.Name)
		}
	}
	num := e
	if !numeric {
		num = c.d.ToDouble(e)
	}
	switch f.Op {
	case OpEq:
		return sqlExpr{e + " = ?", append(args, f.Values[0])}, nil
	case OpNe:
		return sqlExpr{"(" + e + " IS NULL OR " + e + " <> ?)", append(append(args, use(1)...), f.Values[0])}, nil
	case OpIn:
		return sqlExpr{e + " IN (" + placeholders(len(f.Values)) + ")", append(args, f.Values...)}, nil
	case OpNotIn:
		return sqlExpr{"(" + e + " IS NULL OR " + e + " NOT IN (" + placeholders(len(f.Values)) + "))", append(append(args, use(1)...), f.Values...)}, nil
	case OpPrefix:
		return sqlExpr{c.d.Prefix(e), append(args, f.Values[0])}, nil
	case OpContains:
		return sqlExpr{c.d.Contains(e), append(args, f.Values[0])}, nil
	case OpGt:
		return sqlExpr{num + " > ?", append(args, f.Values[0])}, nil
	case OpGte:
		return sqlExpr{num + " >= ?", append(args, f.Values[0])}, nil
	case OpLt:
		return sqlExpr{num + " < ?", append(args, f.Values[0])}, nil
	case OpLte:
		return sqlExpr{num + " <= ?", append(args, f.Values[0])}, nil
	case OpBetween, OpClass:
		return sqlExpr{"(" + num + " >= ? AND " + num + " <= ?)", append(append(append(args, f.Values[0]), use(1)...), f.Values[1])}, nil
	case OpExists:
		if f.Values[0].(bool) {
			return sqlExpr{e + " IS NOT NULL", args}, nil
		}
		return sqlExpr{e + " IS NULL", args}, nil
	}
	return sqlExpr{}, badQuery("unknown operator %q", f.Op)
}

// piece is one time slice of a query and the source that answers it.
type piece struct {
	src      srcKind
	day      bool      // the daily rollup table rather than the hourly one
	week     bool      // and, with day, the weekly one (whole ISO weeks)
	open     bool      // and, with day, the open week's (openweek.go)
	from, to time.Time // [from, to); from may be zero (unbounded)
	// since, when set, makes a user-route day piece stand for [since, to)
	// in a distinct count: it keeps the rows whose last event is at or
	// after since (distinctSince, derived.go).
	since time.Time
}

// table and timeCol name a piece's source.
func (p piece) table() string {
	switch {
	case p.src == srcTraffic && p.day:
		return rollup.TrafficDay
	case p.src == srcTraffic:
		return rollup.TrafficHour
	case p.src == srcUser && p.day:
		return rollup.UserDay
	case p.src == srcUser:
		return rollup.UserHour
	case p.src == srcUserRoute:
		return rollup.UserRouteDay
	case p.src == srcUserHist && p.open:
		return rollup.UserHistOpen
	case p.src == srcUserHist && p.week:
		return rollup.UserHistWeek
	case p.src == srcUserHist && p.day:
		return rollup.UserHistDay
	case p.src == srcUserHist:
		return rollup.UserHistHour
	}
	return "events"
}

func (p piece) timeCol() string {
	switch {
	case p.src == srcRaw:
		return "e.time"
	case p.day || p.src == srcUserRoute:
		return "r.day"
	}
	return "r.hour"
}

// plan splits r into raw edges (the partial hours at its ends) and a
// rollup middle, itself daily for the whole UTC days before m.sealed and
// hourly around them, when rollups can answer (useRollup) and the buckets
// align with hours (and, for days, with UTC days). The pieces start at
// m's data start (fromData) when r starts before it.
func plan(r Range, iv *Interval, loc *time.Location, rollupSrc srcKind, useRollup bool, m marks) []piece {
	r = fromData(r, m.first) // derived.go
	sealed := m.sealed
	raw := []piece{{src: srcRaw, from: r.From, to: r.To}}
	if !useRollup || rollupSrc == srcRaw {
		return raw
	}
	if rollupSrc == srcUserRoute {
		return planDays(r, iv, loc, m) // derived.go
	}
	if iv != nil && (iv.D < time.Hour || !wholeHourZone(loc, r)) {
		return raw
	}
	h1 := r.To.Truncate(time.Hour)
	h0 := ceilTo(r.From, time.Hour)
	if !h0.IsZero() && !h0.Before(h1) {
		return raw
	}
	var out []piece
	if !r.From.IsZero() && r.From.Before(h0) {
		out = append(out, piece{src: srcRaw, from: r.From, to: h0})
	}
	dayOK := !sealed.IsZero() && (iv == nil || iv.Calendar && loc == time.UTC)
	d0, d1 := ceilTo(h0, 24*time.Hour), h1.Truncate(24*time.Hour)
	if sealed.Before(d1) {
		d1 = sealed
	}
	if dayOK && (d0.IsZero() || d0.Before(d1)) {
		if !d0.IsZero() && h0.Before(d0) {
			out = append(out, piece{src: rollupSrc, from: h0, to: d0})
		}
		out = append(out, weeks(piece{src: rollupSrc, day: true, from: d0, to: d1}, iv, m.first)...) // derived.go
		if d1.Before(h1) {
			out = append(out, piece{src: rollupSrc, from: d1, to: h1})
		}
	} else {
		out = append(out, piece{src: rollupSrc, from: h0, to: h1})
	}
	if h1.Before(r.To) {
		out = append(out, piece{src: srcRaw, from: h1, to: r.To})
	}
	return out
}

// ceilTo rounds t up to a multiple of d (UTC); zero stays zero.
func ceilTo(t time.Time, d time.Duration) time.Time {
	if t.IsZero() || t.Equal(t.Truncate(d)) {
		return t
	}
	return t.Truncate(d).Add(d)
}

// aggSpec is an aggregate query: metrics of one family over a range,
// optionally per time bucket and per group.
type aggSpec struct {
	app    string
	r      Range
	filter *Filter
	groups []Field
	iv     *Interval
	loc    *time.Location
	// top, when set, maps the single group to its value when it is one
	// of top (NULL included as nil) and to "other" (column o = 1) else.
	top     []any
	topUsed bool
	// only restricts groups to these value tuples (nil: no restriction).
	only [][]any
	// distinctOf is the field counted by the distinct family.
	distinctOf Field
	// need is the additive partials to compute (zero: all).
	need partialSet
	// textGroups converts group values to text (time series).
	textGroups bool
	pcts       []int
	// band, when not zero, merges the histogram's buckets band bits at a
	// time: the percentiles are then bands (bands.go). DuckDB only.
	band uint
	// hashed groups by the hash() of the one group (hashkeys.go). DuckDB
	// only.
	hashed bool
	// marks: where the rollups end, and the app's span (derived.go).
	marks
}

// additive partials, in this order.
var partials = []string{"n", "e4", "e5", "rj", "lat_sum", "lat_n", "bytes_sum"}

// partialSet is a set of partials, by index; the zero value means all of
// them.
type partialSet uint8

// has reports whether partial i is in the set.
func (p partialSet) has(i int) bool { return p == 0 || p&(1<<i) != 0 }

// partialsOf is the partials the metrics need (n always: it is every
// rate's denominator). A partial left out is computed as 0: it spares the
// scans its columns, such as the metadata that rejected_at_gateway reads
// on raw events.
func partialsOf(ms ...Metric) partialSet {
	p := partialSet(1)
	for _, m := range ms {
		switch m {
		case ErrorRate, ErrorRate4xx, ErrorRate5xx:
			p |= 1<<1 | 1<<2
		case Rejected:
			p |= 1 << 3
		case LatencyAvg:
			p |= 1<<4 | 1<<5
		case Bytes:
			p |= 1 << 6
		}
	}
	return p
}

// sourceFor picks the rollup that can answer a family with these fields,
// or srcRaw.
func (c *compiler) sourceFor(fam family, fields []Field) srcKind {
	can := func(src srcKind) bool {
		for _, f := range fields {
			if _, _, ok := c.fieldExpr(src, f); !ok {
				return false
			}
		}
		return true
	}
	switch fam {
	case famAdditive:
		if can(srcTraffic) {
			return srcTraffic
		}
		if can(srcUser) {
			return srcUser
		}
	case famDistinct:
		if can(srcUser) {
			return srcUser
		}
	case famHistogram:
		if can(srcTraffic) {
			return srcTraffic
		}
		if can(srcUserHist) {
			return srcUserHist
		}
	}
	if can(srcUserRoute) {
		return srcUserRoute
	}
	return srcRaw
}

// keys are the output key columns of a spec.
func (s *aggSpec) keys() []string {
	var k []string
	if s.iv != nil {
		k = append(k, "t")
	}
	for i := range s.groups {
		k = append(k, fmt.Sprintf("g%d", i))
	}
	if s.topUsed {
		k = append(k, "o")
	}
	return k
}

// build compiles one family of s over its pieces, returning the statement
// and its key columns. The outer columns are the keys, then: additive:
// partials; distinct: v; histogram: h (quantiles.go).
func (c *compiler) build(fam family, s *aggSpec, useRollup bool) (sqlExpr, []string, error) {
	if _, ok := c.d.(ClickHouse); ok { // ClickHouse: raw events only (dialect_clickhouse_agg.go)
		return c.chBuild(fam, s)
	}
	fields := s.filter.fields(append([]Field{}, s.groups...))
	if fam == famDistinct {
		fields = append(fields, s.distinctOf)
	}
	src := c.sourceFor(fam, fields)
	var parts, bandParts []string
	var args, bandArgs []any
	pieces := clampDone(plan(s.r, s.iv, s.loc, src, useRollup, s.marks), s.done) // derived.go
	if fam == famDistinct && src == srcUserRoute {
		pieces = distinctSince(pieces, s.iv, s.loc, s.sealed) // derived.go
	}
	if src == srcUserHist && s.iv == nil && !s.openTo.IsZero() {
		pieces = spliceOpen(pieces, rollup.OpenWeek(s.openTo), s.openTo, s.first) // openweek.go
	}
	for _, p := range pieces {
		x, err := c.piece(fam, s, p)
		if err != nil {
			return sqlExpr{}, nil, err
		}
		if fam == famHistogram && s.bandPiece(p) { // bandcols.go
			bandParts = append(bandParts, x.text)
			bandArgs = append(bandArgs, x.args...)
			continue
		}
		parts = append(parts, x.text)
		args = append(args, x.args...)
	}
	keys := s.keys()
	union := strings.Join(parts, "\nUNION ALL\n")
	groupBy := ""
	if len(keys) > 0 {
		groupBy = " GROUP BY " + strings.Join(keys, ", ")
	}
	var q string
	switch fam {
	case famAdditive:
		var sums []string
		for _, p := range partials {
			sums = append(sums, fmt.Sprintf("coalesce(sum(%s), 0) AS %s", p, p))
		}
		q = fmt.Sprintf("SELECT %s%s FROM (%s) x%s", keyList(keys), strings.Join(sums, ", "), union, groupBy)
	case famDistinct:
		q = fmt.Sprintf("SELECT %s%s AS v FROM (%s) x%s", keyList(keys), c.d.CountDistinct("id"), union, groupBy)
	case famHistogram:
		b := "b"
		if s.band > 0 {
			b = fmt.Sprintf("(b >> %d)", s.band)
		}
		var inner string
		switch {
		case len(bandParts) > 0:
			// The pairs as they come, a band repeated across pieces:
			// quantilesOf sums them (bandcols.go).
			pairs := ""
			if len(parts) > 0 {
				pairs = fmt.Sprintf("SELECT %s%s AS b, n FROM (%s) x", keyList(keys), b, union)
			}
			inner = bandedInner(keys, strings.Join(bandParts, "\nUNION ALL\n"), pairs)
			args = append(bandArgs, args...)
		default:
			inner = fmt.Sprintf("SELECT %s%s AS b, sum(n) AS n FROM (%s) x GROUP BY %s%s", keyList(keys), b, union, keyList(keys), b)
		}
		q = histLists(inner, keys) // quantiles.go
	}
	return sqlExpr{q, args}, keys, nil
}

// piece compiles one slice: SELECT keys, measures FROM source WHERE ...
func (c *compiler) piece(fam family, s *aggSpec, p piece) (sqlExpr, error) {
	var sel []string
	var selArgs []any
	needUser := false
	timeCol := p.timeCol()
	bands := fam == famHistogram && s.bandPiece(p) // bandcols.go
	if s.iv != nil {
		t, a := c.d.TimeBucket(timeCol, *s.iv, s.loc)
		sel = append(sel, t+" AS t")
		selArgs = append(selArgs, a...)
	}
	groupExprs := make([]sqlExpr, len(s.groups))
	for i, g := range s.groups {
		x, nu, ok := c.fieldExpr(p.src, g)
		if !ok {
			return sqlExpr{}, fmt.Errorf("query: source %s cannot group by %s", p.src, g.Name)
		}
		needUser = needUser || nu
		if s.textGroups && g.Kind != KindString {
			x.text = c.d.ToText(x.text)
		}
		if s.hashed {
			x.text = "hash(" + x.text + ")"
		}
		groupExprs[i] = x
	}
	if s.topUsed {
		g := groupExprs[0]
		match, cargs := duckTopMatch(g, s.top)
		sel = append(sel, "CASE WHEN "+match+" THEN "+g.text+" END AS g0", "CASE WHEN "+match+" THEN 0 ELSE 1 END AS o")
		selArgs = append(selArgs, cargs...)
		selArgs = append(selArgs, g.args...)
		selArgs = append(selArgs, cargs...)
	} else {
		for i, g := range groupExprs {
			sel = append(sel, fmt.Sprintf("%s AS g%d", g.text, i))
			selArgs = append(selArgs, g.args...)
		}
	}
	groupKeys := s.keys()
	var measures []string
	var mArgs []any
	var where []string
	var wArgs []any
	switch fam {
	case famAdditive:
		measures = c.additive(p.src)
		if p.src == srcRaw && s.need.has(3) {
			rj, a := rejectedExpr(c.d, "e.")
			measures[3] = "sum(CASE WHEN " + rj + " THEN 1 ELSE 0 END) AS rj"
			mArgs = a
		}
		for i := range measures {
			if !s.need.has(i) {
				measures[i] = "0 AS " + partials[i]
			}
		}
	case famDistinct:
		x, nu, ok := c.fieldExpr(p.src, s.distinctOf)
		if !ok {
			return sqlExpr{}, fmt.Errorf("query: source %s cannot count %s", p.src, s.distinctOf.Name)
		}
		needUser = needUser || nu
		measures = []string{x.text + " AS id"}
		mArgs = x.args
		groupKeys = append(groupKeys, "id")
	case famHistogram:
		switch {
		case bands:
			// Band sums, per row: no b key (bandcols.go).
			measures = bandMeasures()
		case p.src == srcRaw:
			b := c.d.HistogramBucket("e.latency_ms")
			if s.band > 0 {
				// Counted per band (as its first bucket), not per bucket:
				// fewer groups, and fewer pairs for the lists.
				b = fmt.Sprintf("((%s) >> %d << %d)", b, s.band, s.band)
			}
			measures = []string{b + " AS b", "count(*) AS n"}
			where = append(where, "e.latency_ms IS NOT NULL")
		case p.src == srcUserHist || p.src == srcUserRoute:
			// Histogram pairs, unnested from the filtered rows and summed
			// below.
			measures = []string{"unnest(r.hist) AS h"}
		default:
			measures = []string{"r.lat_bucket AS b", "sum(r.n) AS n"}
			where = append(where, "r.lat_bucket IS NOT NULL")
		}
		if !bands {
			groupKeys = append(groupKeys, "b")
		}
	}
	from := ""
	switch p.src {
	case srcRaw:
		from = "events e"
		where = append(where, "e.app_id = ?")
		wArgs = append(wArgs, s.app)
		if !p.from.IsZero() {
			where = append(where, "e.time >= ?")
			wArgs = append(wArgs, p.from)
		}
		where = append(where, "e.time < ?")
		wArgs = append(wArgs, p.to)
	case srcTraffic, srcUser, srcUserRoute, srcUserHist:
		from = p.table() + " r"
		where = append(where, "r.app_id = ?")
		wArgs = append(wArgs, s.app)
		if !p.from.IsZero() {
			where = append(where, timeCol+" >= ?")
			wArgs = append(wArgs, p.from)
		}
		where = append(where, timeCol+" < ?")
		wArgs = append(wArgs, p.to)
		if !p.since.IsZero() {
			where = append(where, "r.last_time >= ?")
			wArgs = append(wArgs, p.since)
		}
		if p.open {
			where = append(where, rollup.OpenGuardSQL)
			wArgs = append(wArgs, p.to)
		}
	}
	fx, nu, ok, err := c.forApp(s.app).where(p.src, s.filter)
	if err != nil {
		return sqlExpr{}, err
	}
	if !ok {
		return sqlExpr{}, fmt.Errorf("query: source %s cannot filter this", p.src)
	}
	needUser = needUser || nu
	where = append(where, "("+fx.text+")")
	wArgs = append(wArgs, fx.args...)
	pairs := (p.src == srcUserHist || p.src == srcUserRoute) && fam == famHistogram && !bands
	var vals []any
	if pairs {
		vals = s.pairIndex(groupExprs) // quantiles.go
	}
	if s.only != nil {
		// Joined to the companies' indexes (vals), the rows are already
		// theirs: the IN list as well, which DuckDB makes a second join,
		// cost the companies list's percentiles a fifth more.
		if vals == nil {
			x := onlyCond(groupExprs, s.only)
			where = append(where, x.text)
			wArgs = append(wArgs, x.args...)
		}
		// Groups by company restricted to some companies: the same
		// restriction as a semi-join first drops most rows before they
		// are joined to users (company.go).
		if x, ok := c.forApp(s.app).companyOnly(p.src, s.groups, s.only); ok {
			where = append(where, x.text)
			wArgs = append(wArgs, x.args...)
		}
	}
	if needUser {
		alias := "e"
		if p.src != srcRaw {
			alias = "r"
		}
		from += fmt.Sprintf(" LEFT JOIN users u ON u.app_id = %s.app_id AND u.user_id = %s.user_id", alias, alias)
	}
	var fromArgs []any
	if pairs {
		if vals != nil {
			sel[0] = "m.i AS g0"
			selArgs = nil
			x := valuesOf(vals)
			from += " JOIN " + x.text + " AS m(i, v) ON m.v = " + groupExprs[0].text
			fromArgs = x.args
		}
	}
	q := "SELECT " + strings.Join(append(sel, measures...), ", ") + " FROM " + from + " WHERE " + strings.Join(where, " AND ")
	if pairs {
		q = histPairs(q, groupKeys, vals == nil && s.perUser()) // derived.go
	} else if len(groupKeys) > 0 && !bands { // a band piece's rows are summed in build
		q += " GROUP BY " + strings.Join(groupKeys, ", ")
	}
	args := append(append(append(selArgs, mArgs...), fromArgs...), wArgs...)
	if vals != nil {
		x := valuesOf(vals)
		q = "SELECT m2.v AS g0, x.b, x.n FROM (" + q + ") x JOIN " + x.text + " AS m2(i, v) ON m2.i = x.g0"
		args = append(args, x.args...)
	}
	return sqlExpr{q, args}, nil
}

// additive returns the partial sums' expressions on a source, in the
// order of partials.
func (c *compiler) additive(src srcKind) []string {
	switch src {
	case srcTraffic:
		return []string{"sum(r.n) AS n",
			"sum(CASE WHEN r.status >= 400 AND r.status < 500 THEN r.n ELSE 0 END) AS e4",
			"sum(CASE WHEN r.status >= 500 AND r.status < 600 THEN r.n ELSE 0 END) AS e5",
			"sum(CASE WHEN r.rejected THEN r.n ELSE 0 END) AS rj",
			"sum(r.lat_sum) AS lat_sum", "sum(r.lat_n) AS lat_n", "sum(r.bytes_sum) AS bytes_sum"}
	case srcUser, srcUserRoute:
		return []string{"sum(r.n) AS n", "sum(r.n_4xx) AS e4", "sum(r.n_5xx) AS e5", "sum(r.n_rejected) AS rj",
			"sum(r.lat_sum) AS lat_sum", "sum(r.lat_n) AS lat_n", "sum(r.bytes_sum) AS bytes_sum"}
	}
	return []string{"count(*) AS n",
		"sum(CASE WHEN e.status >= 400 AND e.status < 500 THEN 1 ELSE 0 END) AS e4",
		"sum(CASE WHEN e.status >= 500 AND e.status < 600 THEN 1 ELSE 0 END) AS e5",
		"", // rj: set by the caller, it has args
		"sum(e.latency_ms) AS lat_sum", "count(e.latency_ms) AS lat_n", "sum(e.response_bytes) AS bytes_sum"}
}

// onlyCond restricts groups to the given value tuples: an IN list for one
// group field (which the store evaluates fast), OR of ANDs otherwise.
func onlyCond(groupExprs []sqlExpr, only [][]any) sqlExpr {
	if len(only) == 0 {
		return sqlExpr{text: "false"}
	}
	if len(groupExprs) == 1 && len(groupExprs[0].args) == 0 {
		g := groupExprs[0].text
		var vals []any
		hasNull := false
		for _, t := range only {
			if t[0] == nil {
				hasNull = true
			} else {
				vals = append(vals, t[0])
			}
		}
		var parts []string
		if len(vals) > 0 {
			parts = append(parts, g+" IN ("+placeholders(len(vals))+")")
		}
		if hasNull {
			parts = append(parts, g+" IS NULL")
		}
		return sqlExpr{"(" + strings.Join(parts, " OR ") + ")", vals}
	}
	var alts []string
	var args []any
	for _, tuple := range only {
		var conj []string
		for i, v := range tuple {
			c, a := sameAs(groupExprs[i], v)
			conj, args = append(conj, c), append(args, a...)
		}
		alts = append(alts, "("+strings.Join(conj, " AND ")+")")
	}
	return sqlExpr{"(" + strings.Join(alts, " OR ") + ")", args}
}

// topMatch is the condition that group expression g holds one of the top
// groups' values (a nil value is NULL) and its arguments; none (the
// dialect's false) when there are no top groups.
func topMatch(g sqlExpr, top []any, none string) (string, []any) {
	var conds []string
	var args []any
	for _, v := range top {
		c, a := sameAs(g, v)
		conds, args = append(conds, c), append(args, a...)
	}
	if len(conds) == 0 {
		return none, nil
	}
	return strings.Join(conds, " OR "), args
}

// duckTopMatch is topMatch on DuckDB: the top groups' text values as a
// list, which DuckDB tests with one hash of the value, where an OR of
// equalities compares it with each in turn; twice per row, as both the
// group and "other" test it (the p95 by route's hourly statement 0.83x,
// docs/performance.md). Other values keep the ORs, whose parameters need
// no list type.
func duckTopMatch(g sqlExpr, top []any) (string, []any) {
	var vals []any
	hasNull := false
	for _, v := range top {
		switch v.(type) {
		case nil:
			hasNull = true
		case string:
			vals = append(vals, v)
		default:
			return topMatch(g, top, "false")
		}
	}
	if len(g.args) > 0 || len(vals) < 2 {
		return topMatch(g, top, "false")
	}
	m := listContains(len(vals), g.text)
	if hasNull {
		m = "(" + m + " OR " + g.text + " IS NULL)"
	}
	return m, vals
}

// placeholders is n bind parameters, comma-separated.
func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// listContains is DuckDB's test that x is one of n values bound as
// parameters, as a list: DuckDB makes an IN of more than a few values a
// join after the scan, which then reads every column of every row, where
// a scan applies list_contains to x's column first (docs/performance.md).
func listContains(n int, x string) string {
	return "list_contains([" + placeholders(n) + "], " + x + ")"
}

// sameAs is the condition that g holds the scanned group value v (nil is
// NULL), and its arguments.
func sameAs(g sqlExpr, v any) (string, []any) {
	if v == nil {
		return g.text + " IS NULL", g.args
	}
	return g.text + " = ?", append(append([]any{}, g.args...), v)
}

package query

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// RetentionSpec is a retention query. A user's cohort is the period of
// their first event matching First (ever, not only in the range); the
// cohorts are those starting in [From, To). The user is retained in
// period i of the cohort when they have an event matching Returning in
// that period (in period 0, at or after their first event); events up to
// To count.
type RetentionSpec struct {
	AppID     string
	Range     Range
	First     *Filter
	Returning *Filter
	Period    string // day, week or month
	Loc       *time.Location
}

// RetentionCell is one period of a cohort.
type RetentionCell struct {
	Period int     `json:"period"`
	Users  int64   `json:"users"`
	Rate   float64 `json:"rate"`
}

// Cohort is one row of the grid.
type Cohort struct {
	Start    time.Time       `json:"start"`
	Users    int64           `json:"users"`
	Retained []RetentionCell `json:"retained"`
}

// Retention is the cohort grid.
type Retention struct {
	Period  string   `json:"period"`
	Cohorts []Cohort `json:"cohorts"`
}

// MaxCohorts caps the grid.
const MaxCohorts = 400

// Retention answers a retention query.
func (e *Engine) Retention(ctx context.Context, q RetentionSpec) (*Retention, error) {
	if q.AppID == "" {
		return nil, badQuery("app_id is required")
	}
	if q.Loc == nil {
		q.Loc = time.UTC
	}
	var iv Interval
	switch q.Period {
	case "", "week":
		q.Period, iv = "week", intervals["1w"]
	case "day":
		iv = intervals["1d"]
	case "month":
		iv = monthInterval
	default:
		return nil, badQuery("period %q: want day, week or month", q.Period)
	}
	starts := buckets(q.Range, iv, q.Loc)
	if len(starts) > MaxCohorts {
		return nil, badQuery("%d %ss is over %d cohorts", len(starts), q.Period, MaxCohorts)
	}
	m, err := e.rollupMarks(ctx, q.AppID)
	if err != nil {
		return nil, err
	}
	// first: each user's first First event before To.
	first, err := e.userTimes(q.AppID, Range{To: q.Range.To}, q.First, nil, q.Loc, "min", m)
	if err != nil {
		return nil, err
	}
	ret, err := e.userTimes(q.AppID, Range{From: bucketStart(q.Range.From, iv, q.Loc), To: q.Range.To}, q.Returning, &iv, q.Loc, "max", m)
	if err != nil {
		return nil, err
	}
	cb, cbArgs := e.c.d.TimeBucket("f.t", iv, q.Loc)
	stmt := fmt.Sprintf(`WITH f AS (SELECT uid, t FROM (%s) x WHERE t >= ?),
		c AS (SELECT uid, t, %s AS c FROM f)
		SELECT c.c, NULL AS p, count(*) FROM c GROUP BY c.c
		UNION ALL
		SELECT c.c, r.p, count(*) FROM c JOIN (%s) r ON r.uid = c.uid
		WHERE r.p > c.c OR (r.p = c.c AND r.t >= c.t) GROUP BY c.c, r.p`,
		first.text, cb, ret.text)
	args := append(append(append(append([]any{}, first.args...), q.Range.From), cbArgs...), ret.args...)
	if e.onClickHouse() { // dialect_clickhouse_retention.go: the same rows in ClickHouse's SQL
		if stmt, args, err = e.chRetentionSQL(q, iv); err != nil {
			return nil, err
		}
	}
	rows, err := e.query(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	defer rows.Close()
	index := map[int64]int{}
	out := &Retention{Period: q.Period, Cohorts: make([]Cohort, len(starts))}
	for i, s := range starts {
		index[s.UnixMicro()] = i
		out.Cohorts[i] = Cohort{Start: s, Retained: []RetentionCell{}}
	}
	type cell struct {
		c, p time.Time
		n    int64
	}
	var cells []cell
	for rows.Next() {
		var c time.Time
		var p *time.Time
		var n int64
		if err := rows.Scan(&c, &p, &n); err != nil {
			return nil, fmt.Errorf("retention: %w", err)
		}
		i, ok := index[c.UTC().UnixMicro()]
		if !ok {
			continue
		}
		if p == nil {
			out.Cohorts[i].Users = n
		} else {
			cells = append(cells, cell{c.UTC(), p.UTC(), n})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	// Every cohort gets a cell for each period up to To, zero included.
	for i := range out.Cohorts {
		co := &out.Cohorts[i]
		k := 0
		for t := co.Start; t.Before(q.Range.To); t = nextBucket(t, iv, q.Loc) {
			co.Retained = append(co.Retained, RetentionCell{Period: k})
			k++
		}
	}
	for _, c := range cells {
		co := &out.Cohorts[index[c.c.UnixMicro()]]
		k := 0
		for t := co.Start; t.Before(c.p); t = nextBucket(t, iv, q.Loc) {
			k++
		}
		if k < len(co.Retained) {
			co.Retained[k].Users = c.n
		}
	}
	for i := range out.Cohorts {
		co := &out.Cohorts[i]
		for k := range co.Retained {
			if co.Users > 0 {
				co.Retained[k].Rate = float64(co.Retained[k].Users) / float64(co.Users)
			}
		}
	}
	return out, nil
}

// userTimes compiles, per identified user matching f in r, the earliest
// (agg "min") or per bucket of iv the latest ("max") event time, as
// (uid, t) or (uid, p, t) rows, from the user rollup where it can answer.
func (e *Engine) userTimes(app string, r Range, f *Filter, iv *Interval, loc *time.Location, agg string, m marks) (sqlExpr, error) {
	fields := f.fields(nil)
	src := srcRaw
	if e.rollups {
		// The user rollup, else the user-route one (routes, methods).
		for _, cand := range []srcKind{srcUserRoute, srcUser} {
			ok := true
			for _, fd := range fields {
				if _, _, can := e.c.fieldExpr(cand, fd); !can {
					ok = false
				}
			}
			if ok {
				src = cand
			}
		}
	}
	var parts []string
	var args []any
	for _, p := range clampDone(plan(r, iv, loc, src, e.rollups, m), m.done) {
		alias, timeCol, tcol := "e", p.timeCol(), "e.time"
		table := "events e"
		if p.src == srcUser || p.src == srcUserRoute {
			alias, tcol = "r", "r.first_time"
			if agg == "max" {
				tcol = "r.last_time"
			}
			table = p.table() + " r"
		}
		w, needUser, _, err := e.c.forApp(app).where(p.src, f)
		if err != nil {
			return sqlExpr{}, err
		}
		if needUser {
			table += fmt.Sprintf(" LEFT JOIN users u ON u.app_id = %s.app_id AND u.user_id = %s.user_id", alias, alias)
		}
		sel := alias + ".user_id AS uid"
		group := "uid"
		var selArgs []any
		if iv != nil {
			b, ba := e.c.d.TimeBucket(timeCol, *iv, loc)
			sel += ", " + b + " AS p"
			selArgs = ba
			group += ", p"
		}
		where := []string{alias + ".app_id = ?", alias + ".user_id IS NOT NULL", timeCol + " < ?"}
		wargs := []any{app, p.to}
		if !p.from.IsZero() {
			where = append(where, timeCol+" >= ?")
			wargs = append(wargs, p.from)
		}
		where = append(where, "("+w.text+")")
		wargs = append(wargs, w.args...)
		parts = append(parts, fmt.Sprintf("SELECT %s, %s(%s) AS t FROM %s WHERE %s GROUP BY %s", sel, agg, tcol, table, strings.Join(where, " AND "), group))
		args = append(append(args, selArgs...), wargs...)
	}
	group := "uid"
	cols := "uid"
	if iv != nil {
		group, cols = "uid, p", "uid, p"
	}
	return sqlExpr{fmt.Sprintf("SELECT %s, %s(t) AS t FROM (%s) y GROUP BY %s", cols, agg, strings.Join(parts, " UNION ALL "), group), args}, nil
}

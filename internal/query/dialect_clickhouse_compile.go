package query

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The pieces of ClickHouse statements shared by every query: the read of
// raw events (FINAL, PREWHERE, the users join), exact time ranges, and
// fields and filters with 0/1 for booleans (18.16 has no true/false
// literals).

// Copies of an event. Two collectors that store the same delivery at the
// same moment both insert it, and the copies stay until ReplacingMergeTree
// merges them, which it may never do (docs/clickhouse.md). A copy is the
// same row but for received_at. Statements whose answer a copy would
// change (counts, sums, percentiles) read the events with FINAL, which
// folds them; on a cluster each shard folds its own, and the copies of an
// event always share a shard (sharded by app and request id). FINAL costs
// (it merges the parts as it reads, in one stream per shard), so
// statements a copy cannot change do without it: distinct counts,
// earliest and latest times, and lookups by request id that keep one row
// per id.

// chUserJoin joins the user's company and metadata as u_company_id and
// u_metadata, from the app's profile states. GLOBAL: the states are
// sharded by user, the events by request, so every shard needs all of
// them; ANY LEFT ... USING because 18.16 has no JOIN ... ON; names unique
// because 18.16 drops the u. qualifier when it sends the query to shards.
const chUserJoin = ` GLOBAL ANY LEFT JOIN (SELECT user_id, nullIf(argMaxMerge(attr_state), '') AS u_company_id,
	nullIf(argMaxMerge(metadata_state), '') AS u_metadata FROM users_state WHERE app_id = ? GROUP BY user_id) AS u USING user_id`

// chBool is how a boolean group value leaves ClickHouse, as 18.16 has no
// Bool type: the store's Query returns this Enum as a Go bool.
const chBool = "Enum8('false' = 0, 'true' = 1)"

// chRange is r on the events alias e, exact to the millisecond that
// events are stored to, in the stored columns time (whole seconds, which
// the primary key and the daily partitions prune by) and ms: an event is
// at or after From iff its time is after From's second, or in it with ms
// at least From's milliseconds rounded up; likewise before To.
func chRange(r Range) (string, []any) {
	var conds []string
	var args []any
	if !r.From.IsZero() {
		sec, ms := splitMs(r.From)
		if ms == 0 {
			conds = append(conds, "e.time >= ?")
			args = append(args, sec)
		} else {
			conds = append(conds, "e.time >= ?", "(e.time > ? OR e.ms >= ?)")
			args = append(args, sec, sec, ms)
		}
	}
	if !r.To.IsZero() {
		sec, ms := splitMs(r.To)
		if ms == 0 {
			conds = append(conds, "e.time < ?")
			args = append(args, sec)
		} else {
			conds = append(conds, "e.time <= ?", "(e.time < ? OR e.ms < ?)")
			args = append(args, sec, sec, ms)
		}
	}
	if len(conds) == 0 {
		return "1", nil
	}
	return strings.Join(conds, " AND "), args
}

// splitMs is t as its whole second and the milliseconds after it, rounded
// up (1000 when a fraction rounds up to the next second).
func splitMs(t time.Time) (time.Time, int64) {
	sec := t.Truncate(time.Second)
	return sec, ceilMs(t) - sec.UnixMilli()
}

// ceilMs is t in epoch milliseconds, rounded up.
func ceilMs(t time.Time) int64 {
	us := t.UnixMicro()
	ms := us / 1000
	if us%1000 > 0 {
		ms++
	}
	return ms
}

// chRejected is rollup.RejectedAtGateway as 0 or 1: the store computes it
// when it writes the event.
func chRejected() (string, []any) { return "e.rejected", nil }

// chField is a field on raw events; needUser says it reads the users
// join.
func chField(f Field) (x sqlExpr, needUser bool) {
	d := ClickHouse{}
	switch f.ref {
	case refCompany:
		return sqlExpr{text: "coalesce(" + chColumn("company_id") + ", u_company_id)"}, true
	case refStatusClass:
		return sqlExpr{text: statusClass("e.status_raw")}, false
	case refRejected:
		t, a := chRejected()
		return sqlExpr{t, a}, false
	case refMetadata:
		t, a := d.JSONText("e.metadata_raw", f.Key)
		return sqlExpr{t, a}, false
	case refUserMetadata:
		t, a := d.JSONText("u_metadata", f.Key)
		return sqlExpr{t, a}, true
	}
	return sqlExpr{text: chColumn(f.Name)}, false
}

// chColumn is an event column as DuckDB has it, computed from the stored
// one (absent as an empty string or -1) as the table's ALIAS columns are:
// 18.16 fails on some statements with ALIAS columns in PREWHERE ("Not
// found column").
func chColumn(name string) string {
	switch name {
	case "app_id", "request_id", "source":
		return "e." + name
	case "status", "response_bytes", "latency_ms", "integration_latency_ms":
		return fmt.Sprintf("if(e.%[1]s_raw < 0, NULL, e.%[1]s_raw)", name)
	}
	return "nullIf(e." + name + "_raw, '')"
}

// chWhere compiles a filter on raw events: the shared conditions, with
// 1 and 0 for true and false.
func (c *compiler) chWhere(app string, f *Filter) (x sqlExpr, needUser bool, err error) {
	if f == nil {
		return sqlExpr{text: "1"}, false, nil
	}
	join := func(list []*Filter, sep string) (sqlExpr, bool, error) {
		var parts []string
		var args []any
		nu := false
		for _, s := range list {
			x, u, err := c.chWhere(app, s)
			if err != nil {
				return x, false, err
			}
			parts = append(parts, "("+x.text+")")
			args = append(args, x.args...)
			nu = nu || u
		}
		return sqlExpr{strings.Join(parts, sep), args}, nu, nil
	}
	switch {
	case f.And != nil:
		return join(f.And, " AND ")
	case f.Or != nil:
		return join(f.Or, " OR ")
	case f.Not != nil:
		x, u, err := c.chWhere(app, f.Not)
		return sqlExpr{"NOT coalesce((" + x.text + "), 0)", x.args}, u, err
	}
	if f.Field.ref == refCompany && (f.Op == OpEq || f.Op == OpIn) && !slices.Contains(f.Values, any("")) {
		return chCompanyIn(app, f.Values), false, nil
	}
	fx, nu := chField(*f.Field)
	cx, err := c.condition(fx, f)
	return cx, nu, err
}

// chCompanyIn is "the event's company is one of vals" without joining
// every event to its user: the company logged on the event, or else the
// user is one of those the users API linked to one of vals (a small set,
// sent to every shard with GLOBAL IN). Same answer as the join: a user's
// company is the one of the latest link, and a user_id is never empty in
// the states.
func chCompanyIn(app string, vals []any) sqlExpr {
	ph := placeholders(len(vals))
	args := append([]any{}, vals...)
	args = append(append(args, app), vals...)
	return sqlExpr{"(e.company_id_raw IN (" + ph + ") OR e.company_id_raw = '' AND e.user_id_raw GLOBAL IN (SELECT user_id FROM users_state" +
		" WHERE app_id = ? GROUP BY user_id HAVING argMaxMerge(attr_state) IN (" + ph + ")))", args}
}

// chScan is a read of an app's raw events in r matching f, from FROM to
// the end of WHERE: with FINAL when a copy of an event would change the
// answer (final), with the users join when join is set or the filter needs
// it (then join is set on return), with pre ANDed to the PREWHERE (they
// must not need the join) and more ANDed in WHERE. A filter that needs no
// join is a PREWHERE: 18.16 moves conditions
// to PREWHERE by itself only without FINAL and without a join, and reading
// the filter's columns first lets it skip the other columns of the rows
// that do not match. A PREWHERE applies before FINAL folds the copies,
// which gives the same answer because copies have the same values.
func (c *compiler) chScan(app string, r Range, f *Filter, final, join bool, pre []sqlExpr, more ...sqlExpr) (sqlExpr, bool, error) {
	fx, nu, err := c.chWhere(app, f)
	if err != nil {
		return sqlExpr{}, false, err
	}
	join = join || nu
	text := "events AS e"
	if final {
		text += " FINAL"
	}
	var args []any
	if join {
		text += chUserJoin
		args = append(args, app)
	}
	rng, rArgs := chRange(r)
	where := []string{"e.app_id = ?", rng}
	wArgs := append([]any{app}, rArgs...)
	switch {
	case fx.text == "1":
	case nu:
		where = append(where, "("+fx.text+")")
		wArgs = append(wArgs, fx.args...)
	default:
		pre = append([]sqlExpr{{"(" + fx.text + ")", fx.args}}, pre...)
	}
	if len(pre) > 0 {
		var conds []string
		for _, p := range pre {
			conds = append(conds, p.text)
			args = append(args, p.args...)
		}
		text += " PREWHERE " + strings.Join(conds, " AND ")
	}
	for _, m := range more {
		where = append(where, m.text)
		wArgs = append(wArgs, m.args...)
	}
	return sqlExpr{text + " WHERE " + strings.Join(where, " AND "), append(args, wArgs...)}, join, nil
}

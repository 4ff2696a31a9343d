package query

import "fmt"

// chRetentionSQL is the statement of Retention on ClickHouse, with the same
// rows (cohort start, period start or NULL for the cohort's size, users):
// 18.16 has no CTEs and no JOIN ... ON, so the cohorts' subquery appears
// twice and joins the returns by user with USING. Times are compared in
// epoch ms (time_ms), buckets in epoch seconds; bucket starts come out as
// DateTime('UTC') in both halves of the UNION ALL, whose types must match.
func (e *Engine) chRetentionSQL(q RetentionSpec, iv Interval) (string, []any, error) {
	d := e.c.d
	// No FINAL: earliest and latest times per user, which copies share.
	named := sqlExpr{text: "e.user_id_raw != ''"}
	fScan, _, err := e.c.chScan(q.AppID, Range{To: q.Range.To}, q.First, false, false, []sqlExpr{named})
	if err != nil {
		return "", nil, err
	}
	cb, cbArgs := d.TimeBucket("toDateTime(intDiv(ft, 1000), 'UTC')", iv, q.Loc)
	first := fmt.Sprintf(`SELECT uid, ft, %s AS fc FROM (
			SELECT e.user_id_raw AS uid, min(e.time_ms) AS ft FROM %s GROUP BY uid)
		WHERE ft >= ?`, cb, fScan.text)
	firstArgs := append(append(append([]any{}, cbArgs...), fScan.args...), ceilMs(q.Range.From))
	rScan, _, err := e.c.chScan(q.AppID, Range{From: bucketStart(q.Range.From, iv, q.Loc), To: q.Range.To}, q.Returning, false, false, []sqlExpr{named})
	if err != nil {
		return "", nil, err
	}
	rb, rbArgs := d.TimeBucket("e.time", iv, q.Loc)
	ret := fmt.Sprintf(`SELECT e.user_id_raw AS uid, %s AS rp, max(e.time_ms) AS rt FROM %s GROUP BY uid, rp`, rb, rScan.text)
	retArgs := append(append([]any{}, rbArgs...), rScan.args...)
	stmt := fmt.Sprintf(`SELECT toDateTime(toUInt32(fc), 'UTC') AS c, CAST(NULL AS Nullable(DateTime('UTC'))) AS p, count() AS n
		FROM (%[1]s) GROUP BY c
		UNION ALL
		SELECT toDateTime(toUInt32(fc), 'UTC') AS c, toNullable(toDateTime(toUInt32(rp), 'UTC')) AS p, count() AS n
		FROM (%[1]s) ALL INNER JOIN (%[2]s) USING uid
		WHERE toUInt32(rp) > toUInt32(fc) OR (toUInt32(rp) = toUInt32(fc) AND rt >= ft) GROUP BY c, p`, first, ret)
	args := append(append(append([]any{}, firstArgs...), firstArgs...), retArgs...)
	return stmt, args, nil
}

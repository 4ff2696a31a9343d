package query

import (
	"context"
	"fmt"
	"strings"
)

// The users and companies lists on ClickHouse. Profiles are aggregate
// states there (the store's users_state and companies_state), merged here
// for one app: the store's users and companies views would merge every
// app's before filtering (18.16 pushes no filter into a view). 18.16 has
// one JOIN per SELECT, only ANY/ALL ... USING, and no UNION (distinct), so
// the statements nest; every joined column has a name of its own. The
// statements end in a SELECT over the alias s with the columns the shared
// pageOf sorts by (last_seen, first_seen, s.n, err_rate, id, users).

// chUsersOf merges the app's user states (one user when id is set) into
// id, company_id, first_seen, last_seen, metadata.
func chUsersOf(app, id string) (string, []any) {
	q := `SELECT user_id AS id, nullIf(argMaxMerge(attr_state), '') AS company_id,
		maxMerge(last_state) AS last_raw,
		if(last_raw = toDateTime(0, 'UTC'), NULL, minMerge(first_state)) AS first_seen,
		if(last_raw = toDateTime(0, 'UTC'), NULL, last_raw) AS last_seen,
		nullIf(argMaxMerge(metadata_state), '') AS metadata
	FROM users_state WHERE app_id = ?`
	args := []any{app}
	if id != "" {
		q += " AND user_id = ?"
		args = append(args, id)
	}
	return q + " GROUP BY user_id", args
}

// chStats is statsOf's statement as (id, n, e4, e5), over the events
// that match conds (field name, value; all of them): a list restricted to
// one user or company reads that one's events only.
func (e *Engine) chStats(app string, r Range, group string, conds ...string) (sqlExpr, error) {
	g, _ := ParseField(group)
	s := aggSpec{app: app, r: r, groups: []Field{g}}
	for i := 0; i+1 < len(conds); i += 2 {
		if conds[i+1] == "" {
			continue
		}
		f, _ := ParseField(conds[i])
		c, err := NewCondition(f, OpEq, conds[i+1])
		if err != nil {
			return sqlExpr{}, err
		}
		if s.filter == nil {
			s.filter = &Filter{}
		}
		s.filter.And = append(s.filter.And, c)
	}
	stats, _, err := e.c.chBuild(famAdditive, &s)
	if err != nil {
		return sqlExpr{}, err
	}
	return sqlExpr{"SELECT assumeNotNull(g0) AS id, n, e4, e5 FROM (" + stats.text + ") st WHERE g0 IS NOT NULL", stats.args}, nil
}

// chUsers is Users.
func (e *Engine) chUsers(ctx context.Context, q ListSpec) ([]UserSummary, int64, error) {
	if err := q.check(); err != nil {
		return nil, 0, err
	}
	stats, err := e.chStats(q.AppID, q.Range, "user_id", "user_id", q.ID)
	if err != nil {
		return nil, 0, err
	}
	users, uargs := chUsersOf(q.AppID, q.ID)
	cond, wargs := chListWhere(e.c.d, q.Search, "company_id", "company_id", q.CompanyID)
	total, err := e.chCount(ctx, "SELECT count() FROM ("+users+") WHERE "+cond, append(append([]any{}, uargs...), wargs...))
	if err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	base := `SELECT id, company_id, first_seen, last_seen, metadata, n, e4, e5, err_rate FROM (
		SELECT id, company_id, first_seen, last_seen, metadata, n, e4, e5, if(n = 0, NULL, (e4 + e5) / n) AS err_rate
		FROM (` + users + `) ANY LEFT JOIN (` + stats.text + `) USING id
		WHERE ` + cond + `) AS s`
	args := append(append(append([]any{}, uargs...), stats.args...), wargs...)
	list, err := e.pageOf(ctx, q, base, args, "user_id", scanUserSummary)
	return listOf[UserSummary](list, total, err)
}

func (e *Engine) chCount(ctx context.Context, q string, args []any) (int64, error) {
	rows, err := e.query(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

// chCompanies is Companies: the companies with a profile (events that
// name a company make one) and those users are linked to.
func (e *Engine) chCompanies(ctx context.Context, q ListSpec) ([]CompanySummary, int64, error) {
	if err := q.check(); err != nil {
		return nil, 0, err
	}
	stats, err := e.chStats(q.AppID, q.Range, "company_id", "company_id", q.ID)
	if err != nil {
		return nil, 0, err
	}
	users, uargs := chUsersOf(q.AppID, "")
	ids := `SELECT DISTINCT id FROM (
			SELECT company_id AS id FROM companies_state WHERE app_id = ?
			UNION ALL
			SELECT assumeNotNull(company_id) AS id FROM (` + users + `) WHERE company_id IS NOT NULL)`
	idArgs := append([]any{q.AppID}, uargs...)
	comps := `SELECT company_id AS id, nullIf(argMaxMerge(attr_state), '') AS c_domain,
			maxMerge(last_state) AS c_last_raw,
			if(c_last_raw = toDateTime(0, 'UTC'), NULL, minMerge(first_state)) AS c_first,
			if(c_last_raw = toDateTime(0, 'UTC'), NULL, c_last_raw) AS c_last,
			nullIf(argMaxMerge(metadata_state), '') AS c_metadata
		FROM companies_state WHERE app_id = ? GROUP BY company_id`
	byCompany := `SELECT assumeNotNull(company_id) AS id, count() AS users, min(first_seen) AS us_first, max(last_seen) AS us_last
		FROM (` + users + `) WHERE company_id IS NOT NULL GROUP BY id`
	// least and greatest of two times, either possibly NULL (ClickHouse's
	// least is NULL then; DuckDB's ignores the NULL).
	pick := func(f, a, b string) string {
		return fmt.Sprintf("if(isNull(%[2]s), %[3]s, if(isNull(%[3]s), %[2]s, %[1]s(%[2]s, %[3]s)))", f, a, b)
	}
	from := `SELECT id, c_domain AS domain, ` + pick("least", "c_first", "us_first") + ` AS first_seen,
			` + pick("greatest", "c_last", "us_last") + ` AS last_seen, c_metadata AS metadata, users
		FROM (SELECT id, c_domain, c_first, c_last, c_metadata FROM (` + ids + `) ANY LEFT JOIN (` + comps + `) USING id)
		ANY LEFT JOIN (` + byCompany + `) USING id`
	fromArgs := append(append(append([]any{}, idArgs...), q.AppID), uargs...)
	cond, wargs := chListWhere(e.c.d, q.Search, "domain", "id", q.ID)
	total, err := e.chCount(ctx, "SELECT count() FROM ("+from+") WHERE "+cond, append(append([]any{}, fromArgs...), wargs...))
	if err != nil {
		return nil, 0, fmt.Errorf("count companies: %w", err)
	}
	base := `SELECT id, domain, first_seen, last_seen, metadata, users, n, e4, e5, err_rate FROM (
		SELECT id, domain, first_seen, last_seen, metadata, users, n, e4, e5, if(n = 0, NULL, (e4 + e5) / n) AS err_rate
		FROM (SELECT id, domain, first_seen, last_seen, metadata, users FROM (` + from + `) WHERE ` + cond + `)
		ANY LEFT JOIN (` + stats.text + `) USING id) AS s`
	args := append(append(append([]any{}, fromArgs...), wargs...), stats.args...)
	list, err := e.pageOf(ctx, q, base, args, "company_id", scanCompanySummary)
	return listOf[CompanySummary](list, total, err)
}

// chListWhere is a list's condition on its rows (id, second, metadata):
// search, if set, in any of the three, and column eq equal to val, if set.
func chListWhere(d Dialect, search, second, eq, val string) (string, []any) {
	where := []string{"1"}
	var args []any
	if search != "" {
		where = append(where, "("+d.ContainsFold("id")+" OR "+d.ContainsFold("ifNull("+second+", '')")+
			" OR "+d.ContainsFold("ifNull(metadata, '')")+")")
		args = append(args, search, search, search)
	}
	if val != "" {
		where = append(where, eq+" = ?")
		args = append(args, val)
	}
	return strings.Join(where, " AND "), args
}

package query

// Company attribution is resolved at query time: coalesce(the event's
// company_id, its user's company in the users table). A condition on it
// joins every row to users; for the common "is this company" (eq, in) on
// one app, DuckDB is much faster with the equivalent
//
//	company_id IN (v...) OR company_id IS NULL AND user_id IN
//	    (SELECT user_id FROM users WHERE app_id = ? AND company_id IN (v...))
//
// whose subquery is small and uncorrelated. (users has one row per app and
// user, and its user_id is never NULL, so the two agree in SQL's
// three-valued logic as well.)

// forApp returns a compiler whose conditions may use the app's users.
func (c *compiler) forApp(app string) *compiler {
	if _, ok := c.d.(DuckDB); !ok || app == "" {
		return c
	}
	cc := *c
	cc.app = app
	return &cc
}

// companySemiJoin compiles a company eq or in condition as above, when
// the compiler knows its app and the source keeps the logged company and
// the user.
func (c *compiler) companySemiJoin(src srcKind, f *Filter) (sqlExpr, bool) {
	if c.app == "" || f.Field == nil || f.Field.ref != refCompany || (f.Op != OpEq && f.Op != OpIn) {
		return sqlExpr{}, false
	}
	alias := "r."
	switch src {
	case srcRaw:
		alias = "e."
	case srcUser, srcUserRoute, srcUserHist:
	default:
		return sqlExpr{}, false
	}
	ph := placeholders(len(f.Values))
	args := append([]any{}, f.Values...)
	args = append(append(args, c.app), f.Values...)
	return sqlExpr{"(" + alias + "company_id IN (" + ph + ") OR " + alias + "company_id IS NULL AND " + alias +
		"user_id IN (SELECT user_id FROM users WHERE app_id = ? AND company_id IN (" + ph + ")))", args}, true
}

// companyOnly is companySemiJoin for a spec grouped by the company alone
// and restricted to some companies (aggSpec.only), none of them absent.
func (c *compiler) companyOnly(src srcKind, groups []Field, only [][]any) (sqlExpr, bool) {
	if len(groups) != 1 || groups[0].ref != refCompany || len(only) != 1 {
		return sqlExpr{}, false
	}
	vals := make([]any, 0, len(only))
	for _, t := range only {
		if t[0] == nil {
			return sqlExpr{}, false
		}
		vals = append(vals, t[0])
	}
	return c.companySemiJoin(src, &Filter{Field: &groups[0], Op: OpIn, Values: vals})
}

package query

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/query/rollup"
	"github.com/gatescope/gatescope/internal/store"
)

// On DuckDB a company's profile reads the company's events once. Its top
// routes, totals, daily series and its users' figures are all sums over
// the same rows of the user-route rollup (and raw events around it): the
// events attributed to the company (logged with it, or logged with none
// by a user linked to it) for the routes, totals and series, and every
// event of a linked user, whichever company it logged, for the users'
// figures. One statement selects the union of the two, and Go sums its
// rows by route, by day and by user. Asked apart, the series and the
// users list scanned their rollups again, for as much again as the
// routes (docs/performance.md).

// duckCompanyProfile is CompanyProfile on DuckDB.
func (e *Engine) duckCompanyProfile(ctx context.Context, q ProfileSpec) (*Profile, error) {
	f, _ := ParseField("company_id")
	cond, err := NewCondition(f, OpEq, q.ID)
	if err != nil {
		return nil, err
	}
	p := &Profile{}
	var fig companyFigures
	var linked []UserSummary
	// Calendar days or weeks fold from the statement's UTC days; finer
	// buckets need their own statement.
	folds := q.Interval.Calendar && q.Interval.Name != monthInterval.Name && !q.Range.From.IsZero() &&
		q.Range.To.Sub(q.Range.From)/q.Interval.D <= MaxBuckets
	parts := []func(context.Context) error{
		func(ctx context.Context) error {
			list, _, err := e.Companies(ctx, ListSpec{AppID: q.AppID, Range: q.Range, ID: q.ID, Limit: 1, noStats: true})
			if err == nil && len(list) == 1 {
				p.Company = &list[0]
			}
			return err
		},
		func(ctx context.Context) error {
			// The statement names the linked users, which keeps its scans
			// of the company rollup to the rows it needs (companyDays).
			var err error
			if linked, err = e.linkedUsers(ctx, q.AppID, q.ID); err != nil {
				return err
			}
			return e.companyFigures(ctx, q, linked, &fig)
		},
		func(ctx context.Context) error {
			var err error
			p.RecentEvents, _, err = e.Events(ctx, q.AppID, q.Range, cond, Page{Limit: 20})
			return err
		},
	}
	if !folds {
		parts = append(parts, func(ctx context.Context) error {
			var err error
			p.Series, err = e.TimeSeries(ctx, SeriesSpec{AppID: q.AppID, Range: q.Range, Filter: cond, Metric: Count, Interval: q.Interval})
			return err
		})
	}
	if err := runParts(ctx, parts); err != nil {
		return p, err
	}
	if p.Company == nil {
		return p, fmt.Errorf("company %q: %w", q.ID, store.ErrNotFound)
	}
	if p.TopRoutes, p.Totals, err = fig.routes.result(); err != nil {
		return p, err
	}
	p.Company.Stats = p.Totals
	if folds {
		p.Series = fig.series(q)
	}
	if linked == nil { // too many to list from here
		p.Users, _, err = e.Users(ctx, ListSpec{AppID: q.AppID, Range: q.Range, CompanyID: q.ID, Limit: companyProfileUsers, Sort: "requests", Desc: true})
		return p, err
	}
	if p.Users, err = fig.rank(linked); err != nil {
		return p, err
	}
	return p, nil
}

// companyProfileUsers is how many of its users a company's profile lists,
// the busiest first.
const companyProfileUsers = 100

// companyFigures is what the company statement gives.
type companyFigures struct {
	routes routeTally
	users  map[string]*tally
	days   map[time.Time]int64
}

// companyFigures runs the company statement of q into fig, given the
// company's linked users (nil: too many to name).
func (e *Engine) companyFigures(ctx context.Context, q ProfileSpec, linked []UserSummary, fig *companyFigures) error {
	s := aggSpec{app: q.AppID, r: q.Range}
	if err := e.setSealed(ctx, &s); err != nil {
		return err
	}
	var ids []string
	if linked != nil {
		ids = make([]string, len(linked))
		for i, u := range linked {
			ids[i] = u.UserID
		}
	}
	stmt, args := e.companyStatement(q, s.marks, ids)
	rows, err := e.query(ctx, stmt, args...)
	if err != nil {
		return fmt.Errorf("company profile: %w", err)
	}
	defer rows.Close()
	return fig.read(rows)
}

// companyStatement is the statement of q's company figures, with the
// rollups where m says: rows of day, user, method, route, whether
// attributed to the company, whether of a linked user, and the requests,
// 4xx, 5xx and histogram pairs. A company's rows are few (about 1 700 for
// one of 15 users over 27 days), so Go sums them by route, day and user
// (read): DuckDB's grouping sets over them made the statement about a
// sixth slower.
//
// linked are the company's users (nil: too many to name). Named, they let
// the sealed days come from the company-ordered rollup (companyDays).
func (e *Engine) companyStatement(q ProfileSpec, m marks, linked []string) (string, []any) {
	// The linked users come first, as a CTE, which the pieces of raw
	// events join (a handful of rows). Reading the rows logged with the
	// company apart from the linked users' other rows, each with a
	// condition the scan could apply first, was slower there, and in
	// UserRouteDay: two scans of the table's strings instead of one.
	args := []any{q.AppID, q.ID}
	var pieces []string
	for _, p := range plan(q.Range, nil, time.UTC, srcUserRoute, e.rollups, m) {
		if p.src != srcRaw && linked != nil {
			var sql string
			sql, args = companyDays(p, q, linked, args)
			pieces = append(pieces, sql)
			continue
		}
		a, day := "r", "r.day"
		if p.src == srcRaw {
			a, day = "e", "date_trunc('day', e.time)"
		}
		where := []string{a + ".app_id = ?", p.timeCol() + " < ?"}
		args = append(args, q.ID, q.AppID, p.to)
		if !p.from.IsZero() {
			where = append(where, p.timeCol()+" >= ?")
			args = append(args, p.from)
		}
		where = append(where, "("+a+".company_id = ? OR l.user_id IS NOT NULL)")
		args = append(args, q.ID)
		// inco: attributed to the company; linked: the user is the company's.
		keys := fmt.Sprintf(`%s AS d, %[2]s.user_id AS u, %[2]s.method AS g0, %[2]s.route AS g1,
			coalesce(%[2]s.company_id = ?, l.user_id IS NOT NULL) AS inco, l.user_id IS NOT NULL AS linked`, day, a)
		from := fmt.Sprintf("%s %s LEFT JOIN lu l ON l.user_id = %[2]s.user_id", p.table(), a)
		if p.src == srcRaw {
			pieces = append(pieces, rawPairs(&e.c, keys, "d, u, g0, g1, inco, linked", from, strings.Join(where, " AND ")))
			continue
		}
		pieces = append(pieces, `SELECT `+keys+`, r.n AS n, r.n_4xx AS e4, r.n_5xx AS e5, r.hist AS h
			FROM `+from+` WHERE `+strings.Join(where, " AND "))
	}
	stmt := `WITH lu AS (SELECT user_id FROM users WHERE app_id = ? AND company_id = ?)
		SELECT d, u, g0, g1, inco, linked, CAST(n AS BIGINT), CAST(e4 AS BIGINT), CAST(e5 AS BIGINT), h
		FROM (` + strings.Join(pieces, "\nUNION ALL\n") + `) x`
	return stmt, args
}

// companyDays appends to args and returns the SQL of the day piece p of
// q's company statement from rollup.CompanyRouteDay, given the named
// linked users: the company's rows, and the linked users' other rows.
// Each is a scan whose filter DuckDB applies to one column before it reads
// the others, and the company's rows are a few adjacent vectors of the
// table. In UserRouteDay, in route order, one scan with "the company's or
// a linked user's" kept about 1 700 of 680 000 rows, all of whose columns
// it read first (docs/performance.md). The users are a list
// (listContains), not IN.
func companyDays(p piece, q ProfileSpec, linked []string, args []any) (string, []any) {
	ids := make([]any, len(linked))
	for i, u := range linked {
		ids[i] = u
	}
	// scan is one SELECT; it appends its arguments in its placeholders'
	// order: the select list's, the time range's, the condition's.
	scan := func(inco, isLinked string, selArgs []any, cond string, condArgs ...any) string {
		args = append(append(args, selArgs...), q.AppID, p.to)
		where := "r.app_id = ? AND r.day < ?"
		if !p.from.IsZero() {
			where += " AND r.day >= ?"
			args = append(args, p.from)
		}
		args = append(args, condArgs...)
		return `SELECT r.day AS d, r.user_id AS u, r.method AS g0, r.route AS g1, ` + inco + ` AS inco, ` + isLinked + ` AS linked,
			r.n AS n, r.n_4xx AS e4, r.n_5xx AS e5, r.hist AS h FROM ` + rollup.CompanyRouteDay + ` r WHERE ` + where + ` AND ` + cond
	}
	if len(linked) == 0 {
		own := scan("true", "false", nil, "r.company_id = ?", q.ID)
		return own, args
	}
	isLinked := listContains(len(linked), "r.user_id")
	own := scan("true", "coalesce("+isLinked+", false)", ids, "r.company_id = ?", q.ID)
	other := scan("r.company_id IS NULL", "true", nil, "r.company_id IS DISTINCT FROM ? AND "+isLinked,
		append([]any{q.ID}, ids...)...)
	return own + "\nUNION ALL\n" + other, args
}

// read sums the company statement's rows: the rows attributed to the
// company by route and by day, every row of a linked user by user.
func (fig *companyFigures) read(rows *sql.Rows) error {
	fig.users, fig.days = map[string]*tally{}, map[time.Time]int64{}
	// A route's key tells an absent method or route from an empty one.
	type routeKey struct {
		method, route   string
		noMeth, noRoute bool
	}
	type routeSum struct {
		method, route *string
		tally
	}
	routes := map[routeKey]*routeSum{}
	for rows.Next() {
		var method, route, user *string
		var day time.Time
		var inco, linked bool
		var n, e4, e5 int64
		var h []any
		if err := rows.Scan(&day, &user, &method, &route, &inco, &linked, &n, &e4, &e5, &h); err != nil {
			return fmt.Errorf("company profile: %w", err)
		}
		if inco {
			k := routeKey{noMeth: method == nil, noRoute: route == nil}
			if method != nil {
				k.method = *method
			}
			if route != nil {
				k.route = *route
			}
			r := routes[k]
			if r == nil {
				r = &routeSum{method: method, route: route}
				routes[k] = r
			}
			r.add(n, e4, e5, h)
			fig.days[day.UTC()] += n
		}
		if linked && user != nil {
			t := fig.users[*user]
			if t == nil {
				t = &tally{}
				fig.users[*user] = t
			}
			t.add(n, e4, e5, h)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("company profile: %w", err)
	}
	for _, r := range routes {
		if err := fig.routes.add(r.method, r.route, r.n, r.e4, r.e5, r.h); err != nil {
			return err
		}
	}
	return nil
}

// series folds the statement's days into q's buckets, as TimeSeries would
// count them.
func (fig *companyFigures) series(q ProfileSpec) *TimeSeries {
	bs := buckets(q.Range, q.Interval, time.UTC)
	counts := map[time.Time]int64{}
	for d, n := range fig.days {
		counts[bucketStart(d, q.Interval, time.UTC)] += n
	}
	all := "all"
	ser := Series{Group: &all, Points: make([]Point, len(bs))}
	for i, t := range bs {
		v := float64(counts[t])
		ser.Points[i] = Point{T: t, V: &v}
	}
	return &TimeSeries{Interval: q.Interval.Name, Metric: Count, From: q.Range.From, To: q.Range.To, Series: []Series{ser}}
}

// rank gives the linked users their figures and returns the busiest, as
// the users list sorted by requests would (ties by id).
func (fig *companyFigures) rank(linked []UserSummary) ([]UserSummary, error) {
	for i := range linked {
		u := &linked[i]
		t := fig.users[u.UserID]
		if t == nil {
			continue
		}
		var err error
		if u.Stats, err = t.stats(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(linked, func(a, b UserSummary) int {
		if c := cmp.Compare(b.Requests, a.Requests); c != 0 {
			return c
		}
		return strings.Compare(a.UserID, b.UserID)
	})
	return linked[:min(len(linked), companyProfileUsers)], nil
}

// linkedUsers returns the users linked to a company, without figures; nil
// when there are more than maxCompanyUsers.
func (e *Engine) linkedUsers(ctx context.Context, app, company string) ([]UserSummary, error) {
	rows, err := e.query(ctx, `SELECT user_id, company_id, first_seen, last_seen, metadata, 0.0, 0.0, 0.0, CAST(NULL AS DOUBLE)
		FROM users WHERE app_id = ? AND company_id = ? LIMIT `+strconv.Itoa(maxCompanyUsers+1), app, company)
	if err != nil {
		return nil, fmt.Errorf("company users: %w", err)
	}
	defer rows.Close()
	out := []UserSummary{}
	for rows.Next() {
		_, u, err := scanUserSummary(rows)
		if err != nil {
			return nil, fmt.Errorf("company users: %w", err)
		}
		out = append(out, *u.(*UserSummary))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("company users: %w", err)
	}
	if len(out) > maxCompanyUsers {
		return nil, nil
	}
	return out, nil
}

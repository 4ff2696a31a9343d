package query

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatescope/gatescope/internal/query/rollup"
	"github.com/gatescope/gatescope/internal/store"
)

// Stats are a user's or company's activity over a range.
type Stats struct {
	Requests   int64    `json:"requests"`
	Errors4xx  int64    `json:"errors_4xx"`
	Errors5xx  int64    `json:"errors_5xx"`
	ErrorRate  *float64 `json:"error_rate"`
	LatencyP95 *float64 `json:"latency_p95"`
}

func (s *Stats) setRate() {
	if s.Requests > 0 {
		r := float64(s.Errors4xx+s.Errors5xx) / float64(s.Requests)
		s.ErrorRate = &r
	}
}

// UserSummary is a row of the users list.
type UserSummary struct {
	UserID    string          `json:"user_id"`
	CompanyID *string         `json:"company_id"`
	FirstSeen *time.Time      `json:"first_seen"`
	LastSeen  *time.Time      `json:"last_seen"`
	Metadata  json.RawMessage `json:"metadata"`
	Stats
}

// CompanySummary is a row of the companies list.
type CompanySummary struct {
	CompanyID string          `json:"company_id"`
	Domain    *string         `json:"domain"`
	FirstSeen *time.Time      `json:"first_seen"`
	LastSeen  *time.Time      `json:"last_seen"`
	Metadata  json.RawMessage `json:"metadata"`
	Users     int64           `json:"users"`
	Stats
}

// ListSpec is a users or companies list query.
type ListSpec struct {
	AppID     string
	Range     Range // activity window; From may be zero (all time)
	Search    string
	CompanyID string // users only: the users of this company
	ID        string // one profile by id
	Sort      string
	Desc      bool
	Limit     int
	Offset    int
	// noStats leaves the activity figures out (zero): a profile computes
	// them with its routes (profile_routes.go).
	noStats bool
}

var listSorts = map[string]string{
	"last_seen": "last_seen", "first_seen": "first_seen", "requests": "s.n", "error_rate": "err_rate",
	"latency_p95": "p95", "user_id": "id", "company_id": "id", "users": "users",
}

// ParseListSort validates a list's sort and order; the default is
// last_seen, newest first.
func ParseListSort(sortBy, order string, companies bool) (string, bool, error) {
	if sortBy == "" {
		sortBy = "last_seen"
	}
	if _, ok := listSorts[sortBy]; !ok || (companies && sortBy == "user_id") || (!companies && sortBy == "users") {
		return "", false, badQuery("sort %q is not one of last_seen, first_seen, requests, error_rate, latency_p95, %s",
			sortBy, map[bool]string{true: "company_id, users", false: "user_id, company_id"}[companies])
	}
	switch order {
	case "", "desc":
		return sortBy, !(order == "" && (sortBy == "user_id" || sortBy == "company_id")), nil
	case "asc":
		return sortBy, false, nil
	}
	return "", false, badQuery("order %q: want asc or desc", order)
}

func (q *ListSpec) check() error {
	if q.AppID == "" {
		return badQuery("app_id is required")
	}
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		return badQuery("limit %d: want 1 to %d", q.Limit, MaxLimit)
	}
	if q.Offset < 0 || q.Offset > 1_000_000 {
		return badQuery("offset %d out of range", q.Offset)
	}
	if q.Sort == "" {
		q.Sort, q.Desc = "last_seen", true
	}
	return nil
}

// statsOf compiles per-entity request totals over the range from the
// rollups (or raw events), grouped by the user or company: for one entity
// when id is not empty, as a profile needs no other's totals.
func (e *Engine) statsOf(ctx context.Context, app string, r Range, group, id string) (sqlExpr, error) {
	if id == "" {
		return e.statsFor(ctx, app, r, group, nil)
	}
	return e.statsFor(ctx, app, r, group, []any{id})
}

// statsFor is statsOf for the entities ids (every entity when nil).
func (e *Engine) statsFor(ctx context.Context, app string, r Range, group string, ids []any) (sqlExpr, error) {
	g, _ := ParseField(group)
	s := aggSpec{app: app, r: r, groups: []Field{g}, need: partialsOf(ErrorRate)}
	if ids != nil {
		f, err := NewCondition(g, OpIn, ids...)
		if err != nil {
			return sqlExpr{}, err
		}
		s.filter = f
	}
	if err := e.setSealed(ctx, &s); err != nil {
		return sqlExpr{}, err
	}
	x, _, err := e.c.build(famAdditive, &s, e.rollups)
	return x, err
}

// p95By computes the p95 latency of each entity (restricted to ids when
// not nil), from the user histogram rollups and raw events around them.
func (e *Engine) p95By(ctx context.Context, app string, r Range, group string, ids []string) (map[string]float64, error) {
	g, _ := ParseField(group)
	s := aggSpec{app: app, r: r, groups: []Field{g}, pcts: []int{95}}
	if ids == nil && !e.onClickHouse() {
		bs, err := e.percentilesOf(ctx, s)
		if err != nil {
			return nil, err
		}
		return byID(bs, func(b int64) float64 { return rollup.Value(int(b)) }), nil // bands.go
	}
	if ids != nil {
		if len(ids) == 0 {
			return map[string]float64{}, nil
		}
		for _, id := range ids {
			s.only = append(s.only, []any{id})
		}
	}
	res := newAggResult()
	if err := e.runFamily(ctx, famHistogram, &s, []Metric{LatencyP95}, res, ""); err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, row := range res.rows {
		if id, ok := row.groups[0].(string); ok {
			if v := row.value(LatencyP95); v != nil {
				out[id] = *v
			}
		}
	}
	return out, nil
}

// Users lists users with their activity in the range, and how many match.
func (e *Engine) Users(ctx context.Context, q ListSpec) ([]UserSummary, int64, error) {
	if e.onClickHouse() { // dispatch hook: dialect_clickhouse_profiles.go
		return e.chUsers(ctx, q)
	}
	if err := q.check(); err != nil {
		return nil, 0, err
	}
	var ids []any
	if q.ID != "" {
		ids = []any{q.ID}
	} else if q.CompanyID != "" {
		// A company's users: their totals only, not every user's.
		var err error
		if ids, err = e.companyUsers(ctx, q.AppID, q.CompanyID); err != nil {
			return nil, 0, err
		}
		if ids != nil && len(ids) == 0 {
			return []UserSummary{}, 0, nil
		}
	}
	where := []string{"u.app_id = ?"}
	wargs := []any{q.AppID}
	if q.Search != "" {
		where = append(where, "("+e.c.d.ContainsFold("u.user_id")+" OR "+e.c.d.ContainsFold("coalesce(u.company_id, '')")+
			" OR "+e.c.d.ContainsFold("coalesce(u.metadata, '')")+")")
		wargs = append(wargs, q.Search, q.Search, q.Search)
	}
	if q.CompanyID != "" {
		where = append(where, "u.company_id = ?")
		wargs = append(wargs, q.CompanyID)
	}
	if q.ID != "" {
		where = append(where, "u.user_id = ?")
		wargs = append(wargs, q.ID)
	}
	count := sqlExpr{"SELECT count(*) FROM users u WHERE " + strings.Join(where, " AND "), wargs}
	// list is the statement of the users' summaries, of the users some
	// alone when it is not nil.
	list := func(some []string) (sqlExpr, error) {
		w, wa, only := where, wargs, ids
		if some != nil {
			only = make([]any, len(some))
			for i, id := range some {
				only[i] = id
			}
			w = append(append([]string{}, where...), "u.user_id IN ("+placeholders(len(some))+")")
			wa = append(append([]any{}, wargs...), only...)
		}
		stats, err := e.statsFor(ctx, q.AppID, q.Range, "user_id", only)
		if q.noStats {
			stats, err = noStats, nil
		}
		if err != nil {
			return sqlExpr{}, err
		}
		return sqlExpr{`SELECT u.user_id AS id, u.company_id, u.first_seen, u.last_seen, u.metadata,
		coalesce(s.n, 0) AS n, coalesce(s.e4, 0) AS e4, coalesce(s.e5, 0) AS e5,
		CASE WHEN coalesce(s.n, 0) = 0 THEN NULL ELSE (s.e4 + s.e5) / s.n END AS err_rate
		FROM users u LEFT JOIN (` + stats.text + `) s ON s.g0 = u.user_id WHERE ` + strings.Join(w, " AND "),
			append(append([]any{}, stats.args...), wa...)}, nil
	}
	if q.Sort == "latency_p95" && !q.noStats {
		ids := sqlExpr{"SELECT u.user_id FROM users u WHERE " + strings.Join(where, " AND "), wargs}
		return listOf[UserSummary](e.usersByP95(ctx, ids, list, q))
	}
	all, err := list(nil)
	if err != nil {
		return nil, 0, err
	}
	return listOf[UserSummary](e.countedPage(ctx, count, q, all.text, all.args, "user_id", scanUserSummary))
}

// noStats stands for the totals of a list whose figures are left out.
var noStats = sqlExpr{text: "SELECT CAST(NULL AS VARCHAR) AS g0, 0 AS n, 0 AS e4, 0 AS e5 WHERE false"}

// maxCompanyUsers is the most users of a company whose ids restrict a
// statement; a larger company's lists compute every user's totals.
const maxCompanyUsers = 1000

// companyUsers returns the ids of the users linked to a company, or nil
// (no restriction) when there are more than maxCompanyUsers. A company
// without users gives an empty, non-nil list.
func (e *Engine) companyUsers(ctx context.Context, app, company string) ([]any, error) {
	linked, err := e.linkedUsers(ctx, app, company) // profile_company.go
	if err != nil || linked == nil {
		return nil, err
	}
	ids := make([]any, len(linked))
	for i, u := range linked {
		ids[i] = u.UserID
	}
	return ids, nil
}

// countedPage runs pageOf and count, which counts the entities the list
// holds.
func (e *Engine) countedPage(ctx context.Context, count sqlExpr, q ListSpec, base string, args []any, group string,
	scan func(*sql.Rows) (string, any, error)) ([]any, int64, error) {
	var total int64
	if err := e.queryRow(ctx, count, &total); err != nil {
		return nil, 0, fmt.Errorf("count %s: %w", group, err)
	}
	list, err := e.pageOf(ctx, q, base, args, group, scan)
	return list, total, err
}

// pageOf runs a list statement with the sort, paging and p95 of q. Sorted
// by p95, the statement lists every entity, their p95s are computed
// meanwhile, and the page is cut in Go (the users' list on DuckDB takes
// usersByP95's two passes instead, bands.go).
func (e *Engine) pageOf(ctx context.Context, q ListSpec, base string, args []any, group string,
	scan func(*sql.Rows) (string, any, error)) ([]any, error) {
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	byP95 := q.Sort == "latency_p95"
	stmt := base
	if !byP95 {
		stmt += " ORDER BY " + listSorts[q.Sort] + " " + dir + " NULLS LAST, id ASC LIMIT " + strconv.Itoa(q.Limit) + " OFFSET " + strconv.Itoa(q.Offset)
	}
	// Sorted by p95, every entity's p95 is needed; its statement reads the
	// histograms while this one reads the totals.
	var p95 map[string]float64
	var p95Err error
	done := make(chan struct{})
	if byP95 && !q.noStats {
		go func() {
			defer close(done)
			p95, p95Err = e.p95By(ctx, q.AppID, q.Range, group, nil)
		}()
	} else {
		close(done)
	}
	defer func() { <-done }()
	rows, err := e.query(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", group, err)
	}
	var items []pageItem
	for rows.Next() {
		id, v, err := scan(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list %s: %w", group, err)
		}
		items = append(items, pageItem{id, v})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", group, err)
	}
	<-done
	if p95Err != nil {
		return nil, p95Err
	}
	if p95 == nil {
		p95 = map[string]float64{}
	}
	switch {
	case byP95:
		sortByValue(items, p95, q.Desc)
		items = items[min(q.Offset, len(items)):min(q.Offset+q.Limit, len(items))]
	case !q.noStats:
		ids := []string{}
		for _, it := range items {
			ids = append(ids, it.id)
		}
		if p95, err = e.p95By(ctx, q.AppID, q.Range, group, ids); err != nil {
			return nil, err
		}
	}
	out := make([]any, len(items))
	for i, it := range items {
		if p, ok := p95[it.id]; ok {
			switch x := it.v.(type) {
			case *UserSummary:
				x.LatencyP95 = &p
			case *CompanySummary:
				x.LatencyP95 = &p
			}
		}
		out[i] = it.v
	}
	return out, nil
}

// Companies lists companies: those with a profile, those users are linked
// to, and those events name, with their activity in the range.
func (e *Engine) Companies(ctx context.Context, q ListSpec) ([]CompanySummary, int64, error) {
	if e.onClickHouse() { // dispatch hook: dialect_clickhouse_profiles.go
		return e.chCompanies(ctx, q)
	}
	if err := q.check(); err != nil {
		return nil, 0, err
	}
	stats, err := e.statsOf(ctx, q.AppID, q.Range, "company_id", q.ID)
	if q.noStats {
		stats, err = noStats, nil
	}
	if err != nil {
		return nil, 0, err
	}
	ids := `SELECT company_id AS id FROM companies WHERE app_id = ?
		UNION SELECT company_id FROM users WHERE app_id = ? AND company_id IS NOT NULL`
	idArgs := []any{q.AppID, q.AppID}
	where := []string{"true"}
	var wargs []any
	if q.Search != "" {
		where = append(where, "("+e.c.d.ContainsFold("i.id")+" OR "+e.c.d.ContainsFold("coalesce(c.domain, '')")+
			" OR "+e.c.d.ContainsFold("coalesce(c.metadata, '')")+")")
		wargs = append(wargs, q.Search, q.Search, q.Search)
	}
	if q.ID != "" {
		where = append(where, "i.id = ?")
		wargs = append(wargs, q.ID)
	}
	from := `(` + ids + `) i LEFT JOIN companies c ON c.app_id = ? AND c.company_id = i.id
		LEFT JOIN (SELECT company_id, count(*) AS users, min(first_seen) AS first_seen, max(last_seen) AS last_seen
			FROM users WHERE app_id = ? AND company_id IS NOT NULL GROUP BY company_id) us ON us.company_id = i.id`
	fromArgs := append(append([]any{}, idArgs...), q.AppID, q.AppID)
	count := sqlExpr{"SELECT count(*) FROM " + from + " WHERE " + strings.Join(where, " AND "), append(append([]any{}, fromArgs...), wargs...)}
	base := `SELECT i.id AS id, c.domain, least(c.first_seen, us.first_seen) AS first_seen,
		greatest(c.last_seen, us.last_seen) AS last_seen, c.metadata, coalesce(us.users, 0) AS users,
		coalesce(s.n, 0) AS n, coalesce(s.e4, 0) AS e4, coalesce(s.e5, 0) AS e5,
		CASE WHEN coalesce(s.n, 0) = 0 THEN NULL ELSE (s.e4 + s.e5) / s.n END AS err_rate
		FROM ` + from + ` LEFT JOIN (` + stats.text + `) s ON s.g0 = i.id WHERE ` + strings.Join(where, " AND ")
	args := append(append(append([]any{}, fromArgs...), stats.args...), wargs...)
	return listOf[CompanySummary](e.countedPage(ctx, count, q, base, args, "company_id", scanCompanySummary))
}

func rawJSON(s *string) json.RawMessage {
	if s == nil || *s == "" {
		return json.RawMessage("{}")
	}
	return json.RawMessage(*s)
}

func utcPtr(t *time.Time) {
	if t != nil {
		*t = t.UTC()
	}
}

// topRoutes is how many routes a profile lists.
const topRoutes = 10

// RouteStats is a row of a profile's top routes.
type RouteStats struct {
	Method     *string  `json:"method"`
	Route      *string  `json:"route"`
	Requests   int64    `json:"requests"`
	ErrorRate  *float64 `json:"error_rate"`
	LatencyP95 *float64 `json:"latency_p95"`
}

// Profile is a user's or company's page.
type Profile struct {
	User         *UserSummary    `json:"user,omitempty"`
	Company      *CompanySummary `json:"company,omitempty"`
	Totals       Stats           `json:"totals"`
	Series       *TimeSeries     `json:"series"`
	TopRoutes    []RouteStats    `json:"top_routes"`
	RecentEvents []Event         `json:"recent_events"`
	Users        []UserSummary   `json:"users,omitempty"`
}

// ProfileSpec asks for a profile.
type ProfileSpec struct {
	AppID    string
	ID       string
	Range    Range
	Interval Interval
}

// UserProfile returns a user's profile; store.ErrNotFound if unknown.
func (e *Engine) UserProfile(ctx context.Context, q ProfileSpec) (*Profile, error) {
	p := &Profile{}
	fast := !e.onClickHouse() // the totals come with the routes
	err := e.profile(ctx, q, "user_id", func(ctx context.Context) error {
		list, _, err := e.Users(ctx, ListSpec{AppID: q.AppID, Range: q.Range, ID: q.ID, Limit: 1, noStats: fast})
		if err == nil && len(list) == 1 {
			p.User = &list[0]
			if !fast {
				p.Totals = list[0].Stats
			}
		}
		return err
	}, p)
	if err == nil && p.User == nil {
		err = fmt.Errorf("user %q: %w", q.ID, store.ErrNotFound)
	}
	if err == nil && fast {
		p.User.Stats = p.Totals
	}
	return p, err
}

// CompanyProfile returns a company's profile with its users, the busiest
// first; store.ErrNotFound if unknown.
func (e *Engine) CompanyProfile(ctx context.Context, q ProfileSpec) (*Profile, error) {
	if !e.onClickHouse() {
		return e.duckCompanyProfile(ctx, q) // profile_company.go
	}
	p := &Profile{}
	err := e.profile(ctx, q, "company_id", func(ctx context.Context) error {
		list, _, err := e.Companies(ctx, ListSpec{AppID: q.AppID, Range: q.Range, ID: q.ID, Limit: 1})
		if err == nil && len(list) == 1 {
			p.Company = &list[0]
			p.Totals = list[0].Stats
		}
		return err
	}, p, func(ctx context.Context) error {
		var err error
		p.Users, _, err = e.Users(ctx, ListSpec{AppID: q.AppID, Range: q.Range, CompanyID: q.ID, Limit: companyProfileUsers, Sort: "requests", Desc: true})
		return err
	})
	if err == nil && p.Company == nil {
		err = fmt.Errorf("company %q: %w", q.ID, store.ErrNotFound)
	}
	return p, err
}

// profile fills p's series, top routes and recent events for the events
// whose field is q.ID, and runs summary (which sets the user or company
// and, on ClickHouse, the totals, its figures being the same; on DuckDB
// the routes' statement gives them) and the extra parts: all
// concurrently, as they are independent and DuckDB leaves a core idle in
// much of a small statement.
func (e *Engine) profile(ctx context.Context, q ProfileSpec, field string, summary func(context.Context) error, p *Profile,
	extra ...func(context.Context) error) error {
	f, _ := ParseField(field)
	cond, err := NewCondition(f, OpEq, q.ID)
	if err != nil {
		return err
	}
	parts := append([]func(context.Context) error{summary,
		func(ctx context.Context) error {
			var err error
			p.Series, err = e.TimeSeries(ctx, SeriesSpec{AppID: q.AppID, Range: q.Range, Filter: cond, Metric: Count, Interval: q.Interval})
			return err
		},
		func(ctx context.Context) error {
			var err error
			if e.onClickHouse() {
				p.TopRoutes, err = e.topRoutes(ctx, q, cond)
			} else {
				p.TopRoutes, p.Totals, err = e.profileRoutes(ctx, q, cond) // profile_routes.go
			}
			return err
		},
		func(ctx context.Context) error {
			var err error
			p.RecentEvents, _, err = e.Events(ctx, q.AppID, q.Range, cond, Page{Limit: 20})
			return err
		},
	}, extra...)
	return runParts(ctx, parts)
}

// runParts runs parts concurrently; the first to fail cancels the others,
// and its error is returned.
func runParts(ctx context.Context, parts []func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, part := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = part(ctx); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errors.Join(errs...)
}

// topRoutes is a profile's busiest routes, ties by method then route. The
// counts and the percentiles are two statements run concurrently.
func (e *Engine) topRoutes(ctx context.Context, q ProfileSpec, cond *Filter) ([]RouteStats, error) {
	method, _ := ParseField("method")
	route, _ := ParseField("route")
	// Every route, then the top ones: a cut ranking would restrict the
	// percentiles to its groups with a condition on two fields, which
	// costs more than the few routes past them.
	spec := SegSpec{AppID: q.AppID, Range: q.Range, Filter: cond, GroupBy: []Field{method, route}, Limit: MaxSegRows}
	var counts, p95s []map[string]any
	var errCounts, errP95 error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := spec
		s.Metrics = []Metric{LatencyP95}
		p95s, errP95 = e.Segmentation(ctx, s)
	}()
	spec.Metrics = []Metric{Count, ErrorRate}
	counts, errCounts = e.Segmentation(ctx, spec)
	wg.Wait()
	if err := errors.Join(errCounts, errP95); err != nil {
		return nil, err
	}
	key := func(r map[string]any) string {
		return fmt.Sprintf("%T:%v\x00%T:%v", r["method"], r["method"], r["route"], r["route"])
	}
	p95 := map[string]*float64{}
	for _, r := range p95s {
		p95[key(r)] = r["latency_p95"].(*float64)
	}
	out := []RouteStats{}
	for _, r := range counts[:min(len(counts), topRoutes)] {
		rs := RouteStats{Requests: int64(*r["count"].(*float64)), ErrorRate: r["error_rate"].(*float64), LatencyP95: p95[key(r)]}
		if s, ok := r["method"].(string); ok {
			rs.Method = &s
		}
		if s, ok := r["route"].(string); ok {
			rs.Route = &s
		}
		out = append(out, rs)
	}
	return out, nil
}

// listCounts are the columns every list row ends with: requests, 4xx,
// 5xx and the error rate (recomputed in Go from the counts).
type listCounts struct {
	n, e4, e5 float64
	rate      *float64
}

func (c *listCounts) dest() []any { return []any{&c.n, &c.e4, &c.e5, &c.rate} }

func (c *listCounts) stats() Stats {
	s := Stats{Requests: int64(c.n), Errors4xx: int64(c.e4), Errors5xx: int64(c.e5)}
	s.setRate()
	return s
}

// scanUserSummary reads a row of a users list statement (id, company,
// first and last seen, metadata, then listCounts): the same columns on
// every dialect.
func scanUserSummary(rows *sql.Rows) (string, any, error) {
	var u UserSummary
	var meta *string
	var c listCounts
	if err := rows.Scan(append([]any{&u.UserID, &u.CompanyID, &u.FirstSeen, &u.LastSeen, &meta}, c.dest()...)...); err != nil {
		return "", nil, err
	}
	u.Metadata, u.Stats = rawJSON(meta), c.stats()
	utcPtr(u.FirstSeen)
	utcPtr(u.LastSeen)
	return u.UserID, &u, nil
}

// scanCompanySummary reads a row of a companies list statement: as
// scanUserSummary, with the domain after the id and the users count after
// the metadata.
func scanCompanySummary(rows *sql.Rows) (string, any, error) {
	var co CompanySummary
	var meta *string
	var c listCounts
	if err := rows.Scan(append([]any{&co.CompanyID, &co.Domain, &co.FirstSeen, &co.LastSeen, &meta, &co.Users}, c.dest()...)...); err != nil {
		return "", nil, err
	}
	co.Metadata, co.Stats = rawJSON(meta), c.stats()
	utcPtr(co.FirstSeen)
	utcPtr(co.LastSeen)
	return co.CompanyID, &co, nil
}

// listOf turns pageOf's entries, which scan made *T, into a list.
func listOf[T any](list []any, total int64, err error) ([]T, int64, error) {
	if err != nil {
		return nil, 0, err
	}
	out := make([]T, 0, len(list))
	for _, x := range list {
		out = append(out, *x.(*T))
	}
	return out, total, nil
}

package query_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query"
	"github.com/gatescope/gatescope/internal/store/duckdb"
)

// histBucket restates docs/api.md's latency histogram: bucket 0 holds
// [0, 1) ms and bucket b >= 1 holds [1.1^(b-1), 1.1^b) ms.
func histBucket(ms float64) int {
	if ms < 1 {
		return 0
	}
	return min(int(math.Floor(math.Log(ms)/math.Log(1.1)))+1, 200)
}

// bucketP95 is the p95 the lists report: the value standing for the
// bucket of the nearest-rank p95 of the latencies' buckets (the
// geometric-tolerance midpoint of the bucket, docs/api.md).
func bucketP95(lat []float64) *float64 {
	if len(lat) == 0 {
		return nil
	}
	bs := make([]int, len(lat))
	for i, x := range lat {
		bs[i] = histBucket(x)
	}
	slices.Sort(bs)
	b := bs[(95*len(bs)+99)/100-1]
	v := 0.5
	if b > 0 {
		v = 2 * math.Pow(1.1, float64(b-1)) * 1.1 / 2.1
	}
	return &v
}

// p95Fixture is a store of users whose p95s fall in buckets of our
// choosing, and those p95s computed in Go.
type p95Fixture struct {
	r              query.Range
	users, cos     int
	userP95, coP95 map[string]*float64
	// spanUserP95 and spanCoP95 are over every event, the range's and
	// the earlier ones (which start the week, a Monday).
	spanUserP95, spanCoP95 map[string]*float64
	engines                map[string]*query.Engine
	st                     *duckdb.Store
}

// newP95Fixture stores users users of cos companies (user u in company
// u % cos, linked to it and naming it on its events), each with n(u)
// events whose p95 falls in bucket top(u). Every 17th user's events are
// before the range and every 11th user's have no latency.
func newP95Fixture(t *testing.T, users, cos int, n, top func(u int) int) *p95Fixture {
	rnd := rand.New(rand.NewPCG(5, 5))
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	f := &p95Fixture{r: query.Range{From: start.Add(3 * time.Hour), To: start.Add(3*24*time.Hour + 5*time.Hour)},
		users: users, cos: cos, userP95: map[string]*float64{}, coP95: map[string]*float64{}}
	var evs []event.Event
	var links []event.UserUpdate
	lat := map[string][]float64{}  // user -> latencies in the range
	clat := map[string][]float64{} // company -> latencies in the range
	// and the same over every event
	slat, sclat := map[string][]float64{}, map[string][]float64{}
	for u := range users {
		id := fmt.Sprintf("u%04d", u)
		co := fmt.Sprintf("c%02d", u%cos)
		links = append(links, event.UserUpdate{AppID: "app1", UserID: id, CompanyID: co, Modified: start})
		n := n(u)
		high := n - (95*n+99)/100 + 1 // this many at the top make the p95 one of them
		topMs := 1.05 * math.Pow(1.1, float64(top(u)-1))
		for i := range n {
			at := f.r.From.Add(time.Duration(rnd.Int64N(int64(f.r.To.Sub(f.r.From)))))
			if u%17 == 0 {
				at = start.Add(time.Duration(rnd.Int64N(int64(time.Hour)))) // before the range
			}
			ms := float64(1 + rnd.IntN(200))
			if i < high {
				ms = topMs * (1 + 0.04*rnd.Float64()) // within the bucket
			}
			if u%11 == 0 {
				ms = event.Absent
			}
			evs = append(evs, event.Event{AppID: "app1", RequestID: fmt.Sprintf("r-%s-%d", id, i), Time: at,
				Method: "GET", Path: "/x", Route: "/x", Status: 200, LatencyMs: ms, IntegrationLatencyMs: event.Absent,
				ResponseBytes: 10, UserID: id, CompanyID: co, Source: event.SourceFirehose})
			if !at.Before(f.r.From) && at.Before(f.r.To) && ms != event.Absent {
				lat[id] = append(lat[id], ms)
				clat[co] = append(clat[co], ms)
			}
			if ms != event.Absent {
				slat[id] = append(slat[id], ms)
				sclat[co] = append(sclat[co], ms)
			}
		}
		f.userP95[id] = nil
		f.coP95[co] = nil
	}
	f.spanUserP95, f.spanCoP95 = map[string]*float64{}, map[string]*float64{}
	for id := range f.userP95 {
		f.userP95[id] = bucketP95(lat[id])
		f.spanUserP95[id] = bucketP95(slat[id])
	}
	for co := range f.coP95 {
		f.coP95[co] = bucketP95(clat[co])
		f.spanCoP95[co] = bucketP95(sclat[co])
	}
	rnd.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	slices.SortStableFunc(evs, func(a, b event.Event) int { return a.Time.Compare(b.Time) })
	f.st = openStore(t)
	load(t, f.st, "app1", evs, links, 900)
	f.engines = duckEngines(t, f.st)
	return f
}

// sortedByP95 sorts ids by their p95 as the lists do: those without one
// last, ties by id.
func sortedByP95(p95 map[string]*float64, desc bool) []string {
	ids := make([]string, 0, len(p95))
	for id := range p95 {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		x, y := p95[a], p95[b]
		switch {
		case (x == nil) != (y == nil):
			if x == nil {
				return 1
			}
			return -1
		case x != nil && *x != *y:
			if desc {
				return cmp.Compare(*y, *x)
			}
			return cmp.Compare(*x, *y)
		}
		return cmp.Compare(a, b)
	})
	return ids
}

// samePage says how a page (its ids and p95s) differs from the ids
// wanted, whose p95s are in ref; nil if it does not.
func samePage(got []string, p95s []*float64, ids []string, ref map[string]*float64) error {
	if !slices.Equal(got, ids) {
		return fmt.Errorf("ids %v, want %v", got, ids)
	}
	for i, id := range ids {
		g, w := p95s[i], ref[id]
		if (g == nil) != (w == nil) || g != nil && math.Abs(*g-*w) > 1e-9**w {
			return fmt.Errorf("%s: p95 %s, want %s", id, fmtv(g), fmtv(w))
		}
	}
	return nil
}

// companiesPage lists a page of the companies sorted by p95: their ids
// and p95s.
func companiesPage(t *testing.T, e *query.Engine, q query.ListSpec) ([]string, []*float64) {
	ids, p95s, _ := pageByP95(t, e.Companies, q, func(c query.CompanySummary) (string, *float64) { return c.CompanyID, c.LatencyP95 })
	return ids, p95s
}

// usersPage lists a page of the users sorted by p95: their ids and p95s.
func usersPage(t *testing.T, e *query.Engine, q query.ListSpec) ([]string, []*float64, int64) {
	return pageByP95(t, e.Users, q, func(u query.UserSummary) (string, *float64) { return u.UserID, u.LatencyP95 })
}

// pageByP95 lists a page sorted by p95 with list (an engine's Users or
// Companies): its ids and p95s, as of reads them, and the list's total.
func pageByP95[T any](t *testing.T, list func(context.Context, query.ListSpec) ([]T, int64, error), q query.ListSpec,
	of func(T) (string, *float64)) ([]string, []*float64, int64) {
	t.Helper()
	q.AppID, q.Sort = "app1", "latency_p95"
	items, total, err := list(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	ids, p95s := idsAndP95s(items, of)
	return ids, p95s, total
}

// segByP95 is a segmentation by user sorted by p95: its users' ids and
// p95s.
func segByP95(t *testing.T, e *query.Engine, r query.Range, desc bool, limit int) ([]string, []*float64) {
	t.Helper()
	u, _ := query.ParseField("user_id")
	rows, err := e.Segmentation(context.Background(), query.SegSpec{AppID: "app1", Range: r, GroupBy: []query.Field{u},
		Metrics: []query.Metric{query.Count, query.LatencyP95}, Sort: "latency_p95", Desc: desc, Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	return idsAndP95s(rows, func(row map[string]any) (string, *float64) {
		id, _ := row["user_id"].(string)
		p, _ := row["latency_p95"].(*float64)
		return id, p
	})
}

// idsAndP95s lists the ids and p95s of a page's items, as of reads them.
func idsAndP95s[T any](items []T, of func(T) (string, *float64)) ([]string, []*float64) {
	var ids []string
	var p95s []*float64
	for _, it := range items {
		id, p := of(it)
		ids = append(ids, id)
		p95s = append(p95s, p)
	}
	return ids, p95s
}

// inRange keeps the ids of the users with events in the fixture's range,
// the rows of a segmentation by user: every 17th user's events are before
// it.
func inRange(ids []string) []string {
	var out []string
	for _, id := range ids {
		var u int
		fmt.Sscanf(id, "u%04d", &u)
		if u%17 != 0 {
			out = append(out, id)
		}
	}
	return out
}

// TestListSortedByP95 pages the users and companies lists sorted by p95
// both ways, ranks the users in a segmentation by p95, and checks every
// page against the order computed in Go. The
// users' p95s crowd into a few histogram buckets on both sides of a band
// edge (buckets 72 and 80 start bands of 8), so pages start and end
// amid users tied on their band and on their bucket; some users have
// no latency, and some no event in the range.
func TestListSortedByP95(t *testing.T) {
	const users, companies = 240, 30
	f := newP95Fixture(t, users, companies, func(u int) int { return 20 + u%13 },
		func(u int) int { return 66 + (u*7)%16 }) // buckets 66 to 81
	byP95 := sortedByP95(f.userP95, true)
	tied := 0
	for _, id := range byP95[:60] {
		if *f.userP95[id] == *f.userP95[byP95[59]] {
			tied++
		}
	}
	if tied < 5 {
		t.Fatalf("the fixture ties %d users on the 60th's p95, want several", tied)
	}
	// A search and a company restrict the list; the sort and its pages
	// stay.
	subsets := []struct {
		search, company string
		keep            func(u int) bool
	}{
		{keep: func(int) bool { return true }},
		{search: "u01", keep: func(u int) bool { return strings.Contains(fmt.Sprintf("u%04d", u), "u01") }},
		{company: "c07", keep: func(u int) bool { return u%companies == 7 }},
	}
	for ename, e := range f.engines {
		for _, desc := range []bool{true, false} {
			for _, pg := range []struct{ offset, limit int }{{0, 50}, {0, 7}, {3, 7}, {10, 1}, {25, 40}, {44, 9},
				{100, 50}, {190, 30}, {215, 10}, {235, 50}, {240, 5}, {500, 5}} {
				name := fmt.Sprintf("%s desc=%v offset=%d limit=%d", ename, desc, pg.offset, pg.limit)
				for _, sub := range subsets {
					var want []string
					for _, id := range sortedByP95(f.userP95, desc) {
						var u int
						fmt.Sscanf(id, "u%04d", &u)
						if sub.keep(u) {
							want = append(want, id)
						}
					}
					got, p95s, total := usersPage(t, e, query.ListSpec{Range: f.r, Desc: desc, Offset: pg.offset,
						Limit: pg.limit, Search: sub.search, CompanyID: sub.company})
					if total != int64(len(want)) {
						t.Errorf("%s search %q company %q: %d users, want %d", name, sub.search, sub.company, total, len(want))
					}
					want = want[min(pg.offset, len(want)):min(pg.offset+pg.limit, len(want))]
					if err := samePage(got, p95s, want, f.userP95); err != nil {
						t.Errorf("%s search %q company %q: users: %v", name, sub.search, sub.company, err)
					}
				}
				if pg.offset == 0 {
					// A segmentation by user sorted by p95 ranks the same.
					got, p95s := segByP95(t, e, f.r, desc, pg.limit)
					want := inRange(sortedByP95(f.userP95, desc))
					if err := samePage(got, p95s, want[:min(pg.limit, len(want))], f.userP95); err != nil {
						t.Errorf("%s: segmentation: %v", name, err)
					}
				}
				if pg.offset >= companies+5 {
					continue
				}
				got, p95s := companiesPage(t, e, query.ListSpec{Range: f.r, Desc: desc, Offset: pg.offset, Limit: pg.limit})
				want := sortedByP95(f.coP95, desc)
				want = want[min(pg.offset, companies):min(pg.offset+pg.limit, companies)]
				if err := samePage(got, p95s, want, f.coP95); err != nil {
					t.Errorf("%s: companies: %v", name, err)
				}
			}
		}
	}
}

// TestListSortedByP95Crowded pages the users sorted by p95, and ranks
// them in a segmentation, when more users share the page's band than the
// second pass takes by id: every user's p95 is then computed.
func TestListSortedByP95Crowded(t *testing.T) {
	const users = 1300
	f := newP95Fixture(t, users, 10, func(u int) int { return 3 + u%4 },
		func(u int) int { return 73 + u%5 }) // buckets 73 to 77, one band
	for ename, e := range f.engines {
		for _, desc := range []bool{true, false} {
			byP95 := sortedByP95(f.userP95, desc)
			for _, pg := range []struct{ offset, limit int }{{0, 50}, {130, 20}, {700, 50}, {1150, 100}} {
				name := fmt.Sprintf("%s desc=%v offset=%d limit=%d", ename, desc, pg.offset, pg.limit)
				got, p95s, _ := usersPage(t, e, query.ListSpec{Range: f.r, Desc: desc, Offset: pg.offset, Limit: pg.limit})
				want := byP95[min(pg.offset, users):min(pg.offset+pg.limit, users)]
				if err := samePage(got, p95s, want, f.userP95); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
			got, p95s := segByP95(t, e, f.r, desc, 50)
			want := inRange(byP95)[:50]
			if err := samePage(got, p95s, want, f.userP95); err != nil {
				t.Errorf("%s desc=%v: segmentation: %v", ename, desc, err)
			}
		}
	}
}

// TestSegmentationByUserSortedByP95 asks a segmentation by user sorted by
// p95 for every metric, cut to a few users and whole: the rows must be the
// users the histograms rank first, ties by id and the anonymous calls'
// NULL user last, each with its own figures.
func TestSegmentationByUserSortedByP95(t *testing.T) {
	k := newKnownEnv(t)
	ctx := context.Background()
	r := query.Range{From: k.f.start.Add(2*time.Hour + 10*time.Minute), To: k.f.start.Add(50 * time.Hour)}
	const null = "\U0010FFFF"
	want := map[string]*figures{}
	for i := range k.f.events {
		ev := &k.f.events[i]
		if ev.Time.Before(r.From) || !ev.Time.Before(r.To) {
			continue
		}
		key := ev.UserID
		if key == "" {
			key = null
		}
		if want[key] == nil {
			want[key] = newFigures()
		}
		want[key].add(ev, k.company(ev))
	}
	// The order the engine's histograms give, ties by id, NULL last (its
	// key sorts after every id).
	p95 := map[string]*float64{}
	for key, f := range want {
		p95[key] = bucketP95(f.lat)
	}
	u, _ := query.ParseField("user_id")
	for ename, e := range k.engines {
		for _, desc := range []bool{true, false} {
			order := sortedByP95(p95, desc)
			for _, limit := range []int{1, 7, 20, 1000} {
				name := fmt.Sprintf("%s desc=%v limit=%d", ename, desc, limit)
				rows, err := e.Segmentation(ctx, query.SegSpec{AppID: k.f.app, Range: r, GroupBy: []query.Field{u},
					Metrics: query.Metrics, Sort: "latency_p95", Desc: desc, Limit: limit})
				if err != nil {
					t.Fatal(err)
				}
				wantIDs := order[:min(limit, len(order))]
				var got []string
				for _, row := range rows {
					key := null
					if v, ok := row["user_id"].(string); ok {
						key = v
					}
					got = append(got, key)
					f := want[key]
					if f == nil {
						t.Errorf("%s: unexpected user %q", name, key)
						continue
					}
					sameFigures(t, fmt.Sprintf("%s: user %q", name, key), row, f)
				}
				// ClickHouse ranks by its exact percentiles, not buckets.
				if !strings.HasPrefix(ename, "clickhouse") && !slices.Equal(got, wantIDs) {
					t.Errorf("%s: users %q, want %q", name, got, wantIDs)
				}
				if len(got) != len(wantIDs) {
					t.Errorf("%s: %d rows, want %d", name, len(got), len(wantIDs))
				}
			}
		}
	}
}

package query_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/query"
)

// TestOpenWeek lists the users and companies sorted by p95, and ranks the
// users in a segmentation, over a range that starts before the week of
// the fixture's events: the open week's rows (query/openweek.go) then
// answer for its days and done hours, and every page must hold the p95s
// computed in Go from every event. A statement planned with the rows'
// end that a load has since moved must fail, to be run again.
func TestOpenWeek(t *testing.T) {
	const users, companies = 240, 12
	f := newP95Fixture(t, users, companies, func(u int) int { return 20 + u%13 },
		func(u int) int { return 66 + (u*7)%16 })
	ctx := context.Background()
	r := query.Range{From: f.r.From.Add(-2 * 24 * time.Hour), To: f.r.To}
	open, bandCols, err := f.engines["rollups"].OpenWeekPlan(ctx, "app1", r, true, nil)
	if err != nil || !open || !bandCols {
		t.Fatalf("the bands' plan reads the open week's rows: %v, their band columns: %v (%v), want both", open, bandCols, err)
	}
	if open, bandCols, _ := f.engines["rollups"].OpenWeekPlan(ctx, "app1", f.r, true, nil); open || bandCols {
		t.Fatalf("the fixture's range starts within the week: it cannot read the open week's rows or bands")
	}
	for ename, e := range f.engines {
		for _, desc := range []bool{true, false} {
			byP95 := sortedByP95(f.spanUserP95, desc)
			for _, pg := range []struct{ offset, limit int }{{0, 50}, {0, users}, {37, 20}} {
				name := fmt.Sprintf("%s desc=%v offset=%d limit=%d", ename, desc, pg.offset, pg.limit)
				got, p95s, _ := usersPage(t, e, query.ListSpec{Range: r, Desc: desc, Offset: pg.offset, Limit: pg.limit})
				if err := samePage(got, p95s, byP95[pg.offset:pg.offset+pg.limit], f.spanUserP95); err != nil {
					t.Errorf("%s: users: %v", name, err)
				}
			}
			got, p95s := segByP95(t, e, r, desc, 50)
			if err := samePage(got, p95s, byP95[:50], f.spanUserP95); err != nil {
				t.Errorf("%s desc=%v: segmentation: %v", ename, desc, err)
			}
			got, p95s = companiesPage(t, e, query.ListSpec{Range: r, Desc: desc, Limit: companies})
			if err := samePage(got, p95s, sortedByP95(f.spanCoP95, desc), f.spanCoP95); err != nil {
				t.Errorf("%s desc=%v: companies: %v", ename, desc, err)
			}
		}
	}
	move := func(by string) func() error {
		return func() error {
			rows, err := f.st.Query(ctx, "UPDATE rollup_state SET open_to = open_to + INTERVAL '"+by+"'")
			if err == nil {
				rows.Close()
			}
			return err
		}
	}
	for _, bands := range []bool{false, true} {
		_, _, err = f.engines["rollups"].OpenWeekPlan(ctx, "app1", r, bands, move("1 hour"))
		if !query.IsRollupsMoved(err) {
			t.Errorf("bands=%v: a statement planned before open_to moved: %v, want ErrRollupsMoved", bands, err)
		}
		if err := move("-1 hour")(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.engines["rollups"].OpenWeekPlan(ctx, "app1", r, bands, nil); err != nil {
			t.Errorf("bands=%v: open_to moved back: %v", bands, err)
		}
	}
}

package query_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query"
	"github.com/gatescope/gatescope/internal/store"
)

// TestCompanyOfManyUsers: a company with more linked users than its
// profile names in its statement (1 000) still has the totals and users
// counted from the fixture in Go. Its sealed days come from the
// route-ordered rollup then, the others' from the company-ordered one.
func TestCompanyOfManyUsers(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	f := newFixture("app1", 3000, 17)
	const company = "linked-1"
	links := f.links
	for i := range 1001 {
		links = append(links, event.UserUpdate{AppID: f.app, UserID: fmt.Sprintf("many-%04d", i), CompanyID: company, Modified: f.start})
	}
	load(t, s, f.app, f.events, links, 1000)
	r := query.Range{From: f.start.Add(2*time.Hour + 17*time.Minute), To: f.start.Add(3 * 24 * time.Hour)}
	var total int64
	perUser := map[string]int64{}
	for _, ev := range f.events {
		if ev.Time.Before(r.From) || !ev.Time.Before(r.To) {
			continue
		}
		if ev.CompanyID == company || ev.CompanyID == "" && f.linked[ev.UserID] == company {
			total++
		}
		if f.linked[ev.UserID] == company {
			perUser[ev.UserID]++
		}
	}
	if total == 0 || len(perUser) == 0 {
		t.Fatal("the company has no events; the case proves nothing")
	}
	for name, e := range duckEngines(t, s) {
		for _, id := range []string{company, "linked-2"} {
			p, err := e.CompanyProfile(ctx, query.ProfileSpec{AppID: f.app, ID: id, Range: r, Interval: dayInterval(t, r)})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if id != company {
				if len(p.Users) == 0 || len(p.Users) > 40 {
					t.Errorf("%s: %s lists %d users", name, id, len(p.Users))
				}
				continue
			}
			if p.Totals.Requests != total {
				t.Errorf("%s: %d requests, want %d", name, p.Totals.Requests, total)
			}
			if len(p.Users) != 100 {
				t.Errorf("%s: %d users listed, want the busiest 100", name, len(p.Users))
			}
			for _, u := range p.Users {
				if u.Requests != perUser[u.UserID] {
					t.Errorf("%s: user %s has %d requests, want %d", name, u.UserID, u.Requests, perUser[u.UserID])
				}
			}
		}
	}
}

// TestCompanyProfileWhileLoading runs company profiles while loads seal
// day after day, each sealing sorting the company-ordered rollup again
// (while it is small, at every seal): no profile fails, and the last one
// has the requests counted from the fixture in Go.
func TestCompanyProfileWhileLoading(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	f := newFixtureOver("app1", 20000, 5, 20*24*time.Hour)
	evs := f.events
	sort.Slice(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	load(t, s, f.app, evs[:1000], f.links, 1000)
	e, err := query.NewEngine(s)
	if err != nil {
		t.Fatal(err)
	}
	const company = "linked-1"
	r := query.Range{From: f.start, To: f.start.Add(21 * 24 * time.Hour)}
	profile := func() (*query.Profile, error) {
		return e.CompanyProfile(ctx, query.ProfileSpec{AppID: f.app, ID: company, Range: r, Interval: dayInterval(t, r)})
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var profiles atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := profile(); err != nil {
					t.Error(err)
					return
				}
				profiles.Add(1)
			}
		}()
	}
	for i := 1000; i < len(evs); i += 500 {
		if _, err := s.Append(ctx, &store.Batch{AppID: f.app, Events: evs[i:min(i+500, len(evs))]}); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if profiles.Load() == 0 {
		t.Fatal("no profile ran during the loads")
	}
	var want int64
	for _, ev := range evs {
		if ev.CompanyID == company || ev.CompanyID == "" && f.linked[ev.UserID] == company {
			want++
		}
	}
	p, err := profile()
	if err != nil {
		t.Fatal(err)
	}
	if p.Totals.Requests != want {
		t.Errorf("%d requests, want %d", p.Totals.Requests, want)
	}
}

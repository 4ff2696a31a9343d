package query_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/duckdb"
)

// openStore opens a real DuckDB store in a temporary directory.
func openStore(t testing.TB) *duckdb.Store {
	t.Helper()
	cfg := duckdb.DefaultConfig(t.TempDir())
	cfg.MemoryLimit = "1GB"
	cfg.Threads = 2
	cfg.NoSync = true
	cfg.FlushInterval = 10 * time.Second // tests flush by hand
	s, err := duckdb.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// duckEngines are the engines over a DuckDB store: "rollups" reads its
// rollups, "raw" its events only.
func duckEngines(t testing.TB, s *duckdb.Store) map[string]*query.Engine {
	t.Helper()
	rolled, err := query.NewEngine(s)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := query.NewEngine(s)
	if err != nil {
		t.Fatal(err)
	}
	raw.NoRollups()
	return map[string]*query.Engine{"rollups": rolled, "raw": raw}
}

// load appends events in batches of n, flushing after each (on stores
// that load asynchronously) so that the rollups are built across several
// loads, then the user links.
func load(t testing.TB, s store.Store, app string, evs []event.Event, links []event.UserUpdate, n int) {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateApp(ctx, store.App{ID: app, Name: app, ApplicationID: "key-" + app, Created: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(evs); i += n {
		j := min(i+n, len(evs))
		batch := append([]event.Event(nil), evs[i:j]...)
		b := &store.Batch{AppID: app, Events: batch}
		if i == 0 {
			b.Users = links
		}
		if _, err := s.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
		if fl, ok := s.(store.Flusher); ok {
			if err := fl.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// fixture is a fixed, seeded table of events with every kind of value the
// analytics distinguish: absent fields, gateway rejections in both log
// formats, integration timeouts, companies logged or linked, metadata.
type fixture struct {
	app    string
	start  time.Time
	events []event.Event
	links  []event.UserUpdate
	// linked is each user's company through the users API.
	linked map[string]string
}

var gatewayTypes = []string{"ACCESS_DENIED", "THROTTLED", "WAF_FILTERED", "MISSING_AUTHENTICATION_TOKEN", "QUOTA_EXCEEDED"}

func newFixture(app string, n int, seed uint64) *fixture {
	return newFixtureOver(app, n, seed, 3*24*time.Hour)
}

// newFixtureOver is newFixture with its events spread over span.
func newFixtureOver(app string, n int, seed uint64, span time.Duration) *fixture {
	r := rand.New(rand.NewPCG(seed, 7))
	f := &fixture{app: app, start: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), linked: map[string]string{}}
	routes := []struct{ method, route string }{{"GET", "/orders"}, {"POST", "/orders"}, {"GET", "/orders/{id}"},
		{"GET", "/products"}, {"POST", "/signup"}, {"DELETE", "/account"}}
	users := 40
	for u := 0; u < users; u++ {
		id := fmt.Sprintf("u%02d", u)
		if u%3 == 1 {
			c := fmt.Sprintf("linked-%d", u%4)
			f.linked[id] = c
			f.links = append(f.links, event.UserUpdate{AppID: app, UserID: id, CompanyID: c,
				Metadata: []byte(fmt.Sprintf(`{"plan":"%s"}`, []string{"free", "pro"}[u%2])), Modified: f.start})
		}
	}
	for i := 0; i < n; i++ {
		at := f.start.Add(time.Duration(r.Int64N(int64(span/time.Millisecond))) * time.Millisecond)
		rt := routes[r.IntN(len(routes))]
		ev := event.Event{AppID: app, RequestID: fmt.Sprintf("req-%07d", i), Time: at, APIID: "api1", Stage: "prod",
			Method: rt.method, Path: rt.route, Route: rt.route, Host: "api.example.com", Protocol: "HTTP/1.1",
			Status: 200, ResponseBytes: int64(r.IntN(5000)), LatencyMs: float64(1 + r.IntN(20)*r.IntN(30)),
			IntegrationLatencyMs: event.Absent, IP: "203.0.113.7", UserAgent: "curl/8", Source: event.SourceFirehose}
		// Users arrive one every 90 minutes, so cohorts differ; about one
		// call in nine is anonymous.
		active := min(users, 1+int(at.Sub(f.start)/(90*time.Minute)))
		u := r.IntN(active + active/8 + 1)
		if u < active {
			ev.UserID = fmt.Sprintf("u%02d", u)
			// Some linked users log a company of their own on every
			// other call: their figures still count those calls.
			if u%3 == 2 || u%6 == 4 && i%2 == 0 {
				ev.CompanyID = fmt.Sprintf("logged-%d", u%5)
			}
			// Others log the company they are linked to on every third.
			if u%6 == 1 && i%3 == 0 {
				ev.CompanyID = f.linked[ev.UserID]
			}
		}
		recommended := r.IntN(2) == 0
		if recommended {
			ev.IntegrationLatencyMs = max(0, ev.LatencyMs-2)
			ev.Metadata = []byte(`{"integrationStatus":200,"tier":"gold"}`)
		}
		switch x := r.IntN(100); {
		case x < 6:
			ev.Status = []int{400, 404, 409}[r.IntN(3)]
			if recommended {
				ev.Metadata = []byte(fmt.Sprintf(`{"integrationStatus":%d}`, ev.Status))
			}
		case x < 9:
			ev.Status = []int{500, 502}[r.IntN(2)]
		case x < 14: // the gateway answers
			ev.Status = []int{401, 403, 429}[r.IntN(3)]
			ev.IntegrationLatencyMs = event.Absent
			ev.Metadata = nil
			if recommended {
				ev.ErrorType = gatewayTypes[r.IntN(len(gatewayTypes))]
			}
		case x < 16: // an integration timeout reached the integration
			ev.Status = 504
			ev.ErrorType = "INTEGRATION_TIMEOUT"
			ev.IntegrationLatencyMs = 29000
			ev.LatencyMs = 29010
		case x < 18: // 403 from the integration, seed format: counted as a gateway answer by the fallback
			ev.Status = 403
			ev.IntegrationLatencyMs = event.Absent
			ev.Metadata = []byte(`{"tier":"silver"}`)
		case x < 19:
			ev.Status = event.Absent
			ev.LatencyMs = event.Absent
			ev.ResponseBytes = event.Absent
		}
		f.events = append(f.events, ev)
	}
	return f
}

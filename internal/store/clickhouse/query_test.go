package clickhouse

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/storetest"
)

// TestQueryAfterServerError: a statement the server refuses must not
// spoil the connection for the next one (clickhouse-go's own database/sql
// driver does, against 18.16; see sqldriver.go).
func TestQueryAfterServerError(t *testing.T) {
	tg := singleTarget(t)
	cfg := tg.freshConfig(t)
	cfg.MaxOpenConns = 1 // every statement on the same connection
	s := tg.open(t, cfg)
	defer s.Close()
	ctx := context.Background()
	for i := range 5 {
		if rows, err := s.Query(ctx, "SELECT no_such_function(1) FROM events"); err == nil {
			rows.Close()
			t.Fatal("an unknown function ran")
		}
		rows, err := s.Query(ctx, "SELECT ? + 1", i)
		if err != nil {
			t.Fatalf("query %d after an error: %v", i, err)
		}
		var n int64
		if !rows.Next() || rows.Scan(&n) != nil || n != int64(i+1) {
			t.Fatalf("query %d after an error: got %d (%v)", i, n, rows.Err())
		}
		rows.Close()
	}
}

// TestQueryIsReadOnly: Query refuses writes and DDL.
func TestQueryIsReadOnly(t *testing.T) {
	tg := singleTarget(t)
	s := tg.open(t, tg.freshConfig(t))
	defer s.Close()
	for _, q := range []string{
		"INSERT INTO batches (app_id, batch_id, received_at, events) SELECT 'a', 'b', now(), 1",
		"DROP TABLE batches",
		"ALTER TABLE events DROP PARTITION ID '20260301'",
	} {
		rows, err := s.Query(context.Background(), q)
		if err == nil {
			rows.Close()
			t.Errorf("%s: ran through Query", q)
			continue
		}
		var ex *chgo.Exception
		if !errors.As(err, &ex) || ex.Code != 164 { // READONLY
			t.Errorf("%s: %v, want the server's readonly refusal", q, err)
		}
	}
}

// eventLogSQL is the event log's page query in the form ClickHouse needs
// (docs/clickhouse.md, "What the query layer must do"): FINAL on events,
// the user's company from an app-filtered aggregation of the profile
// states joined with GLOBAL ANY LEFT JOIN ... USING (18.16 rejects JOIN ...
// ON here; GLOBAL because the states are sharded by user, the events by
// request; and the joined column named uniquely, since 18.16 loses the
// "u." qualifier when it ships the query to the shards), exact times and the cursor on time_ms, with a second-granular
// condition on time beside it so the primary key prunes.
const eventLogSQL = `SELECT e.request_id, e.time_ms, e.user_id, coalesce(e.company_id, u_company_id) AS company, e.status
	FROM events AS e FINAL
	GLOBAL ANY LEFT JOIN (
		SELECT user_id, nullIf(argMaxMerge(attr_state), '') AS u_company_id
		FROM users_state WHERE app_id = ? GROUP BY user_id
	) AS u USING user_id
	WHERE e.app_id = ? AND e.time >= ? AND e.time_ms >= ? AND e.time <= ? AND e.time_ms < ?
		AND (? = '' OR coalesce(e.company_id, u_company_id) = ?)
		AND (e.time_ms < ? OR (e.time_ms = ? AND e.request_id < ?))
	ORDER BY e.time_ms DESC, e.request_id DESC
	LIMIT ?`

type logRowT struct {
	id      string
	ms      int64
	user    *string
	company *string
	status  *int64
}

func (r logRowT) String() string {
	s := func(p *string) string {
		if p == nil {
			return "NULL"
		}
		return *p
	}
	st := "NULL"
	if r.status != nil {
		st = fmt.Sprint(*r.status)
	}
	return fmt.Sprintf("%s@%d user=%s company=%s status=%s", r.id, r.ms, s(r.user), s(r.company), st)
}

// TestEventLogSQL pages through an app's events newest first with a time
// range and a company filter, and compares every page with the answer
// computed here from the events themselves.
func TestEventLogSQL(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			s := tg.open(t, tg.freshConfig(t))
			defer s.Close()
			ctx := context.Background()
			base := time.Date(2026, 3, 1, 23, 59, 58, 0, time.UTC)
			var evs []event.Event
			for i := range 60 {
				// Several events share a second and some a millisecond.
				e := storetest.Event("app1", i, base.Add(time.Duration(i/3)*250*time.Millisecond))
				e.UserID = fmt.Sprintf("u%d", i%5)
				switch {
				case i%7 == 0:
					e.CompanyID = "logged"
				case i%11 == 0:
					e.UserID = ""
				}
				if i%13 == 0 {
					e.Status = event.Absent
				}
				evs = append(evs, e)
			}
			other := storetest.Event("app2", 1000, base) // another app, same user id
			other.UserID = "u1"
			evs = append(evs, other)
			for _, app := range []string{"app1", "app2"} {
				var mine []event.Event
				for _, e := range evs {
					if e.AppID == app {
						mine = append(mine, e)
					}
				}
				if _, err := s.Append(ctx, &store.Batch{AppID: app, ID: "b-" + app, Events: mine}); err != nil {
					t.Fatal(err)
				}
			}
			// Only the users API links a user to a company (PRODUCT.md
			// section 6); a logged companyId is the event's own.
			links := map[string]string{"u1": "acme", "u2": "globex"}
			for u, c := range links {
				if _, err := s.Append(ctx, &store.Batch{AppID: "app1", Users: []event.UserUpdate{{AppID: "app1", UserID: u, CompanyID: c, Modified: base}}}); err != nil {
					t.Fatal(err)
				}
			}
			// app2's u1 belongs to another company: the join must not mix apps.
			if _, err := s.Append(ctx, &store.Batch{AppID: "app2", Users: []event.UserUpdate{{AppID: "app2", UserID: "u1", CompanyID: "initech", Modified: base}}}); err != nil {
				t.Fatal(err)
			}

			from, to := base.Add(400*time.Millisecond), base.Add(4750*time.Millisecond)
			for _, company := range []string{"", "acme", "logged"} {
				var want []logRowT
				for _, e := range evs {
					ms := e.Time.UnixMilli()
					if e.AppID != "app1" || ms < from.UnixMilli() || ms >= to.UnixMilli() {
						continue
					}
					r := logRowT{id: e.RequestID, ms: ms}
					if e.UserID != "" {
						u := e.UserID
						r.user = &u
					}
					c := e.CompanyID
					if c == "" {
						c = links[e.UserID]
					}
					if c != "" {
						r.company = &c
					}
					if e.Status != event.Absent {
						st := int64(e.Status)
						r.status = &st
					}
					if company == "" || c == company {
						want = append(want, r)
					}
				}
				slices.SortFunc(want, func(a, b logRowT) int { return cmp.Or(-cmp.Compare(a.ms, b.ms), -cmp.Compare(a.id, b.id)) })

				var got []logRowT
				curMs, curID := int64(1)<<62, ""
				for page := 0; ; page++ {
					rows, err := s.Query(ctx, eventLogSQL, "app1", "app1", from, from.UnixMilli(), to, to.UnixMilli(),
						company, company, curMs, curMs, curID, 7)
					if err != nil {
						t.Fatal(err)
					}
					n := 0
					for rows.Next() {
						var r logRowT
						if err := rows.Scan(&r.id, &r.ms, &r.user, &r.company, &r.status); err != nil {
							t.Fatal(err)
						}
						got = append(got, r)
						curMs, curID = r.ms, r.id
						n++
					}
					if err := rows.Err(); err != nil {
						t.Fatal(err)
					}
					rows.Close()
					if n < 7 {
						break
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("company %q:\n got %v\nwant %v", company, got, want)
				}
				if len(want) < 8 {
					t.Errorf("company %q: only %d events, too few to page", company, len(want))
				}
			}
		})
	}
}

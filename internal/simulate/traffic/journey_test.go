package traffic_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/simulate/traffic"
)

func TestJourneysFollowEachUsersTruth(t *testing.T) {
	for _, api := range accesslog.APIs {
		t.Run(string(api), func(t *testing.T) {
			t.Parallel()
			cfg := traffic.Config{Seed: 13, Users: 600, Companies: 15, API: api,
				Start: testEnd.AddDate(0, 0, -21), End: testEnd, NewUserShare: 0.6}
			m, evs := collect(t, cfg)
			users := m.Users()
			byUser := make([][]traffic.Event, len(users))
			for _, e := range evs {
				if e.Truth.Sender >= 0 {
					byUser[e.Truth.Sender] = append(byUser[e.Truth.Sender], e)
				}
			}
			var newUsers, activated, tourists, touristsGoneIn3Days int
			for i, u := range users {
				mine := byUser[i]
				firsts, signups, churns := 0, 0, 0
				for _, e := range mine {
					tr := e.Truth
					if tr.FirstCall {
						firsts++
						// On WebSocket APIs FirstCall opens the session
						// that carries the first message.
						// that carries the first message, and a refused
						// session puts it off to the next.
						late := e.Time.Sub(u.FirstCall)
						if late < 0 || (api != accesslog.WebSocket && late != 0) {
							t.Fatalf("user %d's first call at %v, truth %v", i, e.Time, u.FirstCall)
						}
					}
					switch tr.Role {
					case traffic.RoleSignup:
						signups++
						if !u.New {
							t.Fatalf("existing user %d signed up", i)
						}
					case traffic.RoleChurn:
						churns++
						if !u.ChurnCall || e.Time.Before(u.Churn) {
							t.Fatalf("user %d deleted the account at %v; churn %v, churn call %v", i, e.Time, u.Churn, u.ChurnCall)
						}
					case traffic.RoleRegular:
						if u.New && (u.NeverActivates || e.Time.Before(u.FirstCall)) {
							t.Fatalf("user %d called at %v before activating (first call %v, never %v)", i, e.Time, u.FirstCall, u.NeverActivates)
						}
						// A session that started before churn may run on
						// for its last few calls.
						if e.Time.After(u.Churn.Add(10 * time.Minute)) {
							t.Fatalf("user %d called at %v, long after churning at %v", i, e.Time, u.Churn)
						}
					}
					if u.New && e.Time.Before(u.Signup) {
						t.Fatalf("user %d called at %v before signing up at %v", i, e.Time, u.Signup)
					}
				}
				if u.New {
					newUsers++
					if signups != 1 || !mine[0].Time.Equal(u.Signup) {
						t.Fatalf("new user %d: %d sign-ups, first event at %v, signed up %v", i, signups, mine[0].Time, u.Signup)
					}
					inRange := u.FirstCall.Before(cfg.End) && !u.NeverActivates
					// On WebSocket APIs every session up to End may
					// have been refused.
					wsRefused := api == accesslog.WebSocket && firsts == 0 && inRange
					if ((firsts == 1) != inRange || firsts > 1) && !wsRefused {
						t.Fatalf("new user %d: %d first calls; planned %v, never %v", i, firsts, u.FirstCall, u.NeverActivates)
					}
					if !u.NeverActivates {
						activated++
					}
					if u.Tourist && !u.NeverActivates {
						tourists++
						if u.Churn.Sub(u.FirstCall) < 3*24*time.Hour {
							touristsGoneIn3Days++
						}
					}
				} else if signups != 0 || firsts != 0 {
					t.Fatalf("existing user %d has %d sign-ups and %d first calls", i, signups, firsts)
				}
				wantChurn := u.ChurnCall && u.Churn.Before(cfg.End) && (!u.New || !u.NeverActivates)
				if wantChurn != (churns == 1) || churns > 1 {
					t.Fatalf("user %d: %d account deletions, churn %v, churn call %v", i, churns, u.Churn, u.ChurnCall)
				}
			}
			// Funnel shares: activation is 1-NeverActivateShare (0.15);
			// tourists (0.25 of activated users) live an exponential day.
			withinBinomial(t, "activation", activated, newUsers, 0.85)
			if newUsers < 250 || tourists == 0 {
				t.Fatalf("%d new users, %d tourists", newUsers, tourists)
			}
			withinBinomial(t, "tourists gone within 3 days", touristsGoneIn3Days, tourists, 1-math.Exp(-3))
		})
	}
}

func TestWebSocketSessions(t *testing.T) {
	cfg := traffic.Config{Seed: 17, Users: 300, Companies: 10, API: accesslog.WebSocket,
		Start: testEnd.AddDate(0, 0, -5), End: testEnd, Mix: traffic.Mix{AuthRejected: 0.05}}
	_, evs := collect(t, cfg)
	type session struct {
		events  []string
		refused bool
		at      int64
	}
	sessions := map[string]*session{}
	for _, e := range evs {
		tr := e.Truth
		if tr.ConnectionID == "" || tr.EventType == "" || tr.Method != "" || tr.Path != "" {
			t.Fatalf("not a WebSocket event: %+v", tr)
		}
		s := sessions[tr.ConnectionID]
		if s == nil {
			s = &session{at: tr.ConnectedAt}
			sessions[tr.ConnectionID] = s
		}
		if s.refused {
			t.Fatalf("connection %s has %s after a refused $connect", tr.ConnectionID, tr.EventType)
		}
		if tr.ConnectedAt != s.at {
			t.Fatalf("connectedAt changes within connection %s", tr.ConnectionID)
		}
		if (tr.EventType == "MESSAGE") != (tr.MessageID != "") {
			t.Fatalf("messageId %q on a %s event", tr.MessageID, tr.EventType)
		}
		s.events = append(s.events, tr.EventType)
		if tr.EventType == "CONNECT" {
			if e.Time.UnixMilli() != tr.ConnectedAt {
				t.Fatalf("CONNECT at %d, connectedAt %d", e.Time.UnixMilli(), tr.ConnectedAt)
			}
			s.refused = tr.Outcome == traffic.OutcomeAuthRejected || tr.Sender < 0
		}
	}
	refused := 0
	for id, s := range sessions {
		seq := strings.Join(s.events, " ")
		if s.events[0] != "CONNECT" {
			t.Fatalf("connection %s starts with %s", id, seq)
		}
		if s.refused {
			refused++
			continue
		}
		last := s.events[len(s.events)-1]
		if last != "DISCONNECT" && last != "MESSAGE" { // MESSAGE: cut by End
			t.Fatalf("connection %s: %s", id, seq)
		}
		if strings.Count(seq, "CONNECT") != 1+strings.Count(seq, "DISCONNECT") || strings.Count(seq, "DISCONNECT") > 1 {
			t.Fatalf("connection %s: %s", id, seq)
		}
	}
	if refused == 0 || len(sessions) < 1000 {
		t.Fatalf("%d sessions, %d refused", len(sessions), refused)
	}
}

func TestUserLinksCoverEveryUser(t *testing.T) {
	cfg := traffic.Config{Seed: 2, Users: 500, Companies: 25, API: accesslog.REST,
		Start: testEnd.AddDate(0, 0, -2), End: testEnd}
	m, evs := collect(t, cfg)
	links := m.UserLinks()
	if len(links) != len(m.Users()) {
		t.Fatalf("%d links for %d users", len(links), len(m.Users()))
	}
	companies := map[string]bool{}
	for _, c := range m.Companies() {
		companies[c.ID] = true
	}
	byUser := map[string]traffic.UserLink{}
	apiOnly := 0
	for i, l := range links {
		u := m.Users()[i]
		if l.UserID != u.ID || l.CompanyID != u.CompanyID || !companies[l.CompanyID] || l.Metadata["email"] == "" || !l.Modified.Equal(u.Signup) {
			t.Fatalf("link %+v does not match user %+v", l, u)
		}
		byUser[l.UserID] = l
		if !u.CompanyLogged {
			apiOnly++
		}
	}
	withinBinomial(t, "users linked only through the users API", apiOnly, len(links), 0.3)
	// The known-answer rule: logged companyId, else the users-API link.
	for _, e := range evs {
		if e.Truth.UserID == "" {
			continue
		}
		_, v := orderedKeys(t, e.Line)
		company := v["companyId"]
		if company == "-" {
			company = byUser[e.Truth.UserID].CompanyID
		}
		if company != e.Truth.CompanyID {
			t.Fatalf("event resolves to company %q, truth %q", company, e.Truth.CompanyID)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := traffic.Config{Users: 1, Companies: 1, API: accesslog.REST, Start: testEnd.Add(-time.Hour), End: testEnd}
	cases := []struct {
		name   string
		mutate func(*traffic.Config)
		valid  bool
	}{
		{"minimal", func(*traffic.Config) {}, true},
		{"no users", func(c *traffic.Config) { c.Users = 0 }, false},
		{"no companies", func(c *traffic.Config) { c.Companies = 0 }, false},
		{"unknown api", func(c *traffic.Config) { c.API = "grpc" }, false},
		{"seed format on http", func(c *traffic.Config) { c.API, c.Format = accesslog.HTTP, traffic.FormatSeed }, false},
		{"unknown format", func(c *traffic.Config) { c.Format = "clf" }, false},
		{"empty range", func(c *traffic.Config) { c.End = c.Start }, false},
		{"zero start", func(c *traffic.Config) { c.Start = time.Time{} }, false},
		{"negative volume", func(c *traffic.Config) { c.EventsPerUserDay = -1 }, false},
		{"share above one", func(c *traffic.Config) { c.NewUserShare = 1.5 }, false},
		{"share none", func(c *traffic.Config) { c.NewUserShare = traffic.None }, true},
		{"mix above one", func(c *traffic.Config) { c.Mix = traffic.Mix{ClientError: 0.7, ServerError: 0.4} }, false},
		{"only api keys on http", func(c *traffic.Config) { c.API, c.AuthMix = accesslog.HTTP, traffic.AuthMix{APIKey: 1} }, false},
		{"route with a quote", func(c *traffic.Config) {
			c.Routes = []traffic.Route{{Method: "GET", Template: `/a"b`, Weight: 1, Success: 200, Latency: traffic.Latency{MedianMs: 5}}}
		}, false},
		{"route without latency", func(c *traffic.Config) {
			c.Routes = []traffic.Route{{Method: "GET", Template: "/a", Weight: 1, Success: 200}}
		}, false},
		{"custom route", func(c *traffic.Config) {
			c.Routes = []traffic.Route{{Method: "GET", Template: "/a/{id}", Weight: 1, Success: 200, Latency: traffic.Latency{MedianMs: 5, Sigma: 0.2}}}
		}, true},
		{"negative rhythm", func(c *traffic.Config) { c.Rhythm = traffic.DefaultRhythm(); c.Rhythm.Hourly[3] = -1 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mutate(&c)
			err := c.Validate()
			if (err == nil) != tc.valid {
				t.Fatalf("Validate() = %v, want valid=%v", err, tc.valid)
			}
			if _, err := traffic.New(c); (err == nil) != tc.valid {
				t.Fatalf("New() = %v, want valid=%v", err, tc.valid)
			}
		})
	}
}

func TestCustomRoutesWithoutJourneyRoutes(t *testing.T) {
	cfg := traffic.Config{Seed: 1, Users: 50, Companies: 3, API: accesslog.REST, NewUserShare: 1,
		Start: testEnd.AddDate(0, 0, -3), End: testEnd,
		Routes: []traffic.Route{{Method: "GET", Template: "/things/{id}", Weight: 1, Success: 200, Latency: traffic.Latency{MedianMs: 10, Sigma: 0.3}}}}
	_, evs := collect(t, cfg)
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	for _, e := range evs {
		if e.Truth.Sender >= 0 && e.Truth.Route != "/things/{id}" {
			t.Fatalf("unexpected route %q", e.Truth.Route)
		}
	}
}

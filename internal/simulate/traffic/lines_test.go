package traffic_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/simulate/traffic"
)

var testEnd = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC) // a Monday

func collect(t testing.TB, cfg traffic.Config) (*traffic.Model, []traffic.Event) {
	t.Helper()
	m, err := traffic.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var evs []traffic.Event
	for {
		e, ok := m.Next()
		if !ok {
			return m, evs
		}
		evs = append(evs, e)
	}
}

// orderedKeys decodes one line independently of the model: its keys in
// order and its values, each of which must be a JSON string.
func orderedKeys(t testing.TB, line []byte) ([]string, map[string]string) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("line does not open an object: %s", line)
	}
	var keys []string
	vals := map[string]string{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatalf("bad key in %s: %v", line, err)
		}
		v, err := dec.Token()
		if err != nil {
			t.Fatalf("bad value in %s: %v", line, err)
		}
		s, ok := v.(string)
		if !ok {
			t.Fatalf("key %v has a non-string value %v (API Gateway writes strings): %s", k, v, line)
		}
		keys = append(keys, k.(string))
		vals[k.(string)] = s
	}
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	if dec.More() {
		t.Fatalf("trailing data after the object: %s", line)
	}
	return keys, vals
}

// identifyLine is PRODUCT.md section 6 written from the contract, with the
// parser's rule that claimsSub stands in for an absent principalId.
func identifyLine(v map[string]string) (string, string) {
	present := func(k string) bool { s, ok := v[k]; return ok && s != "-" && s != "" }
	for _, k := range []string{"user", "apiKeyId", "principalId", "claimsSub", "cognitoIdentityId", "caller", "userArn"} {
		if k == "claimsSub" && present("principalId") {
			continue
		}
		if present(k) {
			return v[k], k
		}
	}
	return "", ""
}

func formatCases() []struct {
	name string
	cfg  traffic.Config
} {
	base := traffic.Config{Seed: 7, Users: 150, Companies: 12, Start: testEnd.AddDate(0, 0, -7), End: testEnd}
	with := func(api accesslog.API, f traffic.Format, noCompany bool) traffic.Config {
		c := base
		c.API, c.Format, c.NoCompanyKey = api, f, noCompany
		return c
	}
	return []struct {
		name string
		cfg  traffic.Config
	}{
		{"rest-seed", with(accesslog.REST, traffic.FormatSeed, false)},
		{"rest-seed-no-company", with(accesslog.REST, traffic.FormatSeed, true)},
		{"rest-recommended", with(accesslog.REST, traffic.FormatRecommended, false)},
		{"http", with(accesslog.HTTP, "", false)},
		{"websocket", with(accesslog.WebSocket, "", false)},
	}
}

func TestLinesCarryExactlyTheFormatKeysAsStrings(t *testing.T) {
	for _, tc := range formatCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var want []string
			if tc.cfg.Format == traffic.FormatSeed {
				for _, f := range accesslog.SeedFormat {
					want = append(want, f.Key)
				}
			} else {
				fields, err := accesslog.Recommended(tc.cfg.API)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range fields {
					want = append(want, f.Key)
				}
			}
			if !tc.cfg.NoCompanyKey {
				want = append(want, "companyId")
			}
			_, evs := collect(t, tc.cfg)
			if len(evs) < 1000 {
				t.Fatalf("only %d events", len(evs))
			}
			for _, e := range evs {
				keys, v := orderedKeys(t, e.Line)
				if fmt.Sprint(keys) != fmt.Sprint(want) {
					t.Fatalf("keys\n got %v\nwant %v", keys, want)
				}
				rt, err := time.Parse("02/Jan/2006:15:04:05 -0700", v["requestTime"])
				if err != nil || !rt.Equal(e.Time.Truncate(time.Second)) {
					t.Fatalf("requestTime %q (%v) is not the event time %v", v["requestTime"], err, e.Time)
				}
				if ep, ok := v["requestTimeEpoch"]; ok && ep != strconv.FormatInt(e.Time.UnixMilli(), 10) {
					t.Fatalf("requestTimeEpoch %s, want %d", ep, e.Time.UnixMilli())
				}
				if v["requestId"] != e.Truth.RequestID || v["status"] != strconv.Itoa(e.Truth.Status) {
					t.Fatalf("line and truth disagree: %s vs %+v", e.Line, e.Truth)
				}
				if d, ok := v["durationMs"]; ok && d != strconv.Itoa(e.Truth.LatencyMs) {
					t.Fatalf("durationMs %s, truth %d", d, e.Truth.LatencyMs)
				}
				if p, ok := v["resourcePath"]; ok && p != e.Truth.Path {
					t.Fatalf("resourcePath %s, truth %s", p, e.Truth.Path)
				}
				if rk, ok := v["routeTemplate"]; ok && rk != e.Truth.RouteKey {
					t.Fatalf("routeTemplate %s, truth %s", rk, e.Truth.RouteKey)
				}
				if et, ok := v["errorType"]; ok {
					if (et == "-") != (e.Truth.ErrorType == "") || (et != "-" && et != e.Truth.ErrorType) {
						t.Fatalf("errorType %s, truth %q", et, e.Truth.ErrorType)
					}
				}
				if c, ok := v["companyId"]; ok && (c != "-") != e.Truth.CompanyLogged {
					t.Fatalf("companyId %q but CompanyLogged=%v", c, e.Truth.CompanyLogged)
				}
				for k, s := range v {
					if s == "" {
						t.Fatalf("key %s is empty; API Gateway writes - for absent values", k)
					}
				}
			}
		})
	}
}

func TestLinesIdentifyTheirUserByPriority(t *testing.T) {
	for _, tc := range formatCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, evs := collect(t, tc.cfg)
			steps := map[string]int{}
			for _, e := range evs {
				_, v := orderedKeys(t, e.Line)
				id, key := identifyLine(v)
				if id != e.Truth.UserID || key != e.Truth.IdentifiedBy {
					t.Fatalf("line identifies %q by %q, truth says %q by %q: %s", id, key, e.Truth.UserID, e.Truth.IdentifiedBy, e.Line)
				}
				if id != "" {
					u := m.Users()[e.Truth.Sender]
					if u.ID != id {
						t.Fatalf("event of user %d identifies as %q, user's ID is %q", e.Truth.Sender, id, u.ID)
					}
					if want := u.CompanyID; e.Truth.CompanyID != want {
						t.Fatalf("company %q, want %q", e.Truth.CompanyID, want)
					}
					if e.Truth.CompanyLogged && v["companyId"] != u.CompanyID {
						t.Fatalf("companyId %q, want %q", v["companyId"], u.CompanyID)
					}
				} else if e.Truth.CompanyID != "" {
					t.Fatalf("anonymous event has company %q", e.Truth.CompanyID)
				}
				steps[key]++
			}
			want := []string{"user", "principalId", "cognitoIdentityId", "caller", "userArn", ""}
			if tc.cfg.API != accesslog.HTTP {
				want = append(want, "apiKeyId")
			}
			if tc.cfg.API != accesslog.WebSocket && tc.cfg.Format != traffic.FormatSeed {
				want = append(want, "claimsSub")
			}
			for _, k := range want {
				if steps[k] == 0 {
					t.Errorf("no event is identified by %q (steps seen: %v)", k, steps)
				}
			}
		})
	}
}

func TestSameSeedSameLines(t *testing.T) {
	digest := func(cfg traffic.Config) [32]byte {
		_, evs := collect(t, cfg)
		h := sha256.New()
		for _, e := range evs {
			h.Write(e.Line)
			h.Write([]byte{'\n'})
		}
		var d [32]byte
		copy(d[:], h.Sum(nil))
		return d
	}
	for _, tc := range formatCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := digest(tc.cfg), digest(tc.cfg)
			if a != b {
				t.Fatal("the same Config gave different lines")
			}
			other := tc.cfg
			other.Seed++
			if digest(other) == a {
				t.Fatal("a different seed gave the same lines")
			}
		})
	}
}

func TestEventsAreInTimeOrderWithinRange(t *testing.T) {
	for _, tc := range formatCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, evs := collect(t, tc.cfg)
			prev := tc.cfg.Start
			seen := map[string]bool{}
			for _, e := range evs {
				if e.Time.Before(prev) || !e.Time.Before(tc.cfg.End) {
					t.Fatalf("event at %v after %v, range [%v, %v)", e.Time, prev, tc.cfg.Start, tc.cfg.End)
				}
				prev = e.Time
				if seen[e.Truth.RequestID] {
					t.Fatalf("request id %s repeats", e.Truth.RequestID)
				}
				seen[e.Truth.RequestID] = true
			}
		})
	}
}

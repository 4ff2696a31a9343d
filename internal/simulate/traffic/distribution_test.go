package traffic_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/simulate/traffic"
)

// Tolerances. Counts of independent draws are binomial: an observed share
// must lie within zBound standard errors of the configured probability.
// Event counts by hour cluster in visits (a Poisson number of sessions of
// about four calls), which inflates their variance by about E[K^2]/E[K];
// dispersion bounds that factor from above.
const (
	zBound     = 4.5
	dispersion = 8.0
)

func withinBinomial(t *testing.T, what string, k, n int, p float64) {
	t.Helper()
	got := float64(k) / float64(n)
	tol := zBound*math.Sqrt(p*(1-p)/float64(n)) + 1e-9
	if math.Abs(got-p) > tol {
		t.Errorf("%s: share %.5f, want %.5f ± %.5f (n=%d)", what, got, p, tol, n)
	}
}

func TestOutcomeMixMatchesConfig(t *testing.T) {
	mix := traffic.DefaultMix()
	cases := []struct {
		name string
		api  accesslog.API
		want map[traffic.Outcome]float64
	}{
		{"rest", accesslog.REST, map[traffic.Outcome]float64{
			traffic.OutcomeClientError: mix.ClientError, traffic.OutcomeServerError: mix.ServerError,
			traffic.OutcomeAuthRejected: mix.AuthRejected, traffic.OutcomeThrottled: mix.Throttled,
			traffic.OutcomeTimeout: mix.Timeout, traffic.OutcomeWAF: mix.WAF,
		}},
		{"http-has-no-waf", accesslog.HTTP, map[traffic.Outcome]float64{
			traffic.OutcomeClientError: mix.ClientError, traffic.OutcomeServerError: mix.ServerError,
			traffic.OutcomeAuthRejected: mix.AuthRejected, traffic.OutcomeThrottled: mix.Throttled,
			traffic.OutcomeTimeout: mix.Timeout, traffic.OutcomeWAF: 0,
		}},
		// WebSocket messages are never re-authorized: the refusal
		// happens at $connect, checked separately below.
		{"websocket-messages", accesslog.WebSocket, map[traffic.Outcome]float64{
			traffic.OutcomeClientError: mix.ClientError, traffic.OutcomeServerError: mix.ServerError,
			traffic.OutcomeAuthRejected: 0, traffic.OutcomeThrottled: mix.Throttled,
			traffic.OutcomeTimeout: mix.Timeout, traffic.OutcomeWAF: 0,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := traffic.Config{Seed: 11, Users: 1500, Companies: 40, API: tc.api,
				Start: testEnd.AddDate(0, 0, -14), End: testEnd, EventsPerUserDay: 20}
			m, evs := collect(t, cfg)
			counts := map[traffic.Outcome]int{}
			n, connects, refused, anon := 0, 0, 0, 0
			for _, e := range evs {
				switch {
				case e.Truth.Sender < 0:
					anon++
				case e.Truth.Role == traffic.RoleRegular:
					counts[e.Truth.Outcome]++
					n++
				case e.Truth.Role == traffic.RoleConnect:
					connects++
					if e.Truth.Outcome == traffic.OutcomeAuthRejected {
						refused++
					}
				}
			}
			if n < 100000 {
				t.Fatalf("only %d regular calls", n)
			}
			ok := 1.0
			for o, p := range tc.want {
				withinBinomial(t, o.String(), counts[o], n, p)
				ok -= p
			}
			withinBinomial(t, "ok", counts[traffic.OutcomeOK], n, ok)
			if tc.api == accesslog.WebSocket {
				withinBinomial(t, "refused $connect", refused, connects, mix.AuthRejected)
			}
			// Anonymous probing is a Poisson process of rate
			// AnonymousShare times the users' total nominal volume.
			total := 0.0
			for _, u := range m.Users() {
				total += u.EventsPerDay
			}
			want := 0.02 * total * 14
			if math.Abs(float64(anon)-want) > zBound*math.Sqrt(want) {
				t.Errorf("anonymous events %d, want %.0f ± %.0f", anon, want, zBound*math.Sqrt(want))
			}
		})
	}
}

// TestStatusesFollowOutcomes checks each outcome's status, error type and
// identity against API Gateway's behaviour as the model documents it.
func TestStatusesFollowOutcomes(t *testing.T) {
	for _, api := range accesslog.APIs {
		t.Run(string(api), func(t *testing.T) {
			t.Parallel()
			cfg := traffic.Config{Seed: 5, Users: 400, Companies: 20, API: api,
				Start: testEnd.AddDate(0, 0, -7), End: testEnd, EventsPerUserDay: 30}
			m, evs := collect(t, cfg)
			routes := map[string]traffic.Route{}
			for _, r := range traffic.DefaultRoutes(api) {
				routes[r.Method+" "+r.Template] = r
			}
			seen := map[traffic.Outcome]bool{}
			for _, e := range evs {
				tr := e.Truth
				seen[tr.Outcome] = true
				r := routes[tr.Method+" "+tr.Route]
				if tr.Rejected != (tr.ErrorType != "") || tr.Rejected != tr.Outcome.Rejected() {
					t.Fatalf("rejected=%v but error type %q, outcome %v", tr.Rejected, tr.ErrorType, tr.Outcome)
				}
				if tr.Rejected && tr.Outcome != traffic.OutcomeTimeout && (tr.IntegrationStatus != -1 || tr.IntegrationLatencyMs != -1) {
					t.Fatalf("gateway rejection %v logged an integration: %+v", tr.Outcome, tr)
				}
				var auth traffic.Auth = traffic.NumAuths
				if tr.Sender >= 0 {
					auth = m.Users()[tr.Sender].Auth
				}
				switch tr.Outcome {
				case traffic.OutcomeOK:
					if tr.Status != r.Success {
						t.Fatalf("ok call to %s answered %d, want %d", tr.Route, tr.Status, r.Success)
					}
				case traffic.OutcomeClientError:
					if !slices.Contains(r.ClientErrors, tr.Status) {
						t.Fatalf("client error %d not among %v", tr.Status, r.ClientErrors)
					}
				case traffic.OutcomeServerError:
					if !slices.Contains([]int{500, 502, 503}, tr.Status) {
						t.Fatalf("server error %d", tr.Status)
					}
				case traffic.OutcomeAuthRejected:
					if tr.Status != 401 && tr.Status != 403 {
						t.Fatalf("auth rejection %d", tr.Status)
					}
					if auth == traffic.AuthAPIKey && (tr.ErrorType != "INVALID_API_KEY" || tr.UserID != "") {
						t.Fatalf("API key rejection: %+v", tr)
					}
					if tr.Status == 401 && tr.UserID != "" {
						t.Fatalf("a 401 still identifies its user: %+v", tr)
					}
				case traffic.OutcomeThrottled:
					if tr.Status != 429 || tr.UserID == "" {
						t.Fatalf("throttled: %+v", tr)
					}
				case traffic.OutcomeTimeout:
					want := 504
					if api == accesslog.HTTP {
						want = 503
					}
					if tr.Status != want || tr.ErrorType != "INTEGRATION_TIMEOUT" || tr.LatencyMs < 29000 {
						t.Fatalf("timeout: %+v", tr)
					}
				case traffic.OutcomeWAF:
					if api != accesslog.REST || tr.Status != 403 || tr.ErrorType != "WAF_FILTERED" || tr.UserID != "" {
						t.Fatalf("waf: %+v", tr)
					}
				case traffic.OutcomeMissingToken:
					want, typ := 403, "MISSING_AUTHENTICATION_TOKEN"
					if api == accesslog.HTTP {
						want, typ = 404, "RESOURCE_NOT_FOUND"
					}
					if tr.Status != want || tr.ErrorType != typ || tr.Route != "" || tr.RouteKey != "-" || tr.Sender != -1 {
						t.Fatalf("missing token: %+v", tr)
					}
				case traffic.OutcomeUnauthenticated:
					if tr.Status != 401 || tr.UserID != "" || tr.Sender != -1 {
						t.Fatalf("unauthenticated: %+v", tr)
					}
				}
			}
			want := []traffic.Outcome{traffic.OutcomeOK, traffic.OutcomeClientError, traffic.OutcomeServerError,
				traffic.OutcomeAuthRejected, traffic.OutcomeThrottled, traffic.OutcomeTimeout, traffic.OutcomeUnauthenticated}
			if api == accesslog.REST {
				want = append(want, traffic.OutcomeWAF)
			}
			if api != accesslog.WebSocket {
				want = append(want, traffic.OutcomeMissingToken)
			}
			for _, o := range want {
				if !seen[o] {
					t.Errorf("outcome %v never occurs", o)
				}
			}
		})
	}
}

func TestAuthMixMatchesConfig(t *testing.T) {
	d := traffic.DefaultAuthMix()
	all := map[traffic.Auth]float64{
		traffic.AuthIAMUser: d.IAMUser, traffic.AuthAPIKey: d.APIKey, traffic.AuthLambda: d.Lambda,
		traffic.AuthCognito: d.Cognito, traffic.AuthIAMCaller: d.IAMCaller, traffic.AuthIAMARN: d.IAMARN, traffic.AuthJWT: d.JWT,
	}
	cases := []struct {
		name    string
		api     accesslog.API
		format  traffic.Format
		without []traffic.Auth // kinds the format or API cannot carry
	}{
		{"rest-recommended", accesslog.REST, "", nil},
		{"rest-seed-has-no-claims", accesslog.REST, traffic.FormatSeed, []traffic.Auth{traffic.AuthJWT}},
		{"http-has-no-api-keys", accesslog.HTTP, "", []traffic.Auth{traffic.AuthAPIKey}},
		{"websocket-has-no-claims", accesslog.WebSocket, "", []traffic.Auth{traffic.AuthJWT}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := traffic.Config{Seed: 3, Users: 20000, Companies: 50, API: tc.api, Format: tc.format,
				Start: testEnd.Add(-time.Hour), End: testEnd}
			m, err := traffic.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := map[traffic.Auth]float64{}
			total := 0.0
			for a, w := range all {
				if !slices.Contains(tc.without, a) {
					want[a] = w
					total += w
				}
			}
			counts := map[traffic.Auth]int{}
			ids := map[string]bool{}
			for _, u := range m.Users() {
				counts[u.Auth]++
				if ids[u.ID] {
					t.Fatalf("two users share the id %q", u.ID)
				}
				ids[u.ID] = true
			}
			for a := range traffic.NumAuths {
				withinBinomial(t, a.String(), counts[a], len(m.Users()), want[a]/total)
			}
		})
	}
}

// mixtureCDF is the latency distribution Route.Latency documents, written
// from its definition.
func mixtureCDF(l traffic.Latency, x float64) float64 {
	phi := func(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }
	lx := math.Log(x)
	body := phi((lx - math.Log(l.MedianMs)) / l.Sigma)
	if l.TailProb == 0 {
		return body
	}
	tail := phi((lx - math.Log(l.MedianMs) - math.Log(l.TailFactor)) / math.Hypot(l.Sigma, l.TailSigma))
	return (1-l.TailProb)*body + l.TailProb*tail
}

func mixtureQuantile(l traffic.Latency, q float64) float64 {
	lo, hi := 1e-3, 1e7
	for range 200 {
		mid := math.Sqrt(lo * hi)
		if mixtureCDF(l, mid) < q {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

func TestLatencyQuantilesMatchRouteParameters(t *testing.T) {
	for _, api := range accesslog.APIs {
		t.Run(string(api), func(t *testing.T) {
			t.Parallel()
			cfg := traffic.Config{Seed: 21, Users: 1200, Companies: 30, API: api,
				Start: testEnd.AddDate(0, 0, -14), End: testEnd, EventsPerUserDay: 25}
			_, evs := collect(t, cfg)
			byRoute := map[string][]float64{}
			for _, e := range evs {
				if e.Truth.Outcome == traffic.OutcomeOK && e.Truth.Sender >= 0 {
					k := e.Truth.Method + " " + e.Truth.Route
					byRoute[k] = append(byRoute[k], float64(e.Truth.LatencyMs))
				}
			}
			checked := 0
			for _, r := range traffic.DefaultRoutes(api) {
				lat := byRoute[r.Method+" "+r.Template]
				n := len(lat)
				if n < 2000 {
					continue // journey routes: too few calls for a quantile test
				}
				slices.Sort(lat)
				for _, q := range []float64{0.5, 0.9, 0.99} {
					// The sample q-quantile lies, with overwhelming
					// probability, between the true quantiles at
					// q ± zBound binomial standard errors; the logged
					// latency is rounded to whole milliseconds.
					d := zBound * math.Sqrt(q*(1-q)/float64(n))
					lo := mixtureQuantile(r.Latency, max(q-d, 1e-9)) - 1
					hi := mixtureQuantile(r.Latency, min(q+d, 1-1e-9)) + 1
					got := lat[int(q*float64(n-1))]
					if got < lo || got > hi {
						t.Errorf("%s %s p%g = %.0f ms, want within [%.1f, %.1f] (n=%d)", r.Method, r.Template, q*100, got, lo, hi, n)
					}
				}
				checked++
			}
			if checked < 5 {
				t.Fatalf("only %d routes had enough calls", checked)
			}
		})
	}
}

func TestRouteShareMatchesWeights(t *testing.T) {
	cfg := traffic.Config{Seed: 8, Users: 1000, Companies: 30, API: accesslog.REST,
		Start: testEnd.AddDate(0, 0, -7), End: testEnd, EventsPerUserDay: 30}
	_, evs := collect(t, cfg)
	counts := map[string]int{}
	n := 0
	for _, e := range evs {
		if e.Truth.Sender >= 0 && e.Truth.Role == traffic.RoleRegular {
			counts[e.Truth.Method+" "+e.Truth.Route]++
			n++
		}
	}
	total := 0.0
	for _, r := range traffic.DefaultRoutes(accesslog.REST) {
		total += r.Weight
	}
	for _, r := range traffic.DefaultRoutes(accesslog.REST) {
		if r.Role == traffic.RoleRegular {
			withinBinomial(t, r.Method+" "+r.Template, counts[r.Method+" "+r.Template], n, r.Weight/total)
		}
	}
}

func TestDailyAndWeeklyRhythm(t *testing.T) {
	// Four whole weeks, nobody joining or leaving, no anonymous traffic:
	// the hour-of-day and day-of-week shares must follow the rhythm.
	start := time.Date(2025, 2, 2, 0, 0, 0, 0, time.UTC) // a Sunday
	cfg := traffic.Config{Seed: 9, Users: 800, Companies: 20, API: accesslog.REST,
		Start: start, End: start.AddDate(0, 0, 28), EventsPerUserDay: 40,
		NewUserShare: traffic.None, ChurnMeanDays: 1e7, AnonymousShare: traffic.None}
	_, evs := collect(t, cfg)
	var hours [24]float64
	var days [7]float64
	for _, e := range evs {
		hours[e.Time.Hour()]++
		days[e.Time.Weekday()]++
	}
	r := traffic.DefaultRhythm()
	check := func(what string, got []float64, weights []float64) {
		n, w := 0.0, 0.0
		for i := range got {
			n += got[i]
			w += weights[i]
		}
		for i := range got {
			want := n * weights[i] / w
			tol := zBound * math.Sqrt(dispersion*want)
			if math.Abs(got[i]-want) > tol {
				t.Errorf("%s %d: %.0f events, want %.0f ± %.0f", what, i, got[i], want, tol)
			}
		}
	}
	check("hour", hours[:], r.Hourly[:])
	check("weekday", days[:], r.Weekday[:])
}

func TestRateSetsTheVolumeAtStart(t *testing.T) {
	start := time.Date(2025, 2, 5, 14, 0, 0, 0, time.UTC) // Wednesday, one rhythm hour
	for _, rate := range []float64{20, 200} {
		cfg := traffic.Config{Seed: 4, Users: 300, Companies: 10, API: accesslog.REST,
			Start: start, End: start.Add(10 * time.Minute), Rate: rate, NewUserShare: traffic.None}
		m, evs := collect(t, cfg)
		if got := m.ExpectedRate(start); math.Abs(got-rate) > 1e-9*rate {
			t.Errorf("ExpectedRate(Start) = %g, want %g", got, rate)
		}
		want := rate * 600
		tol := zBound * math.Sqrt(dispersion*want)
		if math.Abs(float64(len(evs))-want) > tol {
			t.Errorf("rate %g: %d events in 10 minutes, want %.0f ± %.0f", rate, len(evs), want, tol)
		}
	}
}

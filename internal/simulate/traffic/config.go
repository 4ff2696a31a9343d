// Package traffic is a deterministic model of the API Gateway traffic of a
// SaaS API: companies and their users, each authenticating one way, calling
// a catalogue of routes with a daily and weekly rhythm along a journey
// (sign up, first call, regular use, churn). It renders each call as the
// access-log line API Gateway would write and keeps the ground truth beside
// it, so that tests can compute expected analytics without parsing.
//
// The same Config (including Seed) always yields the same events and lines.
package traffic

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
)

// Format selects the access-log key set.
type Format string

// The access-log formats of PRODUCT.md section 5.
const (
	// FormatRecommended is `gatescope aws log-format` for the API kind.
	FormatRecommended Format = "recommended"
	// FormatSeed is the seed format; REST APIs only.
	FormatSeed Format = "seed"
)

// None, given as a share, means zero. Zero selects the default, so that a
// Config literal naming only what it cares about is valid.
const None = -1.0

// Mix holds the probabilities of the outcomes of an authenticated call on a
// regular route. OK takes what the others leave. A zero Mix selects
// DefaultMix; a field set to None is zero. WAF applies to REST APIs only
// (WAF cannot front HTTP or WebSocket APIs); elsewhere its share goes to OK.
type Mix struct {
	ClientError  float64 // 4xx answered by the integration
	ServerError  float64 // 5xx answered by the integration
	AuthRejected float64 // 401/403 from the authorizer, API key or IAM check
	Throttled    float64 // 429 from stage or usage-plan throttling
	Timeout      float64 // integration timeout (504; 503 on HTTP APIs)
	WAF          float64 // 403 WAF_FILTERED
}

// DefaultMix is a plausible production mix.
func DefaultMix() Mix {
	return Mix{ClientError: 0.03, ServerError: 0.006, AuthRejected: 0.008, Throttled: 0.01, Timeout: 0.002, WAF: 0.002}
}

// AuthMix weighs how users authenticate. Weights need not sum to one. A zero
// AuthMix selects DefaultAuthMix. APIKey is ignored for HTTP APIs, which have
// no API keys, and JWT when the format does not log claimsSub (the seed and
// WebSocket formats).
type AuthMix struct {
	IAMUser, APIKey, Lambda, Cognito, IAMCaller, IAMARN, JWT float64
}

// DefaultAuthMix gives every identification step of PRODUCT.md section 6 a
// real share of the users.
func DefaultAuthMix() AuthMix {
	return AuthMix{IAMUser: 0.10, APIKey: 0.30, Lambda: 0.22, Cognito: 0.12, IAMCaller: 0.10, IAMARN: 0.06, JWT: 0.10}
}

// Rhythm is the relative intensity of traffic by UTC hour of day and by day
// of the week (index 0 is Sunday, as time.Weekday). The model normalizes it
// so that its mean over a week is 1; a zero Rhythm selects DefaultRhythm.
type Rhythm struct {
	Hourly  [24]float64
	Weekday [7]float64
}

// DefaultRhythm peaks in the European afternoon and American morning.
func DefaultRhythm() Rhythm {
	return Rhythm{
		Hourly: [24]float64{
			0.35, 0.28, 0.22, 0.20, 0.22, 0.30, 0.45, 0.65, 0.85, 1.00, 1.10, 1.20,
			1.30, 1.40, 1.50, 1.55, 1.50, 1.40, 1.25, 1.05, 0.85, 0.70, 0.55, 0.45,
		},
		Weekday: [7]float64{0.40, 1.00, 1.05, 1.05, 1.05, 0.95, 0.45},
	}
}

// Config describes the simulated API and its population.
type Config struct {
	Seed      uint64
	Users     int // > 0
	Companies int // > 0
	API       accesslog.API
	Format    Format // "" selects FormatRecommended
	// Start and End bound the event times: [Start, End).
	Start, End time.Time

	// EventsPerUserDay is the mean daily call volume of an active user over
	// a week (individual volumes are log-normal around it). 0 selects 40.
	EventsPerUserDay float64
	// Rate, when > 0, overrides EventsPerUserDay: volumes are scaled so that
	// the expected event rate at Start is Rate events per second.
	Rate float64

	// NewUserShare of the users sign up during [Start, End); the others
	// signed up before Start. 0 selects 0.5.
	NewUserShare float64
	// NeverActivateShare of new users sign up and never call. 0 selects 0.15.
	NeverActivateShare float64
	// TouristShare of activated new users churn within about a day. 0 selects 0.25.
	TouristShare float64
	// ChurnMeanDays is the mean lifetime of the others. 0 selects 60.
	ChurnMeanDays float64
	// UsersAPIOnlyShare of users are linked to their company only through
	// the users API: their lines log companyId as "-". 0 selects 0.3.
	UsersAPIOnlyShare float64
	// NoCompanyKey leaves the optional companyId key out of the lines
	// altogether; then every company link comes from the users API.
	NoCompanyKey bool
	// AnonymousShare is the volume of unauthenticated probing (missing
	// token, unknown routes) relative to the users' volume. 0 selects 0.02.
	AnonymousShare float64

	Mix     Mix
	AuthMix AuthMix
	Rhythm  Rhythm
	// Routes replaces DefaultRoutes(API) when not nil.
	Routes []Route

	// AccountID (in IAM ARNs), APIID, Stage and Host describe the API;
	// empty values get defaults (APIID derived from Seed). A Host on the
	// execute-api domain puts the stage in front of REST paths, as
	// $context.path does there.
	AccountID, APIID, Stage, Host string
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	if c.Users <= 0 {
		return errors.New("traffic: Users must be > 0")
	}
	if c.Companies <= 0 {
		return errors.New("traffic: Companies must be > 0")
	}
	if _, err := accesslog.Recommended(c.API); err != nil {
		return fmt.Errorf("traffic: %w", err)
	}
	switch c.Format {
	case "", FormatRecommended:
	case FormatSeed:
		if c.API != accesslog.REST {
			return fmt.Errorf("traffic: the seed format is for REST APIs, not %s", c.API)
		}
	default:
		return fmt.Errorf("traffic: unknown format %q (want seed or recommended)", c.Format)
	}
	if c.Start.IsZero() || !c.End.After(c.Start) {
		return errors.New("traffic: End must be after a non-zero Start")
	}
	for name, v := range map[string]float64{"EventsPerUserDay": c.EventsPerUserDay, "Rate": c.Rate, "ChurnMeanDays": c.ChurnMeanDays} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("traffic: %s must be a finite number >= 0", name)
		}
	}
	for name, v := range map[string]float64{
		"NewUserShare": c.NewUserShare, "NeverActivateShare": c.NeverActivateShare,
		"TouristShare": c.TouristShare, "UsersAPIOnlyShare": c.UsersAPIOnlyShare,
	} {
		if !validShare(v, 1) {
			return fmt.Errorf("traffic: %s must be None or in [0, 1]", name)
		}
	}
	if !validShare(c.AnonymousShare, 10) {
		return errors.New("traffic: AnonymousShare must be None or in [0, 10]")
	}
	m := c.mix()
	sum := 0.0
	for _, v := range []float64{m.ClientError, m.ServerError, m.AuthRejected, m.Throttled, m.Timeout, m.WAF} {
		if v < 0 || math.IsNaN(v) {
			return errors.New("traffic: Mix probabilities must be >= 0")
		}
		sum += v
	}
	if sum > 1 {
		return fmt.Errorf("traffic: Mix probabilities sum to %g > 1", sum)
	}
	if a := c.authMix(); a.total() <= 0 {
		return errors.New("traffic: AuthMix has no positive weight usable for this API")
	}
	r := c.rhythm()
	for _, v := range append(r.Hourly[:], r.Weekday[:]...) {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("traffic: Rhythm factors must be finite and >= 0")
		}
	}
	if routes := c.routes(); len(routes) == 0 {
		return errors.New("traffic: no routes")
	} else if err := validateRoutes(routes); err != nil {
		return err
	}
	return nil
}

func validShare(v, max float64) bool {
	return v == None || (v >= 0 && v <= max)
}

// share resolves a share field: 0 is the default, None is zero.
func share(v, def float64) float64 {
	switch v {
	case 0:
		return def
	case None:
		return 0
	}
	return v
}

func orDefault(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

func (c Config) mix() Mix {
	if c.Mix == (Mix{}) {
		return DefaultMix()
	}
	m := c.Mix
	for _, p := range []*float64{&m.ClientError, &m.ServerError, &m.AuthRejected, &m.Throttled, &m.Timeout, &m.WAF} {
		if *p == None {
			*p = 0
		}
	}
	return m
}

// EffectiveMix is the outcome mix the model draws from for this Config,
// after defaults and the per-API rules (no WAF outside REST APIs).
func (c Config) EffectiveMix() Mix {
	m := c.mix()
	if c.API != accesslog.REST {
		m.WAF = 0
	}
	return m
}

func (c Config) authMix() AuthMix {
	a := c.AuthMix
	if a == (AuthMix{}) {
		a = DefaultAuthMix()
	}
	if c.API == accesslog.HTTP {
		a.APIKey = 0
	}
	if !c.logs("claimsSub") {
		a.JWT = 0
	}
	return a
}

// EffectiveAuthMix is the auth weighting used for this Config, normalized
// to sum to one, indexed by Auth.
func (c Config) EffectiveAuthMix() [NumAuths]float64 {
	a := c.authMix()
	w := a.weights()
	t := a.total()
	for i := range w {
		w[i] /= t
	}
	return w
}

func (a AuthMix) weights() [NumAuths]float64 {
	var w [NumAuths]float64
	w[AuthIAMUser] = a.IAMUser
	w[AuthAPIKey] = a.APIKey
	w[AuthLambda] = a.Lambda
	w[AuthCognito] = a.Cognito
	w[AuthIAMCaller] = a.IAMCaller
	w[AuthIAMARN] = a.IAMARN
	w[AuthJWT] = a.JWT
	for i, v := range w {
		if v < 0 || math.IsNaN(v) {
			w[i] = 0
		}
	}
	return w
}

func (a AuthMix) total() float64 {
	t := 0.0
	for _, v := range a.weights() {
		t += v
	}
	return t
}

func (c Config) rhythm() Rhythm {
	if c.Rhythm == (Rhythm{}) {
		return DefaultRhythm()
	}
	return c.Rhythm
}

func (c Config) routes() []Route {
	if c.Routes != nil {
		return c.Routes
	}
	return DefaultRoutes(c.API)
}

func (c Config) format() Format {
	if c.Format == "" {
		return FormatRecommended
	}
	return c.Format
}

// Fields returns the access-log keys the lines carry, in order: the
// format's keys plus companyId unless NoCompanyKey.
func (c Config) Fields() ([]accesslog.Field, error) {
	var fields []accesslog.Field
	if c.format() == FormatSeed {
		fields = append(fields, accesslog.SeedFormat...)
	} else {
		f, err := accesslog.Recommended(c.API)
		if err != nil {
			return nil, err
		}
		fields = append(fields, f...)
	}
	if !c.NoCompanyKey {
		fields = append(fields, CompanyField())
	}
	return fields, nil
}

// logs says whether the lines carry key.
func (c Config) logs(key string) bool {
	fields, err := c.Fields()
	if err != nil {
		return false
	}
	for _, f := range fields {
		if f.Key == key {
			return true
		}
	}
	return false
}

// CompanyField is the optional companyId key of PRODUCT.md section 5. The
// model logs it the way a Lambda authorizer's context would carry it.
func CompanyField() accesslog.Field {
	return accesslog.Field{Key: "companyId", Variable: "$context.authorizer.companyId"}
}

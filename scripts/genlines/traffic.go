package main

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// requestTimeLayout is API Gateway's $context.requestTime (CLF) layout.
const requestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// user is one caller whose network and credentials stay stable across its
// requests, as a real client's do.
type user struct {
	ip, ua                               string
	caller, user, principalID, cognitoID string
	userArn, apiKey, apiKeyID            string
	api                                  int // index into apis
}

// api is one API Gateway API: its id and the Host its callers use.
type api struct {
	id, host  string
	stagePath string // "/prod" when called on execute-api, whose $context.path carries the stage
}

// route is a resource with the methods it answers and how big its
// responses are; weight is its share of traffic.
type route struct {
	weight  int
	methods []string
	path    func(r *rand.Rand) string
	bodyMin int // typical 200 response size range, bytes
	bodyMax int
}

type generator struct {
	r     *rand.Rand
	zipf  *rand.Zipf
	users []user
	apis  []api
	total int // sum of route weights
}

func newGenerator(seed uint64, users int) *generator {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := &generator{r: r}
	for _, rt := range routes {
		g.total += rt.weight
	}
	for range 3 {
		id := randString(r, lowerAlnum, 10)
		g.apis = append(g.apis, api{id: id, host: id + ".execute-api.us-east-1.amazonaws.com", stagePath: "/prod"})
	}
	g.apis[0].host, g.apis[0].stagePath = "api.example.com", ""
	g.apis[2].host, g.apis[2].stagePath = "partners.example.net", ""
	g.users = make([]user, users)
	for i := range g.users {
		g.users[i] = newUser(r, len(g.apis))
	}
	// s just above 1: a few heavy users and a long tail, as API traffic has.
	g.zipf = rand.NewZipf(r, 1.07, 2, uint64(users-1))
	return g
}

func newUser(r *rand.Rand, apis int) user {
	u := user{
		ip: randIP(r), ua: pick(r, userAgents), api: r.IntN(apis),
		caller: "-", user: "-", principalID: "-", cognitoID: "-",
		userArn: "-", apiKey: "-", apiKeyID: "-",
	}
	account := randString(r, digits, 12)
	switch p := r.IntN(100); {
	case p < 35: // usage-plan API key
		u.apiKey = randString(r, alnum, 40)
		u.apiKeyID = randString(r, lowerAlnum, 10)
	case p < 60: // Cognito user pool authorizer: the sub
		u.principalID = uuid(r)
	case p < 70: // Lambda authorizer with an IdP subject
		u.principalID = pick(r, []string{"auth0|", "google-oauth2|", "user|"}) + randString(r, hexDigits, 24)
	case p < 75: // IAM user
		id := "AIDA" + randString(r, upperAlnum, 17)
		u.caller, u.user = id, id
		u.userArn = "arn:aws:iam::" + account + ":user/" + pick(r, iamNames) + strconv.Itoa(r.IntN(100))
	case p < 80: // Cognito identity pool: IAM credentials of an assumed role
		id := "AROA" + randString(r, upperAlnum, 17) + ":CognitoIdentityCredentials"
		u.caller, u.user = id, id
		u.cognitoID = "us-east-1:" + uuid(r)
		u.userArn = "arn:aws:sts::" + account + ":assumed-role/Cognito_AppAuth_Role/CognitoIdentityCredentials"
	default: // anonymous
	}
	return u
}

// line appends one access-log line for a request at t, with its newline.
func (g *generator) line(b []byte, t time.Time) []byte {
	r := g.r
	u := &g.users[g.zipf.Uint64()]
	a := g.apis[u.api]
	rt := g.pickRoute()
	method := pick(r, rt.methods)
	status := g.status(method, u)
	proto := "HTTP/1.1"
	if r.IntN(4) == 0 {
		proto = "HTTP/2.0"
	}
	ip := u.ip
	if r.IntN(20) == 0 { // roaming clients change networks now and then
		ip = randIP(r)
	}
	b = append(b, '{')
	b = field(b, "apiId", a.id, true)
	b = field(b, "requestId", uuid(r), false)
	b = field(b, "requestTime", t.UTC().Format(requestTimeLayout), false)
	b = field(b, "protocol", proto, false)
	b = field(b, "httpMethod", method, false)
	b = field(b, "resourcePath", a.stagePath+rt.path(r), false)
	b = field(b, "requestHostHeader", a.host, false)
	b = field(b, "requestUserAgentHeader", u.ua, false)
	b = field(b, "ip", ip, false)
	b = field(b, "status", strconv.Itoa(status), false)
	b = field(b, "responseLength", strconv.Itoa(g.responseLength(rt, method, status)), false)
	b = field(b, "durationMs", strconv.Itoa(g.latency(status)), false)
	b = field(b, "caller", u.caller, false)
	b = field(b, "user", u.user, false)
	b = field(b, "principalId", u.principalID, false)
	b = field(b, "cognitoIdentityId", u.cognitoID, false)
	b = field(b, "userArn", u.userArn, false)
	b = field(b, "apiKey", u.apiKey, false)
	b = field(b, "apiKeyId", u.apiKeyID, false)
	return append(b, '}', '\n')
}

func (g *generator) pickRoute() *route {
	n := g.r.IntN(g.total)
	for i := range routes {
		if n < routes[i].weight {
			return &routes[i]
		}
		n -= routes[i].weight
	}
	return &routes[len(routes)-1]
}

// status draws a response status: mostly success, with the error mix a
// public API sees (more 401/403 for anonymous callers).
func (g *generator) status(method string, u *user) int {
	p := g.r.IntN(1000)
	anon := u.apiKey == "-" && u.principalID == "-" && u.caller == "-"
	switch {
	case anon && p < 60:
		return 401
	case p < 30:
		return 400
	case p < 45:
		return 403
	case p < 75:
		return 404
	case p < 90:
		return 429
	case p < 97:
		return 500
	case p < 100:
		return 502
	case p < 103:
		return 503
	case p < 105:
		return 504
	case p < 125 && method == "GET":
		return 304
	}
	switch method {
	case "POST":
		return 201
	case "DELETE", "OPTIONS":
		return 204
	}
	return 200
}

func (g *generator) responseLength(rt *route, method string, status int) int {
	switch {
	case status == 204 || status == 304:
		return 0
	case status >= 400:
		return 30 + g.r.IntN(90)
	case method == "POST" || method == "PUT" || method == "PATCH":
		return 80 + g.r.IntN(700)
	}
	return rt.bodyMin + g.r.IntN(rt.bodyMax-rt.bodyMin+1)
}

// latency is log-normal around ~30 ms; gateway timeouts sit at the 29 s
// integration limit.
func (g *generator) latency(status int) int {
	if status == 504 {
		return 29000 + g.r.IntN(60)
	}
	ms := math.Exp(3.4 + 0.8*g.r.NormFloat64())
	return max(1, int(ms))
}

// field appends "key":"value" with JSON string escaping.
func field(b []byte, key, value string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, '"', ':', '"')
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

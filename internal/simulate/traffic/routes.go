package traffic

import (
	"fmt"
	"math"
	"strings"

	"github.com/gatescope/gatescope/internal/accesslog"
)

// Role says where a route sits in a user's journey.
type Role uint8

// The roles of routes.
const (
	RoleRegular    Role = iota // drawn by Weight during regular use
	RoleSignup                 // a new user's first event
	RoleChurn                  // the account deletion some churning users make
	RoleConnect                // WebSocket $connect, opening every session
	RoleDisconnect             // WebSocket $disconnect, closing every session
)

// Latency is a route's response-time distribution in milliseconds: a
// log-normal with the given median and shape, mixed with probability TailProb
// with a slow tail whose latencies are the body's multiplied by an
// independent log-normal factor of median TailFactor and shape TailSigma.
// The product of log-normals is log-normal, so the whole is a two-component
// log-normal mixture: ln L ~ N(ln MedianMs, Sigma^2) with probability
// 1-TailProb, N(ln MedianMs + ln TailFactor, Sigma^2 + TailSigma^2) otherwise.
type Latency struct {
	MedianMs   float64
	Sigma      float64
	TailProb   float64
	TailFactor float64
	TailSigma  float64
}

// Route is one operation of the simulated API.
type Route struct {
	// Method is the HTTP method; empty for WebSocket routes.
	Method string
	// Template is the REST resource path ("/orders/{id}") or the WebSocket
	// route key ("sendMessage"). Parameters are {id} (a number), {uuid} and
	// {sku} (a short code).
	Template string
	// Weight is the route's share of regular calls; 0 for journey routes.
	Weight float64
	Role   Role
	// Success is the status of a successful call.
	Success int
	Latency Latency
	// ResponseBytes is the median body size of a successful call.
	ResponseBytes float64
	// ClientErrors are the statuses the integration answers a bad call with.
	ClientErrors []int
}

// RouteKey is what the recommended format logs as routeTemplate: the
// resource path for REST APIs, "METHOD /path" for HTTP APIs and the route
// key for WebSocket APIs.
func (r Route) RouteKey(api accesslog.API) string {
	if api == accesslog.HTTP {
		return r.Method + " " + r.Template
	}
	return r.Template
}

// DefaultRoutes is an orders-and-payments API with a sign-up and an account
// deletion route, or for WebSocket a chat-like API.
func DefaultRoutes(api accesslog.API) []Route {
	if api == accesslog.WebSocket {
		return []Route{
			{Template: "$connect", Role: RoleConnect, Success: 200, Latency: Latency{MedianMs: 60, Sigma: 0.4, TailProb: 0.02, TailFactor: 6, TailSigma: 0.5}, ClientErrors: []int{400}},
			{Template: "$disconnect", Role: RoleDisconnect, Success: 200, Latency: Latency{MedianMs: 8, Sigma: 0.3}, ClientErrors: []int{400}},
			{Template: "register", Role: RoleSignup, Success: 200, Latency: Latency{MedianMs: 180, Sigma: 0.4}, ResponseBytes: 300, ClientErrors: []int{400}},
			{Template: "unregister", Role: RoleChurn, Success: 200, Latency: Latency{MedianMs: 120, Sigma: 0.4}, ResponseBytes: 40, ClientErrors: []int{400}},
			{Template: "sendMessage", Weight: 50, Success: 200, Latency: Latency{MedianMs: 35, Sigma: 0.5, TailProb: 0.02, TailFactor: 8, TailSigma: 0.6}, ResponseBytes: 120, ClientErrors: []int{400, 413}},
			{Template: "subscribe", Weight: 15, Success: 200, Latency: Latency{MedianMs: 50, Sigma: 0.4, TailProb: 0.01, TailFactor: 5, TailSigma: 0.5}, ResponseBytes: 80, ClientErrors: []int{400, 404}},
			{Template: "unsubscribe", Weight: 8, Success: 200, Latency: Latency{MedianMs: 30, Sigma: 0.4}, ResponseBytes: 40, ClientErrors: []int{404}},
			{Template: "getHistory", Weight: 12, Success: 200, Latency: Latency{MedianMs: 140, Sigma: 0.7, TailProb: 0.03, TailFactor: 7, TailSigma: 0.6}, ResponseBytes: 6000, ClientErrors: []int{400, 404}},
			{Template: "$default", Weight: 3, Success: 200, Latency: Latency{MedianMs: 20, Sigma: 0.5}, ResponseBytes: 60, ClientErrors: []int{400}},
		}
	}
	return []Route{
		{Method: "POST", Template: "/signup", Role: RoleSignup, Success: 201, Latency: Latency{MedianMs: 250, Sigma: 0.4, TailProb: 0.02, TailFactor: 5, TailSigma: 0.5}, ResponseBytes: 420, ClientErrors: []int{400, 409, 422}},
		{Method: "DELETE", Template: "/account", Role: RoleChurn, Success: 204, Latency: Latency{MedianMs: 180, Sigma: 0.4}, ClientErrors: []int{404}},
		{Method: "GET", Template: "/products", Weight: 20, Success: 200, Latency: Latency{MedianMs: 45, Sigma: 0.5, TailProb: 0.02, TailFactor: 8, TailSigma: 0.6}, ResponseBytes: 8000, ClientErrors: []int{400}},
		{Method: "GET", Template: "/products/{sku}", Weight: 15, Success: 200, Latency: Latency{MedianMs: 30, Sigma: 0.45, TailProb: 0.01, TailFactor: 6, TailSigma: 0.5}, ResponseBytes: 1500, ClientErrors: []int{404}},
		{Method: "GET", Template: "/orders", Weight: 10, Success: 200, Latency: Latency{MedianMs: 80, Sigma: 0.55, TailProb: 0.03, TailFactor: 6, TailSigma: 0.6}, ResponseBytes: 5000, ClientErrors: []int{400}},
		{Method: "POST", Template: "/orders", Weight: 8, Success: 201, Latency: Latency{MedianMs: 150, Sigma: 0.6, TailProb: 0.03, TailFactor: 6, TailSigma: 0.7}, ResponseBytes: 700, ClientErrors: []int{400, 409, 422}},
		{Method: "GET", Template: "/orders/{id}", Weight: 12, Success: 200, Latency: Latency{MedianMs: 40, Sigma: 0.45, TailProb: 0.01, TailFactor: 6, TailSigma: 0.5}, ResponseBytes: 900, ClientErrors: []int{404}},
		{Method: "PUT", Template: "/orders/{id}", Weight: 3, Success: 200, Latency: Latency{MedianMs: 120, Sigma: 0.5, TailProb: 0.02, TailFactor: 5, TailSigma: 0.5}, ResponseBytes: 900, ClientErrors: []int{400, 404, 409}},
		{Method: "DELETE", Template: "/orders/{id}", Weight: 1, Success: 204, Latency: Latency{MedianMs: 90, Sigma: 0.4}, ClientErrors: []int{404, 409}},
		{Method: "GET", Template: "/users/{uuid}", Weight: 6, Success: 200, Latency: Latency{MedianMs: 25, Sigma: 0.4, TailProb: 0.01, TailFactor: 5, TailSigma: 0.5}, ResponseBytes: 600, ClientErrors: []int{404}},
		{Method: "POST", Template: "/payments", Weight: 4, Success: 201, Latency: Latency{MedianMs: 350, Sigma: 0.7, TailProb: 0.05, TailFactor: 6, TailSigma: 0.7}, ResponseBytes: 500, ClientErrors: []int{400, 402, 422}},
		{Method: "GET", Template: "/search", Weight: 8, Success: 200, Latency: Latency{MedianMs: 220, Sigma: 0.8, TailProb: 0.04, TailFactor: 5, TailSigma: 0.6}, ResponseBytes: 12000, ClientErrors: []int{400}},
		{Method: "POST", Template: "/reports", Weight: 1, Success: 202, Latency: Latency{MedianMs: 1500, Sigma: 0.6, TailProb: 0.05, TailFactor: 4, TailSigma: 0.5}, ResponseBytes: 200, ClientErrors: []int{400, 429}},
	}
}

func validateRoutes(routes []Route) error {
	weight := 0.0
	roles := map[Role]int{}
	for i, r := range routes {
		if r.Template == "" {
			return fmt.Errorf("traffic: route %d has no template", i)
		}
		if !safeJSON(r.Method) || !safeJSON(r.Template) {
			return fmt.Errorf("traffic: route %q has characters a log line would need to escape", r.Template)
		}
		l := r.Latency
		if !(l.MedianMs > 0) || l.Sigma < 0 || l.TailProb < 0 || l.TailProb > 1 || l.TailSigma < 0 ||
			(l.TailProb > 0 && !(l.TailFactor > 0)) || math.IsInf(l.MedianMs, 0) {
			return fmt.Errorf("traffic: route %q has an invalid latency distribution", r.Template)
		}
		if r.Success < 100 || r.Success > 599 || r.Weight < 0 || math.IsNaN(r.Weight) || r.ResponseBytes < 0 {
			return fmt.Errorf("traffic: route %q has an invalid status, weight or size", r.Template)
		}
		for _, s := range r.ClientErrors {
			if s < 400 || s > 499 {
				return fmt.Errorf("traffic: route %q has client error status %d", r.Template, s)
			}
		}
		if r.Role == RoleRegular {
			weight += r.Weight
		}
		roles[r.Role]++
	}
	if weight <= 0 {
		return fmt.Errorf("traffic: no regular route has a positive weight")
	}
	for role, n := range roles {
		if role != RoleRegular && n > 1 {
			return fmt.Errorf("traffic: %d routes have journey role %d; at most one may", n, role)
		}
	}
	return nil
}

// safeJSON reports whether s can be written between JSON quotes as is.
func safeJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			return false
		}
	}
	return true
}

// segment is a piece of a route template: a literal or a parameter.
type segment struct {
	lit   string
	param byte // 0 for a literal; 'n' number, 'u' uuid, 's' sku
}

func parseTemplate(t string) []segment {
	var segs []segment
	for len(t) > 0 {
		i := strings.IndexByte(t, '{')
		j := strings.IndexByte(t, '}')
		if i < 0 || j < i {
			segs = append(segs, segment{lit: t})
			break
		}
		if i > 0 {
			segs = append(segs, segment{lit: t[:i]})
		}
		var kind byte = 'n'
		switch t[i+1 : j] {
		case "uuid":
			kind = 'u'
		case "sku":
			kind = 's'
		}
		segs = append(segs, segment{param: kind})
		t = t[j+1:]
	}
	return segs
}

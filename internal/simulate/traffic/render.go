package traffic

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
)

// fieldKind is an access-log key the renderer knows how to fill.
type fieldKind uint8

const (
	fUnknown fieldKind = iota
	fAPIID
	fRequestID
	fRequestTime
	fRequestTimeEpoch
	fProtocol
	fHTTPMethod
	fResourcePath
	fHost
	fUserAgent
	fIP
	fStatus
	fResponseLength
	fDurationMs
	fCaller
	fUser
	fPrincipalID
	fCognitoIdentityID
	fUserArn
	fAPIKey
	fAPIKeyID
	fStage
	fRouteTemplate
	fIntegrationLatency
	fIntegrationStatus
	fErrorMessage
	fErrorType
	fEventType
	fConnectionID
	fCompanyID
	fClaimsSub
	fMessageID
	fConnectedAt
	fIntegrationError
)

func kindOf(key string) fieldKind {
	switch key {
	case "apiId":
		return fAPIID
	case "requestId":
		return fRequestID
	case "requestTime":
		return fRequestTime
	case "requestTimeEpoch":
		return fRequestTimeEpoch
	case "protocol":
		return fProtocol
	case "httpMethod":
		return fHTTPMethod
	case "resourcePath":
		return fResourcePath
	case "requestHostHeader":
		return fHost
	case "requestUserAgentHeader":
		return fUserAgent
	case "ip":
		return fIP
	case "status":
		return fStatus
	case "responseLength":
		return fResponseLength
	case "durationMs":
		return fDurationMs
	case "caller":
		return fCaller
	case "user":
		return fUser
	case "principalId":
		return fPrincipalID
	case "cognitoIdentityId":
		return fCognitoIdentityID
	case "userArn":
		return fUserArn
	case "apiKey":
		return fAPIKey
	case "apiKeyId":
		return fAPIKeyID
	case "stage":
		return fStage
	case "routeTemplate":
		return fRouteTemplate
	case "integrationLatencyMs":
		return fIntegrationLatency
	case "integrationStatus":
		return fIntegrationStatus
	case "errorMessage":
		return fErrorMessage
	case "errorType":
		return fErrorType
	case "eventType":
		return fEventType
	case "connectionId":
		return fConnectionID
	case "companyId":
		return fCompanyID
	case "claimsSub":
		return fClaimsSub
	case "messageId":
		return fMessageID
	case "connectedAt":
		return fConnectedAt
	case "integrationErrorMessage":
		return fIntegrationError
	}
	return fUnknown
}

var (
	probePaths  = [...]string{"/", "/.env", "/wp-login.php", "/admin", "/.git/config", "/phpmyadmin/index.php", "/actuator/health", "/api/v2/users", "/robots.txt", "/favicon.ico", "/xmlrpc.php", "/console"}
	probeAgents = [...]string{"Mozilla/5.0 zgrab/0.x", "python-requests/2.28.1", "curl/7.88.1", "Go-http-client/1.1", "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", "masscan/1.3"}
)

var anonymousIdentity = Identity{User: "-", Caller: "-", UserArn: "-", APIKey: "-", APIKeyID: "-", PrincipalID: "-", CognitoIdentityID: "-", ClaimsSub: "-"}

// emit decides the outcome of a planned call and renders it.
func (m *Model) emit(a *actor, c call) Event {
	r := m.r
	t := Truth{Sender: int(a.user), IntegrationLatencyMs: -1, IntegrationStatus: -1}
	var (
		u        *User
		identity = anonymousIdentity
		ip, ua   string
		protocol = "HTTP/1.1"
		route    *routeInfo
	)
	if a.user >= 0 {
		u = &m.users[a.user]
		identity, ip, ua, protocol = u.Identity, u.IP, u.UserAgent, a.protocol
		route = &m.routes[c.route]
		t.Role = route.Role
		if a.firstPending && route.Role == RoleRegular {
			t.FirstCall, a.firstPending = true, false
		}
	} else {
		ip, ua = randomIP(r), probeAgents[r.IntN(len(probeAgents))]
	}

	// The outcome.
	keep := true
	var gw gatewayAnswer
	switch {
	case u == nil:
		if m.api != accesslog.WebSocket && r.Float64() < 0.65 {
			t.Outcome = OutcomeMissingToken
		} else {
			t.Outcome = OutcomeUnauthenticated
			if m.api == accesslog.WebSocket {
				route = &m.routes[m.roleRoute[RoleConnect]]
			} else {
				route = &m.routes[m.pickRoute()]
			}
			t.Role = route.Role
		}
	case route.Role == RoleConnect && !c.journey:
		if r.Float64() < m.authProb {
			t.Outcome = OutcomeAuthRejected
			// The session is refused: drop the rest of this connection.
			a.plan = slices.DeleteFunc(a.plan, func(x call) bool { return x.conn == c.conn && x.t >= c.t && x.route != c.route })
		}
	case route.Role == RoleRegular:
		x := r.Float64()
		t.Outcome = OutcomeOK
		for i, cum := range m.mixCum {
			if x < cum {
				t.Outcome = Outcome(i + 1)
				break
			}
		}
	}
	if t.Outcome.Rejected() {
		gw = gatewayAnswerFor(m.api, t.Outcome, authOf(u), r.Float64())
		keep = gw.keepIdentity
		t.Rejected = true
		t.Status = gw.status
		t.ErrorType, t.ErrorMessage = gw.errType, gw.errMsg
		t.ResponseBytes = len(`{"message":""}`) + len(gw.errMsg)
	}
	if !keep {
		identity = anonymousIdentity
	}

	// Route, method and path.
	ws := m.api == accesslog.WebSocket
	var sc []byte
	switch {
	case route == nil:
		t.Method = "GET"
		if r.IntN(4) == 0 {
			t.Method = "POST"
		}
		t.Path = probePaths[r.IntN(len(probePaths))]
		t.RouteKey = "-"
	case ws:
		t.Route, t.RouteKey = route.Template, route.key
		t.ConnectionID, t.ConnectedAt = c.conn, c.connectedAt
		switch route.Role {
		case RoleConnect:
			t.EventType = "CONNECT"
			if u == nil {
				t.ConnectionID, t.ConnectedAt = m.connectionID(), c.t
			}
		case RoleDisconnect:
			t.EventType = "DISCONNECT"
		default:
			t.EventType = "MESSAGE"
			t.MessageID = string(appendChars(make([]byte, 0, 16), r, 15, base64Alpha[:62])) + "="
		}
	default:
		t.Route, t.RouteKey, t.Method = route.Template, route.key, route.Method
		sc = append(m.scratch[:0], m.pathPrefix...)
		for _, s := range route.segs {
			switch s.param {
			case 0:
				sc = append(sc, s.lit...)
			case 'u':
				sc = appendUUID(sc, r)
			case 's':
				sc = append(sc, 'B', '0')
				sc = appendChars(sc, r, 8, upperAlnum)
			default:
				sc = strconv.AppendInt(sc, 1+int64(r.IntN(99999)), 10)
			}
		}
		t.Path = string(sc)
	}

	// Latency and the integration's part.
	switch {
	case t.Outcome == OutcomeTimeout:
		t.LatencyMs = 29000 + int(math.Exp(math.Log(12)+0.5*r.NormFloat64())+0.5)
		t.IntegrationLatencyMs = t.LatencyMs - 1 - r.IntN(5)
	case t.Rejected:
		median := 3.0
		if t.Outcome == OutcomeAuthRejected && authOf(u) == AuthLambda {
			median = 45 // the authorizer Lambda ran
		}
		t.LatencyMs = int(math.Exp(math.Log(median)+0.6*r.NormFloat64()) + 0.5)
	default:
		l := route.Latency
		z := math.Log(l.MedianMs) + l.Sigma*r.NormFloat64()
		if l.TailProb > 0 && r.Float64() < l.TailProb {
			z += math.Log(l.TailFactor) + l.TailSigma*r.NormFloat64()
		}
		t.LatencyMs = int(math.Exp(z) + 0.5)
		overhead := 1 + int(math.Exp(math.Log(4)+0.5*r.NormFloat64()))
		t.IntegrationLatencyMs = max(0, t.LatencyMs-overhead)
		switch t.Outcome {
		case OutcomeClientError:
			t.Status = 400
			if len(route.ClientErrors) > 0 {
				t.Status = route.ClientErrors[r.IntN(len(route.ClientErrors))]
			}
			t.ResponseBytes = 40 + r.IntN(120)
		case OutcomeServerError:
			t.Status = [...]int{500, 500, 500, 500, 500, 500, 500, 502, 503, 503}[r.IntN(10)]
			t.ResponseBytes = 30 + r.IntN(60)
		default:
			t.Status = route.Success
			if route.ResponseBytes > 0 {
				t.ResponseBytes = int(math.Exp(math.Log(route.ResponseBytes) + 0.4*r.NormFloat64()))
			}
		}
		t.IntegrationStatus = t.Status
	}

	// Identity and company.
	if u != nil && keep {
		t.UserID = u.ID
		t.IdentifiedBy = u.Auth.Key()
		t.CompanyID = u.CompanyID
		t.CompanyLogged = u.CompanyLogged && m.hasCompanyKey()
	}
	company := "-"
	if t.CompanyLogged {
		company = u.CompanyID
	}

	// The request id.
	sc = sc[:0]
	if m.api == accesslog.REST {
		sc = appendUUID(sc, r)
	} else {
		sc = appendHTTPRequestID(sc, r)
	}
	t.RequestID = string(sc)
	m.scratch = sc

	// The line.
	line := make([]byte, 0, m.lineCap)
	for i, f := range m.fields {
		line = append(line, m.keys[i]...)
		switch f {
		case fAPIID:
			line = append(line, m.apiID...)
		case fRequestID:
			line = append(line, t.RequestID...)
		case fRequestTime:
			line = append(line, m.requestTime(c.t)...)
		case fRequestTimeEpoch:
			line = strconv.AppendInt(line, c.t, 10)
		case fProtocol:
			line = append(line, protocol...)
		case fHTTPMethod:
			line = appendOrDash(line, t.Method)
		case fResourcePath:
			line = appendOrDash(line, t.Path)
		case fHost:
			line = append(line, m.host...)
		case fUserAgent:
			line = append(line, ua...)
		case fIP:
			line = append(line, ip...)
		case fStatus:
			line = strconv.AppendInt(line, int64(t.Status), 10)
		case fResponseLength:
			line = strconv.AppendInt(line, int64(t.ResponseBytes), 10)
		case fDurationMs:
			line = strconv.AppendInt(line, int64(t.LatencyMs), 10)
		case fCaller:
			line = append(line, identity.Caller...)
		case fUser:
			line = append(line, identity.User...)
		case fPrincipalID:
			line = append(line, identity.PrincipalID...)
		case fCognitoIdentityID:
			line = append(line, identity.CognitoIdentityID...)
		case fUserArn:
			line = append(line, identity.UserArn...)
		case fAPIKey:
			line = append(line, identity.APIKey...)
		case fAPIKeyID:
			line = append(line, identity.APIKeyID...)
		case fStage:
			line = append(line, m.stage...)
		case fRouteTemplate:
			line = append(line, t.RouteKey...)
		case fIntegrationLatency:
			line = appendIntOrDash(line, t.IntegrationLatencyMs)
		case fIntegrationStatus:
			line = appendIntOrDash(line, t.IntegrationStatus)
		case fErrorMessage:
			line = appendOrDash(line, t.ErrorMessage)
		case fErrorType:
			line = appendOrDash(line, t.ErrorType)
		case fEventType:
			line = appendOrDash(line, t.EventType)
		case fConnectionID:
			line = appendOrDash(line, t.ConnectionID)
		case fCompanyID:
			line = append(line, company...)
		case fClaimsSub:
			line = append(line, identity.ClaimsSub...)
		case fMessageID:
			line = appendOrDash(line, t.MessageID)
		case fConnectedAt:
			line = appendIntOrDash(line, int(t.ConnectedAt))
		default:
			line = append(line, '-')
		}
		line = append(line, '"')
	}
	line = append(line, '}')
	m.lineCap = max(m.lineCap, len(line))
	return Event{Time: time.UnixMilli(c.t).UTC(), Line: line, Truth: t}
}

func (m *Model) hasCompanyKey() bool {
	return m.fields[len(m.fields)-1] == fCompanyID
}

func authOf(u *User) Auth {
	if u == nil {
		return NumAuths
	}
	return u.Auth
}

func appendOrDash(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return append(b, s...)
}

func appendIntOrDash(b []byte, v int) []byte {
	if v < 0 {
		return append(b, '-')
	}
	return strconv.AppendInt(b, int64(v), 10)
}

// requestTime formats $context.requestTime (02/Jan/2006:15:04:05 +0000),
// reusing the text while the second does not change.
func (m *Model) requestTime(ms int64) []byte {
	sec := floorDiv(ms, secondMs)
	if sec != m.lastSec {
		m.lastSec = sec
		time.Unix(sec, 0).UTC().AppendFormat(m.timeText[:0], "02/Jan/2006:15:04:05 +0000")
	}
	return m.timeText[:]
}

package accesslog

import (
	"fmt"
	"strings"
)

// API is the kind of API Gateway API whose access log is being formatted.
type API string

// The kinds of API Gateway APIs.
const (
	REST      API = "rest"
	HTTP      API = "http"
	WebSocket API = "websocket"
)

// APIs lists the kinds of API in the order the docs present them.
var APIs = []API{REST, HTTP, WebSocket}

// Field is one key of an access-log format and the $context variable that
// API Gateway substitutes for it.
type Field struct {
	Key      string
	Variable string
}

// SeedFormat is the format the product contract calls the seed format
// (PRODUCT.md section 5): the key set that existing API Gateway analytics
// set-ups log for REST APIs. Gatescope accepts it as is. Recommended does not
// read this variable, so changing it cannot change the recommended formats.
var SeedFormat = seedFields()

func seedFields() []Field {
	return []Field{
		{"apiId", "$context.apiId"},
		{"requestId", "$context.requestId"},
		{"requestTime", "$context.requestTime"},
		{"protocol", "$context.protocol"},
		{"httpMethod", "$context.httpMethod"},
		{"resourcePath", "$context.path"},
		{"requestHostHeader", "$context.domainName"},
		{"requestUserAgentHeader", "$context.identity.userAgent"},
		{"ip", "$context.identity.sourceIp"},
		{"status", "$context.status"},
		{"responseLength", "$context.responseLength"},
		{"durationMs", "$context.responseLatency"},
		{"caller", "$context.identity.caller"},
		{"user", "$context.identity.user"},
		{"principalId", "$context.authorizer.principalId"},
		{"cognitoIdentityId", "$context.identity.cognitoIdentityId"},
		{"userArn", "$context.identity.userArn"},
		{"apiKey", "$context.identity.apiKey"},
		{"apiKeyId", "$context.identity.apiKeyId"},
	}
}

// restExtra is what the recommended REST format adds to the seed.
//
// REST APIs have both $context.integrationStatus and
// $context.integration.status; the latter is the status the integration
// returned (for a Lambda proxy, the function's own statusCode), which is what
// an analyst wants. claimsSub is the subject of a Cognito user pool
// authorizer's claims, "-" when the method has no such authorizer.
func restExtra() []Field {
	return []Field{
		{"requestTimeEpoch", "$context.requestTimeEpoch"},
		{"stage", "$context.stage"},
		{"routeTemplate", "$context.resourcePath"},
		{"integrationLatencyMs", "$context.integration.latency"},
		{"integrationStatus", "$context.integration.status"},
		{"claimsSub", "$context.authorizer.claims.sub"},
		{"errorMessage", "$context.error.message"},
		{"errorType", "$context.error.responseType"},
		{"integrationErrorMessage", "$context.integration.error"},
	}
}

// httpFields is the recommended format for HTTP APIs, which log through
// CloudWatch Logs. HTTP APIs have no API keys, so neither apiKey nor apiKeyId
// is logged; the identity variables are filled by IAM authorization, and a
// JWT authorizer's subject is $context.authorizer.claims.sub (access logs
// have no $context.authorizer.jwt.* variables: that name belongs to the
// Lambda event). $context.integrationErrorMessage is HTTP-only and says why
// an integration failed when errorMessage only says "Internal Server Error".
func httpFields() []Field {
	return []Field{
		{"apiId", "$context.apiId"},
		{"requestId", "$context.requestId"},
		{"requestTime", "$context.requestTime"},
		{"requestTimeEpoch", "$context.requestTimeEpoch"},
		{"stage", "$context.stage"},
		{"protocol", "$context.protocol"},
		{"httpMethod", "$context.httpMethod"},
		{"resourcePath", "$context.path"},
		{"routeTemplate", "$context.routeKey"},
		{"requestHostHeader", "$context.domainName"},
		{"requestUserAgentHeader", "$context.identity.userAgent"},
		{"ip", "$context.identity.sourceIp"},
		{"status", "$context.status"},
		{"responseLength", "$context.responseLength"},
		{"durationMs", "$context.responseLatency"},
		{"integrationLatencyMs", "$context.integration.latency"},
		{"integrationStatus", "$context.integration.status"},
		{"caller", "$context.identity.caller"},
		{"user", "$context.identity.user"},
		{"principalId", "$context.authorizer.principalId"},
		{"claimsSub", "$context.authorizer.claims.sub"},
		{"cognitoIdentityId", "$context.identity.cognitoIdentityId"},
		{"userArn", "$context.identity.userArn"},
		{"errorMessage", "$context.error.message"},
		{"errorType", "$context.error.responseType"},
		{"integrationErrorMessage", "$context.integrationErrorMessage"},
	}
}

// websocketFields is the recommended format for WebSocket APIs. A WebSocket
// API logs one line per connect, message and disconnect; it has no HTTP
// method, path, protocol, response length or response latency variables, so
// those keys are absent rather than always "-". messageId is set for MESSAGE
// events only; connectedAt (epoch ms) lets a connection's lifetime be
// computed from its DISCONNECT line.
func websocketFields() []Field {
	return []Field{
		{"apiId", "$context.apiId"},
		{"requestId", "$context.requestId"},
		{"requestTime", "$context.requestTime"},
		{"requestTimeEpoch", "$context.requestTimeEpoch"},
		{"stage", "$context.stage"},
		{"routeTemplate", "$context.routeKey"},
		{"eventType", "$context.eventType"},
		{"connectionId", "$context.connectionId"},
		{"messageId", "$context.messageId"},
		{"connectedAt", "$context.connectedAt"},
		{"requestHostHeader", "$context.domainName"},
		{"ip", "$context.identity.sourceIp"},
		{"requestUserAgentHeader", "$context.identity.userAgent"},
		{"status", "$context.status"},
		{"integrationLatencyMs", "$context.integrationLatency"},
		{"integrationStatus", "$context.integrationStatus"},
		{"caller", "$context.identity.caller"},
		{"user", "$context.identity.user"},
		{"principalId", "$context.authorizer.principalId"},
		{"cognitoIdentityId", "$context.identity.cognitoIdentityId"},
		{"userArn", "$context.identity.userArn"},
		{"apiKeyId", "$context.identity.apiKeyId"},
		{"errorMessage", "$context.error.message"},
		{"errorType", "$context.error.responseType"},
	}
}

// Recommended returns the recommended format's fields for an API kind. The
// slice is the caller's own: changing it changes no later result.
func Recommended(api API) ([]Field, error) {
	switch api {
	case REST:
		return append(seedFields(), restExtra()...), nil
	case HTTP:
		return httpFields(), nil
	case WebSocket:
		return websocketFields(), nil
	}
	return nil, fmt.Errorf("unknown API kind %q (want rest, http or websocket)", string(api))
}

// ParseAPI reads an API kind as a user types it: "rest", "http" or
// "websocket", in any case, with surrounding spaces ignored.
func ParseAPI(s string) (API, error) {
	api := API(strings.ToLower(strings.TrimSpace(s)))
	for _, known := range APIs {
		if api == known {
			return api, nil
		}
	}
	return "", fmt.Errorf("unknown API kind %q (want rest, http or websocket)", s)
}

// FormatFor returns the recommended access-log format for an API kind as the
// one line to paste into the stage's access-log settings; it is what
// `gatescope aws log-format --api KIND` prints. The deploy templates and
// docs/aws.md embed these exact strings, and their tests hold them to it.
func FormatFor(api string) (string, error) {
	kind, err := ParseAPI(api)
	if err != nil {
		return "", err
	}
	fields, err := Recommended(kind)
	if err != nil {
		return "", err
	}
	return Render(fields), nil
}

// Render writes fields as the one-line JSON template that API Gateway's
// access-log settings take: every value quoted, so that "-" and empty
// values stay valid JSON. Keys and variables are identifiers and dots, for
// which Go quoting and JSON quoting agree.
func Render(fields []Field) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%q", f.Key, f.Variable)
	}
	b.WriteByte('}')
	return b.String()
}

package traffic

import "github.com/gatescope/gatescope/internal/accesslog"

// Outcome is what happened to a call.
type Outcome uint8

// The outcomes. All but OK, ClientError and ServerError are answered by API
// Gateway itself (Truth.Rejected).
const (
	OutcomeOK              Outcome = iota
	OutcomeClientError             // 4xx from the integration
	OutcomeServerError             // 5xx from the integration
	OutcomeAuthRejected            // authorizer, API key or IAM check refused the user
	OutcomeThrottled               // 429
	OutcomeTimeout                 // the integration did not answer in time
	OutcomeWAF                     // blocked by AWS WAF
	OutcomeMissingToken            // anonymous call to an unknown route (REST: 403 Missing Authentication Token)
	OutcomeUnauthenticated         // anonymous call to a real route without credentials
	NumOutcomes
)

func (o Outcome) String() string {
	return [...]string{"ok", "client-error", "server-error", "auth-rejected", "throttled", "timeout", "waf", "missing-token", "unauthenticated", "unknown"}[min(o, NumOutcomes)]
}

// Rejected says the response came from API Gateway, not the integration.
func (o Outcome) Rejected() bool {
	return o >= OutcomeAuthRejected
}

// gatewayAnswer is what API Gateway logs for a response it made itself.
type gatewayAnswer struct {
	status       int
	errType      string
	errMsg       string
	keepIdentity bool // the identity variables are still logged
}

// gatewayAnswerFor maps a gateway outcome to its status and error. variant
// is a uniform draw in [0, 1) that picks among equally possible answers.
func gatewayAnswerFor(api accesslog.API, o Outcome, a Auth, variant float64) gatewayAnswer {
	rest := api == accesslog.REST
	switch o {
	case OutcomeAuthRejected:
		switch a {
		case AuthAPIKey:
			return gatewayAnswer{403, "INVALID_API_KEY", "Forbidden", false}
		case AuthLambda:
			if variant < 0.7 {
				return gatewayAnswer{401, "UNAUTHORIZED", "Unauthorized", false}
			}
			if rest {
				return gatewayAnswer{403, "ACCESS_DENIED", "User is not authorized to access this resource with an explicit deny", true}
			}
			return gatewayAnswer{403, "ACCESS_DENIED", "Forbidden", true}
		case AuthJWT:
			return gatewayAnswer{401, "UNAUTHORIZED", "Unauthorized", false}
		case AuthCognito:
			if rest {
				return gatewayAnswer{403, "EXPIRED_TOKEN", "The security token included in the request is expired", false}
			}
			return gatewayAnswer{403, "EXPIRED_TOKEN", "Forbidden", false}
		default:
			if rest {
				return gatewayAnswer{403, "INVALID_SIGNATURE", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.", false}
			}
			return gatewayAnswer{403, "INVALID_SIGNATURE", "Forbidden", false}
		}
	case OutcomeThrottled:
		if a == AuthAPIKey && variant < 0.3 {
			return gatewayAnswer{429, "QUOTA_EXCEEDED", "Limit Exceeded", true}
		}
		return gatewayAnswer{429, "THROTTLED", "Too Many Requests", true}
	case OutcomeTimeout:
		if api == accesslog.HTTP {
			return gatewayAnswer{503, "INTEGRATION_TIMEOUT", "Service Unavailable", true}
		}
		return gatewayAnswer{504, "INTEGRATION_TIMEOUT", "Endpoint request timed out", true}
	case OutcomeWAF:
		return gatewayAnswer{403, "WAF_FILTERED", "Forbidden", false}
	case OutcomeMissingToken:
		if api == accesslog.HTTP {
			return gatewayAnswer{404, "RESOURCE_NOT_FOUND", "Not Found", false}
		}
		return gatewayAnswer{403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", false}
	case OutcomeUnauthenticated:
		return gatewayAnswer{401, "UNAUTHORIZED", "Unauthorized", false}
	}
	return gatewayAnswer{500, "DEFAULT_5XX", "Internal server error", false}
}

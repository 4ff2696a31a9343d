package accesslog

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// contextVariable is the shape of an API Gateway $context variable.
var contextVariable = regexp.MustCompile(`^\$context(\.[A-Za-z][A-Za-z0-9]*)+$`)

// documented lists, per API kind, the $context variables that API Gateway's
// access-logging reference documents for that kind, written from AWS's
// references ("$context variables for data models, authorizers, mapping
// templates, and access logging" for REST, "Customizing HTTP API access
// logs", and the WebSocket API $context reference), not from format.go. A
// recommended format may use only these.
var documented = map[API][]string{
	REST: {
		"$context.accountId", "$context.apiId", "$context.authorizer.principalId",
		"$context.authorizer.claims.sub", "$context.domainName", "$context.domainPrefix",
		"$context.error.message", "$context.error.messageString", "$context.error.responseType",
		"$context.error.validationErrorString", "$context.extendedRequestId", "$context.httpMethod",
		"$context.identity.accountId", "$context.identity.apiKey", "$context.identity.apiKeyId",
		"$context.identity.caller", "$context.identity.cognitoIdentityId",
		"$context.identity.cognitoIdentityPoolId", "$context.identity.sourceIp",
		"$context.identity.user", "$context.identity.userAgent", "$context.identity.userArn",
		"$context.integration.error", "$context.integration.integrationStatus",
		"$context.integration.latency", "$context.integration.requestId",
		"$context.integration.status", "$context.integrationLatency", "$context.integrationStatus",
		"$context.path", "$context.protocol", "$context.requestId", "$context.requestTime",
		"$context.requestTimeEpoch", "$context.resourceId", "$context.resourcePath",
		"$context.responseLatency", "$context.responseLength", "$context.stage", "$context.status",
	},
	HTTP: {
		"$context.accountId", "$context.apiId", "$context.authorizer.claims.sub",
		"$context.authorizer.error", "$context.authorizer.principalId",
		"$context.awsEndpointRequestId", "$context.dataProcessed", "$context.domainName",
		"$context.domainPrefix", "$context.error.message", "$context.error.messageString",
		"$context.error.responseType", "$context.extendedRequestId", "$context.httpMethod",
		"$context.identity.accountId", "$context.identity.caller",
		"$context.identity.cognitoIdentityId", "$context.identity.cognitoIdentityPoolId",
		"$context.identity.principalOrgId", "$context.identity.sourceIp", "$context.identity.user",
		"$context.identity.userAgent", "$context.identity.userArn", "$context.integration.error",
		"$context.integration.integrationStatus", "$context.integration.latency",
		"$context.integration.requestId", "$context.integration.status",
		"$context.integrationErrorMessage", "$context.integrationLatency",
		"$context.integrationStatus", "$context.path", "$context.protocol", "$context.requestId",
		"$context.requestTime", "$context.requestTimeEpoch", "$context.responseLatency",
		"$context.responseLength", "$context.routeKey", "$context.stage", "$context.status",
	},
	WebSocket: {
		"$context.apiId", "$context.authorizer.principalId", "$context.connectedAt",
		"$context.connectionId", "$context.domainName", "$context.error.message",
		"$context.error.messageString", "$context.error.responseType", "$context.eventType",
		"$context.extendedRequestId", "$context.identity.accountId", "$context.identity.apiKey",
		"$context.identity.apiKeyId", "$context.identity.caller",
		"$context.identity.cognitoIdentityId", "$context.identity.sourceIp",
		"$context.identity.user", "$context.identity.userAgent", "$context.identity.userArn",
		"$context.integrationLatency", "$context.integrationStatus", "$context.messageId",
		"$context.requestId", "$context.requestTime", "$context.requestTimeEpoch",
		"$context.routeKey", "$context.stage", "$context.status",
	},
}

// parserKeys are the keys the parser gives a column of their own; any other
// key becomes metadata, and the only such keys a recommended format may use
// are metadataKeys, so that a new key is a decision rather than an accident.
var (
	parserKeys = []string{
		"apiId", "requestId", "requestTime", "requestTimeEpoch", "protocol", "httpMethod",
		"resourcePath", "routeTemplate", "requestHostHeader", "requestUserAgentHeader", "ip",
		"status", "responseLength", "durationMs", "integrationLatencyMs", "integrationStatus",
		"caller", "user", "principalId", "cognitoIdentityId", "userArn", "apiKey", "apiKeyId",
		"companyId", "stage", "errorMessage", "errorType", "eventType", "connectionId",
		"claimsSub",
	}
	metadataKeys = []string{"integrationErrorMessage", "messageId", "connectedAt"}
)

// decodeTemplate reads a rendered format back with a token decoder, so that
// a repeated key is seen rather than silently merged as a map would.
func decodeTemplate(t *testing.T, s string) []Field {
	t.Helper()
	if strings.ContainsAny(s, "\n\r") {
		t.Fatalf("format spans lines: %q", s)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("format does not open a JSON object: %v %v", tok, err)
	}
	var out []Field
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatalf("key: %v", err)
		}
		v, err := dec.Token()
		if err != nil {
			t.Fatalf("value of %v: %v", k, err)
		}
		vs, ok := v.(string)
		if !ok {
			t.Fatalf("value of %v is %T, want a quoted string", k, v)
		}
		out = append(out, Field{Key: k.(string), Variable: vs})
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		t.Fatalf("format does not close its object: %v %v", tok, err)
	}
	if _, err := dec.Token(); err == nil {
		t.Fatalf("trailing data after the object in %q", s)
	}
	return out
}

func allFormats(t *testing.T) map[string][]Field {
	t.Helper()
	out := map[string][]Field{"seed": SeedFormat}
	for _, api := range APIs {
		f, err := Recommended(api)
		if err != nil {
			t.Fatalf("Recommended(%s): %v", api, err)
		}
		out[string(api)] = f
	}
	return out
}

func TestRenderIsValidJSONOfContextVariables(t *testing.T) {
	for name, fields := range allFormats(t) {
		t.Run(name, func(t *testing.T) {
			rendered := Render(fields)
			if !json.Valid([]byte(rendered)) {
				t.Fatalf("not valid JSON: %s", rendered)
			}
			got := decodeTemplate(t, rendered)
			if !slices.Equal(got, fields) {
				t.Errorf("round trip changed the fields:\n got %v\nwant %v", got, fields)
			}
			seen := map[string]bool{}
			for _, f := range got {
				if seen[f.Key] {
					t.Errorf("key %q appears twice", f.Key)
				}
				seen[f.Key] = true
				if !contextVariable.MatchString(f.Variable) {
					t.Errorf("%s = %q is not a $context variable", f.Key, f.Variable)
				}
			}
			// API Gateway refuses a format without a request id.
			if !strings.Contains(rendered, `"$context.requestId"`) {
				t.Errorf("format lacks $context.requestId")
			}
		})
	}
}

func TestRecommendedUsesOnlyDocumentedVariables(t *testing.T) {
	for _, api := range APIs {
		fields, _ := Recommended(api)
		for _, f := range fields {
			if !slices.Contains(documented[api], f.Variable) {
				t.Errorf("%s: %s = %s is not an access-log variable of %s APIs", api, f.Key, f.Variable, api)
			}
			if !slices.Contains(parserKeys, f.Key) && !slices.Contains(metadataKeys, f.Key) {
				t.Errorf("%s: key %q is neither a parser key nor an agreed metadata key", api, f.Key)
			}
		}
	}
	for _, f := range SeedFormat {
		if !slices.Contains(documented[REST], f.Variable) {
			t.Errorf("seed: %s = %s is not a REST access-log variable", f.Key, f.Variable)
		}
	}
}

// TestRecommendedCarriesTheContractKeys checks PRODUCT.md section 5: what the
// recommended format adds, with the variable the contract names for it.
func TestRecommendedCarriesTheContractKeys(t *testing.T) {
	common := []string{
		"apiId", "requestId", "requestTime", "requestTimeEpoch", "stage", "routeTemplate", "ip",
		"status", "integrationLatencyMs", "integrationStatus", "errorMessage", "errorType",
		"caller", "user", "principalId", "cognitoIdentityId", "userArn",
	}
	want := map[API]map[string]string{
		REST:      {"routeTemplate": "$context.resourcePath", "resourcePath": "$context.path", "errorType": "$context.error.responseType", "apiKeyId": "$context.identity.apiKeyId", "durationMs": "$context.responseLatency"},
		HTTP:      {"routeTemplate": "$context.routeKey", "resourcePath": "$context.path", "errorType": "$context.error.responseType", "durationMs": "$context.responseLatency", "claimsSub": "$context.authorizer.claims.sub"},
		WebSocket: {"routeTemplate": "$context.routeKey", "eventType": "$context.eventType", "connectionId": "$context.connectionId", "errorType": "$context.error.responseType"},
	}
	for _, api := range APIs {
		fields, _ := Recommended(api)
		byKey := map[string]string{}
		for _, f := range fields {
			byKey[f.Key] = f.Variable
		}
		for _, k := range common {
			if byKey[k] == "" {
				t.Errorf("%s: recommended format lacks %q", api, k)
			}
		}
		for k, v := range want[api] {
			if byKey[k] != v {
				t.Errorf("%s: %s = %q, want %q", api, k, byKey[k], v)
			}
		}
	}
	// HTTP APIs have no API keys: logging them would only ever give "-".
	httpFields, _ := Recommended(HTTP)
	for _, f := range httpFields {
		if strings.HasPrefix(f.Variable, "$context.identity.apiKey") {
			t.Errorf("HTTP format logs %s, which HTTP APIs do not have", f.Variable)
		}
	}
}

func TestRecommendedRESTExtendsTheSeed(t *testing.T) {
	rest, _ := Recommended(REST)
	if len(rest) <= len(SeedFormat) || !slices.Equal(rest[:len(SeedFormat)], SeedFormat) {
		t.Fatalf("recommended REST format does not start with the seed format")
	}
}

func TestRecommendedReturnsACopy(t *testing.T) {
	for _, api := range APIs {
		a, _ := Recommended(api)
		before := Render(a)
		a[0] = Field{"mutated", "$context.mutated"}
		b, _ := Recommended(api)
		if Render(b) != before {
			t.Errorf("%s: changing a result changed the next one", api)
		}
	}
}

func TestFormatFor(t *testing.T) {
	tests := []struct {
		in       string
		want     API
		contains string
		wantErr  bool
	}{
		{in: "rest", want: REST, contains: `"apiKeyId":"$context.identity.apiKeyId"`},
		{in: " HTTP ", want: HTTP, contains: `"routeTemplate":"$context.routeKey"`},
		{in: "WebSocket", want: WebSocket, contains: `"eventType":"$context.eventType"`},
		{in: "", wantErr: true},
		{in: "ws", wantErr: true},
		{in: "soap", wantErr: true},
		{in: "rest,http", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			got, err := FormatFor(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("FormatFor(%q) = %q, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("FormatFor(%q): %v", tc.in, err)
			}
			fields, _ := Recommended(tc.want)
			if got != Render(fields) {
				t.Errorf("FormatFor(%q) is not the %s format", tc.in, tc.want)
			}
			if !strings.Contains(got, tc.contains) {
				t.Errorf("FormatFor(%q) lacks %s", tc.in, tc.contains)
			}
		})
	}
}

func TestRecommendedUnknownAPI(t *testing.T) {
	if _, err := Recommended(API("graphql")); err == nil {
		t.Fatal("Recommended accepted an unknown API kind")
	}
}

func FuzzFormatFor(f *testing.F) {
	for _, s := range []string{"rest", "HTTP", " websocket\t", "", "r\u0130st"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := FormatFor(s)
		if err != nil {
			return
		}
		if !json.Valid([]byte(got)) {
			t.Fatalf("FormatFor(%q) gave invalid JSON", s)
		}
		api, err := ParseAPI(s)
		if err != nil || !slices.Contains(APIs, api) {
			t.Fatalf("FormatFor(%q) succeeded but ParseAPI says %q, %v", s, api, err)
		}
	})
}

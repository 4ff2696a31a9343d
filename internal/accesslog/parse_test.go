package accesslog

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatescope/gatescope/internal/event"
)

var (
	parseReceived = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	parseCtx      = Context{AppID: "app_test", Source: event.SourceFirehose, Received: parseReceived}
)

// bare is the event of a line that logs nothing but requestId and a time:
// every other field absent.
func bare(requestID string, at time.Time) event.Event {
	return event.Event{
		AppID: "app_test", RequestID: requestID, Time: at, Received: parseReceived, Source: event.SourceFirehose,
		Status: event.Absent, ResponseBytes: event.Absent, LatencyMs: event.Absent, IntegrationLatencyMs: event.Absent,
	}
}

// at1 is 2026-02-28T09:15:30Z: requestTime "28/Feb/2026:09:15:30 +0000",
// requestTimeEpoch "1772270130000".
var at1 = time.Date(2026, 2, 28, 9, 15, 30, 0, time.UTC)

// seedLine is a REST access log line in the seed format, as API Gateway
// writes it: every value a string, "-" for what the request did not have.
const seedLine = `{"apiId":"a1b2c3d4e5","requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef",` +
	`"requestTime":"28/Feb/2026:09:15:30 +0000","protocol":"HTTP/1.1","httpMethod":"GET",` +
	`"resourcePath":"/prod/orders/12345","requestHostHeader":"api.example.com",` +
	`"requestUserAgentHeader":"Mozilla/5.0 (X11; Linux x86_64)","ip":"198.51.100.23","status":"200",` +
	`"responseLength":"1532","durationMs":"87","caller":"-","user":"-","principalId":"-",` +
	`"cognitoIdentityId":"-","userArn":"-","apiKey":"AbCdEfGhIjKlMnOpQrSt1234","apiKeyId":"k7x9q2m4p1"}`

// recommendedLine is the recommended REST format, with an authorizer and
// an integration error.
const recommendedLine = `{"apiId":"a1b2c3d4e5","requestId":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",` +
	`"requestTime":"28/Feb/2026:09:15:30 +0000","requestTimeEpoch":"1772270130250","stage":"prod",` +
	`"protocol":"HTTP/2.0","httpMethod":"POST","resourcePath":"/prod/orders/12345/items",` +
	`"routeTemplate":"/orders/{orderId}/items","requestHostHeader":"api.example.com",` +
	`"requestUserAgentHeader":"okhttp/4.12.0","ip":"203.0.113.40","status":"502","responseLength":"36",` +
	`"durationMs":"29012.5","integrationLatencyMs":"29000","integrationStatus":"500","caller":"-","user":"-",` +
	`"principalId":"user-42","claimsSub":"3f2a9c1e-0000-4000-8000-000000000042","cognitoIdentityId":"-",` +
	`"userArn":"-","apiKey":"-","apiKeyId":"-","companyId":"acme",` +
	`"errorMessage":"Internal server error","errorType":"INTEGRATION_FAILURE",` +
	`"integrationErrorMessage":"Lambda timed out"}`

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		line string
		ctx  *Context
		want func() event.Event
		meta string // the metadata object as JSON; "" for none
	}{
		{
			name: "seed format",
			line: seedLine,
			want: func() event.Event {
				ev := bare("c6af9ac6-7b61-11e6-9a41-93e8deadbeef", at1)
				ev.APIID, ev.Protocol, ev.Method = "a1b2c3d4e5", "HTTP/1.1", "GET"
				ev.Path, ev.Route, ev.Host = "/prod/orders/12345", "/prod/orders/{id}", "api.example.com"
				ev.UserAgent, ev.IP = "Mozilla/5.0 (X11; Linux x86_64)", "198.51.100.23"
				ev.Status, ev.ResponseBytes, ev.LatencyMs = 200, 1532, 87
				ev.APIKeyID, ev.UserID = "k7x9q2m4p1", "k7x9q2m4p1"
				return ev
			},
			meta: `{"apiKey":"****1234"}`,
		},
		{
			name: "recommended format",
			line: recommendedLine,
			want: func() event.Event {
				ev := bare("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", at1.Add(250*time.Millisecond))
				ev.APIID, ev.Stage, ev.Protocol, ev.Method = "a1b2c3d4e5", "prod", "HTTP/2.0", "POST"
				ev.Path, ev.Route, ev.Host = "/prod/orders/12345/items", "/orders/{orderId}/items", "api.example.com"
				ev.UserAgent, ev.IP = "okhttp/4.12.0", "203.0.113.40"
				ev.Status, ev.ResponseBytes, ev.LatencyMs, ev.IntegrationLatencyMs = 502, 36, 29012.5, 29000
				ev.PrincipalID, ev.UserID, ev.CompanyID = "user-42", "user-42", "acme"
				ev.ErrorMessage, ev.ErrorType = "Internal server error", "INTEGRATION_FAILURE"
				return ev
			},
			meta: `{"integrationStatus":500,"claimsSub":"3f2a9c1e-0000-4000-8000-000000000042",` +
				`"integrationErrorMessage":"Lambda timed out"}`,
		},
		{
			name: "dash and empty are absent for every key",
			line: `{"requestId":"r1","requestTime":"28/Feb/2026:09:15:30 +0000","apiId":"-","stage":"",` +
				`"protocol":"-","httpMethod":"-","resourcePath":"-","routeTemplate":"-","requestHostHeader":"",` +
				`"requestUserAgentHeader":"-","ip":"-","status":"-","responseLength":"","durationMs":"-",` +
				`"integrationLatencyMs":"-","integrationStatus":"-","caller":"-","user":"","principalId":"-",` +
				`"claimsSub":"-","cognitoIdentityId":"-","userArn":"-","apiKey":"-","apiKeyId":"-","companyId":"-",` +
				`"errorMessage":"-","errorType":"","extra":"-","blank":"","nothing":null}`,
			want: func() event.Event { return bare("r1", at1) },
		},
		{
			name: "numeric strings and JSON numbers become numbers",
			line: `{"requestId":"r2","requestTimeEpoch":"1772270130000","status":"404","responseLength":"0",` +
				`"durationMs":"12","integrationLatencyMs":"3.75"}`,
			want: func() event.Event {
				ev := bare("r2", at1)
				ev.Status, ev.ResponseBytes, ev.LatencyMs, ev.IntegrationLatencyMs = 404, 0, 12, 3.75
				return ev
			},
		},
		{
			name: "unquoted numbers from a customized format",
			line: `{"requestId":"r3","requestTimeEpoch":1772270130000,"status":201,"responseLength":17,` +
				`"durationMs":4.5,"integrationStatus":200}`,
			want: func() event.Event {
				ev := bare("r3", at1)
				ev.Status, ev.ResponseBytes, ev.LatencyMs = 201, 17, 4.5
				return ev
			},
			meta: `{"integrationStatus":200}`,
		},
		{
			name: "invalid numbers are kept in metadata",
			line: `{"requestId":"r4","requestTimeEpoch":"1772270130000","status":"OK","responseLength":"-5",` +
				`"durationMs":"fast","integrationLatencyMs":"NaN","integrationStatus":"n/a"}`,
			want: func() event.Event { return bare("r4", at1) },
			meta: `{"status":"OK","responseLength":"-5","durationMs":"fast","integrationLatencyMs":"NaN",` +
				`"integrationStatus":"n/a"}`,
		},
		{
			name: "non-finite and out-of-range numbers are kept in metadata",
			line: `{"requestId":"r4b","requestTimeEpoch":"1772270130000","status":"4294967496",` +
				`"durationMs":"Inf","integrationLatencyMs":"+Infinity","responseLength":"1.5"}`,
			want: func() event.Event { return bare("r4b", at1) },
			meta: `{"status":"4294967496","durationMs":"Inf","integrationLatencyMs":"+Infinity","responseLength":"1.5"}`,
		},
		{
			name: "requestTimeEpoch wins over requestTime",
			line: `{"requestId":"r5","requestTime":"01/Jan/2020:00:00:00 +0000","requestTimeEpoch":"1772270130999"}`,
			want: func() event.Event { return bare("r5", at1.Add(999*time.Millisecond)) },
		},
		{
			name: "requestTime with an offset is converted to UTC",
			line: `{"requestId":"r6","requestTime":"28/Feb/2026:11:15:30 +0200"}`,
			want: func() event.Event { return bare("r6", at1) },
		},
		{
			name: "requestTimeEpoch absent: requestTime used",
			line: `{"requestId":"r7","requestTime":"28/Feb/2026:09:15:30 +0000","requestTimeEpoch":"-"}`,
			want: func() event.Event { return bare("r7", at1) },
		},
		{
			name: "no time: the delivery's fallback",
			line: `{"requestId":"r8","requestTime":"-"}`,
			ctx:  &Context{AppID: "app_test", Source: event.SourceFirehose, Received: parseReceived, Fallback: at1.In(time.FixedZone("x", 3600))},
			want: func() event.Event { return bare("r8", at1) },
		},
		{
			name: "unknown keys kept, whatever their type",
			line: `{"requestId":"r9","requestTimeEpoch":"1772270130000","tenant":"acme-eu","retries":3,` +
				`"cached":true,"claims":{"sub":"u1","groups":["a","b"]},"tags":["x",1,null],"empty":{}}`,
			want: func() event.Event { return bare("r9", at1) },
			meta: `{"tenant":"acme-eu","retries":3,"cached":true,"claims":{"sub":"u1","groups":["a","b"]},` +
				`"tags":["x",1,null],"empty":{}}`,
		},
		{
			name: "apiKey is masked",
			line: `{"requestId":"r10","requestTimeEpoch":"1772270130000","apiKey":"x7Gh2kLmN9pQ"}`,
			want: func() event.Event { return bare("r10", at1) },
			meta: `{"apiKey":"****N9pQ"}`,
		},
		{
			name: "short apiKey is masked whole",
			line: `{"requestId":"r11","requestTimeEpoch":"1772270130000","apiKey":"abc12345"}`,
			want: func() event.Event { return bare("r11", at1) },
			meta: `{"apiKey":"****"}`,
		},
		{
			name: "invalid UTF-8 is replaced",
			line: "{\"requestId\":\"r12\",\"requestTimeEpoch\":\"1772270130000\",\"requestUserAgentHeader\":\"bad\xff\xfeagent\"," +
				"\"note\":\"caf\xc3\",\"k\xffey\":\"v\",\"obj\":{\"in\xff\":\"s\xfe\"}}",
			want: func() event.Event {
				ev := bare("r12", at1)
				ev.UserAgent = "bad\uFFFDagent"
				return ev
			},
			meta: `{"note":"caf` + "\uFFFD" + `","k` + "\uFFFD" + `ey":"v","obj":{"in` + "\uFFFD" + `":"s` + "\uFFFD" + `"}}`,
		},
		{
			name: "escapes in metadata stay valid JSON",
			line: `{"requestId":"r13","requestTimeEpoch":"1772270130000","q":"a\\b\"c\u007f\u0007\u000b\ud83d\ude00",` +
				`"nested":{"k":"x\\y\u0085"},"weird":NaN,"odd":1-2,"inf":-Inf,"ok":-1.5e3}`,
			want: func() event.Event { return bare("r13", at1) },
			meta: `{"q":"a\\b\"c\u007f\u0007\u000b😀","nested":{"k":"x\\y` + "\u0085" + `"},` +
				`"weird":"NaN","odd":"1-2","inf":"-Inf","ok":-1.5e3}`,
		},
		{
			name: "duplicate keys: the last wins",
			line: `{"requestId":"r14","requestTimeEpoch":"1772270130000","status":"200","status":"404",` +
				`"tenant":"a","tenant":"b","httpMethod":"GET","httpMethod":"PUT"}`,
			want: func() event.Event {
				ev := bare("r14", at1)
				ev.Status, ev.Method = 404, "PUT"
				return ev
			},
			meta: `{"tenant":"b"}`,
		},
		{
			name: "claimsSub stands in for a missing principalId",
			line: `{"requestId":"r15","requestTimeEpoch":"1772270130000","principalId":"-","claimsSub":"sub-9"}`,
			want: func() event.Event {
				ev := bare("r15", at1)
				ev.PrincipalID, ev.UserID = "sub-9", "sub-9"
				return ev
			},
		},
		{
			name: "delivery attributes: the line's own key wins",
			line: `{"requestId":"r16","requestTimeEpoch":"1772270130000","env":"from-line"}`,
			ctx: &Context{AppID: "app_test", Source: event.SourceCloudWatch, Received: parseReceived,
				Attrs: []Attr{{"env", "from-header"}, {"logGroup", "/aws/http"}}},
			want: func() event.Event {
				ev := bare("r16", at1)
				ev.Source = event.SourceCloudWatch
				return ev
			},
			meta: `{"env":"from-line","logGroup":"/aws/http"}`,
		},
		{
			name: "HTTP API route key and the user override",
			line: `{"requestId":"r17","requestTimeEpoch":"1772270130000","httpMethod":"GET","resourcePath":"/orders/9",` +
				`"routeTemplate":"GET /orders/{id}","user":"203.0.113.7","apiKeyId":"k1","principalId":"p1"}`,
			want: func() event.Event {
				ev := bare("r17", at1)
				ev.Method, ev.Path, ev.Route = "GET", "/orders/9", "/orders/{id}"
				ev.UserID, ev.APIKeyID, ev.PrincipalID = "203.0.113.7", "k1", "p1"
				return ev
			},
		},
		{
			name: "$default route falls back to the normalized path",
			line: `{"requestId":"r18","requestTimeEpoch":"1772270130000","resourcePath":"/v1/users/550e8400-e29b-41d4-a716-446655440000",` +
				`"routeTemplate":"$default","caller":"AIDAEXAMPLE","userArn":"arn:aws:iam::1:user/x"}`,
			want: func() event.Event {
				ev := bare("r18", at1)
				ev.Path, ev.Route = "/v1/users/550e8400-e29b-41d4-a716-446655440000", "/v1/users/{id}"
				ev.Caller, ev.UserARN, ev.UserID = "AIDAEXAMPLE", "arn:aws:iam::1:user/x", "AIDAEXAMPLE"
				return ev
			},
		},
		{
			name: "whitespace around the object",
			line: " \t{\"requestId\":\"r19\",\"requestTimeEpoch\":\"1772270130000\"}\r\n",
			want: func() event.Event { return bare("r19", at1) },
		},
	}
	var p Parser // one parser for all: it must not leak state between lines
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = &parseCtx
			}
			var got event.Event
			if err := p.Parse([]byte(tt.line), ctx, &got); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := tt.want()
			checkMetadata(t, got.Metadata, tt.meta)
			got.Metadata, want.Metadata = nil, nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("event differs\n got: %+v\nwant: %+v", got, want)
			}
		})
	}
}

// checkMetadata compares metadata as JSON values, so that key order does
// not matter but every key and type does.
func checkMetadata(t *testing.T, got []byte, want string) {
	t.Helper()
	if want == "" {
		if got != nil {
			t.Errorf("metadata = %s, want none", got)
		}
		return
	}
	if !utf8.Valid(got) || !json.Valid(got) {
		t.Fatalf("metadata is not valid UTF-8 JSON: %q", got)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("metadata %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("test's metadata %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("metadata = %s, want %s", got, want)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, line, code string
		fallback         bool
	}{
		{"not JSON", `requestId=abc status=200`, "not_json", false},
		{"truncated JSON", `{"requestId":"abc","status":"20`, "not_json", false},
		{"empty", ``, "not_json", false},
		{"trailing garbage", `{"requestId":"a","requestTimeEpoch":"1"} x`, "not_json", false},
		{"array", `[{"requestId":"abc"}]`, "not_object", false},
		{"string", `"requestId"`, "not_object", false},
		{"number", `42`, "not_object", false},
		{"null", `null`, "not_object", false},
		{"no requestId", `{"requestTime":"28/Feb/2026:09:15:30 +0000","status":"200"}`, "missing_request_id", false},
		{"requestId dash", `{"requestId":"-","requestTime":"28/Feb/2026:09:15:30 +0000"}`, "missing_request_id", false},
		{"requestId empty", `{"requestId":"","requestTime":"28/Feb/2026:09:15:30 +0000"}`, "missing_request_id", false},
		{"requestId null", `{"requestId":null,"requestTime":"28/Feb/2026:09:15:30 +0000"}`, "missing_request_id", false},
		{"requestId object", `{"requestId":{"a":1},"requestTime":"28/Feb/2026:09:15:30 +0000"}`, "missing_request_id", false},
		{"no time", `{"requestId":"abc","status":"200"}`, "missing_time", false},
		{"times all absent", `{"requestId":"abc","requestTime":"-","requestTimeEpoch":""}`, "missing_time", false},
		{"bad requestTime", `{"requestId":"abc","requestTime":"yesterday"}`, "bad_time", false},
		{"requestTime ISO", `{"requestId":"abc","requestTime":"2026-02-28T09:15:30Z"}`, "bad_time", false},
		{"bad requestTime even with a fallback", `{"requestId":"abc","requestTime":"28/Feb/2026"}`, "bad_time", true},
		{"bad requestTimeEpoch", `{"requestId":"abc","requestTimeEpoch":"soon"}`, "bad_time", false},
		{"zero requestTimeEpoch", `{"requestId":"abc","requestTimeEpoch":"0"}`, "bad_time", false},
		{"negative requestTimeEpoch", `{"requestId":"abc","requestTimeEpoch":"-5"}`, "bad_time", false},
		{"fractional requestTimeEpoch", `{"requestId":"abc","requestTimeEpoch":"1772270130000.5"}`, "bad_time", false},
		{"requestTimeEpoch past year 9999", `{"requestId":"abc","requestTimeEpoch":"9999999999999999"}`, "bad_time", false},
		{"requestTime past year 9999", `{"requestId":"abc","requestTime":"31/Dec/9999:23:59:59 -1000"}`, "bad_time", false},
		{"fallback past year 9999", `{"requestId":"abc"}`, "missing_time", true},
	}
	var p Parser
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := parseCtx
			if tt.fallback {
				ctx.Fallback = at1
				if strings.HasPrefix(tt.name, "fallback past") {
					ctx.Fallback = time.UnixMilli(maxEpochMs + 1)
				}
			}
			var ev event.Event
			err := p.Parse([]byte(tt.line), &ctx, &ev)
			if err == nil {
				t.Fatalf("Parse accepted %q: %+v", tt.line, ev)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if le.Code != tt.code {
				t.Errorf("code = %q, want %q (%v)", le.Code, tt.code, err)
			}
			if le.Detail == "" || !strings.Contains(err.Error(), le.Detail) {
				t.Errorf("error %q does not carry its detail %q", err, le.Detail)
			}
		})
	}
}

// TestParseResultsDoNotAlias checks the Parser's memory reuse: an event
// must stay as it was after the parser moves on to other lines.
func TestParseResultsDoNotAlias(t *testing.T) {
	var p Parser
	var first event.Event
	if err := p.Parse([]byte(recommendedLine), &parseCtx, &first); err != nil {
		t.Fatal(err)
	}
	keep := first
	keep.Metadata = append([]byte(nil), first.Metadata...)
	for _, l := range []string{seedLine, `{"requestId":"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz","requestTimeEpoch":"1","x":"` + strings.Repeat("y", 500) + `"}`} {
		var ev event.Event
		if err := p.Parse([]byte(l), &parseCtx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(first, keep) {
		t.Errorf("event changed after later parses:\n got %+v\nwant %+v", first, keep)
	}
}

func TestMaskSecret(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "****",
		"abc":                      "****",
		"abcdefgh":                 "****",
		"abcdefghi":                "****fghi",
		"AbCdEfGhIjKlMnOpQrSt1234": "****1234",
	} {
		if got := MaskSecret(in); got != want {
			t.Errorf("MaskSecret(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	lines := [][]byte{[]byte(seedLine), []byte(recommendedLine)}
	var p Parser
	var ev event.Event
	b.ReportAllocs()
	b.SetBytes(int64(len(seedLine)+len(recommendedLine)) / 2)
	for i := 0; b.Loop(); i++ {
		if err := p.Parse(lines[i%2], &parseCtx, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

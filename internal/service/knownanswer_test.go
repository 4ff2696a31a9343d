package service_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// eventFields are the event's fields, PRODUCT.md section 7, as the API
// names them, and rejected_at_gateway, which the API derives: whether API
// Gateway answered without calling an integration.
var eventFields = []string{"app_id", "request_id", "time", "api_id", "stage", "method", "path", "route", "host",
	"protocol", "status", "response_bytes", "latency_ms", "integration_latency_ms", "ip", "user_agent", "user_id",
	"company_id", "api_key_id", "principal_id", "cognito_identity_id", "caller", "user_arn", "error_message",
	"error_type", "source", "metadata", "rejected_at_gateway"}

// The log keys that have a column (PRODUCT.md sections 5 and 7).
var (
	textColumns = map[string]string{"apiId": "api_id", "stage": "stage", "httpMethod": "method",
		"resourcePath": "path", "requestHostHeader": "host", "protocol": "protocol", "ip": "ip",
		"requestUserAgentHeader": "user_agent", "apiKeyId": "api_key_id", "principalId": "principal_id",
		"cognitoIdentityId": "cognito_identity_id", "caller": "caller", "userArn": "user_arn",
		"errorMessage": "error_message", "errorType": "error_type", "companyId": "company_id"}
	intColumns   = map[string]string{"status": "status", "responseLength": "response_bytes"}
	floatColumns = map[string]string{"durationMs": "latency_ms", "integrationLatencyMs": "integration_latency_ms"}
)

// present returns a log value as text, and false when it is absent: "-",
// empty, null, or not a scalar.
func present(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, v != "" && v != "-"
	case json.Number:
		return string(v), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

var (
	uuidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	digitsRE = regexp.MustCompile(`^[0-9]+$`)
	hexRE    = regexp.MustCompile(`^[0-9a-fA-F]{12,}$`)
	tokenRE  = regexp.MustCompile(`^[0-9A-Za-z_-]{16,}$`)
	digitRE  = regexp.MustCompile(`[0-9]`)
	letterRE = regexp.MustCompile(`[A-Za-z]`)
)

// routeOf is the contract's route: the template when logged (an HTTP API
// route key without its method; "$default" says nothing), otherwise the
// path with identifier segments replaced by {id}. The identifier forms
// here are the ones the fixtures use.
func routeOf(template, path string, hasTemplate, hasPath bool) any {
	if hasTemplate && template != "$default" {
		if m, rest, ok := strings.Cut(template, " "); ok && strings.HasPrefix(rest, "/") && m == strings.ToUpper(m) {
			return rest
		}
		return template
	}
	if !hasPath {
		if hasTemplate {
			return template
		}
		return nil
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if digitsRE.MatchString(s) || uuidRE.MatchString(s) ||
			hexRE.MatchString(s) && digitRE.MatchString(s) ||
			tokenRE.MatchString(s) && digitRE.MatchString(s) && letterRE.MatchString(s) {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

func maskKey(k string) string {
	if len(k) <= 8 {
		return "****"
	}
	return "****" + k[len(k)-4:]
}

// expectEvent computes, from a fixture line and how it was delivered, the
// event the API must return, with the rules of PRODUCT.md sections 5-7
// written out plainly.
func expectEvent(t *testing.T, appID string, d deliveredLine, common map[string]string) map[string]any {
	t.Helper()
	var line map[string]any
	dec := json.NewDecoder(strings.NewReader(d.line))
	dec.UseNumber()
	if err := dec.Decode(&line); err != nil {
		t.Fatalf("fixture line %s: %v", d.line, err)
	}
	ev := map[string]any{}
	for _, f := range eventFields {
		ev[f] = nil
	}
	ev["app_id"], ev["source"] = appID, d.source
	meta := map[string]any{}
	var template, path, user, claimsSub, clf, epoch string
	var hasTemplate, hasPath bool
	for k, v := range line {
		s, ok := present(v)
		switch {
		case k == "requestId":
			ev["request_id"] = s
		case k == "requestTime":
			clf = s
		case k == "requestTimeEpoch":
			epoch = s
		case k == "routeTemplate":
			template, hasTemplate = s, ok
		case k == "user":
			user = s
		case k == "claimsSub":
			claimsSub = s
		case k == "apiKey":
			if ok {
				meta[k] = maskKey(s)
			}
		case k == "integrationStatus":
			if n, err := strconv.Atoi(s); ok && err == nil {
				meta[k] = n
			} else if ok {
				meta[k] = s
			}
		case textColumns[k] != "":
			if ok {
				ev[textColumns[k]] = s
			}
			if k == "resourcePath" {
				path, hasPath = s, ok
			}
		case intColumns[k] != "":
			if n, err := strconv.ParseInt(s, 10, 64); ok && err == nil && n >= 0 {
				ev[intColumns[k]] = n
			} else if ok {
				meta[k] = s
			}
		case floatColumns[k] != "":
			if x, err := strconv.ParseFloat(s, 64); ok && err == nil && x >= 0 {
				ev[floatColumns[k]] = x
			} else if ok {
				meta[k] = s
			}
		default:
			switch v.(type) {
			case map[string]any, []any:
				meta[k] = v
			default:
				if ok {
					meta[k] = v
				}
			}
		}
	}
	if _, ok := line["requestId"]; !ok {
		t.Fatalf("fixture line without requestId: %s", d.line)
	}
	if claimsSub != "" && claimsSub != "-" {
		if ev["principal_id"] == nil {
			ev["principal_id"] = claimsSub
		} else {
			meta["claimsSub"] = claimsSub
		}
	}
	for _, id := range []any{user, ev["api_key_id"], ev["principal_id"], ev["cognito_identity_id"], ev["caller"], ev["user_arn"]} {
		if s, ok := id.(string); ok && s != "" && s != "-" {
			ev["user_id"] = s
			break
		}
	}
	ev["route"] = routeOf(template, path, hasTemplate, hasPath)
	switch {
	case epoch != "" && epoch != "-":
		ms, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			t.Fatalf("fixture requestTimeEpoch %q", epoch)
		}
		ev["time"] = time.UnixMilli(ms).UTC()
	case clf != "" && clf != "-":
		tm, err := time.Parse("02/Jan/2006:15:04:05 -0700", clf)
		if err != nil {
			t.Fatalf("fixture requestTime %q", clf)
		}
		ev["time"] = tm.UTC()
	default:
		ev["time"] = time.UnixMilli(d.cwTime).UTC()
	}
	for _, attrs := range []map[string]string{common, d.cwAttrs} {
		keys := make([]string, 0, len(attrs))
		for k := range attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if _, ok := meta[k]; !ok {
				meta[k] = attrs[k]
			}
		}
	}
	ev["metadata"] = meta
	ev["rejected_at_gateway"] = rejectedAtGateway(ev, meta)
	return ev
}

// rejectedAtGateway: a 4xx or 5xx that API Gateway made itself. A logged
// error type says so unless it names the integration; without one, a
// request that reached no integration (no integration latency or status)
// and got 401, 403 or 429 was refused by the gateway's own checks.
func rejectedAtGateway(ev, meta map[string]any) bool {
	status, _ := ev["status"].(int64)
	if status < 400 {
		return false
	}
	if et, ok := ev["error_type"].(string); ok {
		return !strings.HasPrefix(et, "INTEGRATION_")
	}
	if _, ok := meta["integrationStatus"]; ok || ev["integration_latency_ms"] != nil {
		return false
	}
	return status == 401 || status == 403 || status == 429
}

// normalize gives a value the types an API answer decodes to.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// commonAttributes is what the plain delivery's
// X-Amz-Firehose-Common-Attributes header carries.
var commonAttributes = map[string]string{"deliveryStream": "amazon-apigateway-orders", "env": "prod"}

// deliverFixtures posts every fixture body to the app, as Firehose would
// (the plain one uncompressed with common attributes, the others gzip),
// and returns the events the API must then list, keyed by request id, and
// the number of records sent. after, if set, runs after each delivery.
func deliverFixtures(t *testing.T, r *running, a app, after func(spec bodySpec)) (map[string]map[string]any, int) {
	t.Helper()
	want := map[string]map[string]any{}
	records := 0
	for _, spec := range bodySpecs {
		raw := readBody(t, spec.file)
		fb, lines := decodeBody(t, raw)
		records += len(fb.Records)
		d := delivery{key: a.Key, requestID: spec.requestID, body: raw, gzip: spec.file != "batch_plain.json"}
		var common map[string]string
		if spec.file == "batch_plain.json" {
			d.attrs, common = commonAttributes, commonAttributes
		}
		if ans := r.post(t, d); ans.status != http.StatusOK {
			t.Fatalf("%s: %d %s", spec.file, ans.status, ans.raw)
		}
		for _, l := range lines {
			ev := expectEvent(t, a.ID, l, common)
			id := ev["request_id"].(string)
			if _, dup := want[id]; dup {
				t.Fatalf("fixtures repeat request %s", id)
			}
			want[id] = ev
		}
		if after != nil {
			after(spec)
		}
	}
	// A logged companyId is that event's alone: it does not link the user,
	// so the user's other events have no company (PRODUCT.md section 6).
	return want, records
}

// checkEvents compares every field of every event the API listed with the
// expected events, and that there are no others.
func checkEvents(t *testing.T, got map[string]apiEvent, want map[string]map[string]any) {
	t.Helper()
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("unexpected event %s", id)
		}
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("event %s missing", id)
			continue
		}
		if len(g) != len(eventFields) {
			keys := make([]string, 0, len(g))
			for k := range g {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Errorf("%s: fields %v, want exactly %v", id, keys, eventFields)
		}
		wn := normalize(t, w).(map[string]any)
		for _, f := range eventFields {
			if !reflect.DeepEqual(g[f], wn[f]) {
				t.Errorf("%s: %s = %#v, want %#v", id, f, g[f], wn[f])
			}
		}
	}
}

// TestFirehoseKnownAnswers delivers every fixture body over HTTP and
// compares every field of every event the API returns with the event
// computed from the fixture lines.
func TestFirehoseKnownAnswers(t *testing.T) {
	r := start(t, t.TempDir(), nil)
	a := r.createApp(t, "orders API")
	other := r.createApp(t, "another API")

	want, records := deliverFixtures(t, r, a, nil)
	checkEvents(t, r.waitEvents(t, a.ID, len(want)), want)

	if evs := r.events(t, other.ID); len(evs) != 0 {
		t.Errorf("another app sees %d of this app's events", len(evs))
	}
	if rej := r.rejected(t, a.ID); len(rej) != 0 {
		t.Errorf("valid fixtures were rejected: %+v", rej)
	}
	m := r.metrics(t)
	for series, v := range map[string]float64{
		`gatescope_firehose_batches_total{code="200"}`: float64(len(bodySpecs)),
		`gatescope_firehose_records_total`:             float64(records),
		`gatescope_firehose_events_stored_total`:       float64(len(want)),
		`gatescope_firehose_duplicates_total`:          0,
	} {
		if got, ok := m[series]; !ok || got != v {
			t.Errorf("/metrics %s = %v (present %v), want %v", series, got, ok, v)
		}
	}
}

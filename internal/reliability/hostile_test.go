package reliability_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// nasty strings: SQL and script injection, path traversal, control
// characters, and text DuckDB or a browser could take for syntax.
var nasty = []string{
	`' OR '1'='1`, `'; DROP TABLE events; --`, `" OR ""="`, `1); DELETE FROM apps WHERE (1=1`,
	`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, `javascript:alert(document.cookie)`,
	`../../../../etc/passwd`, `..\..\windows\system32`, `%2e%2e%2f%2e%2e%2f`, `/orders/../admin`,
	"tab\there\nnewline\r\n", "nul\x00byte", `\u0000 escaped`, "emoji 🚀 and ñ and 中文",
	`{{7*7}} ${7*7} $(id) ` + "`id`", `%s%s%n`, `\'; SELECT pg_sleep(10); --`,
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// firehoseLines builds a Firehose body whose records are the given lines.
func firehoseLines(batch string, lines ...[]byte) []byte {
	recs := make([]map[string]string, len(lines))
	for i, l := range lines {
		recs[i] = map[string]string{"data": base64.StdEncoding.EncodeToString(append(l, '\n'))}
	}
	b, _ := json.Marshal(map[string]any{"requestId": batch, "timestamp": 1772272800000, "records": recs})
	return b
}

// accessLine is a recommended-format access-log line with fields set.
func accessLine(requestID string, fields map[string]string) []byte {
	m := map[string]string{"apiId": "a1b2c3d4e5", "requestId": requestID, "requestTimeEpoch": "1772272800000",
		"httpMethod": "GET", "resourcePath": "/orders/1", "status": "200", "ip": "192.0.2.1"}
	for k, v := range fields {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

type exchange struct {
	status int
	body   []byte
	header http.Header
}

// send makes one request and checks what every answer must be: JSON (or
// empty for Moesif's 201), and never a 5xx other than 503.
func (s *server) send(t *testing.T, method, path string, header map[string]string, body []byte) exchange {
	t.Helper()
	req, err := http.NewRequest(method, s.URL(path), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v (is the server down?)", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if len(b) > 0 && !json.Valid(b) && path != "/healthz" {
		t.Errorf("%s %s: %d answer is not JSON: %.200q", method, path, resp.StatusCode, b)
	}
	return exchange{resp.StatusCode, b, resp.Header}
}

// TestHostileInput feeds malformed and malicious bodies to the Firehose
// endpoint, the Moesif API and the query API's filters. Every answer is
// the documented one, the server stays up, and the strings that are
// stored come back byte for byte.
func TestHostileInput(t *testing.T) {
	const maxBody = 24 << 20
	s := startServer(t, "--max-body-bytes", fmt.Sprint(maxBody), "--max-decoded-bytes", fmt.Sprint(maxBody),
		"--moesif-max-body-bytes", fmt.Sprint(4<<20), "--moesif-max-decoded-bytes", fmt.Sprint(8<<20), "--flush-interval", "50ms")
	a := s.createApp(t, "hostile")
	fh := func(batch string, body []byte, gzipped bool) exchange {
		h := map[string]string{"X-Amz-Firehose-Request-Id": batch, "X-Amz-Firehose-Access-Key": a.Key,
			"X-Amz-Firehose-Protocol-Version": "1.0", "Content-Type": "application/json"}
		if gzipped {
			h["Content-Encoding"] = "gzip"
		}
		x := s.send(t, "POST", "/v1/firehose", h, body)
		var ans map[string]any
		if json.Unmarshal(x.body, &ans) != nil || ans["requestId"] != batch {
			t.Errorf("%s: answer %.200s does not echo the request id", batch, x.body)
		}
		return x
	}
	tried := 0

	// Whole bodies: each with its documented status.
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	zeros := make([]byte, 64<<20)
	bodies := []struct {
		name   string
		body   []byte
		gzip   bool
		status int
	}{
		{"truncated gzip", gz(t, firehoseLines("x", accessLine("h-trunc", nil)))[:40], true, 400},
		{"gzip bomb", gz(t, append(zeros, zeros...)), true, 413},
		{"gzip bomb, valid prefix", gz(t, append([]byte(`{"records":[{"data":"`), zeros...)), true, 413},
		{"deeply nested body", []byte(deep), false, 400},
		{"deeply nested records", []byte(`{"records":` + deep + `}`), false, 400},
		{"records a string", []byte(`{"requestId":"x","records":"AAAA"}`), false, 400},
		{"records null", []byte(`{"requestId":"x","records":null}`), false, 400},
		{"body a string", []byte(`"records"`), false, 400},
		{"NUL bytes", []byte("{\"records\":[\x00]}"), false, 400},
		{"invalid UTF-8 outside strings", []byte("{\"records\":[\xff]}"), false, 400},
		{"empty body", nil, false, 400},
		{"over the body limit", append(firehoseLines("x"), bytes.Repeat([]byte(" "), maxBody)...), false, 413},
	}
	for i, b := range bodies {
		tried++
		batch := fmt.Sprintf("hostile-body-%d", i)
		if x := fh(batch, b.body, b.gzip); x.status != b.status {
			t.Errorf("%s: %d %.200s, want %d", b.name, x.status, x.body, b.status)
		}
	}

	// Records: the batch is taken (200); bad records go to the rejected
	// store, good ones are stored with their strings intact.
	type want struct {
		id     string
		fields map[string]string // API field -> value it must have
		meta   map[string]string // metadata key -> value
	}
	var stored []want
	var lines [][]byte
	add := func(id string, logged map[string]string, fields, meta map[string]string) {
		lines = append(lines, accessLine(id, logged))
		stored = append(stored, want{id, fields, meta})
	}
	for i, v := range nasty {
		id := fmt.Sprintf("h-nasty-%d", i)
		add(id, map[string]string{"user": v, "requestUserAgentHeader": v, "resourcePath": "/p/" + v, "routeTemplate": "/r/" + v,
			"requestHostHeader": v, "errorMessage": v, "errorType": v, "companyId": v, "stage": v, "custom_" + fmt.Sprint(i): v, v: v},
			map[string]string{"user_id": v, "user_agent": v, "path": "/p/" + v, "route": "/r/" + v, "host": v, "error_message": v,
				"error_type": v, "company_id": v, "stage": v},
			map[string]string{"custom_" + fmt.Sprint(i): v, v: v})
	}
	// Request ids that are themselves hostile (fetched by escaped path).
	for i, v := range []string{`../../api/v1/apps`, `a/b?c=d#e`, `' OR 1=1 --`, `<script>x</script>`} {
		add(v, map[string]string{"user": fmt.Sprint("u-id-", i)}, map[string]string{"request_id": v}, nil)
	}
	huge := strings.Repeat("x", 1<<20)
	hugeKey := strings.Repeat("k", 64<<10)
	add("h-huge", map[string]string{"requestUserAgentHeader": huge, hugeKey: "v"}, map[string]string{"user_agent": huge}, map[string]string{hugeKey: "v"})
	// Raw invalid UTF-8 (json.Marshal would have replaced it): each run
	// of bad bytes is stored as one U+FFFD, as strings.ToValidUTF8 does.
	lines = append(lines, []byte("{\"requestId\":\"h-invalid-utf8\",\"requestTimeEpoch\":\"1772272800000\",\"user\":\"bad\xffutf8\xfe\xfdend\",\"k\xff\":\"v\"}"))
	stored = append(stored, want{"h-invalid-utf8", map[string]string{"user_id": "bad\uFFFDutf8\uFFFDend"}, map[string]string{"k\uFFFD": "v"}})
	add("h-traversal-key", map[string]string{"../../etc/passwd": "k", "a.b[0]": "dotted"}, nil, map[string]string{"../../etc/passwd": "k", "a.b[0]": "dotted"})
	// Wrong types: objects and arrays are kept whole in metadata; a
	// status that is not a number is kept there too.
	lines = append(lines, []byte(`{"requestId":"h-types","requestTimeEpoch":"1772272800000","status":{"x":1},"durationMs":[1,2],"user":true,"ip":12}`))
	stored = append(stored, want{"h-types", nil, nil})
	// A number where a string is expected is read as its text.
	lines = append(lines, []byte(`{"requestId":12,"requestTimeEpoch":"1772272800000"}`))
	stored = append(stored, want{"12", map[string]string{"request_id": "12"}, nil})
	// Duplicate keys: the last one wins, as in most JSON decoders.
	lines = append(lines, []byte(`{"requestId":"h-dupkey","requestTimeEpoch":"1772272800000","user":"first","user":"second"}`))
	stored = append(stored, want{"h-dupkey", map[string]string{"user_id": "second"}, nil})
	// Lines that cannot be events: rejected, verbatim.
	rejectedLines := [][]byte{
		[]byte(`{"requestId":"h-nested","requestTimeEpoch":"1772272800000","x":` + strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000) + `}`),
		[]byte(`{"requestTimeEpoch":"1772272800000"}`),
		[]byte(`["requestId","h-array"]`),
		[]byte("not json \x00 at all"),
		[]byte(`{"requestId":"h-notime"}`),
	}
	lines = append(lines, rejectedLines...)
	tried += len(lines)
	if x := fh("hostile-records", gz(t, firehoseLines("hostile-records", lines...)), true); x.status != http.StatusOK {
		t.Fatalf("batch of hostile records: %d %s", x.status, x.body)
	}

	// 100,000 tiny records in one delivery.
	tiny := make([][]byte, 100_000)
	for i := range tiny {
		tiny[i] = []byte(fmt.Sprintf(`{"requestId":"t%d","requestTimeEpoch":"1772272800000"}`, i))
	}
	tried++
	if x := fh("hostile-tiny", gz(t, firehoseLines("hostile-tiny", tiny...)), true); x.status != http.StatusOK {
		t.Fatalf("100,000 tiny records: %d %.300s", x.status, x.body)
	}

	// Every hostile event comes back through the API, byte-exact.
	checkEvent := func(w want) {
		var ev map[string]any
		deadline := time.Now().Add(10 * time.Second)
		for {
			x := s.send(t, "GET", "/api/v1/events/"+url.PathEscape(w.id)+"?app_id="+a.ID, map[string]string{"Authorization": "Bearer " + s.Token}, nil)
			if x.status == http.StatusOK {
				json.Unmarshal(x.body, &ev)
				break
			}
			if x.status != http.StatusNotFound || time.Now().After(deadline) {
				t.Errorf("event %q: %d %.200s", w.id, x.status, x.body)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		for f, v := range w.fields {
			if got, _ := ev[f].(string); got != v {
				t.Errorf("event %.40q field %s = %.80q, want %.80q", w.id, f, got, v)
			}
		}
		meta, _ := ev["metadata"].(map[string]any)
		for k, v := range w.meta {
			if got, _ := meta[k].(string); got != v {
				t.Errorf("event %.40q metadata[%.40q] = %.80q, want %.80q", w.id, k, got, v)
			}
		}
	}
	for _, w := range stored {
		checkEvent(w)
	}
	count := func(filter string) (int, exchange) {
		q := url.Values{"app_id": {a.ID}, "metrics": {"count"}, "from": {"2026-01-01T00:00:00Z"}, "to": {"2026-12-01T00:00:00Z"}}
		if filter != "" {
			q.Set("filter", filter)
		}
		x := s.send(t, "GET", "/api/v1/metrics/segmentation?"+q.Encode(), map[string]string{"Authorization": "Bearer " + s.Token}, nil)
		var out struct {
			Rows []struct {
				Count float64 `json:"count"`
			} `json:"rows"`
		}
		json.Unmarshal(x.body, &out)
		if len(out.Rows) == 0 {
			return 0, x
		}
		return int(out.Rows[0].Count), x
	}
	deadline := time.Now().Add(15 * time.Second)
	total, _ := count("")
	for total < len(stored)+len(tiny) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		total, _ = count("")
	}
	if total != len(stored)+len(tiny) {
		t.Errorf("%d events stored, want %d hostile ones and %d tiny ones", total, len(stored), len(tiny))
	}

	// The query API's filters: values never reach SQL as text.
	for i, v := range nasty {
		tried++
		f, _ := json.Marshal(map[string]any{"field": "user_agent", "op": "eq", "value": v})
		if n, x := count(string(f)); x.status != http.StatusOK || n != 1 {
			t.Errorf("filter user_agent = nasty[%d]: %d rows %d %.200s, want exactly the one event", i, n, x.status, x.body)
		}
		f, _ = json.Marshal(map[string]any{"field": "metadata." + v, "op": "eq", "value": v})
		if _, x := count(string(f)); x.status != http.StatusBadRequest {
			t.Errorf("filter on metadata key nasty[%d]: %d %.200s, want 400", i, x.status, x.body)
		}
		f, _ = json.Marshal(map[string]any{"field": v, "op": "eq", "value": 1})
		if _, x := count(string(f)); x.status != http.StatusBadRequest {
			t.Errorf("filter on field nasty[%d]: %d, want 400", i, x.status)
		}
		q := url.Values{"app_id": {a.ID}, "route": {v}, "user_id": {v}}
		if x := s.send(t, "GET", "/api/v1/events?"+q.Encode(), map[string]string{"Authorization": "Bearer " + s.Token}, nil); x.status != http.StatusOK {
			t.Errorf("plain parameters = nasty[%d]: %d %.200s", i, x.status, x.body)
		}
		q = url.Values{"app_id": {v}}
		if x := s.send(t, "GET", "/api/v1/events?"+q.Encode(), map[string]string{"Authorization": "Bearer " + s.Token}, nil); x.status != http.StatusNotFound {
			t.Errorf("app_id = nasty[%d]: %d, want 404", i, x.status)
		}
		tried += 4
	}
	manyValues := make([]string, 5000)
	for i := range manyValues {
		manyValues[i] = fmt.Sprint(i)
	}
	badFilters := []string{
		`{`, `null`, `[]`, `{"field":"status"}`, `{"field":"status","op":"drop","value":1}`,
		strings.Repeat(`{"not":`, 10_000) + `{"field":"status","op":"eq","value":1}` + strings.Repeat(`}`, 10_000),
		`{"field":"status","op":"in","values":` + mustJSON(manyValues) + `}`,
		`{"field":"latency_ms","op":"gt","value":"NaN"}`, `{"field":"status","op":"class","value":"9xx"}`,
		`{"field":"metadata.","op":"eq","value":"x"}`, `{"field":"user_metadata.a;b","op":"eq","value":"x"}`,
		`{"field":"status","op":"eq","value":1,"extra":"' OR 1=1"}`, "{\"field\":\"status\x00\",\"op\":\"eq\",\"value\":1}",
	}
	for _, f := range badFilters {
		tried++
		if _, x := count(f); x.status != http.StatusBadRequest {
			t.Errorf("filter %.80q: %d %.200s, want 400", f, x.status, x.body)
		}
	}
	// Funnel and retention bodies carry filters too.
	for _, body := range []string{
		`{"app_id":"` + a.ID + `","steps":[{"name":"a","filter":` + badFilters[5] + `},{"name":"b"}]}`,
		`{"app_id":"` + a.ID + `","steps":"' OR 1=1 --"}`,
		`{"app_id":"` + a.ID + `","first_event":{"field":"user_agent","op":"eq","value":"'; DROP TABLE events; --"},"period":"week"}`,
		strings.Repeat("[", 100_000),
	} {
		tried++
		for _, path := range []string{"/api/v1/funnels", "/api/v1/retention"} {
			x := s.send(t, "POST", path, map[string]string{"Authorization": "Bearer " + s.Token, "Content-Type": "application/json"}, []byte(body))
			if x.status != http.StatusOK && x.status != http.StatusBadRequest {
				t.Errorf("POST %s %.60q: %d %.200s, want 200 or 400", path, body, x.status, x.body)
			}
		}
	}

	// The Moesif API.
	mh := func(path string, body []byte, gzipped bool) exchange {
		h := map[string]string{"X-Moesif-Application-Id": a.Key, "Content-Type": "application/json"}
		if gzipped {
			h["Content-Encoding"] = "gzip"
		}
		return s.send(t, "POST", path, h, body)
	}
	moesifBodies := []struct {
		path   string
		body   []byte
		gzip   bool
		status int
	}{
		{"/v1/events", []byte(deep), false, 400},
		{"/v1/events/batch", []byte(`[` + deep + `]`), false, 400},
		{"/v1/events", gz(t, []byte(`{"request":{}}`))[:15], true, 400},
		{"/v1/events/batch", gz(t, zeros), true, 413},
		{"/v1/events", []byte("{\"request\":\xff}"), false, 400},
		{"/v1/events", []byte(`[]`), false, 400},
		{"/v1/users/batch", []byte(`{"user_id":"x"}`), false, 400},
		{"/v1/users", []byte(`{"user_id":{"$ne":null}}`), false, 400},
		{"/v1/events/batch", []byte(`[1,"x",null,{"request":"' OR 1=1"}]`), false, 201},
		{"/v1/companies/batch", []byte(`[{"company_id":""},{"company_id":12}]`), false, 201},
	}
	for _, b := range moesifBodies {
		tried++
		if x := mh(b.path, b.body, b.gzip); x.status != b.status {
			t.Errorf("moesif %s %.40q: %d %.200s, want %d", b.path, b.body, x.status, x.body, b.status)
		}
	}
	var moesifEvents []want
	for i, v := range nasty {
		id := fmt.Sprintf("m-nasty-%d", i)
		ev := map[string]any{
			"request": map[string]any{"time": "2026-02-28T10:00:00.000Z", "uri": "https://api.example.com/m/" + url.PathEscape(v),
				"verb": "GET", "ip_address": "192.0.2.9", "headers": map[string]string{"User-Agent": v, "X-Moesif-Transaction-Id": id}},
			"response": map[string]any{"time": "2026-02-28T10:00:00.010Z", "status": 200},
			"user_id":  v, "company_id": v, "metadata": map[string]string{v: v},
		}
		b, _ := json.Marshal(ev)
		tried++
		if i%2 == 0 {
			b = gz(t, b)
		}
		if x := mh("/v1/events", b, i%2 == 0); x.status != http.StatusCreated {
			t.Errorf("moesif event with nasty[%d]: %d %.200s", i, x.status, x.body)
		}
		moesifEvents = append(moesifEvents, want{id, map[string]string{"user_id": v, "user_agent": v, "company_id": v}, map[string]string{v: v}})
		u, _ := json.Marshal(map[string]any{"user_id": "mu-" + v, "company_id": v, "metadata": map[string]string{v: v}})
		tried++
		if x := mh("/v1/users", u, false); x.status != http.StatusCreated {
			t.Errorf("moesif user with nasty[%d]: %d %.200s", i, x.status, x.body)
		}
	}
	for _, w := range moesifEvents {
		checkEvent(w)
	}
	// Users come back by id, escaped in the path.
	for i, v := range nasty {
		id := "mu-" + v
		deadline := time.Now().Add(10 * time.Second)
		for {
			x := s.send(t, "GET", "/api/v1/users/"+url.PathEscape(id)+"?app_id="+a.ID, map[string]string{"Authorization": "Bearer " + s.Token}, nil)
			if x.status == http.StatusOK {
				var u map[string]any
				json.Unmarshal(x.body, &u)
				if u["user_id"] != id && !strings.Contains(string(x.body), mustJSON(id)) {
					t.Errorf("user nasty[%d] came back as %.200s", i, x.body)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("user nasty[%d]: %d %.200s", i, x.status, x.body)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	if x := s.send(t, "GET", "/healthz", nil, nil); x.status != http.StatusOK {
		t.Fatalf("/healthz after the corpus: %d", x.status)
	}
	figure(t, "hostile input: %d inputs tried (Firehose bodies and records, 100,000-record batch, query filters, funnel and retention bodies, Moesif bodies, events and users); %d events checked byte for byte; server up",
		tried, len(stored)+len(moesifEvents))
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

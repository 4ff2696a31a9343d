package reliability_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// from returns a client whose connections come from the loopback address
// ip, so that the server sees a distinct source.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// call makes a request with c and returns status, headers and body; every
// body it sees is kept for the secrets check.
type caller struct {
	t      *testing.T
	s      *server
	bodies [][]byte
}

func (c *caller) do(client *http.Client, method, path string, header map[string]string, body []byte) (int, http.Header, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.s.URL(path), bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.bodies = append(c.bodies, b)
	return resp.StatusCode, resp.Header, b
}

// TestIsolationAndSecrets: an app's application id writes only into its
// own app and reads nothing; the query API refuses every route without the
// admin token; no secret appears in any answer or log line; and failed
// authentication is rate-limited per source address.
func TestIsolationAndSecrets(t *testing.T) {
	const burst = 5
	s := startServer(t, "--auth-fail-burst", "5", "--auth-fail-every", "1h", "--flush-interval", "50ms")
	appA, appB := s.createApp(t, "tenant a"), s.createApp(t, "tenant b")
	c := &caller{t: t, s: s}
	admin := map[string]string{"Authorization": "Bearer " + s.Token}

	// Writes with A's key land in A, whatever the body claims.
	cl := from("127.0.0.3")
	body := firehoseLines("iso-1", accessLine("iso-a-1", map[string]string{"app_id": appB.ID, "appId": appB.ID}))
	if st, _, b := c.do(cl, "POST", "/v1/firehose", map[string]string{"X-Amz-Firehose-Access-Key": appA.Key, "X-Amz-Firehose-Request-Id": "iso-1"}, body); st != 200 {
		t.Fatalf("delivery with A's key: %d %s", st, b)
	}
	ev, _ := json.Marshal(map[string]any{"app_id": appB.ID, "request": map[string]any{"time": "2026-02-28T10:00:00Z", "uri": "https://x/y", "verb": "GET",
		"headers": map[string]string{"X-Moesif-Transaction-Id": "iso-a-m"}}, "response": map[string]any{"time": "2026-02-28T10:00:00Z", "status": 200}})
	if st, _, b := c.do(cl, "POST", "/v1/events", map[string]string{"X-Moesif-Application-Id": appA.Key}, ev); st != 201 {
		t.Fatalf("Moesif event with A's key: %d %s", st, b)
	}
	u, _ := json.Marshal(map[string]any{"user_id": "iso-user", "app_id": appB.ID})
	if st, _, b := c.do(cl, "POST", "/v1/users", map[string]string{"X-Moesif-Application-Id": appA.Key}, u); st != 201 {
		t.Fatalf("Moesif user with A's key: %d %s", st, b)
	}
	list := func(appID, what string) int {
		_, _, b := c.do(cl, "GET", "/api/v1/"+what+"?app_id="+url.QueryEscape(appID), admin, nil)
		var out map[string]json.RawMessage
		json.Unmarshal(b, &out)
		var items []json.RawMessage
		json.Unmarshal(out[what], &items)
		return len(items)
	}
	deadline := time.Now().Add(10 * time.Second)
	for list(appA.ID, "events") < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := list(appA.ID, "events"); n != 2 {
		t.Errorf("app A has %d events, want 2", n)
	}
	if n := list(appA.ID, "users"); n != 1 {
		t.Errorf("app A has %d users, want 1", n)
	}
	if nb, nu := list(appB.ID, "events"), list(appB.ID, "users"); nb != 0 || nu != 0 {
		t.Errorf("app B got %d events and %d users written with A's key", nb, nu)
	}

	// Application ids are not admin tokens: neither reads anything.
	for i, key := range []string{appA.Key, appB.Key} {
		src := from([]string{"127.0.0.4", "127.0.0.5"}[i]) // each under the burst
		for _, path := range []string{"/api/v1/events?app_id=" + appA.ID, "/api/v1/events?app_id=" + appB.ID, "/api/v1/apps"} {
			if st, _, _ := c.do(src, "GET", path, map[string]string{"Authorization": "Bearer " + key}, nil); st != http.StatusUnauthorized {
				t.Errorf("GET %s with an application id as token: %d, want 401", path, st)
			}
		}
	}

	// Every documented route refuses a request without the admin token.
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	_, _, b := c.do(cl, "GET", "/api/v1/openapi.json", nil, nil)
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Paths) == 0 {
		t.Fatalf("openapi.json: %v", err)
	}
	var routes []string
	for p, ops := range doc.Paths {
		for m := range ops {
			m = strings.ToUpper(m)
			if m != "GET" && m != "POST" && m != "DELETE" && m != "PUT" && m != "PATCH" {
				continue
			}
			routes = append(routes, m+" "+p)
		}
	}
	sort.Strings(routes)
	anon := from("127.0.0.8")
	for _, r := range routes {
		m, p, _ := strings.Cut(r, " ")
		path := strings.NewReplacer("{app_id}", appA.ID, "{request_id}", "iso-a-1", "{user_id}", "iso-user", "{company_id}", "c").Replace(p)
		st, _, body := c.do(anon, m, path+"?app_id="+appA.ID, map[string]string{"Content-Type": "application/json"}, []byte(`{}`))
		switch {
		case r == "GET /api/v1/openapi.json":
			if st != http.StatusOK {
				t.Errorf("%s: %d", r, st)
			}
		case r == "POST /api/v1/session": // the login itself
			if st != http.StatusUnauthorized && st != http.StatusBadRequest {
				t.Errorf("%s without a token: %d", r, st)
			}
		case st != http.StatusUnauthorized:
			t.Errorf("%s without the admin token: %d %.100s, want 401", r, st, body)
		}
	}

	// Failed authentication is rate-limited per source address: past the
	// burst, even the right key gets 429 unchecked.
	atk := from("127.0.0.2")
	for i := range burst {
		st, _, b := c.do(atk, "POST", "/v1/firehose", map[string]string{"X-Amz-Firehose-Access-Key": appA.Key + "x", "X-Amz-Firehose-Request-Id": "guess"}, body)
		if st != http.StatusUnauthorized {
			t.Fatalf("wrong key %d: %d %s", i+1, st, b)
		}
	}
	st, h, b := c.do(atk, "POST", "/v1/firehose", map[string]string{"X-Amz-Firehose-Access-Key": appA.Key, "X-Amz-Firehose-Request-Id": "guess-right"}, body)
	var ans map[string]any
	json.Unmarshal(b, &ans)
	if st != http.StatusTooManyRequests || h.Get("Retry-After") == "" || ans["requestId"] != "guess-right" || ans["errorMessage"] == nil {
		t.Errorf("right key from a blocked source: %d Retry-After %q %s, want 429 in the Firehose protocol", st, h.Get("Retry-After"), b)
	}
	if st, _, _ := c.do(atk, "POST", "/v1/events", map[string]string{"X-Moesif-Application-Id": appA.Key}, ev); st != http.StatusTooManyRequests {
		t.Errorf("Moesif from a blocked source: %d, want 429", st)
	}
	if st, _, _ := c.do(atk, "GET", "/api/v1/apps", admin, nil); st != http.StatusTooManyRequests {
		t.Errorf("admin token from a blocked source: %d, want 429", st)
	}
	if st, _, _ := c.do(from("127.0.0.6"), "POST", "/v1/firehose", map[string]string{"X-Amz-Firehose-Access-Key": appA.Key, "X-Amz-Firehose-Request-Id": "iso-1"}, body); st != http.StatusOK {
		t.Errorf("another source with the right key: %d, want 200", st)
	}
	// Guessing the admin token through the dashboard's login.
	login := from("127.0.0.7")
	for i := range burst {
		if st, _, _ := c.do(login, "POST", "/api/v1/session", nil, []byte(`{"token":"gsa_guess_`+string(rune('a'+i))+`"}`)); st != http.StatusUnauthorized {
			t.Fatalf("wrong login %d: %d", i+1, st)
		}
	}
	if st, _, _ := c.do(login, "POST", "/api/v1/session", nil, []byte(`{"token":"`+s.Token+`"}`)); st != http.StatusTooManyRequests {
		t.Errorf("login after %d wrong tokens: %d, want 429", burst, st)
	}

	// No answer carried a secret (the app-creation answers, which hand the
	// application ids to the operator, went through s.api, not c), nor did
	// /metrics.
	_, _, m := c.do(cl, "GET", "/metrics", nil, nil)
	c.bodies = append(c.bodies, m)
	for _, b := range c.bodies {
		for _, sec := range []string{s.Token, appA.Key, appB.Key} {
			if bytes.Contains(b, []byte(sec)) {
				t.Errorf("an answer carries a secret: %.200s", b)
			}
		}
	}
	// The logs are checked for every secret when the server stops
	// (startServer); make sure it logged the refusals at all.
	if !strings.Contains(s.Log.String(), "status=401") || !strings.Contains(s.Log.String(), "status=429") {
		t.Error("the server did not log the refused requests; the secrets check would prove nothing")
	}
	figure(t, "isolation and secrets: %d routes refuse without the admin token; application ids write only their app and read nothing; %d answers and the whole debug log free of secrets; 429 after %d failed authentications per source",
		len(routes)-1, len(c.bodies), burst)
}

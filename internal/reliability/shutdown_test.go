package reliability_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

// deliveryBody is a Firehose body of one seed-format line for requestID.
func deliveryBody(batch, requestID string) []byte {
	line := fmt.Sprintf(`{"apiId":"a1b2c3d4e5","requestId":%q,"requestTime":"28/Feb/2026:10:00:00 +0000","httpMethod":"GET",`+
		`"resourcePath":"/orders/1","status":"200","ip":"192.0.2.1","user":"u1"}`+"\n", requestID)
	b, _ := json.Marshal(map[string]any{"requestId": batch, "timestamp": 1772272800000,
		"records": []map[string]string{{"data": base64.StdEncoding.EncodeToString([]byte(line))}}})
	return b
}

func deliveryHead(addr, batch, key string, n int) string {
	return "POST /v1/firehose HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\n" +
		"X-Amz-Firehose-Protocol-Version: 1.0\r\nX-Amz-Firehose-Request-Id: " + batch + "\r\n" +
		"X-Amz-Firehose-Access-Key: " + key + "\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n", n)
}

// readAnswer reads one HTTP response from a raw connection.
func readAnswer(t *testing.T, c net.Conn) (*http.Response, map[string]any) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("answer %d %q is not JSON", resp.StatusCode, b)
	}
	return resp, out
}

// TestGracefulShutdown sends SIGTERM while one delivery's body is still
// arriving and another's headers are half sent: the first finishes and is
// acknowledged and stored; the second, and a delivery on a new connection
// during the drain delay, get the protocol's 503; after the delay no
// connection is accepted, and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	const drain = 2 * time.Second
	s := startServerIn(t, dir, "--drain-delay", drain.String())
	a := s.createApp(t, "graceful")

	// D1: in flight, half its body sent.
	b1 := deliveryBody("graceful-d1", "graceful-d1-event")
	c1, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	io.WriteString(c1, deliveryHead(s.Addr, "graceful-d1", a.Key, len(b1)))
	c1.Write(b1[:len(b1)/2])

	// D2: connected, request line and a header sent, the rest held.
	b2 := deliveryBody("graceful-d2", "graceful-d2-event")
	head2 := deliveryHead(s.Addr, "graceful-d2", a.Key, len(b2))
	c2, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	cut := strings.Index(head2, "X-Amz-Firehose-Access-Key")
	io.WriteString(c2, head2[:cut])
	time.Sleep(300 * time.Millisecond) // both reach the server

	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the server starts draining

	// A new delivery during the drain delay.
	b3 := deliveryBody("graceful-d3", "graceful-d3-event")
	c3, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatalf("connecting during the drain delay: %v", err)
	}
	defer c3.Close()
	io.WriteString(c3, deliveryHead(s.Addr, "graceful-d3", a.Key, len(b3)))
	c3.Write(b3)
	resp3, ans3 := readAnswer(t, c3)
	if resp3.StatusCode != http.StatusServiceUnavailable || ans3["requestId"] != "graceful-d3" {
		t.Errorf("new delivery during the drain delay: %d %v, want 503 echoing graceful-d3", resp3.StatusCode, ans3)
	}
	io.WriteString(c2, head2[cut:])
	c2.Write(b2)
	resp2, ans2 := readAnswer(t, c2)
	if resp2.StatusCode != http.StatusServiceUnavailable || ans2["requestId"] != "graceful-d2" || ans2["errorMessage"] == nil {
		t.Errorf("delivery arriving during shutdown: %d %v, want 503 echoing graceful-d2 with an errorMessage", resp2.StatusCode, ans2)
	}
	if ct := resp2.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("503 Content-Type %q", ct)
	}

	// After the delay the listener closes, while D1 is still in flight.
	refused := false
	for deadline := time.Now().Add(drain + 5*time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Error("connections still accepted well after the drain delay")
	}
	c1.Write(b1[len(b1)/2:])
	resp1, ans1 := readAnswer(t, c1)
	if resp1.StatusCode != http.StatusOK || ans1["requestId"] != "graceful-d1" {
		t.Errorf("in-flight delivery: %d %v, want 200 echoing graceful-d1", resp1.StatusCode, ans1)
	}
	if err := s.Wait(90 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}

	ids := storedIDs(t, dir, a.ID)
	if ids["graceful-d1-event"] != 1 || len(ids) != 1 {
		t.Errorf("stored after the stop: %v, want the in-flight delivery's event only", ids)
	}
	figure(t, "graceful: in-flight delivery %d, half-sent delivery %d, new delivery during the %v drain %d, connections refused after it, exit 0",
		resp1.StatusCode, resp2.StatusCode, drain, resp3.StatusCode)

	// Firehose retries the refused delivery after the restart: stored once.
	if err := s.Start(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", s.URL("/v1/firehose"), strings.NewReader(string(b2)))
	req.Header.Set("X-Amz-Firehose-Request-Id", "graceful-d2")
	req.Header.Set("X-Amz-Firehose-Access-Key", a.Key)
	resp, err := s.Client.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("retry after restart: %v %v", err, resp)
	}
	resp.Body.Close()
	var page struct {
		Events []map[string]any `json:"events"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(page.Events) < 2 && time.Now().Before(deadline) {
		s.api(t, "GET", "/api/v1/events?app_id="+url.QueryEscape(a.ID), nil, http.StatusOK, &page)
		time.Sleep(50 * time.Millisecond)
	}
	if len(page.Events) != 2 {
		t.Errorf("%d events after the retry, want 2", len(page.Events))
	}
}

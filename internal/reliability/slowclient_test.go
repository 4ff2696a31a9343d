package reliability_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSlowClients: connections that never finish their headers are closed
// after --read-header-timeout, and a delivery whose body stalls gets the
// protocol's 503 after --max-request-duration and frees its slot; the one
// delivery slot stays available to a well-behaved sender throughout.
func TestSlowClients(t *testing.T) {
	const headerTimeout, maxDuration = time.Second, 3 * time.Second
	s := startServer(t, "--read-header-timeout", headerTimeout.String(), "--max-request-duration", maxDuration.String(),
		"--max-concurrent-batches", "1")
	a := s.createApp(t, "slow")

	// Slowloris: many connections sending headers a byte at a time, then
	// nothing.
	const lorises = 64
	var wg sync.WaitGroup
	closed := make(chan time.Duration, lorises)
	for range lorises {
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /v1/firehose HTTP/1.1\r\nHost: x\r\nX-Amz-Firehose-Request-Id: slow")
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			c.SetReadDeadline(time.Now().Add(20 * headerTimeout))
			_, err := io.ReadAll(c)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				closed <- -1
				return
			}
			closed <- time.Since(start)
		}()
	}
	// Meanwhile a normal delivery is served.
	b := deliveryBody("slow-ok-1", "slow-ok-1-event")
	if st := post(t, s.Client, s.URL("/v1/firehose"), a.Key, "slow-ok-1", b); st != http.StatusOK {
		t.Errorf("delivery beside %d half-open connections: %d", lorises, st)
	}
	wg.Wait()
	close(closed)
	var longest time.Duration
	for d := range closed {
		if d < 0 {
			t.Fatalf("a connection with unfinished headers was still open after %v", 20*headerTimeout)
		}
		longest = max(longest, d)
	}

	// A delivery whose body stalls halfway.
	body := deliveryBody("slow-body", "slow-body-event")
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, deliveryHead(s.Addr, "slow-body", a.Key, len(body)))
	c.Write(body[:len(body)/2])
	resp, ans := readAnswer(t, c)
	stalled := time.Since(start)
	if resp.StatusCode != http.StatusServiceUnavailable || ans["requestId"] != "slow-body" ||
		!strings.Contains(ans["errorMessage"].(string), "timeout") {
		t.Errorf("stalled body: %d %v, want 503 echoing slow-body", resp.StatusCode, ans)
	}
	if stalled < maxDuration {
		t.Errorf("stalled body answered after %v, before --max-request-duration %v", stalled, maxDuration)
	}
	b2 := deliveryBody("slow-ok-2", "slow-ok-2-event")
	if st := post(t, s.Client, s.URL("/v1/firehose"), a.Key, "slow-ok-2", b2); st != http.StatusOK {
		t.Errorf("delivery after the stalled one: %d; its slot was not freed", st)
	}
	figure(t, "slow clients: %d half-sent headers all closed (longest %v, --read-header-timeout %v); stalled body answered 503 after %v (--max-request-duration %v); the single delivery slot stayed usable",
		lorises, longest.Round(10*time.Millisecond), headerTimeout, stalled.Round(10*time.Millisecond), maxDuration)
}

package reliability

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// AckRecorder is an http.RoundTripper between a Firehose client and the
// server. It decodes every delivery it carries (independently of the
// server's decoder: compress/gzip and encoding/json) and records which
// API Gateway request ids the server acknowledged: a 200 whose JSON
// echoes the request id and carries a timestamp, the same test the
// Firehose client applies.
type AckRecorder struct {
	Next http.RoundTripper
	// OnAck, when set, is called after each acknowledged delivery with its
	// body as sent and its request ids.
	OnAck func(batch string, body []byte, gzipped bool, ids []string)

	mu       sync.Mutex
	sent     map[string]bool // request ids of every line ever sent
	acked    map[string]int  // request id -> acknowledged deliveries that carried it
	batches  map[string]int  // X-Amz-Firehose-Request-Id -> 200s
	statuses map[int]int     // answers by status; 0 for transport errors

	inflight atomic.Int64
	attempts atomic.Int64
}

// NewAckRecorder wraps next (nil: http.DefaultTransport).
func NewAckRecorder(next http.RoundTripper) *AckRecorder {
	if next == nil {
		next = http.DefaultTransport
	}
	return &AckRecorder{Next: next, sent: map[string]bool{}, acked: map[string]int{}, batches: map[string]int{},
		statuses: map[int]int{}}
}

// RoundTrip implements http.RoundTripper.
func (a *AckRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	ids, err := RequestIDs(body, req.Header.Get("Content-Encoding") == "gzip")
	if err != nil {
		return nil, fmt.Errorf("reliability: the client sent a body the recorder cannot read: %w", err)
	}
	batch := req.Header.Get("X-Amz-Firehose-Request-Id")
	a.mu.Lock()
	for _, id := range ids {
		a.sent[id] = true
	}
	a.mu.Unlock()

	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	a.attempts.Add(1)
	a.inflight.Add(1)
	resp, err := a.Next.RoundTrip(out)
	a.inflight.Add(-1)
	if err != nil {
		a.count(0)
		return nil, err
	}
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20+1))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if rerr != nil {
		a.count(0)
		return nil, rerr
	}
	a.count(resp.StatusCode)
	if resp.StatusCode == http.StatusOK && acknowledges(data, batch) {
		a.mu.Lock()
		for _, id := range ids {
			a.acked[id]++
		}
		a.batches[batch]++
		a.mu.Unlock()
		if a.OnAck != nil {
			a.OnAck(batch, body, req.Header.Get("Content-Encoding") == "gzip", ids)
		}
	}
	return resp, nil
}

func (a *AckRecorder) count(status int) {
	a.mu.Lock()
	a.statuses[status]++
	a.mu.Unlock()
}

// acknowledges applies the Firehose client's test of a 200 answer.
func acknowledges(data []byte, batch string) bool {
	var ack struct {
		RequestID *string `json:"requestId"`
		Timestamp *int64  `json:"timestamp"`
	}
	return json.Unmarshal(data, &ack) == nil && ack.RequestID != nil && ack.Timestamp != nil && *ack.RequestID == batch
}

// InFlight is the number of deliveries sent and not yet answered.
func (a *AckRecorder) InFlight() int64 { return a.inflight.Load() }

// Attempts is the number of requests made.
func (a *AckRecorder) Attempts() int64 { return a.attempts.Load() }

// Sent returns every request id sent at least once.
func (a *AckRecorder) Sent() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]bool, len(a.sent))
	for k := range a.sent {
		out[k] = true
	}
	return out
}

// Acked returns request id -> number of acknowledged deliveries carrying it.
func (a *AckRecorder) Acked() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]int, len(a.acked))
	for k, v := range a.acked {
		out[k] = v
	}
	return out
}

// AckedBatches is the number of distinct deliveries acknowledged.
func (a *AckRecorder) AckedBatches() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.batches)
}

// Statuses returns answers by HTTP status (0: no answer).
func (a *AckRecorder) Statuses() map[int]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[int]int, len(a.statuses))
	for k, v := range a.statuses {
		out[k] = v
	}
	return out
}

// RequestIDs decodes a Firehose delivery body and returns the requestId of
// every access-log line in its records.
func RequestIDs(body []byte, gzipped bool) ([]string, error) {
	if gzipped {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if body, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	var req struct {
		Records []struct {
			Data string `json:"data"`
		} `json:"records"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	var ids []string
	for _, r := range req.Records {
		data, err := base64.StdEncoding.DecodeString(r.Data)
		if err != nil {
			return nil, err
		}
		if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
			// A CloudWatch Logs subscription record (HTTP and WebSocket
			// APIs): gzip JSON whose log events are the lines.
			if data, err = cloudWatchLines(data); err != nil {
				return nil, err
			}
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var l struct {
				RequestID string `json:"requestId"`
			}
			if err := json.Unmarshal(line, &l); err != nil || l.RequestID == "" {
				return nil, fmt.Errorf("line %.80q has no requestId: %v", line, err)
			}
			ids = append(ids, l.RequestID)
		}
	}
	return ids, nil
}

// cloudWatchLines returns the messages of a CloudWatch Logs subscription
// payload's DATA_MESSAGE, one per line; a CONTROL_MESSAGE has none.
func cloudWatchLines(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	var p struct {
		MessageType string `json:"messageType"`
		LogEvents   []struct {
			Message string `json:"message"`
		} `json:"logEvents"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	var out []byte
	if p.MessageType != "DATA_MESSAGE" {
		return out, nil
	}
	for _, e := range p.LogEvents {
		out = append(append(out, e.Message...), '\n')
	}
	return out, nil
}

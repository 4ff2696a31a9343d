package firehoseclient

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
)

// maxResponseBytes bounds what is read of a response; Firehose treats a
// larger one as an error (HttpEndpoint.ResponseTooLarge).
const maxResponseBytes = 1 << 20

// deliveryError is why an attempt failed, in Firehose's error vocabulary.
type deliveryError struct {
	code, message string
}

func (e *deliveryError) Error() string { return e.code + ": " + e.message }

func interrupted(cause error) *deliveryError {
	return &deliveryError{"Simulator.Interrupted", fmt.Sprintf("delivery stopped before the retry duration elapsed: %v", cause)}
}

// newRequestID returns a random version-4 UUID.
func newRequestID() string {
	var u [16]byte
	_, _ = crand.Read(u[:]) // crypto/rand.Read never fails (Go 1.24+)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	b := make([]byte, 0, 36)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&15])
	}
	return string(b)
}

func commonAttributesHeader(attrs map[string]string) (string, error) {
	if len(attrs) == 0 {
		return "", nil
	}
	b, err := json.Marshal(map[string]map[string]string{"commonAttributes": attrs})
	if err != nil {
		return "", fmt.Errorf("firehoseclient: encoding common attributes: %w", err)
	}
	return string(b), nil
}

// encodeBody writes the request body: {"requestId","timestamp","records"},
// gzip-compressed unless uncompressed.
func encodeBody(id string, ts int64, records [][]byte, uncompressed bool) ([]byte, error) {
	size := 64
	for _, r := range records {
		size += base64.StdEncoding.EncodedLen(len(r)) + 12
	}
	raw := make([]byte, 0, size)
	raw = append(raw, `{"requestId":"`...)
	raw = append(raw, id...)
	raw = append(raw, `","timestamp":`...)
	raw = strconv.AppendInt(raw, ts, 10)
	raw = append(raw, `,"records":[`...)
	for i, r := range records {
		if i > 0 {
			raw = append(raw, ',')
		}
		raw = append(raw, `{"data":"`...)
		raw = base64.StdEncoding.AppendEncode(raw, r)
		raw = append(raw, `"}`...)
	}
	raw = append(raw, "]}"...)
	if uncompressed {
		return raw, nil
	}
	var out bytes.Buffer
	out.Grow(len(raw) / 4)
	zw, err := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	if err != nil {
		return nil, fmt.Errorf("firehoseclient: gzip: %w", err)
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, fmt.Errorf("firehoseclient: gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("firehoseclient: gzip: %w", err)
	}
	return out.Bytes(), nil
}

// deliver sends one batch until it succeeds or the retry duration has
// elapsed, then backs it up. One request id serves every attempt.
func (c *Client) deliver(b *batch) {
	id := newRequestID()
	start := c.cfg.Now()
	body, err := encodeBody(id, start.UnixMilli(), b.records, c.cfg.Uncompressed)
	if err != nil {
		c.giveUp(b, 0, &deliveryError{"Simulator.EncodingFailed", err.Error()})
		return
	}
	backoff := c.cfg.Backoff
	attempts := 0
	for {
		attempts++
		if attempts > 1 {
			c.n.retries.Add(1)
		}
		c.n.attempts.Add(1)
		derr := c.attempt(id, body)
		if derr == nil {
			c.n.deliveredBatches.Add(1)
			c.n.deliveredRecords.Add(int64(len(b.records)))
			c.n.deliveredEvents.Add(int64(b.events))
			return
		}
		c.cfg.Logger.Warn("firehose delivery attempt failed", "request_id", id, "attempt", attempts, "error", derr.Error())
		remaining := c.cfg.RetryDuration - c.cfg.Now().Sub(start)
		if remaining <= 0 {
			c.giveUp(b, attempts, derr)
			return
		}
		// Full jitter around the exponential back-off, never past the
		// retry duration, so that one last attempt lands near its end.
		wait := min(time.Duration(float64(backoff)*(0.5+rand.Float64()/2)), remaining)
		backoff = min(2*backoff, c.cfg.MaxBackoff)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.stopCtx.Done():
			t.Stop()
			c.giveUp(b, attempts, interrupted(errors.Join(context.Canceled, derr)))
			return
		}
	}
}

// attempt makes one request; nil means the endpoint acknowledged the batch.
func (c *Client) attempt(id string, body []byte) *deliveryError {
	ctx, cancel := context.WithTimeout(c.stopCtx, c.cfg.ResponseTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return &deliveryError{"HttpEndpoint.InvalidEndpoint", err.Error()}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	if !c.cfg.Uncompressed {
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("User-Agent", "Amazon Kinesis Data Firehose Agent/1.0")
	h.Set("X-Amz-Firehose-Protocol-Version", "1.0")
	h.Set("X-Amz-Firehose-Request-Id", id)
	h.Set("X-Amz-Firehose-Source-Arn", c.arn)
	if c.cfg.AccessKey != "" {
		h.Set("X-Amz-Firehose-Access-Key", c.cfg.AccessKey)
	}
	if c.attrs != "" {
		h.Set("X-Amz-Firehose-Common-Attributes", c.attrs)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return transportError(ctx, err, c.cfg.ResponseTimeout)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return transportError(ctx, err, c.cfg.ResponseTimeout)
	}
	if len(data) > maxResponseBytes {
		return &deliveryError{"HttpEndpoint.ResponseTooLarge", "the response from the endpoint is larger than 1 MiB"}
	}
	if resp.StatusCode != http.StatusOK {
		return &deliveryError{"HttpEndpoint.DestinationException",
			fmt.Sprintf("The following response was received from the endpoint destination. %d: %s", resp.StatusCode, truncate(data, 512))}
	}
	var ack struct {
		RequestID *string `json:"requestId"`
		Timestamp *int64  `json:"timestamp"`
	}
	if err := json.Unmarshal(data, &ack); err != nil || ack.RequestID == nil || ack.Timestamp == nil {
		return &deliveryError{"HttpEndpoint.InvalidResponseFromDestination",
			fmt.Sprintf("The response received from the endpoint is invalid: it is not a JSON object with requestId and timestamp: %s", truncate(data, 512))}
	}
	if *ack.RequestID != id {
		return &deliveryError{"HttpEndpoint.InvalidResponseFromDestination",
			fmt.Sprintf("The response received from the endpoint is invalid: requestId %q does not match the request's %q", truncate([]byte(*ack.RequestID), 64), id)}
	}
	return nil
}

func transportError(ctx context.Context, err error, timeout time.Duration) *deliveryError {
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return &deliveryError{"HttpEndpoint.RequestTimeout", fmt.Sprintf("The endpoint did not answer within the response timeout of %v", timeout)}
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return &deliveryError{"HttpEndpoint.ConnectionReset", "The connection to the endpoint was reset: " + err.Error()}
	default:
		return &deliveryError{"HttpEndpoint.ConnectionFailed", "Could not connect to the endpoint: " + err.Error()}
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// giveUp backs a batch up after its last attempt.
func (c *Client) giveUp(b *batch, attempts int, why *deliveryError) {
	c.n.failedBatches.Add(1)
	c.n.failedRecords.Add(int64(len(b.records)))
	c.n.failedEvents.Add(int64(b.events))
	path, err := c.backup(b, attempts, why)
	if err != nil {
		c.n.backupErr.Add(1)
		c.cfg.Logger.Error("firehose backup failed; records lost", "records", len(b.records), "error", err)
		return
	}
	c.n.backedUpBatches.Add(1)
	c.n.backedUpRecords.Add(int64(len(b.records)))
	c.n.backedUpEvts.Add(int64(b.events))
	c.cfg.Logger.Warn("firehose batch backed up", "records", len(b.records), "path", path, "error", why.Error())
}

// Package cwlogs decodes CloudWatch Logs subscription payloads: what a
// subscription filter puts into each Firehose record when HTTP and WebSocket
// APIs log through CloudWatch Logs. Each payload is gzip-compressed JSON:
//
//	{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"...",
//	 "logStream":"...","subscriptionFilters":["..."],
//	 "logEvents":[{"id":"...","timestamp":1700000000000,"message":"..."}]}
//
// CloudWatch sends a CONTROL_MESSAGE when the subscription is set up, to
// check the destination is reachable; it carries no log data.
package cwlogs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/valyala/fastjson"
)

// Message types.
const (
	DataMessage    = "DATA_MESSAGE"
	ControlMessage = "CONTROL_MESSAGE"
)

// LogEvent is one line of the log group.
type LogEvent struct {
	ID        string
	Timestamp time.Time
	Message   []byte
}

// Payload is one decoded subscription record.
type Payload struct {
	MessageType string
	Owner       string
	LogGroup    string
	LogStream   string
	LogEvents   []LogEvent
}

// ErrTooLarge is returned when a payload decompresses past the limit.
var ErrTooLarge = errors.New("cloudwatch logs payload too large")

// IsGzip reports whether b starts like a gzip stream: how a Firehose record
// from a subscription is told apart from a plain access-log line, which
// starts with '{'.
func IsGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// Decoder decodes payloads, reusing memory between calls; it is not safe
// for concurrent use. Payloads it returns do not alias its memory.
type Decoder struct {
	buf  bytes.Buffer
	json fastjson.Parser
}

// Decode gunzips and parses one subscription record, refusing to inflate
// more than maxBytes.
func (d *Decoder) Decode(record []byte, maxBytes int64) (*Payload, error) {
	zr, err := gzip.NewReader(bytes.NewReader(record))
	if err != nil {
		return nil, fmt.Errorf("cloudwatch logs payload: gzip: %w", err)
	}
	d.buf.Reset()
	n, err := d.buf.ReadFrom(io.LimitReader(zr, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cloudwatch logs payload: gzip: %w", err)
	}
	if n > maxBytes {
		return nil, fmt.Errorf("%w: over %d bytes decompressed", ErrTooLarge, maxBytes)
	}
	v, err := d.json.ParseBytes(d.buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("cloudwatch logs payload: not JSON: %w", err)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, errors.New("cloudwatch logs payload: not a JSON object")
	}
	p := &Payload{
		MessageType: string(v.GetStringBytes("messageType")),
		Owner:       string(v.GetStringBytes("owner")),
		LogGroup:    string(v.GetStringBytes("logGroup")),
		LogStream:   string(v.GetStringBytes("logStream")),
	}
	switch p.MessageType {
	case ControlMessage:
		return p, nil
	case DataMessage:
	default:
		return nil, fmt.Errorf("cloudwatch logs payload: unknown messageType %q", p.MessageType)
	}
	events := v.GetArray("logEvents")
	if events == nil {
		return nil, errors.New("cloudwatch logs payload: DATA_MESSAGE without logEvents")
	}
	p.LogEvents = make([]LogEvent, 0, len(events))
	for i, e := range events {
		msg := e.Get("message")
		if msg == nil || msg.Type() != fastjson.TypeString {
			return nil, fmt.Errorf("cloudwatch logs payload: logEvents[%d] has no message", i)
		}
		le := LogEvent{ID: string(e.GetStringBytes("id")), Message: append([]byte(nil), msg.GetStringBytes()...)}
		if ts := e.GetInt64("timestamp"); ts > 0 {
			le.Timestamp = time.UnixMilli(ts).UTC()
		}
		p.LogEvents = append(p.LogEvents, le)
	}
	return p, nil
}

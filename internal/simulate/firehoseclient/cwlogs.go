package firehoseclient

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
)

// LogsConfig describes the CloudWatch Logs subscription that forwards an
// HTTP or WebSocket API's access-log group to Firehose.
type LogsConfig struct {
	// Owner is the account id; empty selects 123456789012.
	Owner string
	// LogGroup and LogStream name where the lines were logged. Required.
	LogGroup, LogStream string
	// SubscriptionFilters names the filters; nil selects ["gatescope"].
	SubscriptionFilters []string
	// MaxEvents and MaxBytes bound one record's log events and their
	// message bytes; 0 selects 500 and 256 KiB.
	MaxEvents, MaxBytes int
}

// Validate reports the first problem with the configuration.
func (c LogsConfig) Validate() error {
	if c.LogGroup == "" || c.LogStream == "" {
		return errors.New("firehoseclient: LogGroup and LogStream are required")
	}
	if c.MaxEvents < 0 || c.MaxBytes < 0 {
		return errors.New("firehoseclient: MaxEvents and MaxBytes must not be negative")
	}
	return nil
}

// LogsBatcher packs log lines into CloudWatch Logs subscription records:
// each a gzip-compressed JSON DATA_MESSAGE with its log events, which is
// what a subscription filter hands Firehose as one record. It is not safe
// for concurrent use.
type LogsBatcher struct {
	cfg     LogsConfig
	prefix  []byte // the payload up to and including `"logEvents":[`
	streamH uint64
	seq     uint64
	events  []byte // encoded log events, comma separated
	n       int
	msgSize int
	zw      *gzip.Writer
	out     bytes.Buffer
}

// NewLogsBatcher validates cfg and returns an empty batcher.
func NewLogsBatcher(cfg LogsConfig) (*LogsBatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Owner == "" {
		cfg.Owner = "123456789012"
	}
	if cfg.SubscriptionFilters == nil {
		cfg.SubscriptionFilters = []string{"gatescope"}
	}
	if cfg.MaxEvents == 0 {
		cfg.MaxEvents = 500
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 256 << 10
	}
	b := &LogsBatcher{cfg: cfg}
	p := []byte(`{"messageType":"DATA_MESSAGE","owner":`)
	p = appendJSONString(p, cfg.Owner)
	p = append(p, `,"logGroup":`...)
	p = appendJSONString(p, cfg.LogGroup)
	p = append(p, `,"logStream":`...)
	p = appendJSONString(p, cfg.LogStream)
	p = append(p, `,"subscriptionFilters":[`...)
	for i, f := range cfg.SubscriptionFilters {
		if i > 0 {
			p = append(p, ',')
		}
		p = appendJSONString(p, f)
	}
	b.prefix = append(p, `],"logEvents":[`...)
	h := fnv.New64a()
	h.Write([]byte(cfg.LogGroup + "\x00" + cfg.LogStream))
	b.streamH = h.Sum64() % 1e18
	zw, err := gzip.NewWriterLevel(&b.out, gzip.BestSpeed)
	if err != nil {
		return nil, fmt.Errorf("firehoseclient: gzip: %w", err)
	}
	b.zw = zw
	return b, nil
}

// Add appends one log event. When the current record is full it returns
// that record and its number of events, and starts the next with this
// event; otherwise it returns nil and 0.
func (b *LogsBatcher) Add(ts time.Time, message []byte) ([]byte, int, error) {
	var full []byte
	n := 0
	if b.n > 0 && (b.n >= b.cfg.MaxEvents || b.msgSize+len(message) > b.cfg.MaxBytes) {
		var err error
		if full, n, err = b.Flush(); err != nil {
			return nil, 0, err
		}
	}
	if b.n > 0 {
		b.events = append(b.events, ',')
	}
	ms := ts.UnixMilli()
	b.seq++
	// Event ids are 56-digit decimal strings, unique per event; these
	// are made of the time, the stream and a sequence number.
	b.events = append(b.events, `{"id":"`...)
	b.events = appendPadded(b.events, uint64(max(ms, 0)), 20)
	b.events = appendPadded(b.events, b.streamH, 18)
	b.events = appendPadded(b.events, b.seq%1e18, 18)
	b.events = append(b.events, `","timestamp":`...)
	b.events = strconv.AppendInt(b.events, ms, 10)
	b.events = append(b.events, `,"message":`...)
	b.events = appendJSONString(b.events, string(message))
	b.events = append(b.events, '}')
	b.n++
	b.msgSize += len(message)
	return full, n, nil
}

// Pending is the number of events waiting in the current record.
func (b *LogsBatcher) Pending() int { return b.n }

// Flush returns the current record and its number of events, or nil and 0
// when it is empty.
func (b *LogsBatcher) Flush() ([]byte, int, error) {
	if b.n == 0 {
		return nil, 0, nil
	}
	b.out.Reset()
	b.zw.Reset(&b.out)
	for _, part := range [][]byte{b.prefix, b.events, []byte("]}")} {
		if _, err := b.zw.Write(part); err != nil {
			return nil, 0, fmt.Errorf("firehoseclient: gzip: %w", err)
		}
	}
	if err := b.zw.Close(); err != nil {
		return nil, 0, fmt.Errorf("firehoseclient: gzip: %w", err)
	}
	n := b.n
	b.events, b.n, b.msgSize = b.events[:0], 0, 0
	return bytes.Clone(b.out.Bytes()), n, nil
}

// ControlRecord is the gzip'd CONTROL_MESSAGE CloudWatch Logs sends when a
// subscription is created, to check the destination is reachable.
// Receivers skip it.
func ControlRecord(ts time.Time) ([]byte, error) {
	var msg []byte
	msg = append(msg, `{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":`...)
	msg = strconv.AppendInt(msg, ts.UnixMilli(), 10)
	msg = append(msg, `,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}`...)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(msg); err != nil {
		return nil, fmt.Errorf("firehoseclient: gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("firehoseclient: gzip: %w", err)
	}
	return out.Bytes(), nil
}

func appendPadded(b []byte, v uint64, width int) []byte {
	var d [20]byte
	s := strconv.AppendUint(d[:0], v, 10)
	for range width - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}

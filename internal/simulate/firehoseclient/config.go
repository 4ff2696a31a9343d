// Package firehoseclient delivers records to an HTTP endpoint the way
// Amazon Kinesis Data Firehose's HTTP endpoint destination does (request
// and response specification, protocol 1.0): it buffers records by size and
// interval, sends each batch as a JSON body of base64 records, optionally
// gzip-encoded, with Firehose's headers; it retries a batch with back-off
// until the retry duration elapses unless the endpoint answers 200 echoing
// the request id, and then writes the batch to a local folder laid out as
// Firehose's S3 backup of failed HTTP-endpoint data.
//
// It also builds CloudWatch Logs subscription records (LogsBatcher), the
// form HTTP and WebSocket API access logs take on their way to Firehose.
package firehoseclient

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// Firehose's limits for HTTP endpoint destinations.
const (
	MinBufferSize     = 1 << 20
	MaxBufferSize     = 64 << 20
	MinBufferInterval = 60 * time.Second
	MaxBufferInterval = 900 * time.Second
	MaxRetryDuration  = 7200 * time.Second
	// MaxRecordSize is the largest record Firehose accepts (1,000 KiB).
	MaxRecordSize = 1000 * 1024
)

// NoRetries, as Config.RetryDuration, makes one attempt per batch. Zero
// selects the default of 300 s.
const NoRetries time.Duration = -1

// Config describes the delivery stream and its destination.
type Config struct {
	// URL is the HTTP endpoint (Firehose requires https; http is allowed
	// here for loopback tests and demos).
	URL string
	// AccessKey is sent as X-Amz-Firehose-Access-Key; empty sends none.
	AccessKey string
	// StreamName, Region and AccountID make up the source ARN. Defaults:
	// "amazon-apigateway-gatescope", "us-east-1", "123456789012".
	StreamName, Region, AccountID string
	// StreamVersion appears in backup object names; 0 selects 1.
	StreamVersion int

	// BufferSize is the raw record bytes that trigger a delivery: 1-64
	// MiB, 0 selects 5 MiB.
	BufferSize int
	// BufferInterval is the longest a record waits in the buffer: 60-900
	// s, 0 selects 60 s.
	BufferInterval time.Duration
	// Relaxed lifts the buffer minimums (any positive size and interval),
	// for tests and demos.
	Relaxed bool

	// Uncompressed turns off GZIP content encoding.
	Uncompressed bool
	// CommonAttributes are sent as X-Amz-Firehose-Common-Attributes when
	// not empty.
	CommonAttributes map[string]string

	// ResponseTimeout bounds one attempt; 0 selects 180 s.
	ResponseTimeout time.Duration
	// RetryDuration is how long a failing batch is retried: 0-7200 s; 0
	// selects 300 s, NoRetries makes a single attempt.
	RetryDuration time.Duration
	// Backoff is the first wait between attempts (0 selects 1 s); it
	// doubles up to MaxBackoff (0 selects 30 s), with jitter.
	Backoff, MaxBackoff time.Duration

	// BackupDir receives batches that could not be delivered, under
	// http-endpoint-failed/YYYY/MM/DD/HH/. Required.
	BackupDir string
	// Concurrency is the number of batches in flight at once; 0 selects 1.
	Concurrency int

	// HTTPClient sends the requests; nil selects a client with no
	// redirects (Firehose does not follow them).
	HTTPClient *http.Client
	// Logger receives delivery failures; nil discards them.
	Logger *slog.Logger
	// Now is the clock for timestamps and backup names; nil is time.Now.
	Now func() time.Time
}

var (
	streamNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)
	accountRE    = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
)

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("firehoseclient: URL %q is not an http(s) URL", c.URL)
	}
	c = c.withDefaults()
	if !streamNameRE.MatchString(c.StreamName) {
		return fmt.Errorf("firehoseclient: stream name %q is not 1-64 of [a-zA-Z0-9_.-]", c.StreamName)
	}
	if !accountRE.MatchString(c.AccountID) || !regionRE.MatchString(c.Region) {
		return fmt.Errorf("firehoseclient: account %q or region %q is malformed", c.AccountID, c.Region)
	}
	if c.Relaxed {
		if c.BufferSize <= 0 || c.BufferSize > MaxBufferSize || c.BufferInterval <= 0 || c.BufferInterval > MaxBufferInterval {
			return errors.New("firehoseclient: buffer size and interval must be positive and at most 64 MiB and 900 s")
		}
	} else {
		if c.BufferSize < MinBufferSize || c.BufferSize > MaxBufferSize {
			return fmt.Errorf("firehoseclient: buffer size %d is outside 1-64 MiB", c.BufferSize)
		}
		if c.BufferInterval < MinBufferInterval || c.BufferInterval > MaxBufferInterval {
			return fmt.Errorf("firehoseclient: buffer interval %v is outside 60-900 s", c.BufferInterval)
		}
	}
	if c.RetryDuration < NoRetries || c.RetryDuration > MaxRetryDuration {
		return fmt.Errorf("firehoseclient: retry duration %v is outside 0-7200 s", c.RetryDuration)
	}
	if c.ResponseTimeout < 0 || c.Backoff < 0 || c.MaxBackoff < 0 || c.Concurrency < 0 {
		return errors.New("firehoseclient: timeouts, back-offs and concurrency must not be negative")
	}
	if c.BackupDir == "" {
		return errors.New("firehoseclient: BackupDir is required")
	}
	for k, v := range c.CommonAttributes {
		if k == "" || len(k) > 256 || len(v) > 1024 {
			return fmt.Errorf("firehoseclient: common attribute %q is empty or too long", k)
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.StreamName == "" {
		c.StreamName = "amazon-apigateway-gatescope"
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.AccountID == "" {
		c.AccountID = "123456789012"
	}
	if c.StreamVersion == 0 {
		c.StreamVersion = 1
	}
	if c.BufferSize == 0 {
		c.BufferSize = 5 << 20
	}
	if c.BufferInterval == 0 {
		c.BufferInterval = MinBufferInterval
	}
	if c.ResponseTimeout == 0 {
		c.ResponseTimeout = 180 * time.Second
	}
	switch c.RetryDuration {
	case 0:
		c.RetryDuration = 300 * time.Second
	case NoRetries:
		c.RetryDuration = 0
	}
	if c.Backoff == 0 {
		c.Backoff = time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.Concurrency == 0 {
		c.Concurrency = 1
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// SourceARN is the delivery stream's ARN, sent as X-Amz-Firehose-Source-Arn.
func (c Config) SourceARN() string {
	c = c.withDefaults()
	return "arn:aws:firehose:" + c.Region + ":" + c.AccountID + ":deliverystream/" + c.StreamName
}

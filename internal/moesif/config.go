package moesif

import (
	"errors"
	"fmt"
)

// Config limits what one request may cost and says what is kept.
type Config struct {
	// MaxBodyBytes caps the request body as sent (compressed or not).
	MaxBodyBytes int64
	// MaxDecodedBytes caps the body after gunzip: the gzip-bomb defence.
	MaxDecodedBytes int64
	// MaxRecords caps the events, users or companies of one batch.
	MaxRecords int
	// MaxConcurrent caps requests processed at once; past it, 503.
	MaxConcurrent int
	// MaxInflightBytes caps decoded bytes held by all requests in
	// progress; past it, 503. With MaxConcurrent it bounds memory.
	MaxInflightBytes int64
	// KeepBodies stores request and response bodies in event metadata.
	// Off by default: bodies hold personal data and secrets, and they are
	// most of an event's size.
	KeepBodies bool
	// BodyCapBytes caps each kept body; a longer one is cut and marked.
	BodyCapBytes int
}

// DefaultConfig returns the documented defaults. Moesif SDKs send batches
// of at most a few hundred events (well under 1 MiB); the caps leave room
// for scripts that send more.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:     16 << 20,
		MaxDecodedBytes:  64 << 20,
		MaxRecords:       100_000,
		MaxConcurrent:    16,
		MaxInflightBytes: 256 << 20,
		BodyCapBytes:     4 << 10,
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxBodyBytes < 1<<10:
		return fmt.Errorf("moesif: MaxBodyBytes %d below 1 KiB", c.MaxBodyBytes)
	case c.MaxDecodedBytes < c.MaxBodyBytes:
		return fmt.Errorf("moesif: MaxDecodedBytes %d below MaxBodyBytes %d", c.MaxDecodedBytes, c.MaxBodyBytes)
	case c.MaxRecords < 1:
		return errors.New("moesif: MaxRecords must be positive")
	case c.MaxConcurrent < 1:
		return errors.New("moesif: MaxConcurrent must be positive")
	case c.MaxInflightBytes < c.MaxDecodedBytes:
		return fmt.Errorf("moesif: MaxInflightBytes %d below MaxDecodedBytes %d", c.MaxInflightBytes, c.MaxDecodedBytes)
	case c.BodyCapBytes < 0 || c.BodyCapBytes > 1<<20:
		return fmt.Errorf("moesif: BodyCapBytes %d outside [0, 1 MiB]", c.BodyCapBytes)
	case c.KeepBodies && c.BodyCapBytes == 0:
		return errors.New("moesif: KeepBodies needs a positive BodyCapBytes")
	}
	return nil
}

// Package ratelimit slows down secret guessing: it counts failed
// authentications per source address in token buckets, and once a source
// has used up its allowance every request from it that needs a credential
// is refused with 429 before any key is checked, until the bucket refills.
//
// The table of sources is bounded: when it is full, the source whose
// bucket was touched least recently is forgotten, so memory does not grow
// with the number of addresses an attacker controls.
package ratelimit

import (
	"container/list"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Config bounds failed authentications per source.
type Config struct {
	// Burst is how many failures a source may make in a row.
	Burst int
	// Every is how often a source earns one more failure back.
	Every time.Duration
	// MaxSources caps the sources remembered at once.
	MaxSources int
}

// DefaultConfig allows 20 failures in a row, then one every 6 seconds (10
// a minute), remembering up to 65,536 sources (about 8 MB).
func DefaultConfig() Config {
	return Config{Burst: 20, Every: 6 * time.Second, MaxSources: 1 << 16}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Burst < 1:
		return errors.New("ratelimit: Burst must be positive")
	case c.Every <= 0:
		return errors.New("ratelimit: Every must be positive")
	case c.MaxSources < 1:
		return errors.New("ratelimit: MaxSources must be positive")
	}
	return nil
}

// bucket is one source's allowance. tokens is the failures it may still
// make as of at.
type bucket struct {
	key    netip.Prefix
	tokens float64
	at     time.Time
}

// Limiter is safe for concurrent use.
type Limiter struct {
	cfg Config
	now func() time.Time

	mu    sync.Mutex
	byKey map[netip.Prefix]*list.Element // of *bucket
	lru   *list.List                     // front: most recently touched
}

// New returns a limiter.
func New(cfg Config) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Limiter{cfg: cfg, now: time.Now, byKey: make(map[netip.Prefix]*list.Element), lru: list.New()}, nil
}

// Source is the key a remote address is limited under: the IPv4 address,
// or the /64 an IPv6 address belongs to (one host usually owns a whole
// /64). It fails on an address that is not IP:port or IP.
func Source(remoteAddr string) (netip.Prefix, error) {
	host := remoteAddr
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("ratelimit: source %q: %w", remoteAddr, err)
	}
	ip = ip.Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	return ip.Prefix(bits)
}

// refill brings b's tokens up to now.
func (l *Limiter) refill(b *bucket, now time.Time) {
	if el := now.Sub(b.at); el > 0 {
		b.tokens = min(float64(l.cfg.Burst), b.tokens+float64(el)/float64(l.cfg.Every))
		b.at = now
	}
}

// Blocked reports whether src has used up its failures, and if so how long
// until it may try again.
func (l *Limiter) Blocked(src netip.Prefix) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.byKey[src]
	if !ok {
		return false, 0
	}
	b := e.Value.(*bucket)
	now := l.now()
	l.refill(b, now)
	if b.tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - b.tokens) * float64(l.cfg.Every))
}

// Fail records a failed authentication from src.
func (l *Limiter) Fail(src netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e, ok := l.byKey[src]
	if !ok {
		for l.lru.Len() >= l.cfg.MaxSources {
			old := l.lru.Back()
			delete(l.byKey, old.Value.(*bucket).key)
			l.lru.Remove(old)
		}
		e = l.lru.PushFront(&bucket{key: src, tokens: float64(l.cfg.Burst), at: now})
		l.byKey[src] = e
	} else {
		l.lru.MoveToFront(e)
	}
	b := e.Value.(*bucket)
	l.refill(b, now)
	b.tokens = max(0, b.tokens-1)
}

// Len is the number of sources remembered.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

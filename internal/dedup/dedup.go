// Package dedup remembers which keys were seen recently, in memory bounded
// by configuration rather than by traffic.
//
// Firehose retries a batch for at most two hours (its retry duration caps at
// 7200 s), so a duplicate can only arrive within a bounded window of the
// original. The set keeps keys in generations: a new generation starts
// every Window/2 (or when the current one holds MaxKeys/3 keys), and only
// the three newest are kept. A key is thus remembered for at least Window
// unless traffic exceeds MaxKeys per Window, in which case memory stays
// bounded and the window shrinks (Shrunk counts those early rotations).
package dedup

import (
	"errors"
	"hash/maphash"
	"time"
)

// Config configures a Set.
type Config struct {
	// Window is how long a key is remembered at least, traffic permitting.
	Window time.Duration
	// MaxKeys bounds how many keys are held at once (about 16 bytes each).
	MaxKeys int
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Window <= 0 {
		return errors.New("dedup: Window must be positive")
	}
	if c.MaxKeys < 3 {
		return errors.New("dedup: MaxKeys must be at least 3")
	}
	return nil
}

// Key is a 64-bit digest of what identifies a record. With 64 bits, the
// chance that two of ten million live keys collide is about 3 in a million.
type Key uint64

// Set is a windowed set of keys. It is not safe for concurrent use: its
// owner serializes access (the store's single writer does).
type Set struct {
	cfg    Config
	seed   maphash.Seed
	gens   [3]map[Key]struct{} // gens[0] is the newest
	start  time.Time           // when gens[0] began
	Shrunk int                 // rotations forced by MaxKeys
}

// New returns an empty set.
func New(cfg Config) (*Set, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Set{cfg: cfg, seed: maphash.MakeSeed()}
	for i := range s.gens {
		s.gens[i] = make(map[Key]struct{})
	}
	return s, nil
}

// KeyOf digests the parts that identify a record. Parts are separated so
// that ("ab","c") and ("a","bc") differ.
func (s *Set) KeyOf(parts ...string) Key {
	var h maphash.Hash
	h.SetSeed(s.seed)
	for _, p := range parts {
		h.WriteString(p)
		h.WriteByte(0)
	}
	return Key(h.Sum64())
}

// Seen reports whether k is in the set.
func (s *Set) Seen(k Key) bool {
	for _, g := range s.gens {
		if _, ok := g[k]; ok {
			return true
		}
	}
	return false
}

// Add inserts k, as of time now.
func (s *Set) Add(k Key, now time.Time) {
	s.rotate(now)
	s.gens[0][k] = struct{}{}
}

// Len returns how many keys are held.
func (s *Set) Len() int { return len(s.gens[0]) + len(s.gens[1]) + len(s.gens[2]) }

func (s *Set) rotate(now time.Time) {
	if s.start.IsZero() {
		s.start = now
	}
	full := len(s.gens[0]) >= s.cfg.MaxKeys/3
	if now.Sub(s.start) < s.cfg.Window/2 && !full {
		return
	}
	if full {
		s.Shrunk++
	}
	s.gens[2] = s.gens[1]
	s.gens[1] = s.gens[0]
	s.gens[0] = make(map[Key]struct{}, len(s.gens[1]))
	s.start = now
}

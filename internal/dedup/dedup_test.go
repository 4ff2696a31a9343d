package dedup

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg Config
		ok  bool
	}{
		{Config{Window: time.Hour, MaxKeys: 3}, true},
		{Config{Window: time.Nanosecond, MaxKeys: 1 << 20}, true},
		{Config{Window: 0, MaxKeys: 100}, false},
		{Config{Window: -time.Second, MaxKeys: 100}, false},
		{Config{Window: time.Hour, MaxKeys: 2}, false},
		{Config{Window: time.Hour, MaxKeys: -1}, false},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: Validate() = %v, want ok %v", tt.cfg, err, tt.ok)
		}
		if _, err := New(tt.cfg); (err == nil) != tt.ok {
			t.Errorf("%+v: New() error %v, want ok %v", tt.cfg, err, tt.ok)
		}
	}
}

func TestKeyOf(t *testing.T) {
	s, err := New(Config{Window: time.Hour, MaxKeys: 30})
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyOf("app", "req-1") != s.KeyOf("app", "req-1") {
		t.Error("KeyOf is not deterministic")
	}
	distinct := [][]string{{"ab", "c"}, {"a", "bc"}, {"abc"}, {"abc", ""}, {"", "abc"}, {"app", "req-1"}, {"app", "req-2"}, {"app2", "req-1"}}
	seen := map[Key][]string{}
	for _, parts := range distinct {
		k := s.KeyOf(parts...)
		if prev, ok := seen[k]; ok {
			t.Errorf("KeyOf(%q) == KeyOf(%q)", parts, prev)
		}
		seen[k] = parts
	}
}

func TestSeenAndWindowRotation(t *testing.T) {
	const w = 10 * time.Second
	s, err := New(Config{Window: w, MaxKeys: 3000})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	k := func(i int) Key { return s.KeyOf("k", strconv.Itoa(i)) }

	if s.Seen(k(1)) {
		t.Fatal("empty set has seen a key")
	}
	steps := []struct {
		at     time.Duration
		add    int
		seen   []int
		unseen []int
	}{
		{0, 1, []int{1}, []int{2}},
		{4 * time.Second, 2, []int{1, 2}, nil},
		{5 * time.Second, 3, []int{1, 2, 3}, nil}, // W/2: a new generation starts
		{9 * time.Second, 4, []int{1, 2, 3, 4}, nil},
		{10 * time.Second, 5, []int{1, 2, 3, 4, 5}, nil}, // second rotation: 1 and 2 are two generations old
		{14 * time.Second, 6, []int{1, 2, 3, 4, 5, 6}, nil},
		{15 * time.Second, 7, []int{3, 4, 5, 6, 7}, []int{1, 2}}, // third rotation: a full window after 1 and 2
		{25 * time.Second, 8, []int{5, 6, 7, 8}, []int{3, 4}},
	}
	for _, st := range steps {
		s.Add(k(st.add), t0.Add(st.at))
		for _, i := range st.seen {
			if !s.Seen(k(i)) {
				t.Errorf("at %v: key %d forgotten", st.at, i)
			}
		}
		for _, i := range st.unseen {
			if s.Seen(k(i)) {
				t.Errorf("at %v: key %d still remembered", st.at, i)
			}
		}
	}
	if s.Shrunk != 0 {
		t.Errorf("Shrunk = %d without MaxKeys pressure", s.Shrunk)
	}
}

// TestRememberedForAWindow checks the contract against a model: a key is
// seen until an Add at least Window after it, at random add times.
func TestRememberedForAWindow(t *testing.T) {
	const w = time.Minute
	rng := rand.New(rand.NewPCG(1, 2))
	s, err := New(Config{Window: w, MaxKeys: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	added := map[Key]time.Time{}
	for i := range 20000 {
		now = now.Add(time.Duration(rng.IntN(2000)) * time.Millisecond)
		key := s.KeyOf(strconv.Itoa(i))
		s.Add(key, now)
		added[key] = now
		if i%97 != 0 {
			continue
		}
		for k, at := range added {
			if now.Sub(at) < w && !s.Seen(k) {
				t.Fatalf("key added %v ago forgotten (window %v)", now.Sub(at), w)
			}
			if now.Sub(at) > 2*w {
				if s.Seen(k) {
					t.Fatalf("key added %v ago still held (window %v): memory not bounded by time", now.Sub(at), w)
				}
				delete(added, k)
			}
		}
	}
}

func TestMaxKeysShrinksTheWindow(t *testing.T) {
	const max = 300
	s, err := New(Config{Window: time.Hour, MaxKeys: max})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 * max {
		s.Add(s.KeyOf(strconv.Itoa(i)), now) // all at once: only MaxKeys can rotate
		if s.Len() > max {
			t.Fatalf("after %d keys Len() = %d, over MaxKeys %d", i+1, s.Len(), max)
		}
	}
	if s.Shrunk == 0 {
		t.Error("Shrunk = 0 after 10×MaxKeys keys within one window")
	}
	// Shrinking keeps the newest keys: the last MaxKeys/3 added are held.
	for i := 10*max - max/3; i < 10*max; i++ {
		if !s.Seen(s.KeyOf(strconv.Itoa(i))) {
			t.Fatalf("recent key %d forgotten", i)
		}
	}
	if s.Seen(s.KeyOf("0")) {
		t.Error("the oldest key is still held although MaxKeys was exceeded many times over")
	}
}

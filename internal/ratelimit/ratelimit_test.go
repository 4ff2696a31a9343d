package ratelimit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newTestLimiter(t *testing.T, cfg Config) (*Limiter, *clock) {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	l.now = c.now
	return l, c
}

func TestSource(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		err      bool
	}{
		{"192.0.2.7:5000", "192.0.2.7/32", false},
		{"192.0.2.7", "192.0.2.7/32", false},
		{"[::ffff:192.0.2.7]:80", "192.0.2.7/32", false},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64", false},
		{"[2001:db8:1:2:ffff::1]:1", "2001:db8:1:2::/64", false},
		{"[fe80::1%eth0]:1", "fe80::/64", false},
		{"@", "", true},
		{"", "", true},
		{"example.com:80", "", true},
	} {
		got, err := Source(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("Source(%q) error %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && got.String() != tt.want {
			t.Errorf("Source(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestBucket: Burst failures pass, the next is blocked, one failure comes
// back every Every, and sources are independent.
func TestBucket(t *testing.T) {
	l, c := newTestLimiter(t, Config{Burst: 3, Every: 10 * time.Second, MaxSources: 10})
	a := netip.MustParsePrefix("192.0.2.1/32")
	b := netip.MustParsePrefix("192.0.2.2/32")
	for i := range 3 {
		if blocked, _ := l.Blocked(a); blocked {
			t.Fatalf("blocked before failure %d of a burst of 3", i+1)
		}
		l.Fail(a)
	}
	blocked, wait := l.Blocked(a)
	if !blocked || wait != 10*time.Second {
		t.Fatalf("after 3 failures: blocked %v wait %v, want true 10s", blocked, wait)
	}
	if blocked, _ := l.Blocked(b); blocked {
		t.Fatal("another source is blocked too")
	}
	c.advance(4 * time.Second)
	if blocked, wait := l.Blocked(a); !blocked || wait != 6*time.Second {
		t.Fatalf("4 s later: blocked %v wait %v, want true 6s", blocked, wait)
	}
	c.advance(6 * time.Second)
	if blocked, _ := l.Blocked(a); blocked {
		t.Fatal("still blocked after Every")
	}
	l.Fail(a)
	if blocked, _ := l.Blocked(a); !blocked {
		t.Fatal("one refilled failure allowed two")
	}
	c.advance(time.Hour)
	for i := range 3 {
		if blocked, _ := l.Blocked(a); blocked {
			t.Fatalf("after an hour, blocked at failure %d: the bucket did not refill to Burst", i+1)
		}
		l.Fail(a)
	}
	if blocked, _ := l.Blocked(a); !blocked {
		t.Fatal("refilled past Burst")
	}
}

// TestBounded: the table never holds more than MaxSources; the least
// recently failing source is forgotten first.
func TestBounded(t *testing.T) {
	l, _ := newTestLimiter(t, Config{Burst: 1, Every: time.Minute, MaxSources: 100})
	first := netip.MustParsePrefix("10.0.0.1/32")
	l.Fail(first)
	for i := range 10_000 {
		l.Fail(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 32))
		if i == 50 {
			l.Fail(first) // touched again: stays among the recent
		}
		if l.Len() > 100 {
			t.Fatalf("%d sources remembered, cap 100", l.Len())
		}
	}
	if blocked, _ := l.Blocked(first); blocked {
		t.Error("an old source was not forgotten")
	}
	last := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(9999 >> 8), byte(9999 & 0xff)}), 32)
	if blocked, _ := l.Blocked(last); !blocked {
		t.Error("the newest source was forgotten")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{{0, time.Second, 1}, {1, 0, 1}, {1, time.Second, 0}} {
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
}

// TestMiddleware: 401s to guessing requests count; past the burst, every
// guarded request from the source gets the policy's 429 with Retry-After
// and never reaches the handler, even with the right key; unguarded
// requests and other sources pass.
func TestMiddleware(t *testing.T) {
	l, c := newTestLimiter(t, Config{Burst: 2, Every: 30 * time.Second, MaxSources: 10})
	reached := 0
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		if r.Header.Get("Key") == "right" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	})
	h := Middleware(l, Policy{
		Guarded: func(r *http.Request) bool { return r.URL.Path != "/open" },
		Guess:   func(r *http.Request) bool { return r.Header.Get("Key") != "" },
		Refuse: func(w http.ResponseWriter, r *http.Request, _ time.Duration) {
			w.WriteHeader(http.StatusTooManyRequests)
		},
	}, next)
	send := func(from, path, key string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", path, nil)
		r.RemoteAddr = from
		if key != "" {
			r.Header.Set("Key", key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	const attacker, other = "198.51.100.9:1234", "198.51.100.10:1234"
	for i := range 5 {
		if w := send(attacker, "/x", ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("credential-less request %d: %d, want 401 (it guesses nothing)", i, w.Code)
		}
	}
	for i := range 2 {
		if w := send(attacker, "/x", fmt.Sprint("wrong", i)); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong key %d: %d, want 401", i, w.Code)
		}
	}
	before := reached
	w := send(attacker, "/x", "right")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "30" {
		t.Fatalf("right key from a blocked source: %d Retry-After %q, want 429 30", w.Code, w.Header().Get("Retry-After"))
	}
	if reached != before {
		t.Fatal("a blocked request reached the handler: the key was checked")
	}
	if w := send(attacker, "/open", "wrong"); w.Code != http.StatusUnauthorized {
		t.Errorf("unguarded route from a blocked source: %d", w.Code)
	}
	if w := send(other, "/x", "right"); w.Code != http.StatusOK {
		t.Errorf("another source: %d", w.Code)
	}
	c.advance(30 * time.Second)
	if w := send(attacker, "/x", "right"); w.Code != http.StatusOK {
		t.Errorf("after the refill: %d, want 200", w.Code)
	}
}

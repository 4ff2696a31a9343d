package ratelimit

import "testing"

// FuzzSource: a remote address is whatever the connection reports; the
// key derived from it is an IPv4 /32 or an IPv6 /64, or an error.
func FuzzSource(f *testing.F) {
	for _, s := range []string{"192.0.2.1:80", "[2001:db8::1]:443", "[fe80::1%eth0]:1", "@", "", "1.2.3.4", "[::ffff:1.2.3.4]:5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		p, err := Source(addr)
		if err != nil {
			return
		}
		if !p.IsValid() || (p.Addr().Is4() && p.Bits() != 32) || (p.Addr().Is6() && p.Bits() != 64) || p.Addr().Zone() != "" {
			t.Fatalf("Source(%q) = %v", addr, p)
		}
		if p != p.Masked() {
			t.Fatalf("Source(%q) = %v is not masked", addr, p)
		}
	})
}

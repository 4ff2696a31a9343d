package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDigestEqual(t *testing.T) {
	a := DigestOf("gsk_secret")
	if a != Digest(sha256.Sum256([]byte("gsk_secret"))) {
		t.Fatal("DigestOf is not the secret's SHA-256")
	}
	if !a.Equal(DigestOf("gsk_secret")) {
		t.Error("equal digests compare unequal")
	}
	first, last := a, a
	first[0] ^= 1
	last[len(last)-1] ^= 0x80
	for _, d := range []Digest{first, last, DigestOf(""), DigestOf("gsk_secreT")} {
		if a.Equal(d) || d.Equal(a) {
			t.Errorf("different digests %x and %x compare equal", a, d)
		}
	}
}

func TestAdminTokenCheck(t *testing.T) {
	tok := NewAdminToken("gsa_0123456789abcdef")
	tests := []struct {
		token string
		want  bool
	}{
		{"gsa_0123456789abcdef", true},
		{"gsa_0123456789abcdeF", false},
		{"gsa_0123456789abcde", false},
		{"gsa_0123456789abcdef ", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := tok.Check(tt.token); got != tt.want {
			t.Errorf("Check(%q) = %v, want %v", tt.token, got, tt.want)
		}
	}
	if NewAdminToken("").Check("") {
		t.Error("an empty token is accepted by an empty admin token")
	}
}

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := NewSecret("gsk_")
		if err != nil {
			t.Fatal(err)
		}
		rest, ok := strings.CutPrefix(s, "gsk_")
		if !ok {
			t.Fatalf("secret %q lacks its prefix", s)
		}
		raw, err := base64.RawURLEncoding.DecodeString(rest)
		if err != nil || len(raw) != 48 {
			t.Fatalf("secret %q is not 384 bits of URL-safe base64 (%d bytes, %v)", s, len(raw), err)
		}
		if seen[s] {
			t.Fatalf("secret %q generated twice", s)
		}
		seen[s] = true
	}
}

func TestLoadOrCreateAdminToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	path := filepath.Join(dir, "admin-token")

	tok, created, err := LoadOrCreateAdminToken(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if !created || !strings.HasPrefix(tok, "gsa_") || len(tok) < 40 {
		t.Fatalf("first start: token %q created %v", tok, created)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("token file mode %o, want 600", perm)
	}
	if dinfo, err := os.Stat(dir); err != nil || dinfo.Mode().Perm()&0o077 != 0 {
		t.Errorf("data dir %v: others may read it (%v)", dinfo.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	if strings.TrimSpace(string(b)) != tok {
		t.Errorf("file holds %q, want the token", b)
	}

	again, created, err := LoadOrCreateAdminToken(dir, "")
	if err != nil || created || again != tok {
		t.Errorf("second start: %q created %v err %v; want the saved token, not created", again, created, err)
	}

	// A configured token wins and leaves the saved one alone.
	conf, created, err := LoadOrCreateAdminToken(dir, "configured-token-1234")
	if err != nil || created || conf != "configured-token-1234" {
		t.Errorf("configured: %q created %v err %v", conf, created, err)
	}
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Error("a configured token overwrote the saved one")
	}
}

func TestLoadOrCreateAdminTokenConfiguredOnly(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadOrCreateAdminToken(dir, "short"); err == nil {
		t.Error("a 5-character admin token was accepted")
	}
	if _, _, err := LoadOrCreateAdminToken(dir, "0123456789abcdef"); err != nil {
		t.Errorf("a 16-character admin token was refused: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "admin-token")); !os.IsNotExist(err) {
		t.Errorf("a configured token was saved to disk (%v)", err)
	}
}

func TestLoadOrCreateAdminTokenEmptyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "admin-token")
	if err := os.WriteFile(path, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, created, err := LoadOrCreateAdminToken(dir, "")
	if err != nil || !created || tok == "" {
		t.Fatalf("blank token file: %q created %v err %v; want a new token", tok, created, err)
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != tok {
		t.Errorf("the new token was not saved: file holds %q", b)
	}
}

func TestLoadOrCreateAdminTokenUnreadable(t *testing.T) {
	dir := t.TempDir()
	// A directory where the file should be: reading fails, and the error
	// must say so rather than silently replacing the token.
	if err := os.Mkdir(filepath.Join(dir, "admin-token"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateAdminToken(dir, ""); err == nil {
		t.Error("an unreadable token file was ignored")
	}
}

func TestBearer(t *testing.T) {
	tests := []struct{ header, want string }{
		{"Bearer gsa_abc", "gsa_abc"},
		{"bearer gsa_abc", "gsa_abc"},
		{"BEARER gsa_abc", "gsa_abc"},
		{"Bearer   gsa_abc  ", "gsa_abc"},
		{"Bearer ", ""},
		{"Bearer", ""},
		{"Bearer    ", ""},
		{"Bearergsa_abc", ""},
		{"Basic dXNlcjpwYXNz", ""},
		{"gsa_abc", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Bearer(tt.header); got != tt.want {
			t.Errorf("Bearer(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

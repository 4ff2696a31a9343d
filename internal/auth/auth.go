// Package auth checks the secrets Gatescope accepts: the operator's admin
// token and the apps' application ids. Secrets are compared through their
// SHA-256 digests in constant time, and never logged.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Digest is a secret's SHA-256.
type Digest [sha256.Size]byte

// DigestOf digests a secret.
func DigestOf(secret string) Digest { return sha256.Sum256([]byte(secret)) }

// Equal compares two digests in constant time.
func (d Digest) Equal(o Digest) bool { return subtle.ConstantTimeCompare(d[:], o[:]) == 1 }

// NewSecret returns prefix followed by 384 random bits, URL-safe: 64
// characters, because Moesif's Node middleware refuses application ids
// shorter than 50.
func NewSecret(prefix string) (string, error) {
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// AdminToken is the operator's bearer token for the query and admin API.
type AdminToken struct{ digest Digest }

// NewAdminToken wraps a token.
func NewAdminToken(token string) AdminToken { return AdminToken{digest: DigestOf(token)} }

// Check reports whether token is the admin token, in constant time.
func (a AdminToken) Check(token string) bool {
	return token != "" && a.digest.Equal(DigestOf(token))
}

// adminTokenFile holds a generated admin token under the data directory.
const adminTokenFile = "admin-token"

// LoadOrCreateAdminToken returns the configured token if set; otherwise the
// one saved in dataDir, generating and saving one (mode 0600) on first
// start. created reports that a token was generated now: the caller prints
// it once.
func LoadOrCreateAdminToken(dataDir, configured string) (token string, created bool, err error) {
	if configured != "" {
		if len(configured) < 16 {
			return "", false, errors.New("admin token: must be at least 16 characters")
		}
		return configured, false, nil
	}
	path := filepath.Join(dataDir, adminTokenFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, false, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("admin token: read %s: %w", path, err)
	}
	if token, err = NewSecret("gsa_"); err != nil {
		return "", false, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", false, fmt.Errorf("admin token: %w", err)
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("admin token: save: %w", err)
	}
	return token, true, nil
}

// Bearer extracts the token of an "Authorization: Bearer <token>" header.
func Bearer(header string) string {
	const prefix = "bearer "
	if len(header) > len(prefix) && strings.EqualFold(header[:len(prefix)], prefix) {
		return strings.TrimSpace(header[len(prefix):])
	}
	return ""
}

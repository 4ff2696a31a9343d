// Package autotls gets and renews Gatescope's TLS certificates from an
// ACME certificate authority (Let's Encrypt by default) with
// golang.org/x/crypto/acme/autocert. Firehose delivers only to HTTPS
// endpoints, and a certificate that renews itself is one less thing for
// an operator to forget.
//
// Certificates and the ACME account key are cached under the data
// directory (DATA/acme, mode 0700), so a restart does not ask the CA
// again. The CA proves control of a domain with TLS-ALPN-01 on the main
// listener when it is reachable on port 443, or with HTTP-01 on port 80
// when HTTPAddr is set.
package autotls

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// Config configures automatic certificates.
type Config struct {
	// Domains are the host names certificates are obtained for; a TLS
	// handshake for any other name is refused before the CA is asked.
	Domains []string
	// Email is given to the CA for expiry notices; optional.
	Email string
	// CacheDir keeps certificates and the account key.
	CacheDir string
	// HTTPAddr, when set (":80"), serves the HTTP-01 challenge there.
	HTTPAddr string
	// DirectoryURL is the CA's ACME directory; empty is Let's Encrypt's
	// production directory.
	DirectoryURL string
}

// Enabled reports whether automatic certificates are configured.
func (c Config) Enabled() bool { return len(c.Domains) > 0 }

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if !c.Enabled() {
		if c.HTTPAddr != "" || c.Email != "" || c.DirectoryURL != "" {
			return errors.New("autotls: --acme-email, --acme-http-addr and --acme-directory need --acme-domain")
		}
		return nil
	}
	if c.CacheDir == "" {
		return errors.New("autotls: CacheDir is required")
	}
	for _, d := range c.Domains {
		if d == "" || strings.ContainsAny(d, " /:*") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
			return fmt.Errorf("autotls: %q is not a host name a certificate can be issued for", d)
		}
	}
	return nil
}

// Manager hands out certificates.
type Manager struct {
	cfg Config
	m   *autocert.Manager
}

// New prepares the cache directory and the manager; nothing is asked of
// the CA until the first TLS handshake for a configured domain.
func New(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, errors.New("autotls: no --acme-domain configured")
	}
	if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("autotls: cache directory: %w", err)
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(cfg.CacheDir),
		HostPolicy: autocert.HostWhitelist(cfg.Domains...),
		Email:      cfg.Email,
	}
	if cfg.DirectoryURL != "" {
		m.Client = &acme.Client{DirectoryURL: cfg.DirectoryURL}
	}
	return &Manager{cfg: cfg, m: m}, nil
}

// TLSConfig is the main listener's TLS configuration: certificates from
// the manager, and the acme-tls/1 protocol for TLS-ALPN-01 challenges.
func (m *Manager) TLSConfig() *tls.Config {
	c := m.m.TLSConfig()
	c.MinVersion = tls.VersionTLS12
	return c
}

// HTTPHandler answers HTTP-01 challenges and redirects everything else to
// HTTPS.
func (m *Manager) HTTPHandler() http.Handler { return m.m.HTTPHandler(nil) }

// HTTPAddr is where HTTPHandler should listen; empty for none.
func (m *Manager) HTTPAddr() string { return m.cfg.HTTPAddr }

// ParseDomains splits a comma-separated --acme-domain value, trimming
// spaces and dropping empty names.
func ParseDomains(s string) []string {
	var out []string
	for _, d := range strings.Split(s, ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			out = append(out, d)
		}
	}
	return out
}

package reliability_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/reliability"
	"github.com/gatescope/gatescope/internal/simulate"
	"github.com/gatescope/gatescope/internal/simulate/firehoseclient"
	"github.com/gatescope/gatescope/internal/simulate/traffic"
)

// selfSigned makes a certificate for names (host names or IPs) and returns
// it with its key, PEM-encoded, and the parsed certificate.
func selfSigned(t *testing.T, names ...string) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:        true, BasicConstraintsValid: true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), cert
}

func trusting(cert *x509.Certificate, serverName string) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// TestTLS serves HTTPS from --tls-cert/--tls-key and delivers simulated
// traffic over it the way Firehose does (it only delivers to HTTPS).
func TestTLS(t *testing.T) {
	certPEM, keyPEM, cert := selfSigned(t, "127.0.0.1", "localhost")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(t.TempDir(), "cert.pem"), filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)
	s := newServerIn(t, dir, "--tls-cert", certFile, "--tls-key", keyFile, "--flush-interval", "50ms")
	s.Scheme = "https"
	tr := &http.Transport{TLSClientConfig: trusting(cert, "")}
	s.Client = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	if err := s.Start(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Log.String(), "listening on https://") {
		t.Error("the server does not announce an https address")
	}
	a := s.createApp(t, "tls")

	rec := reliability.NewAckRecorder(tr)
	cfg := simulate.Config{
		URL: s.URL("/v1/firehose"), AccessKey: a.Key, Backfill: 12 * time.Hour, End: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		Users: 150, Companies: 15, Seed: 7, API: accesslog.HTTP, Format: traffic.FormatRecommended,
		Firehose: firehoseclient.Config{BufferSize: 64 << 10, BufferInterval: 100 * time.Millisecond, Relaxed: true, Concurrency: 2,
			RetryDuration: 30 * time.Second, Backoff: 50 * time.Millisecond,
			BackupDir: t.TempDir(), HTTPClient: &http.Client{Transport: rec}},
	}
	sum, err := simulate.Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatalf("delivering over TLS: %v", err)
	}
	// Plain HTTP to the TLS port is refused.
	resp, err := http.Post("http://"+s.Addr+"/v1/firehose", "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS port: %d, want 400", resp.StatusCode)
		}
	}
	// A client that does not trust the certificate cannot connect.
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(s.URL("/healthz")); err == nil {
		t.Error("an untrusting client completed a TLS handshake with a self-signed certificate")
	}
	if err := s.Stop(time.Minute); err != nil {
		t.Fatal(err)
	}
	ids := storedIDs(t, dir, a.ID)
	if int64(len(ids)) != sum.Events || len(rec.Acked()) != len(ids) {
		t.Errorf("%d events stored over TLS, %d generated, %d acknowledged", len(ids), sum.Events, len(rec.Acked()))
	}
	figure(t, "tls: %d events in %d deliveries over HTTPS (CloudWatch Logs records of an HTTP API), all stored", sum.Events, rec.AckedBatches())
}

// TestACME checks the wiring of --acme-domain without reaching a real CA:
// a certificate cached under DATA/acme is served for its domain with no
// network; a configured domain without one makes the server ask the
// configured ACME directory; any other name is refused before the CA is
// asked; the HTTP-01 listener answers challenges and redirects the rest.
func TestACME(t *testing.T) {
	var directoryHits atomic.Int64
	ca := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		directoryHits.Add(1)
		http.Error(w, "not a CA", http.StatusServiceUnavailable)
	}))
	defer ca.Close()

	dir := t.TempDir()
	certPEM, keyPEM, cert := selfSigned(t, "gatescope.test")
	os.MkdirAll(filepath.Join(dir, "acme"), 0o700)
	// autocert's cache entry: the key, then the chain.
	if err := os.WriteFile(filepath.Join(dir, "acme", "gatescope.test"), append(keyPEM, certPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr, err := reliability.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := newServerIn(t, dir, "--acme-domain", "gatescope.test, fresh.test", "--acme-http-addr", httpAddr,
		"--acme-directory", ca.URL+"/directory", "--acme-email", "ops@example.com")
	s.Scheme = "https"
	s.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: trusting(cert, "gatescope.test")}}
	if err := s.Start(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "acme"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache directory: %v %v, want mode 0700", fi.Mode(), err)
	}

	handshake := func(name string, cfg *tls.Config) (*tls.ConnectionState, error) {
		cfg.ServerName = name
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", s.Addr, cfg)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		st := c.ConnectionState()
		return &st, nil
	}
	st, err := handshake("gatescope.test", trusting(cert, ""))
	if err != nil {
		t.Fatalf("handshake for the cached domain: %v", err)
	}
	if !bytes.Equal(st.PeerCertificates[0].Raw, cert.Raw) {
		t.Error("the served certificate is not the cached one")
	}
	resp, err := s.Client.Get(s.URL("/healthz"))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz over the ACME certificate: %v %v", err, resp)
	}
	resp.Body.Close()
	if directoryHits.Load() != 0 {
		t.Error("the CA was asked for a certificate that is cached")
	}
	if _, err := handshake("evil.test", &tls.Config{InsecureSkipVerify: true}); err == nil {
		t.Error("a handshake for an unconfigured name succeeded")
	}
	if directoryHits.Load() != 0 {
		t.Error("the CA was asked about a name outside --acme-domain")
	}
	if _, err := handshake("fresh.test", &tls.Config{InsecureSkipVerify: true}); err == nil {
		t.Error("a handshake for a domain with no certificate and no CA succeeded")
	}
	if directoryHits.Load() == 0 {
		t.Error("the configured ACME directory was not asked for the configured domain's certificate")
	}
	// TLS-ALPN-01: the listener speaks acme-tls/1 (the handshake reaches
	// autocert, which has no challenge pending, so it fails).
	if _, err := handshake("gatescope.test", &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"acme-tls/1"}}); err == nil {
		t.Error("an acme-tls/1 handshake without a pending challenge succeeded")
	}

	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", "http://"+httpAddr+"/.well-known/acme-challenge/no-such-token", nil)
	req.Host = "gatescope.test"
	if resp, err := noRedirect.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("HTTP-01 challenge without a token: %v %v, want 404", err, resp)
	} else {
		resp.Body.Close()
	}
	req, _ = http.NewRequest("GET", "http://"+httpAddr+"/dashboard", nil)
	req.Host = "gatescope.test"
	if resp, err := noRedirect.Do(req); err != nil || resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "https://gatescope.test/dashboard" {
		t.Errorf("plain HTTP on the challenge port: %v %v, want a redirect to https://gatescope.test/dashboard", err, resp)
	} else {
		resp.Body.Close()
	}
	figure(t, "acme: cached certificate served offline; unconfigured names refused before the CA; configured domain without a certificate asks the configured directory (%d requests); HTTP-01 listener answers", directoryHits.Load())
}

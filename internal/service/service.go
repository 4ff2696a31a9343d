// Package service assembles a running Gatescope from its configuration:
// the store, the app registry, the receivers, the API and the HTTP server.
// cmd/gatescope and the end-to-end tests start it the same way.
package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gatescope/gatescope/internal/api"
	"github.com/gatescope/gatescope/internal/apps"
	"github.com/gatescope/gatescope/internal/auth"
	"github.com/gatescope/gatescope/internal/autotls"
	"github.com/gatescope/gatescope/internal/firehose"
	"github.com/gatescope/gatescope/internal/moesif"
	"github.com/gatescope/gatescope/internal/server"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/clickhouse"
	"github.com/gatescope/gatescope/internal/store/duckdb"
	"github.com/gatescope/gatescope/web"
)

// Config is everything `gatescope serve` can be told.
type Config struct {
	// DataDir holds the DuckDB file, the spool and the admin token.
	DataDir string
	// Store is "duckdb" (default) or "clickhouse".
	Store         string
	ClickHouseURL string
	// AdminToken, when empty, is generated on first start and saved.
	AdminToken string
	// GoMemoryLimit is the Go runtime's soft memory limit in bytes (0:
	// GOMEMLIMIT or none). The process sets it (cmd/gatescope), not Start:
	// it is global state. DuckDB's memory is bounded separately.
	GoMemoryLimit int64
	Server        server.Config
	Firehose      firehose.Config
	Moesif        moesif.Config
	API           api.Config
	DuckDB        duckdb.Config
	// ClickHouse configures --store clickhouse; its URL is ClickHouseURL.
	ClickHouse clickhouse.Config
	// ACME, with domains, serves HTTPS with automatic certificates;
	// its CacheDir defaults to DATA/acme.
	ACME autotls.Config
}

// DefaultConfig returns the documented defaults for a data directory.
func DefaultConfig(dataDir string) Config {
	return Config{
		DataDir:    dataDir,
		Store:      "duckdb",
		Server:     server.DefaultConfig(),
		Firehose:   firehose.DefaultConfig(),
		Moesif:     moesif.DefaultConfig(),
		API:        api.DefaultConfig(),
		DuckDB:     duckdb.DefaultConfig(filepath.Join(dataDir)),
		ClickHouse: clickhouse.DefaultConfig(""),
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("data directory is required")
	}
	switch c.Store {
	case "duckdb":
	case "clickhouse":
		if c.ClickHouseURL == "" {
			return errors.New("--store clickhouse needs --clickhouse-url")
		}
		cc := c.ClickHouse
		cc.URL = c.ClickHouseURL
		if err := cc.Validate(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("--store %q: want duckdb or clickhouse", c.Store)
	}
	if c.ACME.Enabled() && c.Server.TLSCert != "" {
		return errors.New("--acme-domain and --tls-cert are exclusive: certificates come from one or the other")
	}
	return errors.Join(c.Server.Validate(), c.Firehose.Validate(), c.Moesif.Validate(), c.API.Validate(), c.acmeConfig().Validate())
}

// acmeConfig is ACME with its cache under the data directory by default.
func (c Config) acmeConfig() autotls.Config {
	ac := c.ACME
	if ac.CacheDir == "" {
		ac.CacheDir = filepath.Join(c.DataDir, "acme")
	}
	return ac
}

// Service is a started Gatescope.
type Service struct {
	cfg          Config
	log          *slog.Logger
	store        store.Store
	apps         *apps.Registry
	srv          *server.Server
	ln           net.Listener
	acme         *autotls.Manager // nil without --acme-domain
	adminToken   string
	tokenCreated bool
}

// Start opens the store (replaying anything a crash left in the spool),
// builds the handlers and binds the address. Run then serves.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	token, created, err := auth.LoadOrCreateAdminToken(cfg.DataDir, cfg.AdminToken)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	st, err := openStore(ctx, cfg, log, reg)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: log, store: st, adminToken: token, tokenCreated: created}
	if err := s.build(ctx, reg); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

func openStore(ctx context.Context, cfg Config, log *slog.Logger, reg prometheus.Registerer) (store.Store, error) {
	switch cfg.Store {
	case "duckdb":
		dc := cfg.DuckDB
		dc.Dir = cfg.DataDir
		dc.Logger = log
		dc.Registerer = reg
		return duckdb.Open(ctx, dc)
	case "clickhouse":
		cc := cfg.ClickHouse
		cc.URL = cfg.ClickHouseURL
		cc.Logger = log
		cc.Registerer = reg
		return clickhouse.Open(ctx, cc)
	}
	return nil, fmt.Errorf("store %q is not available in this build", cfg.Store)
}

func (s *Service) build(ctx context.Context, reg *prometheus.Registry) error {
	registry, err := apps.NewRegistry(ctx, s.store)
	if err != nil {
		return err
	}
	s.apps = registry
	fh, err := firehose.NewHandler(s.cfg.Firehose, s.store, registry, s.log, reg)
	if err != nil {
		return err
	}
	mh, err := moesif.NewHandler(s.cfg.Moesif, s.store, registry, s.log, reg)
	if err != nil {
		return err
	}
	a, err := api.New(s.cfg.API, s.store, registry, auth.NewAdminToken(s.adminToken), s.log)
	if err != nil {
		return err
	}
	sc := s.cfg.Server
	if s.cfg.ACME.Enabled() {
		if s.acme, err = autotls.New(s.cfg.acmeConfig()); err != nil {
			return err
		}
		sc.TLSConfig = s.acme.TLSConfig()
	}
	if s.srv, err = server.New(sc, s.store, reg, s.log); err != nil {
		return err
	}
	mux := s.srv.Mux()
	mux.Handle("/v1/firehose", fh) // any method: the handler answers 405 in the protocol's JSON
	mh.Register(mux)
	a.Register(mux)
	// The dashboard: every GET that no other route claims (web/embed.go).
	mux.Handle("/", web.Handler()) // all methods: it answers 405 itself, and receivers register method-less routes
	s.ln, err = s.srv.Listen()
	return err
}

// Addr is the address the server listens on (useful with port 0).
func (s *Service) Addr() string { return s.ln.Addr().String() }

// AdminToken returns the admin token and whether it was generated by this
// start (and so must be shown to the operator once).
func (s *Service) AdminToken() (token string, created bool) { return s.adminToken, s.tokenCreated }

// Apps exposes the app registry, for in-process tools like the demo.
func (s *Service) Apps() *apps.Registry { return s.apps }

// Store exposes the store, for in-process tools like the demo.
func (s *Service) Store() store.Store { return s.store }

// TLS reports whether the server speaks HTTPS (a certificate file or
// automatic certificates).
func (s *Service) TLS() bool { return s.cfg.Server.TLSCert != "" || s.acme != nil }

// TLSConfig is the TLS configuration of automatic certificates; nil
// without them.
func (s *Service) TLSConfig() *tls.Config {
	if s.acme == nil {
		return nil
	}
	return s.srv.TLSConfig()
}

// Run serves until ctx ends, drains in-flight requests, and closes the
// store (which loads everything spooled). With automatic certificates and
// an HTTP-01 address, it serves the ACME challenge there too.
func (s *Service) Run(ctx context.Context) error {
	if s.acme != nil && s.acme.HTTPAddr() != "" {
		stop, err := serveChallenge(ctx, s.acme, s.log)
		if err != nil {
			s.ln.Close()
			s.store.Close()
			return err
		}
		defer stop()
	}
	err := s.srv.Serve(ctx, s.ln)
	if cerr := s.store.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
	}
	return err
}

// serveChallenge answers ACME HTTP-01 challenges (and redirects other
// requests to HTTPS) on the manager's HTTP address until stop.
func serveChallenge(ctx context.Context, m *autotls.Manager, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", m.HTTPAddr())
	if err != nil {
		return nil, fmt.Errorf("acme http-01 listener on %s: %w", m.HTTPAddr(), err)
	}
	hs := &http.Server{Handler: m.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go hs.Serve(ln)
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}, nil
}

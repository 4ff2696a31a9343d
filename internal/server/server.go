// Package server assembles Gatescope's HTTP server: the receivers, the API,
// health and metrics endpoints, request logging, and a shutdown that lets
// in-flight batches finish.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatescope/gatescope/internal/ratelimit"
	"github.com/gatescope/gatescope/internal/store"
)

// Config configures the HTTP server.
type Config struct {
	Addr string
	// TLSCert and TLSKey, when both set, serve HTTPS.
	TLSCert, TLSKey string
	// TLSConfig, when set, serves HTTPS with it (automatic certificates).
	TLSConfig *tls.Config
	// ReadHeaderTimeout and ReadTimeout stop slow clients from holding
	// connections; WriteTimeout bounds a whole response.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// ShutdownTimeout bounds how long in-flight requests may take to finish.
	ShutdownTimeout time.Duration
	// DrainDelay is how long, once shutdown begins, the server keeps
	// accepting requests only to answer deliveries 503 (and /readyz 503)
	// before it closes its listener. Without it a delivery arriving at
	// that moment meets a closed connection, which tells its sender
	// nothing; with it the sender gets the protocol's "retry" and a load
	// balancer sees the server leave. Zero closes the listener at once.
	DrainDelay time.Duration
	// MaxRequestDuration bounds a receiver request (POST /v1/...) from its
	// headers to its answer: reading the body and waiting for the store.
	// Past it the receiver answers 503, which Firehose and the SDKs retry.
	MaxRequestDuration time.Duration
	// AuthLimit bounds failed authentications per source address (package
	// ratelimit); past it, credentialed requests get 429 unchecked.
	AuthLimit ratelimit.Config
}

// DefaultConfig returns the documented defaults. A 64 MiB batch over a
// slow link needs minutes, and Firehose itself gives up after 3.
func DefaultConfig() Config {
	return Config{
		Addr:              "127.0.0.1:8080",
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      3 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ShutdownTimeout:   60 * time.Second,
		// As long as ReadTimeout, shorter than WriteTimeout so that the
		// 503 can still be written, and shorter than the 180 s a
		// Firehose attempt waits.
		MaxRequestDuration: 2 * time.Minute,
		AuthLimit:          ratelimit.DefaultConfig(),
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Addr == "" {
		return errors.New("server: Addr is required")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("server: --tls-cert and --tls-key go together")
	}
	if c.ReadHeaderTimeout <= 0 || c.ReadTimeout <= 0 || c.WriteTimeout <= 0 || c.ShutdownTimeout <= 0 || c.MaxRequestDuration <= 0 {
		return errors.New("server: timeouts must be positive")
	}
	if c.DrainDelay < 0 || c.DrainDelay > time.Minute {
		return fmt.Errorf("server: --drain-delay %v outside [0, 1m]", c.DrainDelay)
	}
	if c.MaxRequestDuration >= c.WriteTimeout {
		return fmt.Errorf("server: --max-request-duration %v must be shorter than the write timeout %v, or its 503 cannot be written", c.MaxRequestDuration, c.WriteTimeout)
	}
	return c.AuthLimit.Validate()
}

// Server is Gatescope's HTTP server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	store    store.Store
	draining atomic.Bool
	http     *http.Server
}

// New returns a server whose routes the caller adds to Mux() before Run.
func New(cfg Config, st store.Store, reg *prometheus.Registry, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	limiter, err := ratelimit.New(cfg.AuthLimit)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, mux: http.NewServeMux(), store: st}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	s.mux.HandleFunc("GET /readyz", s.ready)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s.http = &http.Server{
		Addr:              cfg.Addr,
		Handler:           s.drain(logRequests(log, ratelimit.Middleware(limiter, authPolicy, s.bound(s.mux)))),
		TLSConfig:         cfg.TLSConfig,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Mux is where the receivers, the API and the dashboard register.
func (s *Server) Mux() *http.ServeMux { return s.mux }

// TLSConfig is the TLS configuration the server serves with, nil when it
// serves plain HTTP or from certificate files.
func (s *Server) TLSConfig() *tls.Config { return s.http.TLSConfig }

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	if s.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "shutting down")
		return
	}
	if err := s.store.Ready(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready:", err)
		return
	}
	fmt.Fprintln(w, "ready")
}

// drain answers 503 to deliveries that arrive once shutdown has begun, so
// that Firehose retries them elsewhere or later instead of losing them
// with a reset connection.
func (s *Server) drain(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() && r.Method == http.MethodPost {
			w.Header().Set("Connection", "close")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"requestId":%q,"timestamp":%d,"errorMessage":"shutting down; retry"}`+"\n",
				r.Header.Get("X-Amz-Firehose-Request-Id"), time.Now().UnixMilli())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Listen binds the address, so that the caller knows the port (":0") before
// Serve.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	return ln, nil
}

// Serve serves on ln until ctx ends, then drains: new deliveries get 503,
// in-flight ones finish (up to ShutdownTimeout), and Serve returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() {
		var err error
		if s.cfg.TLSCert != "" || s.cfg.TLSConfig != nil {
			err = s.http.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey)
		} else {
			err = s.http.Serve(ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down: finishing in-flight requests", "drain_delay", s.cfg.DrainDelay)
	if s.cfg.DrainDelay > 0 {
		// Requests whose headers arrive once Shutdown has begun are
		// dropped by net/http without an answer: keep serving (503s)
		// for the delay first.
		t := time.NewTimer(s.cfg.DrainDelay)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return fmt.Errorf("serve: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.http.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && serr != nil {
		err = errors.Join(err, serr)
	}
	return err
}

// logRequests logs one line per request: method, path, status, size and
// duration. It never logs headers or query strings, which carry secrets.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		log.Log(r.Context(), level, "http request", "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "bytes", rec.bytes, "duration", time.Since(start), "remote", r.RemoteAddr)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Flush lets server-sent events through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

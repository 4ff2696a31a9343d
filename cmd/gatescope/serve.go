package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/autotls"
	"github.com/gatescope/gatescope/internal/service"
)

// serveFlags binds `serve`'s flags (shared by `demo`) to a config.
func serveFlags(fs *flag.FlagSet, cfg *service.Config, logLevel, logFormat *string) {
	fs.StringVar(&cfg.Server.Addr, "addr", cfg.Server.Addr, "listen address")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory: the DuckDB file, spool and admin token")
	fs.StringVar(&cfg.Store, "store", cfg.Store, "store: duckdb or clickhouse")
	fs.StringVar(&cfg.ClickHouseURL, "clickhouse-url", "", "ClickHouse DSN, clickhouse://host:9000/database")
	fs.StringVar(&cfg.ClickHouse.Cluster, "clickhouse-cluster", "", "ClickHouse cluster (remote_servers) to create tables on: local tables on every shard, Distributed tables over them")
	fs.IntVar(&cfg.ClickHouse.RetentionDays, "clickhouse-retention-days", 0, "drop ClickHouse events, rejected records and delivery records older than this many days (0: keep all)")
	fs.StringVar(&cfg.AdminToken, "admin-token", "", "admin token (default: generated on first start, saved in the data directory)")
	fs.StringVar(&cfg.Server.TLSCert, "tls-cert", "", "TLS certificate file (PEM); serves HTTPS with --tls-key")
	fs.StringVar(&cfg.Server.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	fs.Var((*domainList)(&cfg.ACME.Domains), "acme-domain", "serve HTTPS with automatic certificates (ACME, Let's Encrypt) for these host names; repeat or separate with commas")
	fs.StringVar(&cfg.ACME.Email, "acme-email", "", "contact address given to the ACME certificate authority")
	fs.StringVar(&cfg.ACME.HTTPAddr, "acme-http-addr", "", "also answer ACME HTTP-01 challenges on this address (\":80\"); without it the CA must reach --addr on port 443 (TLS-ALPN-01)")
	fs.StringVar(&cfg.ACME.DirectoryURL, "acme-directory", "", "ACME directory URL (default: Let's Encrypt production)")
	fs.DurationVar(&cfg.Server.ReadHeaderTimeout, "read-header-timeout", cfg.Server.ReadHeaderTimeout, "longest a client may take to send a request's headers")
	// serve's own default: in-process servers (tests, tools) stop at once.
	fs.DurationVar(&cfg.Server.DrainDelay, "drain-delay", 2*time.Second, "on SIGTERM, how long deliveries still get 503 (\"retry\") before the listener closes; in-flight ones finish either way")
	fs.DurationVar(&cfg.Server.MaxRequestDuration, "max-request-duration", cfg.Server.MaxRequestDuration, "longest a delivery (POST /v1/...) may take from headers to answer, body and storing included; past it, 503")
	fs.IntVar(&cfg.Server.AuthLimit.Burst, "auth-fail-burst", cfg.Server.AuthLimit.Burst, "failed authentications a source address may make in a row before it gets 429")
	fs.DurationVar(&cfg.Server.AuthLimit.Every, "auth-fail-every", cfg.Server.AuthLimit.Every, "how often a blocked source address earns one more attempt")
	fs.StringVar(logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.Int64Var(&cfg.GoMemoryLimit, "go-memory-limit", 0, "soft limit on the Go heap, bytes (0: the GOMEMLIMIT variable, or none); DuckDB's memory is --duckdb-memory-limit")
	fs.StringVar(logFormat, "log-format", "text", "log format: text or json")
	fs.Int64Var(&cfg.Firehose.MaxBodyBytes, "max-body-bytes", cfg.Firehose.MaxBodyBytes, "largest request body accepted, as sent")
	fs.Int64Var(&cfg.Firehose.MaxDecodedBytes, "max-decoded-bytes", cfg.Firehose.MaxDecodedBytes, "largest request body accepted after gunzip")
	fs.IntVar(&cfg.Firehose.MaxRecords, "max-records", cfg.Firehose.MaxRecords, "most records in one Firehose batch")
	fs.IntVar(&cfg.Firehose.MaxConcurrent, "max-concurrent-batches", cfg.Firehose.MaxConcurrent, "batches processed at once; more get 503")
	fs.Int64Var(&cfg.Firehose.MaxInflightBytes, "max-inflight-bytes", cfg.Firehose.MaxInflightBytes, "decoded bytes held by batches in progress; more get 503")
	fs.StringVar(&cfg.DuckDB.MemoryLimit, "duckdb-memory-limit", "2GB", "DuckDB memory_limit")
	fs.IntVar(&cfg.DuckDB.Threads, "duckdb-threads", 0, "DuckDB threads (0: all cores)")
	fs.DurationVar(&cfg.DuckDB.FlushInterval, "flush-interval", cfg.DuckDB.FlushInterval, "how often acknowledged batches are loaded into DuckDB")
	fs.Int64Var(&cfg.DuckDB.MaxBacklogBytes, "max-backlog-bytes", cfg.DuckDB.MaxBacklogBytes, "acknowledged bytes waiting to be loaded before new batches get 503")
	fs.DurationVar(&cfg.DuckDB.Dedup.Window, "dedup-window", cfg.DuckDB.Dedup.Window, "how long a delivered request id is remembered to drop retries")
	fs.IntVar(&cfg.DuckDB.Dedup.MaxKeys, "dedup-max-keys", cfg.DuckDB.Dedup.MaxKeys, "most request ids remembered (about 16 bytes each)")
	fs.BoolVar(&cfg.Moesif.KeepBodies, "moesif-keep-bodies", cfg.Moesif.KeepBodies, "keep request and response bodies sent by Moesif SDKs, in event metadata")
	fs.IntVar(&cfg.Moesif.BodyCapBytes, "moesif-body-cap", cfg.Moesif.BodyCapBytes, "bytes of each body kept with --moesif-keep-bodies; longer ones are cut")
	fs.Int64Var(&cfg.Moesif.MaxBodyBytes, "moesif-max-body-bytes", cfg.Moesif.MaxBodyBytes, "largest Moesif API request body accepted, as sent")
	fs.Int64Var(&cfg.Moesif.MaxDecodedBytes, "moesif-max-decoded-bytes", cfg.Moesif.MaxDecodedBytes, "largest Moesif API request body accepted after gunzip")
	fs.DurationVar(&cfg.API.QueryTimeout, "query-timeout", cfg.API.QueryTimeout, "longest a query may run")
}

// domainList is --acme-domain: repeatable, each value a comma list.
type domainList []string

func (d *domainList) String() string { return strings.Join(*d, ",") }

func (d *domainList) Set(s string) error {
	*d = append(*d, autotls.ParseDomains(s)...)
	return nil
}

// applyEnv sets every flag not given on the command line from its
// environment variable: --clickhouse-url from GATESCOPE_CLICKHOUSE_URL.
func applyEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		env := "GATESCOPE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func parseServe(name string, args []string, stderr io.Writer) (service.Config, *slog.Logger, *flag.FlagSet, error) {
	cfg := service.DefaultConfig("./data")
	var level, format string
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	serveFlags(fs, &cfg, &level, &format)
	if err := fs.Parse(args); err != nil {
		return cfg, nil, fs, err
	}
	if err := applyEnv(fs); err != nil {
		return cfg, nil, fs, err
	}
	log, err := newLogger(stderr, level, format)
	setMemoryLimit(cfg)
	return cfg, log, fs, err
}

// setMemoryLimit applies --go-memory-limit: process-wide, so here in the
// wiring rather than in service.Start.
func setMemoryLimit(cfg service.Config) {
	if cfg.GoMemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.GoMemoryLimit)
	}
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, log, _, err := parseServe("serve", args, stderr)
	if err != nil {
		return err
	}
	svc, err := service.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	announce(stdout, svc, cfg)
	log.Info("gatescope serving", "addr", svc.Addr(), "data", cfg.DataDir, "store", cfg.Store, "version", version)
	return svc.Run(ctx)
}

// announce prints where the server is and, the first time only, the admin
// token it generated.
func announce(w io.Writer, svc *service.Service, cfg service.Config) {
	scheme := "http"
	if svc.TLS() {
		scheme = "https"
	}
	fmt.Fprintf(w, "Gatescope is listening on %s://%s\n", scheme, svc.Addr())
	if token, created := svc.AdminToken(); created {
		fmt.Fprintf(w, "Admin token (generated now, saved in %s/admin-token; shown only this once):\n  %s\n", cfg.DataDir, token)
	}
}

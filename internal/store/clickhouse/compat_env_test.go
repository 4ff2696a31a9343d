package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Environment variables printed by .ci/clickhouse.sh.
const (
	envURL        = "GATESCOPE_CLICKHOUSE_URL"
	envClusterURL = "GATESCOPE_CLICKHOUSE_CLUSTER_URL"
	envCluster    = "GATESCOPE_CLICKHOUSE_CLUSTER"
	envHTTPURL    = "GATESCOPE_CLICKHOUSE_HTTP_URL"
)

// requireEnv returns the value of name. A missing server must not pass
// silently in CI, so there it fails; elsewhere the test is skipped.
func requireEnv(t testing.TB, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	msg := fmt.Sprintf("%s is not set; start the servers with: eval \"$(bash .ci/clickhouse.sh)\"", name)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// unsupportedError marks a feature the server (or the client against this
// server) does not offer, as opposed to a probe that could not run at all.
type unsupportedError struct{ err error }

func (e *unsupportedError) Error() string { return "unsupported: " + e.err.Error() }
func (e *unsupportedError) Unwrap() error { return e.err }

func unsupportedf(format string, args ...any) error {
	return &unsupportedError{fmt.Errorf(format, args...)}
}

// classify turns a server exception into unsupportedError: the server
// answered and said no. Other errors (network, client bugs) pass unchanged so
// they fail the probe instead of being recorded as "not supported".
func classify(err error) error {
	var ex *chgo.Exception
	if err != nil && errors.As(err, &ex) {
		return &unsupportedError{err}
	}
	return err
}

// server is one connected ClickHouse server plus a scratch database that is
// dropped when the test ends.
type server struct {
	conn    driver.Conn
	opts    *chgo.Options
	db      string
	version *driver.ServerVersion
}

func openOptions(t *testing.T, opts *chgo.Options) driver.Conn {
	t.Helper()
	conn, err := chgo.Open(opts)
	if err != nil {
		t.Fatalf("open %v: %v", opts.Addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Ping(ctx); err != nil {
		t.Fatalf("ping %v: %v", opts.Addr, err)
	}
	return conn
}

func parseDSN(t *testing.T, dsn string) *chgo.Options {
	t.Helper()
	opts, err := chgo.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse DSN %q: %v", dsn, err)
	}
	return opts
}

// connect opens opts and creates the scratch database db on that server.
func connect(t *testing.T, opts *chgo.Options, db string) *server {
	t.Helper()
	conn := openOptions(t, opts)
	v, err := conn.ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	s := &server{conn: conn, opts: opts, db: db, version: v}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
		t.Fatalf("create database %s: %v", db, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("drop database %s: %v", db, err)
		}
	})
	return s
}

func scratchDB() string { return fmt.Sprintf("gs_probe_%d", time.Now().UnixNano()) }

// is1816 reports whether the server is the Debian 18.16 build that the
// compatibility table describes.
func (s *server) is1816() bool {
	return s.version.Version.Major == 18 && s.version.Version.Minor == 16
}

func (s *server) exec(ctx context.Context, query string, args ...any) error {
	return classify(s.conn.Exec(ctx, query, args...))
}

// row runs a query expected to return one row and scans it into dest.
func (s *server) row(ctx context.Context, query string, dest ...any) error {
	return classify(s.conn.QueryRow(ctx, query).Scan(dest...))
}

// probe is one line of the compatibility table.
type probe struct {
	name string
	// on1816 is what the probe observed on Debian's clickhouse-server
	// 18.16.1; the test fails when that changes, so the docs stay true.
	on1816 bool
	// required: Gatescope's SQL relies on it, so it must work everywhere.
	required bool
	// run returns nil when the feature works, an unsupportedError when the
	// server rejects it; known-answer mismatches are reported through t.
	run func(ctx context.Context, t *testing.T, s *server) error
}

func runProbes(t *testing.T, s *server, probes []probe) {
	t.Helper()
	var summary []string
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			err := p.run(ctx, t, s)
			var u *unsupportedError
			if err != nil && !errors.As(err, &u) {
				t.Fatalf("probe could not run: %v", err)
			}
			works := err == nil
			note := ""
			if err != nil {
				note = strings.Join(strings.Fields(err.Error()), " ")
			}
			summary = append(summary, fmt.Sprintf("%-42s works=%-5v %s", p.name, works, note))
			switch {
			case s.is1816() && works != p.on1816:
				t.Errorf("on %s works=%v but the compatibility table says %v (err: %v): update the probe and docs/clickhouse-compat.md",
					s.version, works, p.on1816, err)
			case p.required && !works:
				t.Errorf("Gatescope relies on this, but it fails on %s: %v", s.version, err)
			}
		})
	}
	t.Logf("server: %s", s.version)
	for _, line := range summary {
		t.Log(line)
	}
}

// Package chtest opens the ClickHouse servers of .ci/clickhouse.sh for the
// tests of other packages: a fresh database per store, dropped when the
// test ends. Without the servers' environment a test is skipped, or fails
// when CI is set (a missing server must not pass silently there).
package chtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/store/clickhouse"
)

// Environment variables printed by .ci/clickhouse.sh.
const (
	EnvURL        = "GATESCOPE_CLICKHOUSE_URL"
	EnvClusterURL = "GATESCOPE_CLICKHOUSE_CLUSTER_URL"
	EnvCluster    = "GATESCOPE_CLICKHOUSE_CLUSTER"
)

// Target is one deployment: the single server or the two-shard cluster.
type Target struct {
	Name    string // single or cluster
	DSN     string
	Cluster string
}

// Targets are the single server and the cluster; see Require.
func Targets(t testing.TB) []Target {
	t.Helper()
	return []Target{Single(t), Cluster(t)}
}

// Single is the single server.
func Single(t testing.TB) Target {
	t.Helper()
	return Target{Name: "single", DSN: Require(t, EnvURL)}
}

// Cluster is the two-shard cluster.
func Cluster(t testing.TB) Target {
	t.Helper()
	dsn := Require(t, EnvClusterURL)
	cluster := os.Getenv(EnvCluster)
	if cluster == "" {
		cluster = "gatescope_cluster"
	}
	return Target{Name: "cluster", DSN: dsn, Cluster: cluster}
}

// Available reports whether the servers' environment is set, without
// skipping or failing.
func Available() bool { return os.Getenv(EnvURL) != "" && os.Getenv(EnvClusterURL) != "" }

// Require returns the environment variable name, skipping the test when
// it is missing, or failing it when CI is set.
func Require(t testing.TB, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	msg := fmt.Sprintf("%s is not set; start the ClickHouse servers with: eval \"$(bash .ci/clickhouse.sh)\"", name)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

var seq atomic.Int64

// Config is the target's store configuration on a new database, dropped
// on every host when the test ends.
func (tg Target) Config(t testing.TB) clickhouse.Config {
	t.Helper()
	db := fmt.Sprintf("gs_test_%d_%d", time.Now().UnixNano(), seq.Add(1))
	return tg.ConfigFor(t, db, true)
}

// ConfigFor is the target's configuration on database db, dropped when
// the test ends if drop is set (a benchmark keeps its data set).
func (tg Target) ConfigFor(t testing.TB, db string, drop bool) clickhouse.Config {
	t.Helper()
	u, err := url.Parse(tg.DSN)
	if err != nil {
		t.Fatalf("DSN %q: %v", tg.DSN, err)
	}
	u.Path = "/" + db
	cfg := clickhouse.DefaultConfig(u.String())
	cfg.Cluster = tg.Cluster
	cfg.MaxOpenConns = 8
	if drop {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := clickhouse.DropDatabase(ctx, cfg); err != nil {
				t.Errorf("drop test database: %v", err)
			}
		})
	}
	return cfg
}

// Open opens a store on cfg, closed when the test ends.
func Open(t testing.TB, cfg clickhouse.Config) *clickhouse.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := clickhouse.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open ClickHouse store (%s): %v", cfg.Cluster, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

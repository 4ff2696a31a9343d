package clickhouse

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/storetest"
)

// target is a ClickHouse deployment the tests run against: the single
// server or the two-shard cluster of .ci/clickhouse.sh.
type target struct {
	name    string
	dsn     string
	cluster string
}

func singleTarget(t testing.TB) target {
	return target{name: "single", dsn: requireEnv(t, envURL)}
}

func clusterTarget(t testing.TB) target {
	dsn := requireEnv(t, envClusterURL)
	cluster := os.Getenv(envCluster)
	if cluster == "" {
		cluster = "gatescope_cluster"
	}
	return target{name: "cluster", dsn: dsn, cluster: cluster}
}

var dbSeq atomic.Int64

// withDatabase returns dsn with its path set to db.
func withDatabase(t testing.TB, dsn, db string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", dsn, err)
	}
	u.Path = "/" + db
	return u.String()
}

// freshConfig returns a configuration for a database of the test's own,
// dropped on every host when the test ends.
func (tg target) freshConfig(t testing.TB) Config {
	t.Helper()
	db := fmt.Sprintf("gs_test_%d_%d", time.Now().UnixNano(), dbSeq.Add(1))
	cfg := DefaultConfig(withDatabase(t, tg.dsn, db))
	cfg.Cluster = tg.cluster
	cfg.MaxOpenConns = 8
	t.Cleanup(func() { dropDatabase(t, cfg) })
	return cfg
}

func dropDatabase(t testing.TB, cfg Config) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts, err := cfg.options()
	if err != nil {
		t.Errorf("drop database: %v", err)
		return
	}
	boot, err := dial(ctx, opts, opts.Addr[0])
	if err != nil {
		t.Errorf("drop database: %v", err)
		return
	}
	addrs, err := hosts(ctx, boot, opts, cfg.Cluster)
	boot.Close()
	if err != nil {
		t.Errorf("drop database: %v", err)
		return
	}
	for _, addr := range addrs {
		conn, err := dial(ctx, opts, addr)
		if err != nil {
			t.Errorf("drop database: %v", err)
			continue
		}
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+opts.Auth.Database); err != nil {
			t.Errorf("drop database %s on %s: %v", opts.Auth.Database, addr, err)
		}
		conn.Close()
	}
}

func (tg target) open(t testing.TB, cfg Config) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open %s: %v", tg.name, err)
	}
	return s
}

func targets(t testing.TB) []target {
	return []target{singleTarget(t), clusterTarget(t)}
}

// TestConformance runs the store conformance suite against the single
// server and against the two-shard cluster.
func TestConformance(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store {
				return tg.open(t, tg.freshConfig(t))
			})
		})
	}
}

package clickhouse

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
)

// TestClickHouseClusterCompat probes the two-shard cluster of
// .ci/clickhouse.sh: how to create the schema without ZooKeeper and whether
// Distributed tables write and read back exactly.
func TestClickHouseClusterCompat(t *testing.T) {
	opts := parseDSN(t, requireEnv(t, envClusterURL))
	cluster := os.Getenv(envCluster)
	if cluster == "" {
		cluster = "gatescope_cluster"
	}
	if len(opts.Addr) < 2 {
		t.Fatalf("%s must name every shard, got %v", envClusterURL, opts.Addr)
	}
	// Creating the scratch database on each shard is itself the per-shard
	// DDL that replaces ON CLUSTER.
	db := scratchDB()
	var shards []*server
	for _, addr := range opts.Addr {
		o := *opts
		o.Addr = []string{addr}
		shards = append(shards, connect(t, &o, db))
	}
	evs := genEvents(4000)
	runProbes(t, shards[0], clusterProbes(shards, cluster, evs))
}

func clusterProbes(shards []*server, cluster string, evs []fixtureEvent) []probe {
	first, last := shards[0], shards[len(shards)-1]
	return []probe{
		{name: "on_cluster_ddl_without_zookeeper", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			return s.exec(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.on_cluster ON CLUSTER %s (a UInt32) ENGINE = MergeTree ORDER BY a", s.db, cluster))
		}},
		{name: "per_shard_ddl_and_distributed_table", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, _ *server) error {
			for _, s := range shards {
				if err := createDistributed(ctx, s, cluster, "events", "rand()"); err != nil {
					return err
				}
				var tables []string
				q := fmt.Sprintf("SELECT arraySort(groupArray(name)) FROM system.tables WHERE database = '%s'", s.db)
				if err := s.row(ctx, q, &tables); err != nil {
					return err
				}
				if want := []string{"events", "events_local"}; !slices.Equal(tables, want) {
					t.Errorf("%v: tables %v, want %v", s.opts.Addr, tables, want)
				}
			}
			return nil
		}},
		{name: "distributed_batch_insert_sync", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			ctx = withSettings(ctx, map[string]any{"insert_distributed_sync": 1})
			if err := insertEvents(ctx, first, "events", evs); err != nil {
				return err
			}
			// Synchronous: every row is on its shard when Send returns.
			var total, latency uint64
			for _, sh := range shards {
				var n, l uint64
				if err := sh.row(ctx, fmt.Sprintf("SELECT count(), sum(latency) FROM %s.events_local", sh.db), &n, &l); err != nil {
					return err
				}
				if n == 0 {
					t.Errorf("shard %v got no rows", sh.opts.Addr)
				}
				total += n
				latency += l
			}
			var want uint64
			for _, e := range evs {
				want += uint64(e.latency)
			}
			if total != uint64(len(evs)) || latency != want {
				t.Errorf("shards hold %d rows, latency sum %d; want %d, %d", total, latency, len(evs), want)
			}
			return nil
		}},
		{name: "distributed_select_aggregates", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			// Read through the other shard: its Distributed table must merge
			// partial states from both.
			var n, users uint64
			var p95 uint32
			var lastUser string
			q := fmt.Sprintf("SELECT count(), uniqExact(user), quantileExact(0.95)(latency), argMax(user, (time, ms)) FROM %s.events", last.db)
			if err := last.row(ctx, q, &n, &users, &p95, &lastUser); err != nil {
				return err
			}
			wantLast := evs[0]
			for _, e := range evs {
				if e.time.After(wantLast.time) {
					wantLast = e
				}
			}
			got := fmt.Sprint(n, users, p95, lastUser)
			want := fmt.Sprint(len(evs), distinctUsers(evs), exactQuantile(latencies(evs), 0.95), wantLast.user)
			if got != want {
				t.Errorf("count, users, p95, last user = %s; want %s", got, want)
			}
			return nil
		}},
		{name: "distributed_sharding_by_user_hash", on1816: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			for _, sh := range shards {
				if err := createDistributed(ctx, sh, cluster, "by_user", "cityHash64(user)"); err != nil {
					return err
				}
			}
			ctx = withSettings(ctx, map[string]any{"insert_distributed_sync": 1})
			if err := insertEvents(ctx, first, "by_user", evs); err != nil {
				return err
			}
			// Each user's events live on exactly one shard, so per-shard
			// distinct counts add up to the global one.
			seen := map[string]int{}
			for i, sh := range shards {
				var users []string
				if err := sh.row(ctx, fmt.Sprintf("SELECT groupUniqArray(user) FROM %s.by_user_local", sh.db), &users); err != nil {
					return err
				}
				for _, u := range users {
					if j, dup := seen[u]; dup {
						t.Errorf("user %s on shards %d and %d", u, j, i)
					}
					seen[u] = i
				}
			}
			if len(seen) != distinctUsers(evs) {
				t.Errorf("%d users across shards, want %d", len(seen), distinctUsers(evs))
			}
			return nil
		}},
		{name: "cluster_table_function", on1816: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			var n uint64
			if err := s.row(ctx, fmt.Sprintf("SELECT count() FROM cluster('%s', %s, events_local)", cluster, s.db), &n); err != nil {
				return err
			}
			if n != uint64(len(evs)) {
				t.Errorf("cluster() counted %d, want %d", n, len(evs))
			}
			return nil
		}},
	}
}

// createDistributed creates name_local (the shard's data) and name (a
// Distributed table over every shard's name_local) on one server.
func createDistributed(ctx context.Context, s *server, cluster, name, shardingKey string) error {
	if err := s.exec(ctx, fmt.Sprintf(eventsDDL, s.db, name+"_local")); err != nil {
		return err
	}
	return s.exec(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %[1]s.%[2]s AS %[1]s.%[2]s_local ENGINE = Distributed(%[3]s, %[1]s, %[2]s_local, %[4]s)",
		s.db, name, cluster, shardingKey))
}

package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

func schemaProbes(evs []fixtureEvent) []probe {
	return []probe{
		{name: "create_if_not_exists", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			if err := s.exec(ctx, "CREATE DATABASE IF NOT EXISTS "+s.db); err != nil {
				return err
			}
			return s.exec(ctx, fmt.Sprintf(eventsDDL, s.db, "events"))
		}},
		{name: "mergetree_partition_by_month", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			var got []string
			err := s.row(ctx, fmt.Sprintf(`SELECT arraySort(groupUniqArray(partition)) FROM system.parts
				WHERE database = '%s' AND table = 'events' AND active`, s.db), &got)
			if err != nil {
				return err
			}
			want := map[string]bool{}
			for _, e := range evs {
				want[e.time.Format("200601")] = true
			}
			wantList := make([]string, 0, len(want))
			for k := range want {
				wantList = append(wantList, k)
			}
			slices.Sort(wantList)
			if !slices.Equal(got, wantList) {
				t.Errorf("partitions = %v, want %v", got, wantList)
			}
			return nil
		}},
		{name: "mergetree_old_syntax", on1816: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			return s.exec(ctx, fmt.Sprintf("CREATE TABLE %s.old_syntax (d Date, app UInt32) ENGINE = MergeTree(d, (app, d), 8192)", s.db))
		}},
		{name: "replacing_mergetree_final", on1816: true, required: true, run: probeReplacing},
		{name: "datetime64", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			return s.exec(ctx, fmt.Sprintf("CREATE TABLE %s.dt64 (t DateTime64(3)) ENGINE = MergeTree ORDER BY t", s.db))
		}},
		{name: "datetime_plus_ms_column", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			var got uint64
			if err := s.row(ctx, fmt.Sprintf("SELECT sum(toUInt64(time) * 1000 + ms) FROM %s.events", s.db), &got); err != nil {
				return err
			}
			var want uint64
			for _, e := range evs {
				want += uint64(e.time.UnixMilli())
			}
			if got != want {
				t.Errorf("sum of epoch ms = %d, want %d", got, want)
			}
			return nil
		}},
		{name: "nullable_columns", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			var nulls uint64
			var sum *uint64
			err := s.row(ctx, fmt.Sprintf("SELECT countIf(isNull(integration_latency)), sum(integration_latency) FROM %s.events", s.db), &nulls, &sum)
			if err != nil {
				return err
			}
			var wantNulls, wantSum uint64
			for _, e := range evs {
				if e.integrationLatency == nil {
					wantNulls++
				} else {
					wantSum += uint64(*e.integrationLatency)
				}
			}
			if nulls != wantNulls || sum == nil || *sum != wantSum {
				t.Errorf("nulls, sum = %d, %v; want %d, %d", nulls, sum, wantNulls, wantSum)
			}
			return nil
		}},
		{name: "lowcardinality", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			return s.exec(ctx, fmt.Sprintf("CREATE TABLE %s.lc (a LowCardinality(String)) ENGINE = MergeTree ORDER BY tuple()", s.db))
		}},
		{name: "lowcardinality_experimental_setting", on1816: true, run: probeLowCardinalitySetting},
		{name: "alter_add_column_if_not_exists", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			return s.exec(ctx, fmt.Sprintf("ALTER TABLE %s.events ADD COLUMN IF NOT EXISTS extra String", s.db))
		}},
		{name: "alter_add_column_checked_in_system_columns", on1816: true, required: true, run: probeAddColumnChecked},
		{name: "alter_drop_column_if_exists", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			return s.exec(ctx, fmt.Sprintf("ALTER TABLE %s.events DROP COLUMN IF EXISTS never_there", s.db))
		}},
		{name: "table_ttl", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			return s.exec(ctx, fmt.Sprintf(`CREATE TABLE %s.ttl (time DateTime, v String) ENGINE = MergeTree
				PARTITION BY toYYYYMM(time) ORDER BY time TTL time + INTERVAL 30 DAY`, s.db))
		}},
		{name: "column_ttl", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			return s.exec(ctx, fmt.Sprintf(`CREATE TABLE %s.ttl_col (time DateTime, v String TTL time + INTERVAL 1 DAY)
				ENGINE = MergeTree ORDER BY time`, s.db))
		}},
		{name: "alter_drop_partition_retention", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			return probeDropPartition(ctx, t, s, evs)
		}},
		{name: "alter_delete_mutation", on1816: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			return probeDeleteMutation(ctx, t, s, evs)
		}},
		{name: "aggregatingmergetree_materialized_view", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			return probeRollup(ctx, t, s, evs)
		}},
		{name: "simpleaggregatefunction", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			return s.exec(ctx, fmt.Sprintf(`CREATE TABLE %s.simple_agg (d Date, n SimpleAggregateFunction(sum, UInt64))
				ENGINE = AggregatingMergeTree ORDER BY d`, s.db))
		}},
	}
}

// probeReplacing writes two versions of one key in separate inserts (so in
// separate parts) and expects FINAL to show only the newer one.
func probeReplacing(ctx context.Context, t *testing.T, s *server) error {
	ddl := fmt.Sprintf(`CREATE TABLE %s.users (time DateTime, id String, ver UInt64, v String)
		ENGINE = ReplacingMergeTree(ver) PARTITION BY toYYYYMM(time) ORDER BY id`, s.db)
	if err := s.exec(ctx, ddl); err != nil {
		return err
	}
	now := time.Date(2024, 3, 5, 1, 2, 3, 0, time.UTC)
	for _, r := range []struct {
		id  string
		ver uint64
		v   string
	}{{"k", 2, "new"}, {"k", 1, "old"}, {"j", 5, "only"}} {
		b, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.users (time, id, ver, v)", s.db))
		if err != nil {
			return classify(err)
		}
		if err := b.Append(now, r.id, r.ver, r.v); err != nil {
			return err
		}
		if err := b.Send(); err != nil {
			return classify(err)
		}
	}
	var v string
	var n uint64
	if err := s.row(ctx, fmt.Sprintf("SELECT v FROM %s.users FINAL WHERE id = 'k'", s.db), &v); err != nil {
		return err
	}
	if err := s.row(ctx, fmt.Sprintf("SELECT count() FROM %s.users FINAL", s.db), &n); err != nil {
		return err
	}
	if v != "new" || n != 2 {
		t.Errorf("FINAL: v=%q rows=%d, want \"new\" and 2", v, n)
	}
	return nil
}

func probeLowCardinalitySetting(ctx context.Context, t *testing.T, s *server) error {
	ctx = withSettings(ctx, map[string]any{"allow_experimental_low_cardinality_type": 1})
	if err := s.exec(ctx, fmt.Sprintf("CREATE TABLE %s.lc2 (a LowCardinality(String)) ENGINE = MergeTree ORDER BY tuple()", s.db)); err != nil {
		return err
	}
	b, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.lc2 (a)", s.db))
	if err != nil {
		return classify(err)
	}
	for _, v := range []string{"GET", "POST", "GET"} {
		if err := b.Append(v); err != nil {
			return err
		}
	}
	if err := b.Send(); err != nil {
		return classify(err)
	}
	var got []string
	if err := s.row(ctx, fmt.Sprintf("SELECT groupArray(toString(a)) FROM (SELECT a FROM %s.lc2 ORDER BY a)", s.db), &got); err != nil {
		return err
	}
	if want := []string{"GET", "GET", "POST"}; !slices.Equal(got, want) {
		t.Errorf("LowCardinality round trip = %v, want %v", got, want)
	}
	return nil
}

// probeAddColumnChecked is the migration pattern for 18.16: look the column
// up in system.columns, add it only when missing, and rely on DEFAULT for
// the rows already written.
func probeAddColumnChecked(ctx context.Context, t *testing.T, s *server) error {
	for range 2 { // the second round must find the column and do nothing
		var n uint64
		q := fmt.Sprintf("SELECT count() FROM system.columns WHERE database = '%s' AND table = 'events' AND name = 'region'", s.db)
		if err := s.row(ctx, q, &n); err != nil {
			return err
		}
		if n == 0 {
			if err := s.exec(ctx, fmt.Sprintf("ALTER TABLE %s.events ADD COLUMN region String DEFAULT 'none'", s.db)); err != nil {
				return err
			}
		}
	}
	var n uint64
	if err := s.row(ctx, fmt.Sprintf("SELECT countIf(region = 'none') FROM %s.events", s.db), &n); err != nil {
		return err
	}
	var total uint64
	if err := s.row(ctx, fmt.Sprintf("SELECT count() FROM %s.events", s.db), &total); err != nil {
		return err
	}
	if n != total || total == 0 {
		t.Errorf("rows with the default = %d of %d", n, total)
	}
	return nil
}

// probeDropPartition is the retention workaround without TTL: drop whole
// months.
func probeDropPartition(ctx context.Context, t *testing.T, s *server, evs []fixtureEvent) error {
	if err := s.exec(ctx, fmt.Sprintf(eventsDDL, s.db, "retention")); err != nil {
		return err
	}
	if err := insertEvents(ctx, s, "retention", evs); err != nil {
		return err
	}
	if err := s.exec(ctx, fmt.Sprintf("ALTER TABLE %s.retention DROP PARTITION 202403", s.db)); err != nil {
		return err
	}
	var got uint64
	if err := s.row(ctx, fmt.Sprintf("SELECT count() FROM %s.retention", s.db), &got); err != nil {
		return err
	}
	var want uint64
	for _, e := range evs {
		if e.time.Format("200601") != "202403" {
			want++
		}
	}
	if got != want {
		t.Errorf("rows after dropping March = %d, want %d", got, want)
	}
	return nil
}

func probeDeleteMutation(ctx context.Context, t *testing.T, s *server, evs []fixtureEvent) error {
	if err := s.exec(ctx, fmt.Sprintf(eventsDDL, s.db, "mutated")); err != nil {
		return err
	}
	if err := insertEvents(ctx, s, "mutated", evs); err != nil {
		return err
	}
	if err := s.exec(ctx, fmt.Sprintf("ALTER TABLE %s.mutated DELETE WHERE app = 1", s.db)); err != nil {
		return err
	}
	// Mutations run in the background; wait for this one to finish.
	for {
		var pending uint64
		q := fmt.Sprintf("SELECT count() FROM system.mutations WHERE database = '%s' AND table = 'mutated' AND is_done = 0", s.db)
		if err := s.row(ctx, q, &pending); err != nil {
			return err
		}
		if pending == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mutation still pending: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	var got uint64
	if err := s.row(ctx, fmt.Sprintf("SELECT count() FROM %s.mutated", s.db), &got); err != nil {
		return err
	}
	var want uint64
	for _, e := range evs {
		if e.app != 1 {
			want++
		}
	}
	if got != want {
		t.Errorf("rows after DELETE WHERE app = 1: %d, want %d", got, want)
	}
	return nil
}

// probeRollup is the pre-aggregation pattern: a materialized view feeding
// an AggregatingMergeTree of per-day, per-app states.
func probeRollup(ctx context.Context, t *testing.T, s *server, evs []fixtureEvent) error {
	stmts := []string{
		fmt.Sprintf(eventsDDL, s.db, "rollup_src"),
		fmt.Sprintf(`CREATE TABLE %s.daily (
			day Date, app UInt32,
			users AggregateFunction(uniqExact, String),
			p95 AggregateFunction(quantileExact(0.95), UInt32),
			n AggregateFunction(count))
			ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(day) ORDER BY (app, day)`, s.db),
		fmt.Sprintf(`CREATE MATERIALIZED VIEW IF NOT EXISTS %[1]s.daily_mv TO %[1]s.daily AS
			SELECT toDate(time) AS day, app, uniqExactState(user) AS users,
				quantileExactState(0.95)(latency) AS p95, countState() AS n
			FROM %[1]s.rollup_src GROUP BY day, app`, s.db),
	}
	for _, q := range stmts {
		if err := s.exec(ctx, q); err != nil {
			return err
		}
	}
	// Two inserts give two sets of partial states that the query must merge.
	half := len(evs) / 2
	for _, part := range [][]fixtureEvent{evs[:half], evs[half:]} {
		if err := insertEvents(ctx, s, "rollup_src", part); err != nil {
			return err
		}
	}
	var users, n uint64
	var p95 uint32
	q := fmt.Sprintf("SELECT uniqExactMerge(users), quantileExactMerge(0.95)(p95), countMerge(n) FROM %s.daily WHERE app = 2", s.db)
	if err := s.row(ctx, q, &users, &p95, &n); err != nil {
		return err
	}
	var app2 []fixtureEvent
	for _, e := range evs {
		if e.app == 2 {
			app2 = append(app2, e)
		}
	}
	if want := uint64(distinctUsers(app2)); users != want {
		t.Errorf("rollup users = %d, want %d", users, want)
	}
	if want := exactQuantile(latencies(app2), 0.95); p95 != want {
		t.Errorf("rollup p95 = %d, want %d", p95, want)
	}
	if n != uint64(len(app2)) {
		t.Errorf("rollup count = %d, want %d", n, len(app2))
	}
	return nil
}

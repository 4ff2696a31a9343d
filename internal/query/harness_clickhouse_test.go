package query_test

import (
	"os"
	"testing"

	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/clickhouse/chtest"
)

// clickhouseStores opens a fresh ClickHouse store on the single server and
// one on the two-shard cluster, named as the known-answer tests' engines
// are. Without the servers (.ci/clickhouse.sh) the tests run on DuckDB
// only, except in CI, where that fails.
func clickhouseStores(t testing.TB) map[string]store.Store {
	t.Helper()
	if !chtest.Available() {
		if os.Getenv("CI") != "" {
			chtest.Targets(t) // fails with the reason
		}
		t.Logf("ClickHouse: %s is not set, testing DuckDB only (start the servers with: eval \"$(bash .ci/clickhouse.sh)\")", chtest.EnvURL)
		return nil
	}
	out := map[string]store.Store{}
	for _, tg := range chtest.Targets(t) {
		out["clickhouse-"+tg.Name] = chtest.Open(t, tg.Config(t))
	}
	return out
}

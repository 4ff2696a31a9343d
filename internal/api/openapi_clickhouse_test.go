package api_test

import (
	"testing"

	"github.com/gatescope/gatescope/internal/store/clickhouse/chtest"
)

// TestOpenAPIClickHouse is TestOpenAPI on a server whose store is
// ClickHouse: one server, then the two-shard cluster.
func TestOpenAPIClickHouse(t *testing.T) {
	for _, tg := range chtest.Targets(t) {
		t.Run(tg.Name, func(t *testing.T) {
			testOpenAPI(t, newOAEnvOn(t, chtest.Open(t, tg.Config(t))))
		})
	}
}

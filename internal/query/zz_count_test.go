package query_test

import (
	"context"
	"os"
	"testing"

	"github.com/gatescope/gatescope/internal/store/duckdb"
)

func TestZZCount(t *testing.T) {
	dir := os.Getenv("DBG_DIR")
	if dir == "" {
		t.Skip()
	}
	cfg := duckdb.DefaultConfig(dir)
	s, err := duckdb.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, q := range []string{"SELECT count(*) FROM events", "SELECT count(*) FROM rollup_traffic_hour", "SELECT count(*) FROM rollup_user_hour",
		"SELECT count(*) FROM (SELECT DISTINCT hour, api_id, stage, method, route, status, error_type, rejected FROM rollup_traffic_hour)",
		"SELECT count(*) FROM (SELECT DISTINCT date_trunc('day', hour), user_id, company_id FROM rollup_user_hour)",
		"SELECT count(*) FROM (SELECT DISTINCT date_trunc('day', hour), api_id, stage, method, route, status, error_type, rejected, lat_bucket FROM rollup_traffic_hour)",
		"SELECT count(*) FROM users"} {
		rows, err := s.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		rows.Next()
		var n int64
		rows.Scan(&n)
		rows.Close()
		t.Logf("%s: %d", q, n)
	}
}

package duckdb

import (
	"fmt"
	"strings"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// rollupSchema creates the rollup tables (see package query/rollup for
// their contract) and, once, fills the hourly ones from the events already
// stored, so that a database created before rollups existed answers the
// same (the next load seals its days into the daily ones). The fill runs
// in one transaction with the marker that says it ran.
var rollupSchema = []string{
	`CREATE TABLE IF NOT EXISTS ` + rollup.TrafficHour + ` (
		app_id VARCHAR NOT NULL,
		hour TIMESTAMP NOT NULL,
		api_id VARCHAR,
		stage VARCHAR,
		method VARCHAR,
		route VARCHAR,
		status INTEGER,
		error_type VARCHAR,
		rejected BOOLEAN NOT NULL,
		lat_bucket SMALLINT,
		n BIGINT NOT NULL,
		lat_sum DOUBLE NOT NULL,
		lat_n BIGINT NOT NULL,
		bytes_sum BIGINT NOT NULL,
		bytes_n BIGINT NOT NULL,
		compacted BOOLEAN NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS ` + rollup.UserHour + ` (
		app_id VARCHAR NOT NULL,
		hour TIMESTAMP NOT NULL,
		user_id VARCHAR,
		company_id VARCHAR,
		n BIGINT NOT NULL,
		n_4xx BIGINT NOT NULL,
		n_5xx BIGINT NOT NULL,
		n_rejected BIGINT NOT NULL,
		lat_sum DOUBLE NOT NULL,
		lat_n BIGINT NOT NULL,
		bytes_sum BIGINT NOT NULL,
		bytes_n BIGINT NOT NULL,
		first_time TIMESTAMP NOT NULL,
		last_time TIMESTAMP NOT NULL,
		compacted BOOLEAN NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS ` + rollup.TrafficDay + ` (
		app_id VARCHAR NOT NULL,
		day TIMESTAMP NOT NULL,
		api_id VARCHAR,
		stage VARCHAR,
		method VARCHAR,
		route VARCHAR,
		status INTEGER,
		error_type VARCHAR,
		rejected BOOLEAN NOT NULL,
		lat_bucket SMALLINT,
		n BIGINT NOT NULL,
		lat_sum DOUBLE NOT NULL,
		lat_n BIGINT NOT NULL,
		bytes_sum BIGINT NOT NULL,
		bytes_n BIGINT NOT NULL,
		compacted BOOLEAN NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS ` + rollup.UserDay + ` (
		app_id VARCHAR NOT NULL,
		day TIMESTAMP NOT NULL,
		user_id VARCHAR,
		company_id VARCHAR,
		n BIGINT NOT NULL,
		n_4xx BIGINT NOT NULL,
		n_5xx BIGINT NOT NULL,
		n_rejected BIGINT NOT NULL,
		lat_sum DOUBLE NOT NULL,
		lat_n BIGINT NOT NULL,
		bytes_sum BIGINT NOT NULL,
		bytes_n BIGINT NOT NULL,
		first_time TIMESTAMP NOT NULL,
		last_time TIMESTAMP NOT NULL,
		compacted BOOLEAN NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS ` + rollup.UserRouteDay + ` (
		app_id VARCHAR NOT NULL,
		day TIMESTAMP NOT NULL,
		user_id VARCHAR,
		company_id VARCHAR,
		method VARCHAR,
		route VARCHAR,
		n BIGINT NOT NULL,
		n_4xx BIGINT NOT NULL,
		n_5xx BIGINT NOT NULL,
		n_rejected BIGINT NOT NULL,
		lat_sum DOUBLE NOT NULL,
		lat_n BIGINT NOT NULL,
		bytes_sum BIGINT NOT NULL,
		bytes_n BIGINT NOT NULL,
		first_time TIMESTAMP NOT NULL,
		last_time TIMESTAMP NOT NULL,
		hist_b UTINYINT[] NOT NULL,
		hist_n BIGINT[] NOT NULL,
		compacted BOOLEAN NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS ` + rollup.RequestIDs + ` (
		app_id VARCHAR NOT NULL,
		hour TIMESTAMP NOT NULL,
		h UINTEGER NOT NULL
	)`,
	// sealed is the end of the days the day tables hold (rollup_flush.go);
	// version 2 added UserRouteDay and RequestIDs.
	`CREATE TABLE IF NOT EXISTS rollup_state (version INTEGER NOT NULL, sealed TIMESTAMP)`,
	// The one-time fill stays the last statement (a test replays it).
	`BEGIN TRANSACTION;
	INSERT INTO ` + rollup.TrafficHour + `
		SELECT app_id, date_trunc('hour', time), api_id, stage, method, route, status, error_type,
			` + rejectedSQL + `, ` + latBucketSQL + ` AS b,
			count(*), coalesce(sum(latency_ms), 0), count(latency_ms), coalesce(sum(response_bytes), 0), count(response_bytes), true
		FROM events WHERE NOT EXISTS (SELECT 1 FROM rollup_state)
		GROUP BY ALL;
	INSERT INTO ` + rollup.UserHour + `
		SELECT app_id, date_trunc('hour', time), user_id, company_id, count(*),
			count(*) FILTER (WHERE status BETWEEN 400 AND 499), count(*) FILTER (WHERE status BETWEEN 500 AND 599),
			count(*) FILTER (WHERE ` + rejectedSQL + `),
			coalesce(sum(latency_ms), 0), count(latency_ms), coalesce(sum(response_bytes), 0), count(response_bytes),
			min(time), max(time), true
		FROM events WHERE NOT EXISTS (SELECT 1 FROM rollup_state)
		GROUP BY ALL;
	INSERT INTO ` + rollup.UserRouteDay + `
		SELECT app_id, day, user_id, company_id, method, route, ` + routeSums + `,
			coalesce(list(b ORDER BY b) FILTER (WHERE b IS NOT NULL), []), coalesce(list(c ORDER BY b) FILTER (WHERE b IS NOT NULL), []), true
		FROM (SELECT app_id, date_trunc('day', time) AS day, user_id, company_id, method, route, ` + latBucketSQL + ` AS b,
				count(*) AS c, count(*) AS n, count(*) FILTER (WHERE status BETWEEN 400 AND 499) AS n_4xx,
				count(*) FILTER (WHERE status BETWEEN 500 AND 599) AS n_5xx, count(*) FILTER (WHERE ` + rejectedSQL + `) AS n_rejected,
				coalesce(sum(latency_ms), 0) AS lat_sum, count(latency_ms) AS lat_n, coalesce(sum(response_bytes), 0) AS bytes_sum,
				count(response_bytes) AS bytes_n, min(time) AS first_time, max(time) AS last_time
			FROM events WHERE coalesce((SELECT max(version) FROM rollup_state), 0) < 2 GROUP BY ALL) x
		GROUP BY ALL;
	INSERT INTO ` + rollup.RequestIDs + `
		SELECT app_id, date_trunc('hour', time), (md5_number_upper(request_id) & 4294967295)::UINTEGER
		FROM events WHERE coalesce((SELECT max(version) FROM rollup_state), 0) < 2;
	INSERT INTO rollup_state (version, sealed) SELECT 2, NULL WHERE NOT EXISTS (SELECT 1 FROM rollup_state);
	UPDATE rollup_state SET version = 2 WHERE version < 2;
	COMMIT`,
}

// rejectedSQL and latBucketSQL are rollup.RejectedAtGateway and
// rollup.Bucket over the events table, for the one-time fill; the test
// TestRollupBackfillMatchesLoader holds them to the Go definitions.
var (
	rejectedSQL = fmt.Sprintf(`coalesce(status >= 400 AND CASE WHEN error_type IS NOT NULL THEN error_type IN (%s)
		ELSE integration_latency_ms IS NULL AND NOT coalesce(json_exists(metadata, '$."%s"'), false) AND status IN (%s) END, false)`,
		quoteList(rollup.GatewayResponseTypes), rollup.IntegrationStatusKey, intList(rollup.SeedRejectionStatuses))
	latBucketSQL = fmt.Sprintf(`CASE WHEN latency_ms IS NULL OR latency_ms < 0 THEN NULL WHEN latency_ms < 1 THEN 0
		ELSE least(floor(ln(latency_ms) / ln(%g))::INTEGER + 1, %d) END`, rollup.Gamma, rollup.MaxBucket)
)

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + sqlString(s) + "'"
	}
	return strings.Join(q, ", ")
}

func intList(ns []int) string {
	q := make([]string, len(ns))
	for i, n := range ns {
		q[i] = fmt.Sprint(n)
	}
	return strings.Join(q, ", ")
}

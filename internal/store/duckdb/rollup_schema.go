package duckdb

import (
	"fmt"
	"strings"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// rollupSchema creates the rollup tables (see package query/rollup for
// their contract) and, once, fills them from the events already stored,
// so that a database created before rollups (or before version 2 of them)
// existed answers the same (the next load seals its days into the daily
// ones). The fill runs in one transaction with the marker that says it
// ran; the app spans, added later, are filled while their table is empty.
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
	// Version 2: the derived rollups (rollup_derive.go) and State's done.
	histTableSQL(rollup.UserHistHour, "hour", false),
	histTableSQL(rollup.UserHistDay, "day", false),
	histTableSQL(rollup.UserHistWeek, "day", true),
	histTableSQL(rollup.UserHistOpen, "day", true),
	// The bands of the weekly and open-week rows (rollup_bands.go).
	bandsUpgrade(rollup.UserHistWeek),
	bandsUpgrade(rollup.UserHistOpen),
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
		hist BIGINT[] NOT NULL,
		times TIMESTAMP[] NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS ` + rollup.CompanyRouteDay + ` (
		app_id VARCHAR NOT NULL,
		day TIMESTAMP NOT NULL,
		company_id VARCHAR,
		user_id VARCHAR,
		method VARCHAR,
		route VARCHAR,
		n BIGINT NOT NULL,
		n_4xx BIGINT NOT NULL,
		n_5xx BIGINT NOT NULL,
		hist BIGINT[] NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS ` + rollup.RequestIDs + ` (
		app_id VARCHAR NOT NULL,
		hour TIMESTAMP NOT NULL,
		h UINTEGER NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS ` + rollup.AppSpan + ` (
		app_id VARCHAR PRIMARY KEY,
		first_time TIMESTAMP NOT NULL,
		last_time TIMESTAMP NOT NULL
	)`,
	// sealed is the end of the days the day tables hold (rollup_flush.go).
	`CREATE TABLE IF NOT EXISTS rollup_state (version INTEGER NOT NULL, sealed TIMESTAMP)`,
	`ALTER TABLE rollup_state ADD COLUMN IF NOT EXISTS done TIMESTAMP`,
	// ids_engine is the DuckDB version that hashed RequestIDs: hash() may
	// change between versions, and then the table is built again.
	`ALTER TABLE rollup_state ADD COLUMN IF NOT EXISTS ids_engine VARCHAR`,
	// unsorted counts the rows written to CompanyRouteDay since it was
	// last sorted (rollup_cluster.go).
	`ALTER TABLE rollup_state ADD COLUMN IF NOT EXISTS unsorted BIGINT`,
	// open_to is the end of UserHistOpen's rows (rollup_open.go).
	`ALTER TABLE rollup_state ADD COLUMN IF NOT EXISTS open_to TIMESTAMP`,
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
	INSERT INTO ` + rollup.UserHistHour + ` BY NAME ` + fillUserHist(userHourKeys, beforeV2+" AND time < "+doneHour) + `;
	INSERT INTO ` + rollup.UserHistDay + ` BY NAME ` + fillUserHist(userDayKeys, beforeV2+" AND time < "+sealedDay) + `;
	INSERT INTO ` + rollup.UserHistWeek + ` BY NAME ` + histWeeks(wholeWeeksSQL+" AND NOT EXISTS (SELECT 1 FROM "+rollup.UserHistWeek+")") + `;
	INSERT INTO ` + rollup.UserRouteDay + ` BY NAME ` + fillRoutes(beforeV2+" AND time < "+sealedDay) + `;
	INSERT INTO ` + rollup.CompanyRouteDay + ` ` + companyRows + ` WHERE NOT EXISTS (SELECT 1 FROM ` + rollup.CompanyRouteDay + `) ` + companyOrder + `;
	DELETE FROM ` + rollup.RequestIDs + ` WHERE ` + newEngine + `;
	INSERT INTO ` + rollup.RequestIDs + ` ` + idsSelect + ` WHERE (` + beforeV2 + ` OR ` + newEngine + `) AND time < ` + sealedDay + `;
	INSERT INTO ` + rollup.AppSpan + ` SELECT app_id, min(time), max(time) FROM events
		WHERE NOT EXISTS (SELECT 1 FROM ` + rollup.AppSpan + `) GROUP BY app_id;
	INSERT INTO rollup_state (version, sealed) SELECT 1, NULL WHERE NOT EXISTS (SELECT 1 FROM rollup_state);
	UPDATE rollup_state SET version = 2, done = ` + doneHour + ` WHERE version < 2;
	UPDATE rollup_state SET ids_engine = version();
	COMMIT`,
}

// beforeV2 holds while the rollups are older than version 2 (or absent);
// newEngine while RequestIDs was hashed by another DuckDB; doneHour is done
// as the latest event makes it, sealedDay State's sealed (rollup_derive.go).
const (
	beforeV2  = "coalesce((SELECT max(version) FROM rollup_state), 0) < 2"
	newEngine = "(SELECT max(version) FROM rollup_state) = 2 AND (SELECT max(ids_engine) FROM rollup_state) IS DISTINCT FROM version()"
	doneHour  = "(SELECT date_trunc('hour', max(time)) - INTERVAL 1 HOUR FROM events)"
	sealedDay = "(SELECT max(sealed) FROM rollup_state)"
)

// The derived rollups' keys after app_id, as event expressions (named as
// the tables' columns) and as the names.
var (
	userHourKeys = [2]string{"date_trunc('hour', time) AS hour, user_id, company_id", "hour, user_id, company_id"}
	userDayKeys  = [2]string{"date_trunc('day', time) AS day, user_id, company_id", "day, user_id, company_id"}
)

// histTableSQL creates a user-histogram rollup whose time column is col,
// with band columns if bands.
func histTableSQL(name, col string, bands bool) string {
	extra := ""
	if bands {
		extra = bandColumnsDDL()
	}
	return `CREATE TABLE IF NOT EXISTS ` + name + ` (
		app_id VARCHAR NOT NULL,
		` + col + ` TIMESTAMP NOT NULL,
		user_id VARCHAR,
		company_id VARCHAR,
		hist BIGINT[] NOT NULL` + extra + `
	)`
}

// histSQL is the latency histogram of a group of events as a hist column
// (rollup.HistPair); DuckDB's histogram(), which skips NULLs, counts the
// buckets.
var histSQL = `coalesce(list_transform(map_entries(histogram(` + latBucketSQL + `)), lambda p: p.value::BIGINT << 8 | p.key), []) AS hist`

// fillUserHist is a SELECT of UserHistHour's or UserHistDay's rows
// (keys) from the events matching where, named as the columns.
func fillUserHist(keys [2]string, where string) string {
	return `SELECT app_id, ` + keys[0] + `, ` + histSQL + ` FROM events WHERE ` + where + ` GROUP BY app_id, ` + keys[1]
}

// fillRoutes is a SELECT of UserRouteDay's rows from the events matching
// where, named as the columns.
func fillRoutes(where string) string {
	return `SELECT app_id, date_trunc('day', time) AS day, user_id, company_id, method, route, count(*) AS n,
			count(*) FILTER (WHERE status BETWEEN 400 AND 499) AS n_4xx, count(*) FILTER (WHERE status BETWEEN 500 AND 599) AS n_5xx,
			count(*) FILTER (WHERE ` + rejectedSQL + `) AS n_rejected, coalesce(sum(latency_ms), 0) AS lat_sum, count(latency_ms) AS lat_n,
			coalesce(sum(response_bytes), 0) AS bytes_sum, count(response_bytes) AS bytes_n, min(time) AS first_time,
			max(time) AS last_time, ` + histSQL + `, list(time) AS times
		FROM events WHERE ` + where + ` GROUP BY app_id, day, user_id, company_id, method, route
		ORDER BY app_id, day, route, method, user_id` // see rollupOrder
}

// rollupOrder: the derived daily rollups are written in a fixed order
// within each day (late events for a sealed day rebuild all of its rows):
//   - UserHistDay (and UserDay when its day is sealed, late rows after) in
//     user order, as a profile or a list reads a few users' or companies'
//     rows of each day, and DuckDB scans and joins user-ordered rows
//     faster (a company's profile statement 56 -> 48 ms);
//   - UserRouteDay in route order (route, method, then user), as most of
//     what reads it keeps one route: a funnel's step, a retention's
//     returning event. A scan skips the times and histogram lists of the
//     vectors that hold no row of the route, and a funnel reads these
//     lists for every row its step keeps: a 3-step funnel over 30 days
//     costs 0.63x the CPU it did in user order, a company's profile,
//     which keeps its users' rows of every route, 1.07x
//     (docs/performance.md).

// idsSelect is the rows of rollup.RequestIDs of events, to be followed by
// a WHERE.
var idsSelect = `SELECT app_id, date_trunc('hour', time), ` + rollup.RequestIDHashSQL("request_id") + ` FROM events`

// rejectedSQL and latBucketSQL are rollup.RejectedAtGateway and
// rollup.Bucket over the events table, for the one-time fill; the test
// TestRollupBackfillMatchesLoader holds them to the Go definitions.
var (
	// The cases are in this order so that the JSON is read only for the
	// few events the last one needs.
	rejectedSQL = fmt.Sprintf(`CASE WHEN status IS NULL OR status < 400 THEN false
		WHEN error_type IS NOT NULL THEN error_type IN (%s)
		WHEN integration_latency_ms IS NOT NULL OR status NOT IN (%s) THEN false
		ELSE NOT coalesce(json_exists(metadata, '$."%s"'), false) END`,
		quoteList(rollup.GatewayResponseTypes), intList(rollup.SeedRejectionStatuses), rollup.IntegrationStatusKey)
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

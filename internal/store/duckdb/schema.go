package duckdb

// schema creates every table on first start; statements are idempotent so
// that a restart runs them again harmlessly. Later versions add columns with
// ALTER TABLE ... ADD COLUMN IF NOT EXISTS, never by editing these. The
// rollup tables follow (rollup_schema.go).
var schema = append([]string{
	`CREATE TABLE IF NOT EXISTS apps (
		app_id VARCHAR PRIMARY KEY,
		name VARCHAR NOT NULL,
		application_id VARCHAR NOT NULL UNIQUE,
		created_at TIMESTAMP NOT NULL
	)`,
	// events has no index: DuckDB's zone maps on time (data arrives roughly
	// in time order) prune scans, and indexes would slow bulk loads.
	`CREATE TABLE IF NOT EXISTS events (
		app_id VARCHAR NOT NULL,
		request_id VARCHAR NOT NULL,
		time TIMESTAMP NOT NULL,
		received_at TIMESTAMP NOT NULL,
		api_id VARCHAR,
		stage VARCHAR,
		method VARCHAR,
		path VARCHAR,
		route VARCHAR,
		host VARCHAR,
		protocol VARCHAR,
		status INTEGER,
		response_bytes BIGINT,
		latency_ms DOUBLE,
		integration_latency_ms DOUBLE,
		ip VARCHAR,
		user_agent VARCHAR,
		user_id VARCHAR,
		company_id VARCHAR,
		api_key_id VARCHAR,
		principal_id VARCHAR,
		cognito_identity_id VARCHAR,
		caller VARCHAR,
		user_arn VARCHAR,
		error_message VARCHAR,
		error_type VARCHAR,
		source VARCHAR NOT NULL,
		metadata VARCHAR
	)`,
	`CREATE TABLE IF NOT EXISTS rejected (
		app_id VARCHAR NOT NULL,
		received_at TIMESTAMP NOT NULL,
		source VARCHAR NOT NULL,
		reason VARCHAR NOT NULL,
		batch_id VARCHAR,
		raw BLOB NOT NULL
	)`,
	// batches remembers deliveries, so a Firehose retry after a restart is
	// still recognized, and so the set-up page can tell when data last came.
	`CREATE TABLE IF NOT EXISTS batches (
		app_id VARCHAR NOT NULL,
		batch_id VARCHAR NOT NULL,
		received_at TIMESTAMP NOT NULL,
		events BIGINT NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS users (
		app_id VARCHAR NOT NULL,
		user_id VARCHAR NOT NULL,
		first_seen TIMESTAMP,
		last_seen TIMESTAMP,
		company_id VARCHAR,
		metadata VARCHAR,
		metadata_modified VARCHAR,
		modified_at TIMESTAMP,
		PRIMARY KEY (app_id, user_id)
	)`,
	`CREATE TABLE IF NOT EXISTS companies (
		app_id VARCHAR NOT NULL,
		company_id VARCHAR NOT NULL,
		first_seen TIMESTAMP,
		last_seen TIMESTAMP,
		domain VARCHAR,
		metadata VARCHAR,
		metadata_modified VARCHAR,
		modified_at TIMESTAMP,
		PRIMARY KEY (app_id, company_id)
	)`,
	// spool_state records how far the spool has been loaded, in the same
	// transaction as the load, so a replay after a crash neither skips nor
	// repeats a frame.
	`CREATE TABLE IF NOT EXISTS spool_state (
		id INTEGER PRIMARY KEY,
		segment UBIGINT NOT NULL,
		"offset" BIGINT NOT NULL
	)`,
	`INSERT INTO spool_state VALUES (1, 1, 0) ON CONFLICT DO NOTHING`,
}, rollupSchema...)

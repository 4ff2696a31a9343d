package clickhouse

import (
	"fmt"
	"strings"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// The schema, in the subset of ClickHouse SQL that 18.16 and current
// releases share (docs/clickhouse.md lists what it avoids). Later versions
// add columns to these lists, never change or remove them: Open adds what
// a table lacks (see migrate.go).

// dateTime is every time column's type: pinned to UTC, so that daily
// partitions and time functions are UTC days whatever the server's zone.
const dateTime = "DateTime('UTC')"

// column is one column: its name and type, possibly with DEFAULT or ALIAS.
type column struct{ name, typ string }

// table is a stored table. With a cluster it becomes name_local on every
// shard plus a Distributed table name sharded by shardBy.
type table struct {
	name    string
	columns []column
	engine  string // MergeTree family, with PARTITION BY / ORDER BY
	shardBy string
	// partitioned tables are partitioned by day (toYYYYMMDD) and so subject
	// to retention.
	partitioned bool
}

// Optional fields are stored without Nullable, which costs a second file
// per column in every part (an INSERT takes 40% longer on the CI machine)
// and slows reads: an absent string is stored as '' and an absent number
// as -1 (event.Absent; real values are never negative), and an ALIAS column
// of DuckDB's name turns those back into NULL, so readers see the same
// columns and NULLs as on DuckDB.

func optionalStrings(names ...string) (stored, aliases []column) {
	for _, n := range names {
		stored = append(stored, column{n + "_raw", "String"})
		aliases = append(aliases, column{n, fmt.Sprintf("Nullable(String) ALIAS nullIf(%s_raw, '')", n)})
	}
	return stored, aliases
}

func optionalNumber(name, typ string) (stored, alias column) {
	return column{name + "_raw", typ},
		column{name, fmt.Sprintf("Nullable(%s) ALIAS if(%s_raw < 0, NULL, %s_raw)", typ, name, name)}
}

func concat(parts ...[]column) []column {
	var out []column
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// eventsTable keeps one row per event. Its sorting key is the event's
// identity, (app_id, time, request_id): a redelivered record has the same
// request id and the same logged time, so ReplacingMergeTree folds copies
// together when it merges, and readers that must be exact before merges use
// FINAL (docs/clickhouse.md measures the cost). The key also serves every
// dashboard query, which names one app and a time range. Partitions are
// days of event time, so copies of an event always share a partition, and
// retention drops whole days.
var eventsTable = func() table {
	headS, headA := optionalStrings("api_id", "stage", "method", "path", "route", "host", "protocol")
	tailS, tailA := optionalStrings("ip", "user_agent", "user_id", "company_id", "api_key_id", "principal_id",
		"cognito_identity_id", "caller", "user_arn", "error_message", "error_type", "metadata")
	var nums, numA []column
	for _, n := range []struct{ name, typ string }{
		{"status", "Int16"}, {"response_bytes", "Int64"}, {"latency_ms", "Float64"}, {"integration_latency_ms", "Float64"},
	} {
		st, al := optionalNumber(n.name, n.typ)
		nums, numA = append(nums, st), append(numA, al)
	}
	return table{
		name: "events",
		columns: concat(
			[]column{
				{"app_id", "String"},
				{"request_id", "String"},
				{"time", dateTime},
				{"ms", "UInt16"}, // 18.16 has no DateTime64: the milliseconds of time
				{"received_at", dateTime},
				{"source", "String"},
			},
			headS, nums, tailS,
			// rollup.RejectedAtGateway, computed by the writer (rows of a
			// table made before the column compute the SQL form on read):
			// counting rejections then reads one byte per event, not the
			// metadata.
			[]column{{"rejected", "UInt8 DEFAULT " + rejectedSQL}},
			// Epoch milliseconds, computed on read: exact time filters and
			// the event log's ordering use it.
			[]column{{"time_ms", "UInt64 ALIAS toUInt64(time) * 1000 + ms"}},
			headA, numA, tailA,
		),
		engine:      "ReplacingMergeTree PARTITION BY toYYYYMMDD(time) ORDER BY (app_id, time, request_id)",
		shardBy:     "cityHash64(app_id, request_id)",
		partitioned: true,
	}
}()

// rejectedSQL is rollup.RejectedAtGateway over the stored columns, for
// rows written before the rejected column existed. visitParamHas finds the
// key at any depth, where the writer looks at top-level keys only.
var rejectedSQL = func() string {
	types := make([]string, len(rollup.GatewayResponseTypes))
	for i, t := range rollup.GatewayResponseTypes {
		types[i] = "'" + t + "'"
	}
	statuses := make([]string, len(rollup.SeedRejectionStatuses))
	for i, s := range rollup.SeedRejectionStatuses {
		statuses[i] = fmt.Sprint(s)
	}
	return fmt.Sprintf("status_raw >= 400 AND if(error_type_raw != '', error_type_raw IN (%s), integration_latency_ms_raw < 0 AND NOT visitParamHas(metadata_raw, '%s') AND status_raw IN (%s))",
		strings.Join(types, ", "), rollup.IntegrationStatusKey, strings.Join(statuses, ", "))
}()

// rejectedTable keeps records that could not become events, verbatim.
// record_key (batch id and position, or a random id when the batch has
// none) makes a re-inserted copy fold into the first.
var rejectedTable = table{
	name: "rejected",
	columns: []column{
		{"app_id", "String"},
		{"received_at", dateTime},
		{"source", "String"},
		{"reason", "String"},
		{"batch_id", "Nullable(String)"},
		{"raw", "String"},
		{"record_key", "String"},
	},
	engine:      "ReplacingMergeTree PARTITION BY toYYYYMMDD(received_at) ORDER BY (app_id, record_key)",
	shardBy:     "cityHash64(app_id, record_key)",
	partitioned: true,
}

// batchesTable records every stored delivery: a Firehose retry of it is
// recognized by its id, by any collector, as long as retention keeps it.
var batchesTable = table{
	name: "batches",
	columns: []column{
		{"app_id", "String"},
		{"batch_id", "String"},
		{"received_at", dateTime},
		{"events", "UInt64"},
	},
	engine:      "ReplacingMergeTree PARTITION BY toYYYYMMDD(received_at) ORDER BY (app_id, batch_id)",
	shardBy:     "cityHash64(app_id, batch_id)",
	partitioned: true,
}

var appsTable = table{
	name: "apps",
	columns: []column{
		{"app_id", "String"},
		{"name", "String"},
		{"application_id", "String"},
		{"created_at", dateTime},
		{"created_us", "Int64"}, // Unix microseconds: Apps returns the time it was given
	},
	engine:  "ReplacingMergeTree ORDER BY app_id",
	shardBy: "cityHash64(app_id)",
}

// profileKind is users or companies: a profile built from two sources.
// Events report sightings (first and last seen); the Moesif-compatible API
// sends updates (a user's company, a company's domain, metadata). Both become rows of the input table (Null engine), which a
// materialized view folds into aggregate states (AggregatingMergeTree), so
// that concurrent collectors only ever insert: min, max and argMax give the
// same result whatever the order and however often a row is repeated. The
// view named like DuckDB's table (users, companies) merges the states.
type profileKind struct {
	name    string // users or companies: the read view
	idCol   string // user_id or company_id
	attr    string // company_id or domain: set by updates only
	updates table  // the log of updates, read back to merge metadata
}

var (
	usersKind = profileKind{name: "users", idCol: "user_id", attr: "company_id", updates: updatesTable("user_updates", "user_id", "company_id")}
	compKind  = profileKind{name: "companies", idCol: "company_id", attr: "domain", updates: updatesTable("company_updates", "company_id", "domain")}
)

func updatesTable(name, idCol, attr string) table {
	return table{
		name: name,
		columns: []column{
			{"app_id", "String"},
			{idCol, "String"},
			{"modified", "UInt64"}, // Unix milliseconds of the update's modified time
			{attr, "String"},
			{"metadata", "String"},
			{"received_ms", "UInt64"}, // Unix ms of arrival: ties in modified go to the later arrival
		},
		engine:  fmt.Sprintf("MergeTree ORDER BY (app_id, %s, modified)", idCol),
		shardBy: fmt.Sprintf("cityHash64(app_id, %s)", idCol),
	}
}

// input is the Null table that takes profile rows. A sighting has version 0
// and empty metadata; an update row carries the metadata merged from every
// update of the log it read, with version = how many that was (see
// profiles.go). first_seen of an update row is the largest DateTime and
// last_seen the smallest, so min and max ignore it.
func (k profileKind) input() table {
	return table{
		name: k.name + "_in",
		columns: []column{
			{"app_id", "String"},
			{k.idCol, "String"},
			{"first_seen", dateTime},
			{"last_seen", dateTime},
			{k.attr, "String"},
			{"attr_at", "UInt64"}, // version for update rows; 0 for sightings, which carry no attr
			{"version", "UInt64"},
			{"metadata", "String"},
			{"metadata_modified", "String"},
			{"modified_at", "UInt64"}, // Unix ms of the latest update; 0 for sightings
		},
		engine:  "Null",
		shardBy: fmt.Sprintf("cityHash64(app_id, %s)", k.idCol),
	}
}

func (k profileKind) state() table {
	return table{
		name: k.name + "_state",
		columns: []column{
			{"app_id", "String"},
			{k.idCol, "String"},
			{"first_state", "AggregateFunction(min, " + dateTime + ")"},
			{"last_state", "AggregateFunction(max, " + dateTime + ")"},
			{"attr_state", "AggregateFunction(argMax, String, UInt64)"},
			{"metadata_state", "AggregateFunction(argMax, String, UInt64)"},
			{"times_state", "AggregateFunction(argMax, String, UInt64)"},
			{"modified_state", "AggregateFunction(max, UInt64)"},
		},
		engine:  fmt.Sprintf("AggregatingMergeTree ORDER BY (app_id, %s)", k.idCol),
		shardBy: fmt.Sprintf("cityHash64(app_id, %s)", k.idCol),
	}
}

// mvVersion is part of the materialized views' names. A change to a view's
// query bumps it: Open creates the new view before dropping the old, and
// the brief overlap double-feeds the states, which min/max/argMax absorb.
const mvVersion = 1

func (k profileKind) mvName() string { return fmt.Sprintf("%s_state_mv_v%d", k.name, mvVersion) }

// mvQuery folds input rows into states; it reads the shard-local input.
func (k profileKind) mvQuery(db, input string) string {
	return fmt.Sprintf(`SELECT app_id, %[3]s,
		minState(first_seen) AS first_state,
		maxState(last_seen) AS last_state,
		argMaxState(%[4]s, attr_at) AS attr_state,
		argMaxState(metadata, version) AS metadata_state,
		argMaxState(metadata_modified, version) AS times_state,
		maxState(modified_at) AS modified_state
	FROM %[1]s.%[2]s GROUP BY app_id, %[3]s`, db, input, k.idCol, k.attr)
}

// viewColumns are the read view's columns, as DuckDB's table has them.
func (k profileKind) viewColumns() []string {
	return []string{"app_id", k.idCol, "first_seen", "last_seen", k.attr, "metadata", "metadata_modified", "modified_at"}
}

// viewQuery merges the states of one profile. Views are not filtered
// before aggregating on 18.16 (no predicate push-down into views), so
// the query layer should inline this with its app filter; see
// docs/clickhouse.md.
func (k profileKind) viewQuery(db, state string) string {
	return fmt.Sprintf(`SELECT app_id, %[3]s, first_seen, last_seen, %[4]s, metadata, metadata_modified, modified_at FROM (
		SELECT app_id, %[3]s,
			maxMerge(last_state) AS last_raw,
			if(last_raw = toDateTime(0, 'UTC'), NULL, minMerge(first_state)) AS first_seen,
			if(last_raw = toDateTime(0, 'UTC'), NULL, last_raw) AS last_seen,
			nullIf(argMaxMerge(attr_state), '') AS %[4]s,
			nullIf(argMaxMerge(metadata_state), '') AS metadata,
			nullIf(argMaxMerge(times_state), '') AS metadata_modified,
			maxMerge(modified_state) AS modified_raw,
			if(modified_raw = 0, NULL, toDateTime(intDiv(modified_raw, 1000), 'UTC')) AS modified_at
		FROM %[1]s.%[2]s GROUP BY app_id, %[3]s)`, db, state, k.idCol, k.attr)
}

// storedTables are the tables that hold data, in creation order.
func storedTables() []table {
	return []table{appsTable, eventsTable, rejectedTable, batchesTable,
		usersKind.updates, compKind.updates, usersKind.input(), usersKind.state(), compKind.input(), compKind.state()}
}

// layout names the tables for one deployment: on a cluster, data lives in
// name_local and is read and written through the Distributed table name.
type layout struct {
	db      string
	cluster string
}

func (l layout) local(name string) string {
	if l.cluster == "" {
		return name
	}
	return name + "_local"
}

// q qualifies a table name with the database.
func (l layout) q(name string) string { return l.db + "." + name }

func columnList(cols []column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c.name + " " + c.typ
	}
	return strings.Join(parts, ",\n\t")
}

// createStatements are the statements that create t on one server.
func (l layout) createStatements(t table) []string {
	stmts := []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n\t%s\n) ENGINE = %s",
		l.q(l.local(t.name)), columnList(t.columns), t.engine)}
	if l.cluster != "" {
		stmts = append(stmts, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s AS %s ENGINE = Distributed(%s, %s, %s, %s)",
			l.q(t.name), l.q(l.local(t.name)), l.cluster, l.db, l.local(t.name), t.shardBy))
	}
	return stmts
}

// insertColumns lists the columns an INSERT names (18.16 needs the list):
// all but ALIAS columns.
func insertColumns(t table) string {
	var names []string
	for _, c := range t.columns {
		if !strings.Contains(c.typ, " ALIAS ") {
			names = append(names, c.name)
		}
	}
	return "(" + strings.Join(names, ", ") + ")"
}

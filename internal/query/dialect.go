package query

import (
	"fmt"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/gatescope/gatescope/internal/query/rollup"
	"github.com/gatescope/gatescope/internal/store"
)

// Dialect is what differs between the stores' SQL. Everything else in this
// package (the model, validation, the shape of the statements) is shared,
// so a ClickHouse dialect is a second implementation of this interface
// (docs/clickhouse-compat.md lists what ClickHouse 18.16 offers). Methods
// returning args take their values as bind parameters, in order.
type Dialect interface {
	Name() store.Dialect
	// TimeBucket is the start of the bucket holding the UTC TIMESTAMP
	// expression col, as a UTC timestamp: buckets align to loc's wall
	// clock, days and weeks (Monday) are loc's calendar days.
	TimeBucket(col string, iv Interval, loc *time.Location) (string, []any)
	// HistogramBucket is rollup.Bucket of a latency expression in SQL,
	// NULL for NULL.
	HistogramBucket(col string) string
	// JSONText is the text of a top-level key of a JSON object column,
	// NULL when absent; JSONHas says whether the key is there.
	JSONText(col, key string) (string, []any)
	JSONHas(col, key string) (string, []any)
	// CountDistinct counts distinct non-NULL values exactly.
	CountDistinct(expr string) string
	// Prefix, Contains and ContainsFold test expr against one bound
	// string (ContainsFold ignoring case).
	Prefix(expr string) string
	Contains(expr string) string
	ContainsFold(expr string) string
	// ToText and ToDouble convert; ToDouble is NULL for non-numbers.
	ToText(expr string) string
	ToDouble(expr string) string
	// IntDiv is integer division.
	IntDiv(a, b string) string
	// EpochMicros is a timestamp as microseconds since the epoch.
	EpochMicros(expr string) string
	// ArgMin is the value of x on the row with the smallest by.
	ArgMin(x, by string) string
	// Time is a time as a bind argument compared with the stores' UTC
	// timestamps, so that neither the column is converted nor the
	// session's time zone involved.
	Time(t time.Time) any
}

// DuckDB is the dialect of the embedded store.
type DuckDB struct{}

var _ Dialect = DuckDB{}

// Name implements Dialect.
func (DuckDB) Name() store.Dialect { return store.DuckDB }

// TimeBucket implements Dialect. Times are stored as naive UTC
// TIMESTAMPs; zones go through ICU's timezone(), never the session's
// TimeZone setting.
func (DuckDB) TimeBucket(col string, iv Interval, loc *time.Location) (string, []any) {
	var trunc func(string) string
	switch iv.Name {
	case "1d":
		trunc = func(x string) string { return "date_trunc('day', " + x + ")" }
	case "1w":
		trunc = func(x string) string { return "date_trunc('week', " + x + ")" }
	case "1h":
		trunc = func(x string) string { return "date_trunc('hour', " + x + ")" }
	case "1m":
		trunc = func(x string) string { return "date_trunc('minute', " + x + ")" }
	case "1mo":
		trunc = func(x string) string { return "date_trunc('month', " + x + ")" }
	default:
		secs := int64(iv.D / time.Second)
		trunc = func(x string) string {
			return fmt.Sprintf("time_bucket(INTERVAL %d SECOND, %s, TIMESTAMP '1970-01-01')", secs, x)
		}
	}
	if loc == time.UTC {
		return trunc(col), nil
	}
	name := loc.String()
	return fmt.Sprintf("timezone('UTC', timezone(?, %s))", trunc(fmt.Sprintf("timezone(?, %s AT TIME ZONE 'UTC')", col))), []any{name, name}
}

// HistogramBucket implements Dialect.
func (DuckDB) HistogramBucket(col string) string {
	return fmt.Sprintf(`CASE WHEN %[1]s IS NULL OR %[1]s < 0 THEN NULL WHEN %[1]s < 1 THEN 0
		ELSE least(CAST(floor(ln(%[1]s) / ln(%[2]g)) AS INTEGER) + 1, %[3]d) END`, col, rollup.Gamma, rollup.MaxBucket)
}

func keyList(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return strings.Join(keys, ", ") + ", "
}

// JSONText implements Dialect.
func (DuckDB) JSONText(col, key string) (string, []any) {
	return "json_extract_string(" + col + ", ?)", []any{`$."` + key + `"`}
}

// JSONHas implements Dialect.
func (DuckDB) JSONHas(col, key string) (string, []any) {
	return "coalesce(json_exists(" + col + ", ?), false)", []any{`$."` + key + `"`}
}

// CountDistinct implements Dialect.
func (DuckDB) CountDistinct(expr string) string { return "count(DISTINCT " + expr + ")" }

// Prefix implements Dialect.
func (DuckDB) Prefix(expr string) string { return "starts_with(" + expr + ", ?)" }

// Contains implements Dialect.
func (DuckDB) Contains(expr string) string { return "contains(" + expr + ", ?)" }

// ContainsFold implements Dialect.
func (DuckDB) ContainsFold(expr string) string { return "contains(lower(" + expr + "), lower(?))" }

// ToText implements Dialect.
func (DuckDB) ToText(expr string) string { return "CAST(" + expr + " AS VARCHAR)" }

// ToDouble implements Dialect.
func (DuckDB) ToDouble(expr string) string { return "TRY_CAST(" + expr + " AS DOUBLE)" }

// IntDiv implements Dialect.
func (DuckDB) IntDiv(a, b string) string { return "(" + a + ") // (" + b + ")" }

// Time implements Dialect: the driver binds a bare time.Time as
// TIMESTAMPTZ, which compared with a TIMESTAMP column converts the column
// through the session's time zone and defeats zone-map pruning.
func (DuckDB) Time(t time.Time) any { return duckdb.Typed(t.UTC(), duckdb.TYPE_TIMESTAMP) }

// EpochMicros implements Dialect.
func (DuckDB) EpochMicros(expr string) string { return "epoch_us(" + expr + ")" }

// ArgMin implements Dialect.
func (DuckDB) ArgMin(x, by string) string { return "arg_min(" + x + ", " + by + ")" }

// rejectedExpr is rollup.RejectedAtGateway in SQL over an events alias.
func rejectedExpr(d Dialect, e string) (string, []any) {
	has, args := d.JSONHas(e+"metadata", rollup.IntegrationStatusKey)
	types := make([]string, len(rollup.GatewayResponseTypes))
	for i := range types {
		types[i] = "?"
		args = append(args, rollup.GatewayResponseTypes[i])
	}
	statuses := make([]string, len(rollup.SeedRejectionStatuses))
	for i, s := range rollup.SeedRejectionStatuses {
		statuses[i] = fmt.Sprint(s)
	}
	// The JSON argument comes first in args but last in the text, so bind
	// order is rebuilt below. The cases are in this order so that the JSON
	// is read only for the few events the last one needs.
	sql := fmt.Sprintf(`CASE WHEN %[1]sstatus IS NULL OR %[1]sstatus < 400 THEN false
		WHEN %[1]serror_type IS NOT NULL THEN %[1]serror_type IN (%[2]s)
		WHEN %[1]sintegration_latency_ms IS NOT NULL OR %[1]sstatus NOT IN (%[4]s) THEN false
		ELSE NOT %[3]s END`,
		e, strings.Join(types, ", "), has, strings.Join(statuses, ", "))
	return sql, append(args[len(args)-len(types):], args[:len(args)-len(types)]...)
}

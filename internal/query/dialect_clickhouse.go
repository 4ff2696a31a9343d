package query

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/query/rollup"
	"github.com/gatescope/gatescope/internal/store"
)

// ClickHouse is the dialect of the ClickHouse store, in the subset of SQL
// that Debian's clickhouse-server 18.16 and current releases share
// (docs/clickhouse.md lists what it avoids: no true/false literals, no
// window functions, no JOIN ... ON, no CTEs, no JSONExtract, no
// DateTime64). The engine reads raw events only on ClickHouse (there are
// no rollups), always through FINAL, and some queries have statements of
// their own shape (dialect_clickhouse_*.go); the model, the validation and
// the assembly of results in Go are the shared ones.
type ClickHouse struct{}

var _ Dialect = ClickHouse{}

// Name implements Dialect.
func (ClickHouse) Name() store.Dialect { return store.ClickHouse }

// TimeBucket implements Dialect. col is a DateTime (seconds) expression;
// every bucket is at least a minute wide. A fixed-width bucket in a zone
// aligns to the zone's wall clock at t as bucketStart does: t minus the
// wall-clock seconds modulo the width (toStartOfInterval is not in 18.16).
func (ClickHouse) TimeBucket(col string, iv Interval, loc *time.Location) (string, []any) {
	col = "(" + col + ")"
	utc := loc == time.UTC
	tz := loc.String()
	switch iv.Name {
	case "1d":
		if utc {
			return "toStartOfDay(" + col + ")", nil
		}
		return "toStartOfDay(" + col + ", ?)", []any{tz}
	case "1w":
		return "toDateTime(toMonday(" + col + ", ?), ?)", []any{tz, tz}
	case "1mo":
		return "toDateTime(toStartOfMonth(" + col + ", ?), ?)", []any{tz, tz}
	}
	secs := int64(iv.D / time.Second)
	if utc {
		switch iv.Name {
		case "1m":
			return "toStartOfMinute(" + col + ")", nil
		case "1h":
			return "toStartOfHour(" + col + ")", nil
		}
		return fmt.Sprintf("toDateTime(intDiv(toUInt32(%s), %d) * %d, 'UTC')", col, secs, secs), nil
	}
	return fmt.Sprintf("toDateTime(toUInt32(%[1]s) - toUInt32(toDateTime(toString(%[1]s, ?), 'UTC')) %% %[2]d, 'UTC')", col, secs), []any{tz}
}

// HistogramBucket implements Dialect with the same arithmetic as
// rollup.Bucket, so that percentiles come out as on DuckDB.
func (ClickHouse) HistogramBucket(col string) string {
	return fmt.Sprintf(`if(isNull(%[1]s) OR %[1]s < 0, NULL, %[2]s)`, col, chBucket(col))
}

// chBucket is the histogram bucket of a latency known to be present
// (not negative).
func chBucket(col string) string {
	return fmt.Sprintf(`if(%[1]s < 1, 0, least(toInt32(floor(log(%[1]s) / log(%[2]g))) + 1, %[3]d))`, col, rollup.Gamma, rollup.MaxBucket)
}

// Quantiles turns a statement producing (keys..., b, n), one row per key
// and histogram bucket b, into one producing (keys..., q0, ...): qi is the
// smallest b whose cumulative n reaches the nearest rank
// ceil(pcts[i] * total / 100). It uses arrays (18.16 has no window
// functions): each key's histogram sorted by bucket, its cumulative
// counts, and the first bucket whose count reaches the nearest rank.
// Keys without latencies get NULL.
func (ClickHouse) Quantiles(inner string, keys []string, pcts []int) string {
	var outs []string
	for i, p := range pcts {
		outs = append(outs, fmt.Sprintf(`if(tot = 0, NULL, tupleElement(hs[arrayFirstIndex(c -> c >= intDiv(%d * tot + 99, 100),
			arrayCumSum(arrayMap(x -> tupleElement(x, 2), hs)))], 1)) AS q%d`, p, i))
	}
	groupBy := ""
	if len(keys) > 0 {
		groupBy = " GROUP BY " + strings.Join(keys, ", ")
	}
	return fmt.Sprintf(`SELECT %s%s FROM (SELECT %sarraySort(groupArray((b, n))) AS hs, sum(n) AS tot FROM (%s) h%s) hq`,
		keyList(keys), strings.Join(outs, ", "), keyList(keys), inner, groupBy)
}

// JSONText implements Dialect with visitParam* (18.16 has no JSONExtract):
// a string value unquoted, any other value as its JSON text, NULL for an
// absent key or a JSON null, as DuckDB's json_extract_string gives them.
// visitParam finds the first "key": anywhere in the text, so a key that
// also occurs in a nested object before the top-level one reads the
// nested value (docs/clickhouse.md).
func (ClickHouse) JSONText(col, key string) (string, []any) {
	j := "ifNull(" + col + ", '')"
	return fmt.Sprintf(`if(visitParamHas(%[1]s, ?), if(substring(visitParamExtractRaw(%[1]s, ?), 1, 1) = '"',
		visitParamExtractString(%[1]s, ?), nullIf(visitParamExtractRaw(%[1]s, ?), 'null')), NULL)`, j), []any{key, key, key, key}
}

// JSONHas implements Dialect.
func (ClickHouse) JSONHas(col, key string) (string, []any) {
	return "visitParamHas(ifNull(" + col + ", ''), ?)", []any{key}
}

// CountDistinct implements Dialect: uniqExact is exact and skips NULLs.
func (ClickHouse) CountDistinct(expr string) string { return "uniqExact(" + expr + ")" }

// Prefix implements Dialect.
func (ClickHouse) Prefix(expr string) string { return "startsWith(" + expr + ", ?)" }

// Contains implements Dialect.
func (ClickHouse) Contains(expr string) string { return "position(" + expr + ", ?) > 0" }

// ContainsFold implements Dialect.
func (ClickHouse) ContainsFold(expr string) string {
	return "positionCaseInsensitiveUTF8(" + expr + ", ?) > 0"
}

// ToText implements Dialect.
func (ClickHouse) ToText(expr string) string { return "toString(" + expr + ")" }

// ToDouble implements Dialect.
func (ClickHouse) ToDouble(expr string) string { return "toFloat64OrNull(toString(" + expr + "))" }

// IntDiv implements Dialect.
func (ClickHouse) IntDiv(a, b string) string { return "intDiv(" + a + ", " + b + ")" }

// EpochMicros implements Dialect for a DateTime (whole seconds).
func (ClickHouse) EpochMicros(expr string) string { return "toInt64(toUInt32(" + expr + ")) * 1000000" }

// ArgMin implements Dialect.
func (ClickHouse) ArgMin(x, by string) string { return "argMin(" + x + ", " + by + ")" }

// Time implements Dialect: the client binds a time as toDateTime of its
// UTC wall clock, in seconds (the fraction is cut, a floor); exact bounds
// go on time_ms beside it (chRange).
func (ClickHouse) Time(t time.Time) any { return t.UTC() }

// onClickHouse reports whether the engine speaks ClickHouse; the queries
// whose statements differ in shape dispatch on it.
func (e *Engine) onClickHouse() bool {
	_, ok := e.c.d.(ClickHouse)
	return ok
}

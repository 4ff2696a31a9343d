package duckdb

import (
	"fmt"
	"strings"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// The weekly and open-week histogram rows carry their histogram's bands
// (rollup.BandColumn) beside hist. They cost the loader a sum per band
// when it builds those rows, which it does once a week and every few
// hours (a backfill, every few loads), and spare every query that ranks
// users by a percentile's band the grouping of their histogram pairs
// (docs/performance.md).

// bandColumnsDDL declares the band columns in a CREATE TABLE.
func bandColumnsDDL() string {
	var b strings.Builder
	for k := range rollup.Bands {
		fmt.Fprintf(&b, ",\n\t\t%s BIGINT", rollup.BandColumn(k))
	}
	return b.String()
}

// bandSums are the band columns of a row whose histogram is the list
// expression hist: an aggregate in mergeHists, which DuckDB computes once
// for hist and every band (a sum per band FILTERed on the bucket cost
// the open week's rebuild three times as much).
func bandSums(hist string) string {
	s := make([]string, rollup.Bands)
	for k := range s {
		s[k] = bandOf(hist, k) + " AS " + rollup.BandColumn(k)
	}
	return strings.Join(s, ", ")
}

// bandOf is how many events of the histogram list hist are in band k.
func bandOf(hist string, k int) string {
	return fmt.Sprintf("coalesce(list_sum(list_transform(list_filter(%s, lambda h: (h & 255) >> %d = %d), lambda h: h >> 8)), 0)",
		hist, rollup.BandShift, k)
}

// bandsUpgrade adds the band columns to a table of a database from before
// them and computes them from each row's hist; on a database that has
// them it changes nothing (their first column is NULL in no row).
func bandsUpgrade(table string) string {
	var b strings.Builder
	set := make([]string, rollup.Bands)
	for k := range rollup.Bands {
		col := rollup.BandColumn(k)
		fmt.Fprintf(&b, "ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s BIGINT;\n", table, col)
		set[k] = col + " = " + bandOf("hist", k)
	}
	fmt.Fprintf(&b, "UPDATE %s SET %s WHERE %s IS NULL", table, strings.Join(set, ", "), rollup.BandColumn(0))
	return b.String()
}

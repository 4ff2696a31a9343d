package duckdb

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// checkBands holds every row's band columns in the tables that carry them
// to its hist, summed per band in Go.
func checkBands(t *testing.T, s *Store, stage string) {
	t.Helper()
	cols := make([]string, rollup.Bands)
	for k := range cols {
		cols[k] = rollup.BandColumn(k)
	}
	for _, table := range []string{rollup.UserHistWeek, rollup.UserHistOpen} {
		rows, err := s.db.Query(`SELECT hist, ` + strings.Join(cols, ", ") + ` FROM ` + table)
		if err != nil {
			t.Fatalf("%s: %s: %v", stage, table, err)
		}
		n, bad := 0, 0
		for rows.Next() {
			var hist []any
			got := make([]int64, rollup.Bands)
			dest := []any{&hist}
			for k := range got {
				dest = append(dest, &got[k])
			}
			if err := rows.Scan(dest...); err != nil {
				t.Fatalf("%s: %s: %v", stage, table, err)
			}
			want := make([]int64, rollup.Bands)
			for _, x := range hist {
				h := x.(int64)
				b := int(h & 255)
				if b > rollup.MaxBucket {
					t.Fatalf("%s: %s: bucket %d in a hist", stage, table, b)
				}
				want[b>>rollup.BandShift] += h >> 8
			}
			n++
			if !slices.Equal(got, want) {
				if bad++; bad <= 3 {
					t.Errorf("%s: %s: bands %v, want %v from hist %v", stage, table, got, want, hist)
				}
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if n == 0 || bad > 0 {
			t.Errorf("%s: %s: %d of %d rows with wrong bands", stage, table, bad, n)
		}
	}
}

// dropBands takes the band columns out of the tables, as in a database
// from before them.
func dropBands(t *testing.T, s *Store) {
	t.Helper()
	for _, table := range []string{rollup.UserHistWeek, rollup.UserHistOpen} {
		for k := range rollup.Bands {
			if _, err := s.db.Exec(`ALTER TABLE ` + table + ` DROP COLUMN ` + rollup.BandColumn(k)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

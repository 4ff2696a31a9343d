package query

import (
	"fmt"
	"strings"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// The pass that ranks users by a percentile's band (bands.go) reads the
// weekly and open-week histogram rows' band columns (rollup.BandColumn)
// rather than their hist lists: it sums a few columns per row per user,
// then unnests each user's Bands sums, where unnesting and grouping every
// histogram pair by user and band took about half as long again. The
// other pieces of its range (days, hours, raw events) give pairs as
// before, and both meet in the lists of pairs per user
// (docs/performance.md).

// bandPiece reports whether piece p of s is read from its band columns.
func (s *aggSpec) bandPiece(p piece) bool {
	return s.band == rollup.BandShift && p.src == srcUserHist && p.day && (p.week || p.open) &&
		s.iv == nil && len(s.groups) > 0 && !s.topUsed && s.only == nil
}

// bandMeasures select a band piece's columns, named s0, s1, ...
func bandMeasures() []string {
	m := make([]string, rollup.Bands)
	for k := range m {
		m[k] = fmt.Sprintf("r.%s AS s%d", rollup.BandColumn(k), k)
	}
	return m
}

// bandedInner is the (keys..., b, n) statement of the band pieces, whose
// rows are (keys..., s0, s1, ...) and joined by UNION ALL in bandUnion,
// and of the pair pieces' statement pairs, (keys..., b, n) with b a band
// ("" when there are none): each group's band sums, a row per band it has
// events in, and the pairs' rows after them. A band may repeat within a
// group, which quantilesOf sums: grouping by key and band once more cost
// the users' bands a tenth.
func bandedInner(keys []string, bandUnion, pairs string) string {
	sums := make([]string, rollup.Bands)
	list := make([]string, rollup.Bands)
	for k := range sums {
		sums[k] = fmt.Sprintf("sum(s%d) AS s%d", k, k)
		list[k] = fmt.Sprintf("s%d", k)
	}
	kl := keyList(keys)
	q := fmt.Sprintf("SELECT %sunnest(range(%d)) AS b, unnest([%s]) AS n FROM (SELECT %s%s FROM (%s) w GROUP BY %s) s",
		kl, rollup.Bands, strings.Join(list, ", "), kl, strings.Join(sums, ", "), bandUnion, strings.TrimSuffix(kl, ", "))
	if pairs != "" {
		q += "\nUNION ALL\n" + pairs
	}
	return "SELECT " + kl + "b, n FROM (" + q + ") z WHERE n > 0"
}

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
// before, and both meet in the last grouping by user and band
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
// and of the pair pieces' statement pairInner ("" when there are none):
// each group's band sums, then a row per band it has events in.
func bandedInner(keys []string, bandUnion, pairInner string) string {
	sums := make([]string, rollup.Bands)
	list := make([]string, rollup.Bands)
	for k := range sums {
		sums[k] = fmt.Sprintf("sum(s%d) AS s%d", k, k)
		list[k] = fmt.Sprintf("s%d", k)
	}
	kl := keyList(keys)
	group := strings.TrimSuffix(kl, ", ")
	banded := fmt.Sprintf("SELECT %sunnest(range(%d)) AS b, unnest([%s]) AS n FROM (SELECT %s%s FROM (%s) w GROUP BY %s) s",
		kl, rollup.Bands, strings.Join(list, ", "), kl, strings.Join(sums, ", "), bandUnion, group)
	if pairInner == "" {
		return "SELECT " + kl + "b, n FROM (" + banded + ") z WHERE n > 0"
	}
	return fmt.Sprintf("SELECT %sb, sum(n) AS n FROM (%s\nUNION ALL\n%s) z WHERE n > 0 GROUP BY %sb", kl, banded, pairInner, kl)
}

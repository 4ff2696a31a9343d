package query

import (
	"testing"
	"time"
)

func pairOf(b, n int64) any { return n<<8 | b }

func TestQuantilesOf(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	for _, tt := range []struct {
		name string
		h    []any
		pcts []int
		want []*int64
	}{
		{"empty", nil, []int{50, 95}, []*int64{nil, nil}},
		{"one bucket", []any{pairOf(7, 3)}, []int{50, 99}, []*int64{i(7), i(7)}},
		// 10 events: buckets 1 (4), 5 (5), 9 (1), given out of order. The
		// nearest rank of p50 is 5 (bucket 5), of p40 is 4 (bucket 1), of
		// p95 is 10 (bucket 9).
		{"ranks", []any{pairOf(9, 1), pairOf(1, 4), pairOf(5, 5)}, []int{40, 50, 90, 95}, []*int64{i(1), i(5), i(5), i(9)}},
		// A bucket may come in several pairs (pieces, rollup rows).
		{"repeated bucket", []any{pairOf(2, 1), pairOf(3, 1), pairOf(2, 1)}, []int{60, 67, 100}, []*int64{i(2), i(3), i(3)}},
		// Events without a bucket count toward the total, are never a
		// percentile: 3 of 4 events have no bucket.
		{"null bucket", []any{pairOf(nullBucket, 3), pairOf(4, 1)}, []int{25, 50}, []*int64{i(4), nil}},
	} {
		got, err := quantilesOf(tt.h, tt.pcts)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for k := range tt.want {
			if (got[k] == nil) != (tt.want[k] == nil) || got[k] != nil && *got[k] != *tt.want[k] {
				t.Errorf("%s: p%d = %v, want %v", tt.name, tt.pcts[k], deref64(got[k]), deref64(tt.want[k]))
			}
		}
	}
	if _, err := quantilesOf([]any{"x"}, []int{50}); err == nil {
		t.Error("a pair that is not a BIGINT was accepted")
	}
}

func deref64(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestCompareValues(t *testing.T) {
	t0 := time.Unix(0, 0)
	for _, tt := range []struct {
		a, b any
		want int
	}{
		{nil, nil, 0}, {nil, "a", 1}, {"a", nil, -1},
		{"a", "b", -1}, {"b", "a", 1}, {int64(2), int64(10), -1}, {2.5, 1.5, 1},
		{false, true, -1}, {true, false, 1}, {true, true, 0},
		{t0, t0.Add(time.Second), -1},
	} {
		if got := compareValues(tt.a, tt.b); got != tt.want {
			t.Errorf("compareValues(%v, %v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestRankInGo(t *testing.T) {
	res := newAggResult()
	set := func(g any, b *int64) {
		r := res.get(time.Time{}, []any{g}, false)
		if b != nil {
			r.quant[LatencyP95] = b
		}
	}
	b := func(v int64) *int64 { return &v }
	set("c", b(10))
	set("a", b(30))
	set(nil, b(30))
	set("d", nil)
	set("b", b(30))
	// Descending by value, ties by group ascending with null last, groups
	// without a value last.
	want := []any{"a", "b", nil, "c", "d"}
	got := rankInGo(res, LatencyP95, true, 10)
	if len(got) != len(want) {
		t.Fatalf("%d keys, want %d", len(got), len(want))
	}
	for i, k := range got {
		if g := res.rows[k].groups[0]; g != want[i] {
			t.Errorf("rank %d is %v, want %v", i, g, want[i])
		}
	}
	if got := rankInGo(res, LatencyP95, false, 2); res.rows[got[0]].groups[0] != "c" || len(got) != 2 {
		t.Errorf("ascending, limit 2: first %v of %d", res.rows[got[0]].groups[0], len(got))
	}
}

package query

import (
	"maps"
	"testing"
)

func TestUnhash(t *testing.T) {
	b := func(v int64) *int64 { return &v }
	dict := map[uint64]any{1: "acme", 2: "globex", 3: nil}
	tests := []struct {
		name   string
		byHash map[any]*int64
		unique bool
		want   map[any]*int64
		ok     bool
	}{
		{"mapped back, NULL included", map[any]*int64{uint64(1): b(60), uint64(3): b(70), uint64(2): nil}, true,
			map[any]*int64{"acme": b(60), nil: b(70), "globex": nil}, true},
		{"no rows", map[any]*int64{}, true, map[any]*int64{}, true},
		{"a hash no id has", map[any]*int64{uint64(1): b(60), uint64(9): b(61)}, true, nil, false},
		{"a key that is not a hash", map[any]*int64{"acme": b(60)}, true, nil, false},
		{"two ids share a hash", map[any]*int64{uint64(1): b(60)}, false, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := unhash(tc.byHash, dict, tc.unique)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !maps.EqualFunc(got, tc.want, func(x, y *int64) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

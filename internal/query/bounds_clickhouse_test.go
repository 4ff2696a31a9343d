package query_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/query"
)

// TestKnownMillisecondBounds: a range's ends are exact to the microsecond
// on every engine, though ClickHouse 18.16 keeps times as whole seconds
// plus milliseconds: ends at an event's time (From includes it, To
// excludes it), a microsecond or a millisecond to either side, and in the
// middle of a second.
func TestKnownMillisecondBounds(t *testing.T) {
	k := newKnownEnv(t)
	ctx := context.Background()
	times := make([]time.Time, len(k.f.events))
	for i, ev := range k.f.events {
		times[i] = ev.Time
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	var ends []time.Time
	for _, i := range []int{100, 5000, 5001} {
		for _, d := range []time.Duration{0, time.Microsecond, -time.Microsecond, time.Millisecond, 500 * time.Millisecond} {
			ends = append(ends, times[i].Add(d))
		}
	}
	checked := 0
	for _, from := range ends {
		for _, to := range ends {
			if !from.Before(to) {
				continue
			}
			want := 0.0
			for _, ev := range k.f.events {
				if !ev.Time.Before(from) && ev.Time.Before(to) {
					want++
				}
			}
			r := query.Range{From: from, To: to}
			for ename, e := range k.engines {
				rows, err := e.Segmentation(ctx, query.SegSpec{AppID: k.f.app, Range: r})
				if err != nil {
					t.Fatal(err)
				}
				if got := *rows[0]["count"].(*float64); got != want {
					t.Errorf("%s: [%s, %s): %v events, want %v", ename, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano), got, want)
				}
				evs, _, err := e.Events(ctx, k.f.app, r, nil, query.Page{Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				if want < 1000 && float64(len(evs)) != want {
					t.Errorf("%s: [%s, %s): the event log lists %d events, want %v", ename, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano), len(evs), want)
				}
			}
			checked++
		}
	}
	t.Logf("%d ranges", checked)
}

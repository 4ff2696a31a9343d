package clickhouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/storetest"
)

// collectorEvents returns n events of one app over two hours, users u0..u29,
// some with a logged company.
func collectorEvents(app string, n int) []event.Event {
	r := rand.New(rand.NewPCG(8, 1))
	base := time.Date(2026, 3, 1, 22, 30, 0, 0, time.UTC) // spans midnight: two daily partitions
	evs := make([]event.Event, n)
	for i := range evs {
		e := storetest.Event(app, i, base.Add(time.Duration(r.IntN(2*3600*1000))*time.Millisecond))
		e.UserID = fmt.Sprintf("u%d", r.IntN(30))
		if r.IntN(4) == 0 {
			e.CompanyID = "c" + e.UserID
		}
		e.LatencyMs = float64(r.IntN(5000)) / 4
		evs[i] = e
	}
	return evs
}

// TestCollectorsShareOneDatabase is two stateless collectors (two Stores on
// one database) taking the same deliveries at the same moment, as when
// Firehose times out on one and retries on the other, plus record-level
// redeliveries in new batches: every event is stored exactly once as
// readers that use FINAL see it, and the profiles are exact.
func TestCollectorsShareOneDatabase(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			cfg := tg.freshConfig(t)
			cfg.MaxOpenConns = 16
			a, b := tg.open(t, cfg), tg.open(t, cfg)
			defer a.Close()
			defer b.Close()
			ctx := context.Background()
			const n, size = 3000, 100
			evs := collectorEvents("app1", n)
			var batches []*store.Batch
			for i := 0; i < n; i += size {
				batches = append(batches, &store.Batch{AppID: "app1", ID: fmt.Sprintf("b%d", i/size), Received: time.Now(), Events: evs[i : i+size]})
			}
			// Record-level redeliveries: new batch ids, records of earlier batches.
			r := rand.New(rand.NewPCG(2, 2))
			for i := 0; i < 10; i++ {
				var re []event.Event
				for j := 0; j < 50; j++ {
					re = append(re, evs[r.IntN(n)])
				}
				batches = append(batches, &store.Batch{AppID: "app1", ID: fmt.Sprintf("re%d", i), Received: time.Now(), Events: re})
			}
			var stored atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, 4*len(batches))
			inflight := make(chan struct{}, 16) // 8 deliveries, each to both collectors
			for _, bt := range batches {
				for _, s := range []*Store{a, b} {
					wg.Add(1)
					inflight <- struct{}{}
					go func() {
						defer wg.Done()
						defer func() { <-inflight }()
						res, err := s.Append(ctx, bt)
						if err != nil {
							errs <- err
							return
						}
						stored.Add(int64(res.Stored))
					}()
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("append: %v", err)
			}
			// A late retry of every batch, after all were acknowledged, is
			// recognized by either collector.
			for i, bt := range batches {
				res, err := []*Store{a, b}[i%2].Append(ctx, bt)
				if err != nil || !res.BatchDuplicate || res.Stored != 0 {
					t.Fatalf("late retry of %s: %+v %v", bt.ID, res, err)
				}
			}

			var wantLatency float64
			first, last := map[string]time.Time{}, map[string]time.Time{}
			for _, e := range evs {
				wantLatency += e.LatencyMs
				sec := e.Time.Truncate(time.Second)
				if f, ok := first[e.UserID]; !ok || sec.Before(f) {
					first[e.UserID] = sec
				}
				if l, ok := last[e.UserID]; !ok || sec.After(l) {
					last[e.UserID] = sec
				}
			}
			var cnt, distinct, raw uint64
			var latency float64
			q := "SELECT count(), uniqExact(request_id), sum(latency_ms) FROM events FINAL WHERE app_id = ?"
			if err := a.conn.QueryRow(ctx, q, "app1").Scan(&cnt, &distinct, &latency); err != nil {
				t.Fatal(err)
			}
			if err := b.conn.QueryRow(ctx, "SELECT count() FROM events WHERE app_id = ?", "app1").Scan(&raw); err != nil {
				t.Fatal(err)
			}
			if cnt != n || distinct != n || latency != wantLatency {
				t.Fatalf("FINAL: %d events, %d distinct, latency sum %v; want %d, %d, %v", cnt, distinct, latency, n, n, wantLatency)
			}
			t.Logf("%d events; %d rows now (background merges may have folded copies already); collectors reported %d stored", n, raw, stored.Load())
			if stored.Load() < n {
				t.Errorf("collectors reported %d stored, fewer than the %d events", stored.Load(), n)
			}

			rows, err := b.Query(ctx, "SELECT user_id, first_seen, last_seen FROM users WHERE app_id = ?", "app1")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			seen := 0
			for rows.Next() {
				var u string
				var f, l time.Time
				if err := rows.Scan(&u, &f, &l); err != nil {
					t.Fatal(err)
				}
				seen++
				if !f.Equal(first[u]) || !l.Equal(last[u]) {
					t.Errorf("%s seen %v..%v, want %v..%v", u, f, l, first[u], last[u])
				}
			}
			if seen != len(first) {
				t.Errorf("%d users, want %d", seen, len(first))
			}
		})
	}
}

// TestCopiesFoldUnderFinal inserts every event twice behind the lookup's
// back, as two racing collectors can: the copies land on the same shard
// and FINAL reads each event once.
func TestCopiesFoldUnderFinal(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			s := tg.open(t, tg.freshConfig(t))
			defer s.Close()
			ctx := s.writeCtx(context.Background())
			evs := collectorEvents("app1", 1000)
			ptrs := make([]*event.Event, len(evs))
			for i := range evs {
				ptrs[i] = &evs[i]
			}
			for range 2 {
				if err := s.insertEvents(ctx, ptrs, arrivals(len(ptrs))); err != nil {
					t.Fatal(err)
				}
			}
			var raw, final uint64
			if err := s.conn.QueryRow(ctx, "SELECT count() FROM events WHERE app_id = ?", "app1").Scan(&raw); err != nil {
				t.Fatal(err)
			}
			if err := s.conn.QueryRow(ctx, "SELECT count() FROM events FINAL WHERE app_id = ?", "app1").Scan(&final); err != nil {
				t.Fatal(err)
			}
			if raw != 2000 || final != 1000 {
				t.Fatalf("raw %d rows, FINAL %d; want 2000 and 1000", raw, final)
			}
			// A batch of those events now finds them all stored.
			res, err := s.Append(context.Background(), &store.Batch{AppID: "app1", ID: "late", Events: evs})
			if err != nil || res.Stored != 0 || res.Duplicates != len(evs) {
				t.Fatalf("append of stored events: %+v %v", res, err)
			}
		})
	}
}

// TestRetryAfterPartialWrite is a batch that failed after its events were
// written but before its delivery record: the retry stores only the rest.
func TestRetryAfterPartialWrite(t *testing.T) {
	tg := singleTarget(t)
	s := tg.open(t, tg.freshConfig(t))
	defer s.Close()
	ctx := context.Background()
	evs := collectorEvents("app1", 200)
	half := make([]*event.Event, 0, 100)
	for i := 0; i < 100; i++ {
		half = append(half, &evs[i])
	}
	if err := s.insertEvents(ctx, half, arrivals(len(half))); err != nil {
		t.Fatal(err)
	}
	res, err := s.Append(ctx, &store.Batch{AppID: "app1", ID: "b1", Events: evs})
	if err != nil || res.Stored != 100 || res.Duplicates != 100 || res.BatchDuplicate {
		t.Fatalf("retry: %+v %v; want 100 stored, 100 duplicates", res, err)
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM events WHERE app_id = 'app1'").Scan(&n); err != nil || n != 200 {
		t.Fatalf("%d rows (%v), want 200", n, err)
	}
}

// arrivals is n arrival times of now, for inserts behind Append's back.
func arrivals(n int) []time.Time {
	out := make([]time.Time, n)
	now := time.Now()
	for i := range out {
		out[i] = now
	}
	return out
}

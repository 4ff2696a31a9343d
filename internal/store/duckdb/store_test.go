package duckdb

import (
	"context"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/storetest"
)

func testConfig(dir string) Config {
	cfg := DefaultConfig(dir)
	cfg.MemoryLimit = "512MB"
	cfg.Threads = 2
	cfg.FlushInterval = 50 * time.Millisecond
	return cfg
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), testConfig(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// abandon stops s as a crash would: the loader stops, nothing pending is
// loaded, and the files are left as they are.
func abandon(t *testing.T, s *Store) {
	t.Helper()
	close(s.stop)
	<-s.done
	s.spool.Close()
	s.db.Close()
}

func TestReplayAfterCrash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.FlushInterval = 10 * time.Second // nothing loads before the "crash"
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	b := &store.Batch{AppID: "app1", ID: "b1", Received: time.Now()}
	for i := 0; i < 50; i++ {
		b.Events = append(b.Events, storetest.Event("app1", i, at))
	}
	if _, err := s.Append(ctx, b); err != nil {
		t.Fatal(err)
	}
	// Load half of it, as if the crash came between two loads.
	if _, err := s.Append(ctx, &store.Batch{AppID: "app1", ID: "b2", Received: time.Now(), Events: []event.Event{storetest.Event("app1", 100, at)}}); err != nil {
		t.Fatal(err)
	}
	abandon(t, s)

	s, err = Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.db.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 51 {
		t.Fatalf("after replay: %d events, want 51", n)
	}
	// The retry of an acknowledged batch after the restart is recognized.
	res, err := s.Append(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if !res.BatchDuplicate || res.Stored != 0 {
		t.Fatalf("retry after restart: %+v, want a batch duplicate", res)
	}
	// So is one of its records in a new batch.
	res, err = s.Append(ctx, &store.Batch{AppID: "app1", ID: "b3", Events: []event.Event{storetest.Event("app1", 7, at)}})
	if err != nil || res.Stored != 0 || res.Duplicates != 1 {
		t.Fatalf("record retry after restart: %+v %v", res, err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil || n != 51 {
		t.Fatalf("after retries: %d events (%v), want 51", n, err)
	}
}

func TestReplayIsNotRepeated(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t.TempDir())
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, err := s.Append(ctx, &store.Batch{AppID: "app1", Events: []event.Event{storetest.Event("app1", 1, at)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	abandon(t, s) // loaded, then crashed: the spool still holds the frame
	for i := 0; i < 2; i++ {
		s, err = Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := s.db.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil || n != 1 {
			t.Fatalf("open %d: %d events (%v), want 1", i, n, err)
		}
		abandon(t, s)
	}
}

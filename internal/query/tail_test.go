package query_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/storetest"
)

// TestTailStartsWhenOpened: a tail sends what arrives after it opens and
// what commits late within its overlap, never the events that arrived
// seconds before it opened (a page has just listed those).
func TestTailStartsWhenOpened(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	e, err := query.NewEngine(s)
	if err != nil {
		t.Fatal(err)
	}
	add := func(i int, received time.Time) string {
		t.Helper()
		ev := storetest.Event("app1", i, received)
		if _, err := s.Append(ctx, &store.Batch{AppID: "app1", Received: received, Events: []event.Event{ev}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return ev.RequestID
	}
	poll := func(tail *query.Tail) []string {
		t.Helper()
		evs, err := e.Poll(ctx, tail, "app1", nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ev := range evs {
			ids = append(ids, ev.RequestID)
		}
		return ids
	}
	opened := time.Now().UTC()
	add(1, opened.Add(-3*time.Second)) // inside the 5 s overlap, before the tail (and its rounding)
	tail := e.NewTail(time.Second)
	after := add(2, opened.Add(2*time.Second))
	if got := poll(tail); len(got) != 1 || got[0] != after {
		t.Fatalf("first poll sent %v, want only %s (the event from before the tail is not new)", got, after)
	}
	// Stamped before the last one sent but after the tail opened: a load
	// that committed late. The overlap finds it.
	late := add(3, opened.Add(500*time.Millisecond))
	if got := poll(tail); len(got) != 1 || got[0] != late {
		t.Fatalf("second poll sent %v, want only %s", got, late)
	}
	if got := poll(tail); len(got) != 0 {
		t.Fatalf("third poll sent %v again", got)
	}
}

package clickhouse

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
)

// Group commit. Every INSERT into a MergeTree table writes a new part, a
// file per column, whatever the number of rows: on the CI machine about
// 100 ms for the events table, 500 rows or 50,000. So the deliveries that
// wait while one commit runs are written together by the next: one INSERT
// per table for the whole group, the tables written in parallel, the
// delivery records last. Every Append of a group gets the group's outcome.

// delivery is one Append's share of a group commit.
type delivery struct {
	app, id  string
	received time.Time
	events   []*event.Event // checked against the table by the caller
	rejected []rejectedRow
	res      store.AppendResult
	done     chan error
}

// commitLoop runs the group commits until the store closes.
func (s *Store) commitLoop() {
	defer close(s.committed)
	for {
		var first *delivery
		select {
		case first = <-s.queue:
		case <-s.stop:
			// Appends hold mu until they are answered and Close takes it
			// before stop closes, so nothing waits in the queue now.
			return
		}
		group, events := []*delivery{first}, len(first.events)
	drain:
		for events < s.cfg.MaxGroupEvents {
			select {
			case d := <-s.queue:
				group = append(group, d)
				events += len(d.events)
			default:
				break drain
			}
		}
		ctx, cancel := context.WithTimeout(s.writeCtx(context.Background()), s.cfg.InsertTimeout)
		err := s.commit(ctx, group)
		cancel()
		for _, d := range group {
			d.done <- err
		}
	}
}

// commit writes a group. Events are deduplicated across its deliveries
// (the callers each checked theirs against the table only).
func (s *Store) commit(ctx context.Context, group []*delivery) error {
	seen := map[eventKey]bool{}
	batches := map[eventKey]bool{}
	var evs []*event.Event
	var recv []time.Time
	var rejected []rejectedRow
	var markers []*delivery
	for _, d := range group {
		if d.id != "" {
			k := eventKey{d.app, d.id}
			if batches[k] {
				// The same delivery twice in one group: the second is a retry.
				d.res = store.AppendResult{BatchDuplicate: true, Duplicates: d.res.Duplicates + len(d.events)}
				continue
			}
			batches[k] = true
			markers = append(markers, d)
		}
		for _, e := range d.events {
			k := keyOf(e)
			if seen[k] {
				d.res.Duplicates++
				continue
			}
			seen[k] = true
			evs = append(evs, e)
			recv = append(recv, d.received)
			d.res.Stored++
		}
		rejected = append(rejected, d.rejected...)
	}
	users, companies := sightingRows(evs)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, step := range []struct {
		op string
		fn func() error
	}{
		{"insert events", func() error { return s.insertEvents(ctx, evs, recv) }},
		{"insert rejected records", func() error { return s.insertRejected(ctx, rejected) }},
		{"record users", func() error { return s.insertProfileRows(ctx, usersKind, users) }},
		{"record companies", func() error { return s.insertProfileRows(ctx, compKind, companies) }},
	} {
		wg.Go(func() {
			if err := step.fn(); err != nil {
				mu.Lock()
				errs = append(errs, retryable(step.op, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// Last: a delivery is recorded only once all of it is stored.
	if err := s.insertBatches(ctx, markers); err != nil {
		return retryable("record the deliveries", err)
	}
	return nil
}

package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
)

// Append implements store.Store. It returns once ClickHouse has
// acknowledged every insert of the batch (on a cluster, every shard's).
//
// Exactly once, without state in the collector: a batch whose id the
// batches table holds is dropped whole; otherwise the events already stored
// are looked up by their key and skipped. The delivery record is written
// last, so a batch that failed half-way is retried in full and the lookup
// drops what had made it. Two collectors handling the same retry at the same
// moment can both insert an event; the copies share the sorting key, so
// ReplacingMergeTree folds them and readers that use FINAL never see two
// (docs/clickhouse.md). In that race both report the events as stored.
func (s *Store) Append(ctx context.Context, b *store.Batch) (store.AppendResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.AppendResult{}, store.ErrClosed
	}
	start := time.Now()
	received := b.Received
	if received.IsZero() {
		received = start
	}
	res, err := s.append(s.writeCtx(ctx), b, received.UTC())
	if err != nil {
		if isOverloaded(err) {
			s.metrics.overloaded.Inc()
		}
		return store.AppendResult{}, err
	}
	s.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	s.metrics.storedEvents.Add(float64(res.Stored))
	return res, nil
}

func (s *Store) append(ctx context.Context, b *store.Batch, received time.Time) (store.AppendResult, error) {
	var res store.AppendResult
	if b.ID != "" {
		seen, err := s.batchStored(ctx, b.AppID, b.ID)
		if err != nil {
			return res, retryable("look up the delivery", err)
		}
		if seen {
			res.BatchDuplicate = true
			res.Duplicates = len(b.Events)
			return res, nil
		}
	}
	fresh, err := s.freshEvents(ctx, b.Events)
	if err != nil {
		return res, retryable("look up stored events", err)
	}
	// Profile updates are rare (the Moesif-compatible API) and read their
	// log back, so they go their own way, before the delivery record.
	if err := s.applyUpdates(ctx, b, received); err != nil {
		return res, retryable("update profiles", err)
	}
	d := &delivery{app: b.AppID, id: b.ID, received: received, events: fresh,
		rejected: rejectedRows(b, received), done: make(chan error, 1)}
	d.res.Duplicates = len(b.Events) - len(fresh)
	if len(d.events) == 0 && len(d.rejected) == 0 && d.id == "" {
		return d.res, nil
	}
	select {
	case s.queue <- d:
	case <-ctx.Done():
		return res, retryable("queue the batch", ctx.Err())
	}
	// Wait even if ctx ends: the commit reads the batch's memory, which the
	// caller may reuse once Append returns. InsertTimeout bounds the wait.
	if err := <-d.done; err != nil {
		return res, err
	}
	return d.res, nil
}

func (s *Store) batchStored(ctx context.Context, app, id string) (bool, error) {
	var n uint64
	err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.lay.q(batchesTable.name)+" WHERE app_id = ? AND batch_id = ?",
		validText(app), validText(id)).Scan(&n)
	return n > 0, err
}

func (s *Store) insertBatches(ctx context.Context, ds []*delivery) error {
	if len(ds) == 0 {
		return nil
	}
	bt, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.lay.q(batchesTable.name)+" "+insertColumns(batchesTable))
	if err != nil {
		return err
	}
	for _, d := range ds {
		if err := bt.Append(validText(d.app), validText(d.id), clampTime(d.received), uint64(d.res.Stored)); err != nil {
			bt.Abort()
			return err
		}
	}
	return bt.Send()
}

// DateTime holds seconds from 1970 to 2106 in a UInt32; times outside are
// clamped rather than wrapped.
var (
	minDateTime = time.Unix(0, 0).UTC()
	maxDateTime = time.Unix(1<<32-1, 0).UTC()
)

func clampTime(t time.Time) time.Time {
	switch {
	case t.Before(minDateTime):
		return minDateTime
	case t.After(maxDateTime):
		return maxDateTime
	}
	return t
}

type eventKey struct{ app, requestID string }

// keyOf is an event's key as stored (text is stored valid UTF-8).
func keyOf(e *event.Event) eventKey { return eventKey{validText(e.AppID), validText(e.RequestID)} }

// freshEvents returns the events of the batch that are stored neither
// earlier in the batch nor in the table, in batch order.
func (s *Store) freshEvents(ctx context.Context, evs []event.Event) ([]*event.Event, error) {
	seen := make(map[eventKey]bool, len(evs))
	cand := make([]*event.Event, 0, len(evs))
	for i := range evs {
		k := keyOf(&evs[i])
		if !seen[k] {
			seen[k] = true
			cand = append(cand, &evs[i])
		}
	}
	if len(cand) == 0 {
		return cand, nil
	}
	// The batch's keys travel as an external table; the lookup reads only
	// the granules of the batch's time span (the key starts app_id, time).
	keys, err := ext.NewTable("batch_keys", ext.Column("app_id", "String"), ext.Column("time", dateTime), ext.Column("request_id", "String"))
	if err != nil {
		return nil, err
	}
	lo, hi := maxDateTime, minDateTime
	for _, e := range cand {
		t := clampTime(e.Time).Truncate(time.Second)
		if t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
		k := keyOf(e)
		if err := keys.Append(k.app, t, k.requestID); err != nil {
			return nil, err
		}
	}
	q := "SELECT app_id, request_id FROM " + s.lay.q(eventsTable.name) +
		" WHERE time >= ? AND time <= ? AND (app_id, time, request_id) GLOBAL IN (SELECT app_id, time, request_id FROM batch_keys)"
	rows, err := s.conn.Query(withExternal(ctx, keys), q, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	stored := map[eventKey]bool{}
	for rows.Next() {
		var k eventKey
		if err := rows.Scan(&k.app, &k.requestID); err != nil {
			return nil, err
		}
		stored[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(stored) == 0 {
		return cand, nil
	}
	fresh := cand[:0]
	for _, e := range cand {
		if !stored[keyOf(e)] {
			fresh = append(fresh, e)
		}
	}
	return fresh, nil
}

func withExternal(ctx context.Context, t *ext.Table) context.Context {
	return chgo.Context(ctx, chgo.WithExternalTable(t))
}

// maxDaysPerInsert keeps one INSERT within current servers' default
// max_partitions_per_insert_block (100); 18.16 has no such limit.
const maxDaysPerInsert = 90

// insertEvents writes evs, at most maxDaysPerInsert daily partitions per
// INSERT. A batch normally spans a minute or two and needs one.
// received[i] is when event i's batch arrived.
func (s *Store) insertEvents(ctx context.Context, evs []*event.Event, received []time.Time) error {
	for len(evs) > 0 {
		n := prefixWithinDays(evs, maxDaysPerInsert)
		if err := s.insertEventChunk(ctx, evs[:n], received[:n]); err != nil {
			return err
		}
		evs, received = evs[n:], received[n:]
	}
	return nil
}

// prefixWithinDays returns how many leading events fall on at most max
// distinct days; events are in batch order, so a backfill batch spanning
// many days is cut into several INSERTs.
func prefixWithinDays(evs []*event.Event, max int) int {
	days := map[int64]bool{}
	for i, e := range evs {
		d := clampTime(e.Time).Unix() / 86400
		if !days[d] && len(days) == max {
			return i
		}
		days[d] = true
	}
	return len(evs)
}

func (s *Store) insertEventChunk(ctx context.Context, evs []*event.Event, received []time.Time) error {
	cols := newEventColumns(evs, received)
	bt, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.lay.q(eventsTable.name)+" "+insertColumns(eventsTable))
	if err != nil {
		return err
	}
	for i, c := range cols.list() {
		if err := bt.Column(i).Append(c); err != nil {
			bt.Abort()
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return bt.Send()
}

// rejectedRow is a rejected record ready to insert.
type rejectedRow struct {
	app     string
	at      time.Time
	source  string
	reason  string
	batchID *string
	raw     string
	key     string
}

func rejectedRows(b *store.Batch, received time.Time) []rejectedRow {
	out := make([]rejectedRow, len(b.Rejected))
	for i := range b.Rejected {
		r := &b.Rejected[i]
		row := rejectedRow{app: r.AppID, at: r.Received, source: string(r.Source), reason: validText(r.Reason), raw: string(r.Raw), key: randomKey()}
		if row.app == "" {
			row.app = b.AppID
		}
		if row.at.IsZero() {
			row.at = received
		}
		if r.BatchID != "" {
			id := r.BatchID
			row.batchID = &id
		}
		if b.ID != "" {
			// A retry of the batch rewrites the same keys, which fold.
			row.key = b.ID + "#" + strconv.Itoa(i)
		}
		out[i] = row
	}
	return out
}

func (s *Store) insertRejected(ctx context.Context, rows []rejectedRow) error {
	if len(rows) == 0 {
		return nil
	}
	bt, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.lay.q(rejectedTable.name)+" "+insertColumns(rejectedTable))
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := bt.Append(r.app, clampTime(r.at.UTC()), r.source, r.reason, r.batchID, r.raw, r.key); err != nil {
			bt.Abort()
			return err
		}
	}
	return bt.Send()
}

func randomKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

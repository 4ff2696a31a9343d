package query

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/query/rollup"
	"github.com/gatescope/gatescope/internal/store"
)

// eventWindows are the spans a newest-first listing tries in turn: most
// pages are found in the last hour, and a bounded time range lets the
// store skip the rest of the table.
var eventWindows = []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 0}

// Events returns a page of an app's events in r matching f, newest first,
// and the cursor of the next page ("" when there is none).
func (e *Engine) Events(ctx context.Context, app string, r Range, f *Filter, p Page) ([]Event, string, error) {
	if app == "" {
		return nil, "", badQuery("app_id is required")
	}
	if p.Limit <= 0 {
		p.Limit = 100
	}
	if p.Limit > MaxLimit {
		return nil, "", badQuery("limit %d is over %d", p.Limit, MaxLimit)
	}
	var after *cursor
	to := r.To
	if p.Cursor != "" {
		c, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		after = &c
		if ct := time.UnixMicro(c.T).UTC().Add(time.Microsecond); to.IsZero() || ct.Before(to) {
			to = ct
		}
	}
	// The windows reach back from the end of the range, or from the
	// latest data when the range is open-ended.
	anchor := to
	if anchor.IsZero() {
		var err error
		if anchor, err = e.latestData(ctx, app); err != nil {
			return nil, "", err
		}
	}
	var events []Event
	for _, w := range eventWindows {
		from := r.From
		if w > 0 && !anchor.IsZero() && (from.IsZero() || anchor.Add(-w).After(from)) {
			from = anchor.Add(-w)
		} else {
			w = 0
		}
		var err error
		events, err = e.eventsIn(ctx, app, Range{from, to}, f, after, p.Limit+1)
		if err != nil {
			return nil, "", err
		}
		if len(events) > p.Limit || w == 0 {
			break
		}
	}
	next := ""
	if len(events) > p.Limit {
		events = events[:p.Limit]
		last := events[len(events)-1]
		next = cursor{T: last.Time.UnixMicro(), ID: last.RequestID}.encode()
	}
	return events, next, nil
}

func (e *Engine) eventsIn(ctx context.Context, app string, r Range, f *Filter, after *cursor, limit int) ([]Event, error) {
	if e.onClickHouse() { // dialect_clickhouse_events.go
		return e.chEventsIn(ctx, app, r, f, after, limit)
	}
	wx, needUser, _, err := e.c.forApp(app).where(srcRaw, f)
	if err != nil {
		return nil, err
	}
	where := []string{"e.app_id = ?"}
	args := []any{app}
	if !r.From.IsZero() {
		where = append(where, "e.time >= ?")
		args = append(args, r.From)
	}
	if !r.To.IsZero() {
		where = append(where, "e.time < ?")
		args = append(args, r.To)
	}
	if after != nil {
		t := time.UnixMicro(after.T).UTC()
		where = append(where, "(e.time < ? OR (e.time = ? AND e.request_id < ?))")
		args = append(args, t, t, after.ID)
	}
	where = append(where, "("+wx.text+")")
	args = append(args, wx.args...)
	// The page's keys are found first, reading only the columns the
	// filter and the order need; the page's rows are then fetched whole.
	keys := "SELECT e.time, e.request_id FROM events e"
	if needUser {
		keys += " LEFT JOIN users u ON u.app_id = e.app_id AND u.user_id = e.user_id"
	}
	keys += " WHERE " + strings.Join(where, " AND ") + " ORDER BY e.time DESC, e.request_id DESC LIMIT " + strconv.Itoa(limit)
	rows, err := e.query(ctx, keys, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	var lo, hi time.Time
	var ids []any
	for rows.Next() {
		var t time.Time
		var id string
		if err := rows.Scan(&t, &id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list events: %w", err)
		}
		if lo.IsZero() || t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	if len(ids) == 0 {
		return []Event{}, nil
	}
	// The page's rows are read first, then joined to their users: joined
	// in the scan, the statement cost about 30 % more. The ids are a
	// list (listContains: the statement 0.8x).
	sel := eventSelect(e.c.d)
	q := `WITH p AS MATERIALIZED (SELECT * FROM events e
		WHERE e.app_id = ? AND e.time >= ? AND e.time <= ? AND ` + listContains(len(ids), "e.request_id") + `)
		SELECT ` + sel.text + ` FROM p e LEFT JOIN users u ON u.app_id = e.app_id AND u.user_id = e.user_id
		ORDER BY e.time DESC, e.request_id DESC`
	return e.scanEvents(ctx, q, append(append([]any{app, lo, hi}, ids...), sel.args...))
}

// latestData is the end of the hour of the app's latest event (from the
// rollups), or the zero time when unknown.
func (e *Engine) latestData(ctx context.Context, app string) (time.Time, error) {
	if e.onClickHouse() { // dialect_clickhouse_events.go
		return e.chLatestData(ctx, app)
	}
	if !e.rollups {
		return time.Time{}, nil
	}
	rows, err := e.query(ctx, "SELECT last_time FROM "+rollup.AppSpan+" WHERE app_id = ?", app)
	if err != nil {
		return time.Time{}, fmt.Errorf("latest data: %w", err)
	}
	defer rows.Close()
	var t *time.Time
	if rows.Next() {
		if err := rows.Scan(&t); err != nil {
			return time.Time{}, fmt.Errorf("latest data: %w", err)
		}
	}
	if t == nil {
		return time.Time{}, rows.Err()
	}
	return t.UTC().Truncate(time.Hour).Add(time.Hour), rows.Err()
}

func (e *Engine) scanEvents(ctx context.Context, q string, args []any) ([]Event, error) {
	rows, err := e.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	events := []Event{}
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		events = append(events, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

// Event returns one event by request id; store.ErrNotFound if there is
// none. at, when not zero, is the event's time (as a listing showed it):
// the search then reads only the rows of that second instead of the table.
func (e *Engine) Event(ctx context.Context, app, requestID string, at time.Time) (Event, error) {
	if e.onClickHouse() { // dialect_clickhouse_events.go
		return e.chEvent(ctx, app, requestID, at)
	}
	sel := eventSelect(e.c.d)
	q := "SELECT " + sel.text + ` FROM events e LEFT JOIN users u ON u.app_id = e.app_id AND u.user_id = e.user_id
		WHERE e.app_id = ? AND e.request_id = ?`
	args := append(sel.args, app, requestID)
	if !at.IsZero() {
		q += " AND e.time >= ? AND e.time <= ?"
		args = append(args, at.Add(-time.Second), at.Add(time.Second))
	} else if e.rollups {
		return e.eventByHash(ctx, q, args, app, requestID)
	}
	evs, err := e.scanEvents(ctx, q+" LIMIT 1", args)
	if err != nil {
		return Event{}, err
	}
	if len(evs) == 0 {
		return Event{}, fmt.Errorf("event %q: %w", requestID, store.ErrNotFound)
	}
	return evs[0], nil
}

// eventByHash finds an event without its time: the events from the
// request-id rollup's end (the sealed days', so the last day or so) are
// read, then the rollup names the earlier hours holding an id of the same
// hash (one, or rarely a few), newest first, and only those are read.
func (e *Engine) eventByHash(ctx context.Context, q string, args []any, app, requestID string) (Event, error) {
	m, err := e.rollupMarks(ctx, app)
	if err != nil {
		return Event{}, err
	}
	sealed := m.sealed
	// From sealed on (everything when it is zero), the events themselves.
	evs, err := e.scanEvents(ctx, q+" AND e.time >= ? LIMIT 1", append(args[:len(args):len(args)], sealed))
	if err != nil {
		return Event{}, err
	}
	if len(evs) > 0 {
		return evs[0], nil
	}
	notFound := fmt.Errorf("event %q: %w", requestID, store.ErrNotFound)
	if sealed.IsZero() {
		return Event{}, notFound
	}
	rows, err := e.query(ctx, "SELECT DISTINCT hour FROM "+rollup.RequestIDs+" WHERE app_id = ? AND h = "+rollup.RequestIDHashSQL("?")+
		" ORDER BY hour DESC", app, requestID)
	if err != nil {
		return Event{}, fmt.Errorf("event by id: %w", err)
	}
	var hours []time.Time
	for rows.Next() {
		var h time.Time
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return Event{}, fmt.Errorf("event by id: %w", err)
		}
		hours = append(hours, h.UTC())
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Event{}, fmt.Errorf("event by id: %w", err)
	}
	for _, h := range hours {
		evs, err := e.scanEvents(ctx, q+" AND e.time >= ? AND e.time < ? LIMIT 1", append(args[:len(args):len(args)], h, h.Add(time.Hour)))
		if err != nil {
			return Event{}, err
		}
		if len(evs) > 0 {
			return evs[0], nil
		}
	}
	return Event{}, notFound
}

// Tail is a live tail's position: what it has sent.
type Tail struct {
	// start bounds every poll's look-back: a tail shows what arrives
	// after it opens (NewTail's lookBack before, rounded down to the
	// second), not the overlap's worth of events before it: a backfill's
	// last seconds would flood a page that has just listed them.
	start time.Time
	since time.Time
	sent  map[string]time.Time // request id -> received_at, within the overlap
}

// tailOverlap is how far back each poll looks again: loads commit batches
// in spool order, which may differ from their arrival stamps by a little.
const tailOverlap = 5 * time.Second

// NewTail starts a tail at lookBack before now: a second covers a page
// listed just before it opens; a reconnecting client needs the gap since
// its last stream.
func (e *Engine) NewTail(lookBack time.Duration) *Tail {
	start := e.now().UTC().Add(-lookBack)
	return &Tail{start: start, since: start, sent: map[string]time.Time{}}
}

// Poll returns the events received since the last poll that match f,
// oldest first, at most limit.
func (e *Engine) Poll(ctx context.Context, t *Tail, app string, f *Filter, limit int) ([]Event, error) {
	wx, _, _, err := e.c.where(srcRaw, f)
	if err != nil {
		return nil, err
	}
	from := t.since.Add(-tailOverlap)
	// Whole seconds: ClickHouse keeps received_at in seconds.
	if start := t.start.Truncate(time.Second); from.Before(start) {
		from = start
	}
	sel := eventSelect(e.c.d)
	q := "SELECT " + sel.text + ", e.received_at FROM events e LEFT JOIN users u ON u.app_id = e.app_id AND u.user_id = e.user_id" +
		" WHERE e.app_id = ? AND e.received_at >= ? AND (" + wx.text + ") ORDER BY e.received_at, e.time, e.request_id LIMIT " + strconv.Itoa(limit+len(t.sent))
	args := append(append(sel.args, app, from), wx.args...)
	if e.onClickHouse() { // dialect_clickhouse_events.go: same rows
		if q, args, err = e.chPollSQL(app, from, f, limit+len(t.sent)); err != nil {
			return nil, err
		}
	}
	rows, err := e.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("tail events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var received time.Time
		ev, err := scanEventPlus(rows, &received)
		if err != nil {
			return nil, fmt.Errorf("tail events: %w", err)
		}
		received = received.UTC()
		if _, dup := t.sent[ev.RequestID]; dup {
			continue
		}
		if len(out) < limit {
			out = append(out, ev)
			t.sent[ev.RequestID] = received
			if received.After(t.since) {
				t.since = received
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tail events: %w", err)
	}
	for id, at := range t.sent {
		if at.Before(t.since.Add(-2 * tailOverlap)) {
			delete(t.sent, id)
		}
	}
	return out, nil
}

// MetadataKeys lists the metadata keys of an app's latest events (up to
// 1000 of them), sorted.
func (e *Engine) MetadataKeys(ctx context.Context, app string) ([]string, error) {
	if e.onClickHouse() { // dialect_clickhouse_events.go
		return e.chMetadataKeys(ctx, app)
	}
	rows, err := e.query(ctx, `SELECT DISTINCT k FROM (SELECT unnest(json_keys(metadata)) AS k FROM
		(SELECT metadata FROM events WHERE app_id = ? AND metadata IS NOT NULL AND time >= ? ORDER BY time DESC LIMIT 1000) m) x ORDER BY k`,
		app, e.now().UTC().Add(-7*24*time.Hour))
	if err != nil {
		return nil, fmt.Errorf("metadata keys: %w", err)
	}
	defer rows.Close()
	keys := []string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("metadata keys: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

package query

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/gatescope/gatescope/internal/store"
)

// The event log on ClickHouse: the statements of eventlog.go in
// ClickHouse's form, scanned by the shared scanEvent. The time column is
// selected as the tuple (time, ms), which the store's Query returns as
// one time.Time with milliseconds (18.16 has no DateTime64).

// chEventColumns are eventColumns on ClickHouse, in the same order.
const chEventColumns = `e.app_id, e.request_id, (e.time, e.ms), e.api_id, e.stage, e.method, e.path, e.route, e.host, e.protocol,
	e.status, e.response_bytes, e.latency_ms, e.integration_latency_ms, e.ip, e.user_agent, e.user_id,
	coalesce(e.company_id, u_company_id), e.api_key_id, e.principal_id, e.cognito_identity_id, e.caller,
	e.user_arn, e.error_message, e.error_type, e.source, e.metadata`

func chEventSelect() sqlExpr {
	rj, args := chRejected()
	return sqlExpr{chEventColumns + ", " + rj, args}
}

// chEventsIn is eventsIn: the page's keys first, reading only the
// columns the filter and the order need, then the page's rows.
func (e *Engine) chEventsIn(ctx context.Context, app string, r Range, f *Filter, after *cursor, limit int) ([]Event, error) {
	var more []sqlExpr
	if after != nil {
		sec, ms := splitMs(time.UnixMicro(after.T).UTC())
		more = append(more, sqlExpr{"e.time <= ? AND (e.time < ? OR e.ms < ? OR (e.ms = ? AND e.request_id < ?))", []any{sec, sec, ms, ms, after.ID}})
	}
	// No FINAL: copies share time and request id, and LIMIT 1 BY keeps one.
	scan, _, err := e.c.chScan(app, r, f, false, false, nil, more...)
	if err != nil {
		return nil, err
	}
	keys := "SELECT e.time_ms, e.request_id FROM " + scan.text +
		" ORDER BY e.time DESC, e.ms DESC, e.request_id DESC LIMIT 1 BY e.request_id LIMIT " + strconv.Itoa(limit)
	rows, err := e.query(ctx, keys, scan.args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	var lo, hi int64
	var ids []any
	for rows.Next() {
		var ms int64
		var id string
		if err := rows.Scan(&ms, &id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list events: %w", err)
		}
		if len(ids) == 0 || ms < lo {
			lo = ms
		}
		hi = max(hi, ms)
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	if len(ids) == 0 {
		return []Event{}, nil
	}
	// The rows by key, without FINAL: copies of an event are the same
	// event, and LIMIT 1 BY keeps one.
	sel := chEventSelect()
	q := "SELECT " + sel.text + " FROM events AS e" + chUserJoin + ` WHERE e.app_id = ? AND e.time >= ? AND e.time <= ?
		AND e.request_id IN (` + placeholders(len(ids)) + `)
		ORDER BY e.time DESC, e.ms DESC, e.request_id DESC LIMIT 1 BY e.request_id`
	loT, hiT := time.UnixMilli(lo).UTC(), time.UnixMilli(hi).UTC()
	return e.scanEvents(ctx, q, append(append(sel.args, app, app, loT, hiT), ids...))
}

// chLatestData is latestData: the second after the app's latest event
// (max needs no FINAL: copies share their time).
func (e *Engine) chLatestData(ctx context.Context, app string) (time.Time, error) {
	rows, err := e.query(ctx, "SELECT max(time), count() FROM events WHERE app_id = ?", app)
	if err != nil {
		return time.Time{}, fmt.Errorf("latest data: %w", err)
	}
	defer rows.Close()
	var t time.Time
	var n int64
	if rows.Next() {
		if err := rows.Scan(&t, &n); err != nil {
			return time.Time{}, fmt.Errorf("latest data: %w", err)
		}
	}
	if n == 0 {
		return time.Time{}, rows.Err()
	}
	return t.UTC().Add(time.Second), rows.Err()
}

// chEvent is Event: any copy of the event will do, so no FINAL. The
// event's second is found first without the users join, whose presence
// keeps 18.16 from reading the request id column alone (PREWHERE) and
// makes it read every column of every row; then the row is read from
// that second.
func (e *Engine) chEvent(ctx context.Context, app, requestID string, at time.Time) (Event, error) {
	q := "SELECT e.time FROM events AS e WHERE e.app_id = ? AND e.request_id = ?"
	args := []any{app, requestID}
	if !at.IsZero() {
		// The time as a listing showed it, to the millisecond.
		q += " AND " + chRangeText(Range{From: at.Add(-time.Second), To: at.Add(time.Second + time.Millisecond)}, &args)
	}
	rows, err := e.query(ctx, q+" LIMIT 1", args...)
	if err != nil {
		return Event{}, fmt.Errorf("event %q: %w", requestID, err)
	}
	var sec time.Time
	found := rows.Next()
	if found {
		err = rows.Scan(&sec)
	}
	rows.Close()
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return Event{}, fmt.Errorf("event %q: %w", requestID, err)
	}
	if !found {
		return Event{}, fmt.Errorf("event %q: %w", requestID, store.ErrNotFound)
	}
	sel := chEventSelect()
	evs, err := e.scanEvents(ctx, "SELECT "+sel.text+" FROM events AS e"+chUserJoin+
		" WHERE e.app_id = ? AND e.time = ? AND e.request_id = ? LIMIT 1", append(sel.args, app, app, sec.UTC(), requestID))
	if err != nil {
		return Event{}, err
	}
	if len(evs) == 0 { // dropped by retention in between
		return Event{}, fmt.Errorf("event %q: %w", requestID, store.ErrNotFound)
	}
	return evs[0], nil
}

// chRangeText is chRange, its arguments appended to args.
func chRangeText(r Range, args *[]any) string {
	t, a := chRange(r)
	*args = append(*args, a...)
	return t
}

// chPollSQL is the statement of Poll: events received since from
// (received_at is in seconds; the tail's overlap covers the fraction).
// No FINAL: Poll drops a request id it has already sent.
func (e *Engine) chPollSQL(app string, from time.Time, f *Filter, limit int) (string, []any, error) {
	scan, _, err := e.c.chScan(app, Range{}, f, false, true, nil, sqlExpr{"e.received_at >= ?", []any{from}})
	if err != nil {
		return "", nil, err
	}
	sel := chEventSelect()
	q := "SELECT " + sel.text + ", e.received_at FROM " + scan.text + " ORDER BY e.received_at, e.time_ms, e.request_id LIMIT " + strconv.Itoa(limit)
	return q, append(sel.args, scan.args...), nil
}

// chMetadataKeys is MetadataKeys: 18.16 cannot list a JSON object's keys,
// so the latest metadata documents are read and their keys listed here.
func (e *Engine) chMetadataKeys(ctx context.Context, app string) ([]string, error) {
	rows, err := e.query(ctx, `SELECT metadata_raw FROM events WHERE app_id = ? AND metadata_raw != '' AND time >= ?
		ORDER BY time DESC LIMIT 1000`, app, e.now().UTC().Add(-7*24*time.Hour))
	if err != nil {
		return nil, fmt.Errorf("metadata keys: %w", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("metadata keys: %w", err)
		}
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(doc), &m) != nil {
			continue // not an object: it has no keys
		}
		for k := range m {
			seen[k] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("metadata keys: %w", err)
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}

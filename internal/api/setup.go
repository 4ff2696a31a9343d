package api

import (
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatescope/gatescope/internal/accesslog"
)

// What the dashboard's set-up page needs beyond the app itself: the
// recommended access-log formats and whether data has arrived.

const (
	// recentRejected is how many rejected records the status shows.
	recentRejected = 20
	// rawPreview caps the bytes of a rejected record shown, so that a
	// megabyte record cannot bloat the answer.
	rawPreview = 2 << 10
)

// logFormats answers the recommended access-log format of every API kind.
func (a *API) logFormats(w http.ResponseWriter, r *http.Request) error {
	out := make(map[string]string, len(accesslog.APIs))
	for _, kind := range accesslog.APIs {
		f, err := accesslog.FormatFor(string(kind))
		if err != nil {
			return fmt.Errorf("log format %s: %w", kind, err)
		}
		out[string(kind)] = f
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// AppStatus says whether an app's data is arriving.
type AppStatus struct {
	AppID string `json:"app_id"`
	// LastBatchAt is when the latest delivery was stored; nil before any.
	LastBatchAt *time.Time `json:"last_batch_at"`
	// LastBatchEvents is the number of events that delivery carried.
	LastBatchEvents int64 `json:"last_batch_events"`
	Batches         int64 `json:"batches"`
	// Events is the sum over deliveries of the events they stored.
	Events   int64            `json:"events"`
	Rejected int64            `json:"rejected"`
	Reasons  []RejectedReason `json:"rejected_reasons"`
	Recent   []RejectedRecord `json:"recent_rejected"`
}

// RejectedReason counts the rejected records that share a reason.
type RejectedReason struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// RejectedRecord is one record that could not become an event.
type RejectedRecord struct {
	ReceivedAt time.Time `json:"received_at"`
	Source     string    `json:"source"`
	Reason     string    `json:"reason"`
	BatchID    *string   `json:"batch_id"`
	// Raw is the record's first bytes as text (invalid UTF-8 replaced);
	// Truncated says that there was more.
	Raw       string `json:"raw"`
	RawBytes  int    `json:"raw_bytes"`
	Truncated bool   `json:"truncated"`
}

// appStatus reads the app's deliveries and rejected records. The SQL is
// plain enough for both stores (DuckDB and ClickHouse), and every statement
// is scoped to the app.
func (a *API) appStatus(w http.ResponseWriter, r *http.Request) error {
	app, err := a.apps.Get(r.Context(), r.PathValue("app_id"))
	if err != nil {
		return err
	}
	st := AppStatus{AppID: app.ID, Reasons: []RejectedReason{}, Recent: []RejectedRecord{}}

	if err := a.queryRows(r, `SELECT received_at, events FROM batches WHERE app_id = ? ORDER BY received_at DESC LIMIT 1`,
		[]any{app.ID}, func(rows *sql.Rows) error {
			var t time.Time
			if err := rows.Scan(&t, &st.LastBatchEvents); err != nil {
				return err
			}
			t = t.UTC()
			st.LastBatchAt = &t
			return nil
		}); err != nil {
		return fmt.Errorf("last batch: %w", err)
	}
	if err := a.queryRows(r, `SELECT count(*), CAST(coalesce(sum(events), 0) AS BIGINT) FROM batches WHERE app_id = ?`,
		[]any{app.ID}, func(rows *sql.Rows) error { return rows.Scan(&st.Batches, &st.Events) }); err != nil {
		return fmt.Errorf("batch totals: %w", err)
	}
	if err := a.queryRows(r, `SELECT reason, count(*) AS n FROM rejected WHERE app_id = ? GROUP BY reason ORDER BY n DESC, reason LIMIT 10`,
		[]any{app.ID}, func(rows *sql.Rows) error {
			var rr RejectedReason
			if err := rows.Scan(&rr.Reason, &rr.Count); err != nil {
				return err
			}
			st.Reasons = append(st.Reasons, rr)
			return nil
		}); err != nil {
		return fmt.Errorf("rejected reasons: %w", err)
	}
	if err := a.queryRows(r, `SELECT count(*) FROM rejected WHERE app_id = ?`,
		[]any{app.ID}, func(rows *sql.Rows) error { return rows.Scan(&st.Rejected) }); err != nil {
		return fmt.Errorf("rejected count: %w", err)
	}
	if err := a.queryRows(r, `SELECT received_at, source, reason, batch_id, raw FROM rejected WHERE app_id = ? ORDER BY received_at DESC LIMIT `+fmt.Sprint(recentRejected),
		[]any{app.ID}, func(rows *sql.Rows) error {
			var rec RejectedRecord
			var batch sql.NullString
			var raw []byte
			if err := rows.Scan(&rec.ReceivedAt, &rec.Source, &rec.Reason, &batch, &raw); err != nil {
				return err
			}
			rec.ReceivedAt = rec.ReceivedAt.UTC()
			if batch.Valid {
				rec.BatchID = &batch.String
			}
			rec.Raw, rec.RawBytes, rec.Truncated = preview(raw)
			st.Recent = append(st.Recent, rec)
			return nil
		}); err != nil {
		return fmt.Errorf("recent rejected: %w", err)
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// queryRows runs one read-only statement and calls each for every row.
func (a *API) queryRows(r *http.Request, q string, args []any, each func(*sql.Rows) error) error {
	rows, err := a.store.Query(r.Context(), q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// preview cuts raw to rawPreview bytes on a rune boundary, as valid text.
func preview(raw []byte) (text string, size int, truncated bool) {
	size = len(raw)
	if len(raw) > rawPreview {
		raw = raw[:rawPreview]
		// Drop a rune cut in half rather than show a replacement for it.
		for i := 1; i < utf8.UTFMax && i <= len(raw); i++ {
			if utf8.RuneStart(raw[len(raw)-i]) {
				if !utf8.FullRune(raw[len(raw)-i:]) {
					raw = raw[:len(raw)-i]
				}
				break
			}
		}
		truncated = true
	}
	return strings.ToValidUTF8(string(raw), "\uFFFD"), size, truncated
}

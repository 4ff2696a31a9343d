// Package store defines what Gatescope keeps and how: one Store interface
// with an embedded DuckDB implementation (package store/duckdb) and a
// ClickHouse implementation for clusters (package store/clickhouse). Both
// pass the same conformance suite (package store/storetest).
package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatescope/gatescope/internal/event"
)

// Errors a Store classifies its failures into. Receivers map them to HTTP
// answers: ErrUnavailable and ErrOverloaded are retryable (503, Firehose
// retries), ErrNotFound and ErrConflict are the caller's (404, 409).
var (
	ErrUnavailable = errors.New("store unavailable")
	ErrOverloaded  = errors.New("store overloaded")
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("already exists")
	ErrClosed      = errors.New("store closed")
)

// Batch is one delivery's worth of writes for one app. Append stores all of
// it or none of it.
type Batch struct {
	AppID string
	// ID identifies the delivery (Firehose's request id). A batch whose ID
	// was already stored is a retry and is dropped whole; an empty ID
	// disables that check, and events are then deduplicated one by one.
	ID       string
	Received time.Time
	Events   []event.Event
	Rejected []event.Rejected
	Users    []event.UserUpdate
	// Companies are profile updates from the Moesif-compatible API.
	Companies []event.CompanyUpdate
}

// AppendResult says what Append did with a batch.
type AppendResult struct {
	Stored     int // events newly stored
	Duplicates int // events dropped because they were stored before
	// BatchDuplicate reports that the whole batch was a retry of a stored one.
	BatchDuplicate bool
}

// App is a tenant: one API (or set of APIs) whose data is kept apart.
type App struct {
	ID   string `json:"app_id"`
	Name string `json:"name"`
	// ApplicationID is the app's secret: the Firehose access key and the
	// Moesif application id. Stores keep it; handlers never log it.
	ApplicationID string    `json:"application_id,omitempty"`
	Created       time.Time `json:"created_at"`
}

// Dialect names the SQL flavour a store speaks, for the query compiler.
type Dialect string

// The SQL dialects.
const (
	DuckDB     Dialect = "duckdb"
	ClickHouse Dialect = "clickhouse"
)

// Store keeps apps, events, rejected records, users and companies.
// Implementations are safe for concurrent use.
type Store interface {
	// Append stores a batch durably and returns only then: an acknowledged
	// batch survives a crash. Events already stored (same app and request
	// id, within the deduplication window) are dropped and counted.
	// Returns an error wrapping ErrUnavailable or ErrOverloaded when the
	// batch was not stored and a retry may succeed.
	Append(ctx context.Context, b *Batch) (AppendResult, error)

	// CreateApp stores a new app; ErrConflict if its ID exists.
	CreateApp(ctx context.Context, app App) error
	// Apps lists every app, secrets included, oldest first.
	Apps(ctx context.Context) ([]App, error)

	// Dialect and Query give the query compiler read access. Query runs
	// one read-only statement; the caller closes the rows.
	Dialect() Dialect
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)

	// Ready reports whether the store can take writes now.
	Ready(ctx context.Context) error
	// Close flushes what is pending and releases the store. Appends after
	// Close fail with ErrClosed.
	Close() error
}

// Flusher is implemented by stores that make appended data queryable
// asynchronously; Flush returns once everything appended so far is.
type Flusher interface {
	Flush(ctx context.Context) error
}

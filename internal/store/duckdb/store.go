// Package duckdb is the embedded store: one DuckDB file, fed through a
// spool so that a batch is acknowledged after one cheap fsync while rows
// reach DuckDB in large, efficient loads.
//
// Write path: Append encodes the batch, the spool's single writer drops
// duplicates (see dedup) and makes the frame durable, Append returns; the
// loader goroutine moves frames into DuckDB every FlushInterval, recording
// the spool position in the same transaction, and releases loaded segments.
// After a crash, Open loads whatever the spool holds past that position
// before taking new writes.
package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatescope/gatescope/internal/dedup"
	"github.com/gatescope/gatescope/internal/spool"
	"github.com/gatescope/gatescope/internal/store"
)

var _ store.Store = (*Store)(nil)

// Config configures the DuckDB store.
type Config struct {
	// Dir holds the database file (gatescope.duckdb) and the spool.
	Dir string
	// MemoryLimit is DuckDB's memory_limit, e.g. "2GB"; empty keeps
	// DuckDB's default (80% of RAM).
	MemoryLimit string
	// Threads is DuckDB's thread count; 0 keeps its default (all cores).
	Threads int
	// CheckpointThreshold is DuckDB's checkpoint_threshold: the WAL size at
	// which DuckDB compresses recent loads into the database file. Loads
	// are small (every FlushInterval), and compressing many of them at
	// once costs a quarter less CPU than DuckDB's 16 MB default
	// (BenchmarkLoad); the price is a longer WAL replay after a crash.
	CheckpointThreshold string
	// FlushInterval is how often the loader moves spooled batches into
	// DuckDB: the upper bound on how long an acknowledged event takes to
	// become queryable.
	FlushInterval time.Duration
	// FlushBytes caps the spool bytes one load transaction takes.
	FlushBytes int
	// MaxBacklogBytes is how much acknowledged-but-unloaded data may pile
	// up before Append answers ErrOverloaded.
	MaxBacklogBytes int64
	// Dedup bounds the memory that duplicate detection uses.
	Dedup dedup.Config
	// NoSync skips fsync (tests and benchmarks only).
	NoSync bool
	Logger *slog.Logger
	// Registerer receives the store's metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// DefaultConfig returns production settings for a store in dir.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:                 dir,
		FlushInterval:       500 * time.Millisecond,
		FlushBytes:          64 << 20,
		CheckpointThreshold: "256MB",
		MaxBacklogBytes:     2 << 30,
		Dedup:               dedup.Config{Window: 3 * time.Hour, MaxKeys: 30_000_000},
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("duckdb store: Dir is required")
	case c.FlushInterval <= 0 || c.FlushInterval > 10*time.Second:
		return fmt.Errorf("duckdb store: FlushInterval %v outside (0, 10s]", c.FlushInterval)
	case c.FlushBytes < 1<<20:
		return fmt.Errorf("duckdb store: FlushBytes %d below 1 MiB", c.FlushBytes)
	case c.MaxBacklogBytes < int64(c.FlushBytes):
		return fmt.Errorf("duckdb store: MaxBacklogBytes %d below FlushBytes", c.MaxBacklogBytes)
	case c.Threads < 0:
		return errors.New("duckdb store: Threads must not be negative")
	}
	return c.Dedup.Validate()
}

// Store is the DuckDB implementation of store.Store.
type Store struct {
	cfg     Config
	log     *slog.Logger
	db      *sql.DB
	spool   *spool.Spool
	metrics *metrics

	// seen is owned by the spool's writer goroutine once Open returns:
	// only Encoders (which that goroutine runs) touch it.
	seen *dedup.Set

	loadMu   sync.Mutex    // one load at a time
	loaded   spool.Pos     // guarded by loadMu
	profiles *profileCache // guarded by loadMu
	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the store in cfg.Dir, loads anything the
// spool holds from before a crash, and starts the loader.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("duckdb store: create %s: %w", cfg.Dir, err)
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, log: cfg.Logger, db: db, stop: make(chan struct{}), done: make(chan struct{}),
		profiles: newProfileCache(1_000_000)}
	s.metrics = newMetrics(cfg.Registerer, s)
	ok := false
	defer func() {
		if !ok {
			if s.spool != nil {
				s.spool.Close()
			}
			db.Close()
		}
	}()
	if err := db.QueryRowContext(ctx, `SELECT segment, "offset" FROM spool_state WHERE id = 1`).Scan(&s.loaded.Segment, &s.loaded.Offset); err != nil {
		return nil, fmt.Errorf("duckdb store: read spool position: %w", err)
	}
	sc := spool.DefaultConfig(filepath.Join(cfg.Dir, "spool"))
	sc.NoSync = cfg.NoSync
	if s.spool, err = spool.Open(sc); err != nil {
		return nil, err
	}
	if err := s.replay(ctx); err != nil {
		return nil, err
	}
	if err := s.fillOpen(ctx); err != nil { // a database from before the open week's rollup
		return nil, fmt.Errorf("duckdb store: %w", err)
	}
	if s.seen, err = dedup.New(cfg.Dedup); err != nil {
		return nil, err
	}
	if err := s.rebuildDedup(ctx); err != nil {
		return nil, err
	}
	go s.loadLoop()
	ok = true
	return s, nil
}

func openDB(ctx context.Context, cfg Config) (*sql.DB, error) {
	connector, err := duckdb.NewConnector(filepath.Join(cfg.Dir, "gatescope.duckdb"), nil)
	if err != nil {
		return nil, fmt.Errorf("duckdb store: open database: %w", err)
	}
	db := sql.OpenDB(connector)
	settings := []string{}
	if cfg.MemoryLimit != "" {
		settings = append(settings, fmt.Sprintf("SET memory_limit = '%s'", sqlString(cfg.MemoryLimit)))
	}
	if cfg.CheckpointThreshold != "" {
		settings = append(settings, fmt.Sprintf("SET checkpoint_threshold = '%s'", sqlString(cfg.CheckpointThreshold)))
	}
	if cfg.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", cfg.Threads))
	}
	for _, q := range append(settings, schema...) {
		if _, err := db.ExecContext(ctx, q); err != nil {
			db.Close()
			return nil, fmt.Errorf("duckdb store: %s: %w", firstLine(q), err)
		}
	}
	return db, nil
}

// replay loads every frame the spool holds past the recorded position: the
// batches acknowledged before a crash but not yet loaded.
func (s *Store) replay(ctx context.Context) error {
	for {
		n, err := s.loadOnce(ctx)
		if err != nil {
			return fmt.Errorf("duckdb store: replay spool: %w", err)
		}
		if n == 0 {
			return nil
		}
		s.log.Info("replayed spooled batches", "bytes", n)
	}
}

// rebuildDedup refills the duplicate filter from what was stored within the
// window, so a Firehose retry that straddles a restart is still caught.
func (s *Store) rebuildDedup(ctx context.Context) error {
	// Keys are added as of now, not as of their arrival: the set's
	// generations then start afresh and hold every key at least a window.
	now := time.Now()
	since := now.Add(-s.cfg.Dedup.Window)
	rows, err := s.db.QueryContext(ctx, `SELECT app_id, batch_id, received_at FROM batches WHERE received_at >= ? ORDER BY received_at`, since)
	if err != nil {
		return fmt.Errorf("duckdb store: rebuild dedup: %w", err)
	}
	var app, id string
	var at time.Time // scanned and ignored
	for rows.Next() {
		if err := rows.Scan(&app, &id, &at); err != nil {
			rows.Close()
			return fmt.Errorf("duckdb store: rebuild dedup: %w", err)
		}
		s.seen.Add(batchKey(s.seen, app, id), now)
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, `SELECT app_id, request_id, received_at FROM events WHERE received_at >= ? ORDER BY received_at DESC LIMIT ?`, since, s.cfg.Dedup.MaxKeys/3*2)
	if err != nil {
		return fmt.Errorf("duckdb store: rebuild dedup: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(&app, &id, &at); err != nil {
			return fmt.Errorf("duckdb store: rebuild dedup: %w", err)
		}
		s.seen.Add(eventKey(s.seen, app, id), now)
	}
	return rows.Err()
}

func eventKey(set *dedup.Set, app, requestID string) dedup.Key { return set.KeyOf(app, requestID) }
func batchKey(set *dedup.Set, app, batchID string) dedup.Key {
	return set.KeyOf(app, "\x00batch", batchID)
}

// Dialect implements store.Store.
func (s *Store) Dialect() store.Dialect { return store.DuckDB }

// Query implements store.Store.
func (s *Store) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		if errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "database is closed") {
			return nil, fmt.Errorf("%w: %v", store.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("duckdb query: %w", err)
	}
	return rows, nil
}

// Ready implements store.Store: the spool takes writes and the loader is
// keeping up.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.spool.Err(); err != nil {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	s.loadMu.Lock()
	backlog := s.spool.Backlog(s.loaded)
	s.loadMu.Unlock()
	if backlog > s.cfg.MaxBacklogBytes {
		return fmt.Errorf("%w: %d bytes wait to be loaded", store.ErrOverloaded, backlog)
	}
	return nil
}

// Close implements store.Store: it stops taking writes, loads everything
// spooled, and closes the database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		errs := []error{s.spool.Close()}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.loadAll(ctx); err != nil {
			errs = append(errs, err)
		}
		if _, err := s.db.ExecContext(ctx, "CHECKPOINT"); err != nil {
			errs = append(errs, fmt.Errorf("duckdb store: checkpoint: %w", err))
		}
		errs = append(errs, s.db.Close())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Flush loads everything spooled so far into DuckDB. Tests and benchmarks
// use it to wait for queryability without sleeping.
func (s *Store) Flush(ctx context.Context) error {
	_, err := s.loadAll(ctx)
	return err
}

func (s *Store) loadAll(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.loadOnce(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

func sqlString(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func firstLine(q string) string {
	for i := 0; i < len(q); i++ {
		if q[i] == '\n' {
			return q[:i]
		}
	}
	return q
}

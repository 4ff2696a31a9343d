package clickhouse

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/gatescope/gatescope/internal/store"
)

var _ store.Store = (*Store)(nil)

// Store is the ClickHouse implementation of store.Store. It keeps no state
// of its own between calls: every collector that opens the same database
// sees and serves the same data.
type Store struct {
	cfg     Config
	log     *slog.Logger
	opts    *chgo.Options
	lay     layout
	conn    chdriver.Conn // native pool to the entry server(s)
	db      *sql.DB       // database/sql over conn, for Query
	metrics *metrics
	now     func() time.Time

	// mu orders Close after the Appends in flight: Appends hold it shared.
	mu     sync.RWMutex
	closed bool

	queue     chan *delivery // to the group committer
	committed chan struct{}  // closed when the committer has stopped
	stop      chan struct{}
	done      chan struct{} // closed when the retention job has stopped
	closeOnce sync.Once
	closeErr  error
}

// Open connects, creates or migrates the schema on every server, and
// starts the retention job when RetentionDays is set.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	opts, err := cfg.options()
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, log: cfg.Logger, opts: opts, lay: layout{db: opts.Auth.Database, cluster: cfg.Cluster},
		now: cfg.Now, queue: make(chan *delivery), committed: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	if s.now == nil {
		s.now = time.Now
	}
	// Bootstrap through a connection without a database: it may not exist.
	boot, err := dial(ctx, opts, opts.Addr[0])
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: %w", err)
	}
	addrs, err := hosts(ctx, boot, opts, cfg.Cluster)
	boot.Close()
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: %w", err)
	}
	for _, addr := range addrs {
		conn, err := dial(ctx, opts, addr)
		if err != nil {
			return nil, fmt.Errorf("clickhouse store: %w", err)
		}
		err = s.lay.migrate(ctx, conn)
		conn.Close()
		if err != nil {
			return nil, fmt.Errorf("clickhouse store: schema on %s: %w", addr, err)
		}
	}
	if s.conn, err = chgo.Open(opts); err != nil {
		return nil, fmt.Errorf("clickhouse store: open: %w", err)
	}
	if err := s.conn.Ping(ctx); err != nil {
		s.conn.Close()
		return nil, fmt.Errorf("clickhouse store: %w", err)
	}
	s.db = sqlDB(s.conn)
	s.metrics = newMetrics(cfg.Registerer)
	go s.commitLoop()
	if cfg.RetentionDays > 0 {
		go s.retentionLoop()
	} else {
		close(s.done)
	}
	return s, nil
}

// writeCtx adds the settings every insert needs: on a cluster, a
// Distributed insert returns only once every shard has the rows.
func (s *Store) writeCtx(ctx context.Context) context.Context {
	if s.lay.cluster == "" {
		return ctx
	}
	return chgo.Context(ctx, chgo.WithSettings(chgo.Settings{"insert_distributed_sync": 1}))
}

// Dialect implements store.Store.
func (s *Store) Dialect() store.Dialect { return store.ClickHouse }

// Query implements store.Store. Rows scan like database/sql rows of any
// driver: Nullable columns into pointers or sql.Null*, DateTime into
// time.Time, integers of any width into int64; a Tuple(DateTime, UInt16)
// column (a time and its milliseconds) into time.Time and an
// Enum8('false' = 0, 'true' = 1) into bool, standing for the DateTime64
// and Bool types 18.16 lacks. The statement runs with readonly = 2: the
// server refuses writes and DDL, settings may change.
func (s *Store) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = chgo.Context(ctx, chgo.WithSettings(chgo.Settings{"readonly": 2}))
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse query: %w", err)
	}
	return rows, nil
}

// Ready implements store.Store: every shard answers (a Distributed insert
// needs them all).
func (s *Store) Ready(ctx context.Context) error {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return store.ErrClosed
	}
	q := "SELECT count() FROM system.one"
	if s.lay.cluster != "" {
		q = fmt.Sprintf("SELECT count() FROM cluster('%s', system, one)", s.lay.cluster)
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, q).Scan(&n); err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// Close implements store.Store. Appends are synchronous, so nothing is
// pending once the Appends in flight have returned.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
		<-s.done
		<-s.committed
		s.closeErr = s.conn.Close()
		s.db.Close()
	})
	return s.closeErr
}

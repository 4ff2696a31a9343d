package clickhouse

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures the ClickHouse store.
type Config struct {
	// URL is clickhouse-go's DSN for the native protocol:
	// clickhouse://[user[:password]@]host:9000[,host2:9000]/database[?dial_timeout=5s].
	// The database is created when missing. Query parameters the client
	// does not know become server settings and must be integers (18.16
	// refuses string settings from this client).
	URL string
	// Cluster names a cluster of the servers' remote_servers configuration.
	// Empty means one server. With a cluster, every table exists on each
	// shard (name_local) with a Distributed table (name) over them, and the
	// schema is created on every host that system.clusters lists.
	Cluster string
	// RetentionDays drops events, rejected records and delivery records
	// whose day (UTC) is more than this many days before today, a whole
	// daily partition at a time. 0 keeps everything.
	RetentionDays int
	// RetentionInterval is how often retention runs (also once at start).
	RetentionInterval time.Duration
	// MaxOpenConns bounds the connections to the entry server(s).
	MaxOpenConns int
	// MaxGroupEvents caps the events one group commit writes: Appends
	// that arrive while a commit runs are written together by the next.
	MaxGroupEvents int
	// InsertTimeout bounds one group commit.
	InsertTimeout time.Duration
	Logger        *slog.Logger
	// Registerer receives the store's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock retention counts days by; nil is time.Now.
	Now func() time.Time
}

// DefaultConfig returns production settings for the DSN url.
func DefaultConfig(url string) Config {
	return Config{URL: url, RetentionInterval: time.Hour, MaxOpenConns: 32, MaxGroupEvents: 200_000, InsertTimeout: 2 * time.Minute}
}

// identifier is what a database or cluster name may look like: it is
// spliced into DDL, so it must need no quoting.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("clickhouse store: URL is required (clickhouse://host:9000/database)")
	}
	opts, err := chgo.ParseDSN(c.URL)
	if err != nil {
		return fmt.Errorf("clickhouse store: URL: %w", err)
	}
	if opts.Protocol != chgo.Native {
		return errors.New("clickhouse store: URL must use the native protocol (clickhouse://host:9000/...); HTTP does not work with ClickHouse 18.16")
	}
	if db := opts.Auth.Database; db != "" && !identifier.MatchString(db) {
		return fmt.Errorf("clickhouse store: database %q: want letters, digits and underscores", db)
	}
	switch {
	case c.Cluster != "" && !identifier.MatchString(c.Cluster):
		return fmt.Errorf("clickhouse store: cluster %q: want letters, digits and underscores", c.Cluster)
	case c.RetentionDays < 0:
		return errors.New("clickhouse store: RetentionDays must not be negative")
	case c.RetentionDays > 0 && c.RetentionInterval < time.Minute:
		return fmt.Errorf("clickhouse store: RetentionInterval %v below a minute", c.RetentionInterval)
	case c.MaxOpenConns < 1:
		return errors.New("clickhouse store: MaxOpenConns must be at least 1")
	case c.MaxGroupEvents < 1:
		return errors.New("clickhouse store: MaxGroupEvents must be at least 1")
	case c.InsertTimeout < time.Second:
		return fmt.Errorf("clickhouse store: InsertTimeout %v below a second", c.InsertTimeout)
	}
	return nil
}

// options parses the DSN into client options with Gatescope's defaults.
func (c Config) options() (*chgo.Options, error) {
	opts, err := chgo.ParseDSN(c.URL)
	if err != nil {
		return nil, fmt.Errorf("clickhouse store: URL: %w", err)
	}
	if opts.Auth.Database == "" {
		opts.Auth.Database = "default"
	}
	if opts.Compression == nil {
		opts.Compression = &chgo.Compression{Method: chgo.CompressionLZ4}
	}
	opts.MaxOpenConns = c.MaxOpenConns
	if opts.MaxIdleConns > opts.MaxOpenConns || opts.MaxIdleConns == 0 {
		opts.MaxIdleConns = min(opts.MaxOpenConns, 8)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 10 * time.Second
	}
	return opts, nil
}

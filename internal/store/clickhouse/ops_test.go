package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/storetest"
)

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig("clickhouse://127.0.0.1:9000/gatescope")
	for _, c := range []struct {
		name  string
		edit  func(*Config)
		valid bool
	}{
		{"defaults", func(*Config) {}, true},
		{"cluster", func(c *Config) { c.Cluster = "gatescope_cluster" }, true},
		{"several hosts", func(c *Config) { c.URL = "clickhouse://a:9000,b:9000/db" }, true},
		{"retention", func(c *Config) { c.RetentionDays = 30 }, true},
		{"no URL", func(c *Config) { c.URL = "" }, false},
		{"HTTP", func(c *Config) { c.URL = "http://127.0.0.1:8123/gatescope" }, false},
		{"database needing quotes", func(c *Config) { c.URL = "clickhouse://127.0.0.1:9000/gate-scope" }, false},
		{"cluster needing quotes", func(c *Config) { c.Cluster = "a'b" }, false},
		{"negative retention", func(c *Config) { c.RetentionDays = -1 }, false},
		{"retention every second", func(c *Config) { c.RetentionDays, c.RetentionInterval = 1, time.Second }, false},
		{"no connections", func(c *Config) { c.MaxOpenConns = 0 }, false},
		{"no group", func(c *Config) { c.MaxGroupEvents = 0 }, false},
		{"tiny insert timeout", func(c *Config) { c.InsertTimeout = time.Millisecond }, false},
	} {
		cfg := ok
		c.edit(&cfg)
		if err := cfg.Validate(); (err == nil) != c.valid {
			t.Errorf("%s: Validate() = %v, want valid=%v", c.name, err, c.valid)
		}
	}
}

func TestRetryableClassifies(t *testing.T) {
	for _, c := range []struct {
		err  error
		want error
	}{
		{&chgo.Exception{Code: codeTooManyParts}, store.ErrOverloaded},
		{&chgo.Exception{Code: codeMemoryLimitExceeded}, store.ErrOverloaded},
		{chgo.ErrAcquireConnTimeout, store.ErrOverloaded},
		{&chgo.Exception{Code: 60}, store.ErrUnavailable},
		{context.DeadlineExceeded, store.ErrUnavailable},
		{io.ErrUnexpectedEOF, store.ErrUnavailable},
	} {
		got := retryable("op", c.err)
		if !errors.Is(got, c.want) || !errors.Is(got, c.err) {
			t.Errorf("retryable(%v) = %v, want %v wrapping the cause", c.err, got, c.want)
		}
	}
}

// proxy forwards TCP connections to a ClickHouse server until cut.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T, backend string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

// cut closes the listener and every forwarded connection: the server is
// gone as far as the store can tell.
func (p *proxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestServerGone: when ClickHouse cannot be reached, Append and Ready fail
// with ErrUnavailable (Firehose gets a 503 and retries) and nothing is
// acknowledged.
func TestServerGone(t *testing.T) {
	tg := singleTarget(t)
	cfg := tg.freshConfig(t)
	u, err := url.Parse(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	cfg.URL = u.String()
	s := tg.open(t, cfg)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := &store.Batch{AppID: "app1", ID: "b1", Events: []event.Event{storetest.Event("app1", 1, time.Now())}}
	if _, err := s.Append(ctx, b); err != nil {
		t.Fatalf("append while up: %v", err)
	}
	p.cut()
	b2 := &store.Batch{AppID: "app1", ID: "b2", Events: []event.Event{storetest.Event("app1", 2, time.Now())}}
	if res, err := s.Append(ctx, b2); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("append while down: %+v %v, want ErrUnavailable", res, err)
	}
	if err := s.Ready(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("ready while down: %v, want ErrUnavailable", err)
	}
}

// TestRetention drops whole days older than the window, in every
// partitioned table, on every host, and keeps the rest.
func TestRetention(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			cfg := tg.freshConfig(t)
			loader := tg.open(t, cfg)
			defer loader.Close()
			ctx := context.Background()
			now := time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)
			const days, perDay, keepDays = 11, 10, 3
			wantKept := 0
			for d := range days {
				day := now.AddDate(0, 0, d-days+1).Truncate(24 * time.Hour)
				b := &store.Batch{AppID: "app1", ID: fmt.Sprint("day", d), Received: day.Add(12 * time.Hour),
					Rejected: []event.Rejected{{AppID: "app1", Source: event.SourceFirehose, Reason: "not JSON", Raw: []byte("x")}}}
				for i := range perDay {
					b.Events = append(b.Events, storetest.Event("app1", d*100+i, day.Add(time.Duration(i)*time.Hour)))
				}
				if _, err := loader.Append(ctx, b); err != nil {
					t.Fatal(err)
				}
				if !day.Before(now.AddDate(0, 0, -keepDays).Truncate(24 * time.Hour)) {
					wantKept++
				}
			}
			cfg.RetentionDays = keepDays
			cfg.Now = func() time.Time { return now }
			s := tg.open(t, cfg) // runs retention at start, too
			defer s.Close()
			if _, err := s.ApplyRetention(ctx); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				table string
				want  int
			}{{"events", wantKept * perDay}, {"rejected", wantKept}, {"batches", wantKept}} {
				var n uint64
				if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+c.table).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if int(n) != c.want {
					t.Errorf("%s: %d rows kept, want %d", c.table, n, c.want)
				}
			}
			if n, err := s.ApplyRetention(ctx); err != nil || n != 0 {
				t.Errorf("second run dropped %d (%v), want 0", n, err)
			}
		})
	}
}

// TestMigratesOlderSchema opens a database that an earlier version created:
// events lacks three columns (rejected is computed on read for old rows),
// the users view has fewer columns and the
// materialized view is of an older version. Open brings every host up to
// date and keeps the old rows.
func TestMigratesOlderSchema(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			cfg := tg.freshConfig(t)
			opts, err := cfg.options()
			if err != nil {
				t.Fatal(err)
			}
			lay := layout{db: opts.Auth.Database, cluster: cfg.Cluster}
			old := eventsTable
			old.columns = slices.DeleteFunc(slices.Clone(old.columns), func(c column) bool {
				return c.name == "error_type_raw" || c.name == "error_type" || c.name == "metadata_raw" || c.name == "metadata" ||
					c.name == "rejected"
			})
			ctx := context.Background()
			boot, err := dial(ctx, opts, opts.Addr[0])
			if err != nil {
				t.Fatal(err)
			}
			addrs, err := hosts(ctx, boot, opts, cfg.Cluster)
			boot.Close()
			if err != nil {
				t.Fatal(err)
			}
			var stmts []string
			stmts = append(stmts, "CREATE DATABASE IF NOT EXISTS "+lay.db)
			stmts = append(stmts, lay.createStatements(old)...)
			stmts = append(stmts, lay.createStatements(usersKind.input())...)
			stmts = append(stmts, lay.createStatements(usersKind.state())...)
			stmts = append(stmts,
				fmt.Sprintf("CREATE MATERIALIZED VIEW %s TO %s AS %s", lay.q("users_state_mv_v0"), lay.q(lay.local("users_state")), usersKind.mvQuery(lay.db, lay.local("users_in"))),
				fmt.Sprintf("CREATE VIEW %s AS SELECT app_id, user_id FROM %s GROUP BY app_id, user_id", lay.q("users"), lay.q("users_state")))
			for _, addr := range addrs {
				conn, err := dial(ctx, opts, addr)
				if err != nil {
					t.Fatal(err)
				}
				for _, q := range stmts {
					if err := conn.Exec(ctx, q); err != nil {
						t.Fatalf("%s: %v", firstLine(q), err)
					}
				}
				conn.Close()
			}
			pre, err := chgo.Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx = chgo.Context(ctx, chgo.WithSettings(chgo.Settings{"insert_distributed_sync": 1}))
			if cfg.Cluster == "" {
				ctx = context.Background()
			}
			bt, err := pre.PrepareBatch(ctx, "INSERT INTO "+lay.q("events")+" (app_id, request_id, time, ms, received_at, source)")
			if err != nil {
				t.Fatal(err)
			}
			at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			if err := bt.Append("app1", "old-1", at, uint16(0), at, "firehose"); err != nil {
				t.Fatal(err)
			}
			if err := bt.Send(); err != nil {
				t.Fatal(err)
			}
			pre.Close()

			s := tg.open(t, cfg)
			defer s.Close()
			for _, addr := range addrs {
				conn, err := dial(context.Background(), opts, addr)
				if err != nil {
					t.Fatal(err)
				}
				for _, name := range []string{lay.local("events"), "events"} {
					have, _, err := lay.columnsOf(context.Background(), conn, name)
					if err != nil {
						t.Fatal(err)
					}
					var want []string
					for _, c := range eventsTable.columns {
						want = append(want, c.name)
					}
					if !slices.Equal(have, want) {
						t.Errorf("%s %s columns:\n got %v\nwant %v", addr, name, have, want)
					}
				}
				var mvs []string
				if err := conn.QueryRow(context.Background(), "SELECT arraySort(groupArray(name)) FROM system.tables WHERE database = ? AND engine = 'MaterializedView'", lay.db).Scan(&mvs); err != nil {
					t.Fatal(err)
				}
				if want := []string{compKind.mvName(), usersKind.mvName()}; !slices.Equal(mvs, want) {
					t.Errorf("%s materialized views %v, want %v", addr, mvs, want)
				}
				view, _, err := lay.columnsOf(context.Background(), conn, "users")
				if err != nil || !slices.Equal(view, usersKind.viewColumns()) {
					t.Errorf("%s users view columns %v (%v), want %v", addr, view, err, usersKind.viewColumns())
				}
				conn.Close()
			}
			ev := storetest.Event("app1", 2, at)
			ev.ErrorType, ev.Status = "THROTTLED", 429
			if _, err := s.Append(context.Background(), &store.Batch{AppID: "app1", ID: "new", Events: []event.Event{ev}}); err != nil {
				t.Fatal(err)
			}
			rows, err := s.Query(context.Background(), "SELECT request_id, error_type, metadata, rejected FROM events WHERE app_id = ? ORDER BY request_id", "app1")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []string
			for rows.Next() {
				var id string
				var et, meta *string
				var rejected int64
				if err := rows.Scan(&id, &et, &meta, &rejected); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprint(id, " ", et != nil && *et == "THROTTLED", " ", meta != nil, " ", rejected))
			}
			if want := []string{"old-1 false false 0", "req-000002 true true 1"}; !slices.Equal(got, want) {
				t.Errorf("rows %v, want %v", got, want)
			}
		})
	}
}

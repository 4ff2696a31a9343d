package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// hosts returns the address of every server that holds data: the DSN's
// server, or with a cluster every replica of every shard that the server's
// system.clusters lists. 18.16 has no ON CLUSTER without ZooKeeper, so DDL
// and retention run on each of them over a connection of their own.
func hosts(ctx context.Context, conn chdriver.Conn, opts *chgo.Options, cluster string) ([]string, error) {
	if cluster == "" {
		return opts.Addr[:1], nil
	}
	rows, err := conn.Query(ctx, "SELECT host_address, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", cluster)
	if err != nil {
		return nil, fmt.Errorf("list the hosts of cluster %s: %w", cluster, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var host string
		var port uint16
		if err := rows.Scan(&host, &port); err != nil {
			return nil, fmt.Errorf("list the hosts of cluster %s: %w", cluster, err)
		}
		if strings.Contains(host, ":") { // IPv6
			host = "[" + host + "]"
		}
		out = append(out, fmt.Sprintf("%s:%d", host, port))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the hosts of cluster %s: %w", cluster, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cluster %q is not in the remote_servers of %v", cluster, opts.Addr)
	}
	return out, nil
}

// dial opens a connection to one server without selecting a database, so
// that it works before the database exists.
func dial(ctx context.Context, opts *chgo.Options, addr string) (chdriver.Conn, error) {
	o := *opts
	o.Addr = []string{addr}
	o.Auth.Database = ""
	o.MaxOpenConns, o.MaxIdleConns = 2, 1
	conn, err := chgo.Open(&o)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return conn, nil
}

// onEachHost runs fn on every host that holds data, one at a time.
func (s *Store) onEachHost(ctx context.Context, fn func(ctx context.Context, conn chdriver.Conn) error) error {
	addrs, err := hosts(ctx, s.conn, s.opts, s.lay.cluster)
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		conn, err := dial(ctx, s.opts, addr)
		if err != nil {
			return err
		}
		err = fn(ctx, conn)
		conn.Close()
		if err != nil {
			return fmt.Errorf("on %s: %w", addr, err)
		}
	}
	return nil
}

// migrate creates the database and every table, view and materialized view
// that is missing on one server, and adds the columns that a table of an
// earlier version lacks. Every step is idempotent, and collectors that
// start together may run it at once.
func (l layout) migrate(ctx context.Context, conn chdriver.Conn) error {
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+l.db); err != nil {
		return fmt.Errorf("create database %s: %w", l.db, err)
	}
	for _, t := range storedTables() {
		for _, stmt := range l.createStatements(t) {
			if err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", firstLine(stmt), err)
			}
		}
		names := []string{l.local(t.name)}
		if l.cluster != "" {
			names = append(names, t.name)
		}
		for _, name := range names {
			if err := l.ensureColumns(ctx, conn, name, t.columns); err != nil {
				return err
			}
		}
	}
	for _, k := range []profileKind{usersKind, compKind} {
		if err := l.ensureMaterializedView(ctx, conn, k); err != nil {
			return err
		}
		if err := l.ensureView(ctx, conn, k); err != nil {
			return err
		}
	}
	return nil
}

// columnsOf returns a table's columns (name to type) in order.
func (l layout) columnsOf(ctx context.Context, conn chdriver.Conn, name string) ([]string, map[string]string, error) {
	rows, err := conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", l.db, name)
	if err != nil {
		return nil, nil, fmt.Errorf("columns of %s: %w", name, err)
	}
	defer rows.Close()
	var order []string
	types := map[string]string{}
	for rows.Next() {
		var n, typ string
		if err := rows.Scan(&n, &typ); err != nil {
			return nil, nil, fmt.Errorf("columns of %s: %w", name, err)
		}
		order = append(order, n)
		types[n] = typ
	}
	return order, types, rows.Err()
}

// baseType is a column's type without its DEFAULT or ALIAS expression, as
// system.columns reports it.
func baseType(typ string) string {
	for _, kw := range []string{" DEFAULT ", " ALIAS ", " MATERIALIZED "} {
		if i := strings.Index(typ, kw); i >= 0 {
			return typ[:i]
		}
	}
	return typ
}

// ensureColumns adds the columns that table name lacks (18.16 has no ADD
// COLUMN IF NOT EXISTS). A column of another type is an error: types never
// change in place.
func (l layout) ensureColumns(ctx context.Context, conn chdriver.Conn, name string, want []column) error {
	_, have, err := l.columnsOf(ctx, conn, name)
	if err != nil {
		return err
	}
	for i, c := range want {
		if typ, ok := have[c.name]; ok {
			if typ != baseType(c.typ) {
				return fmt.Errorf("%s.%s is %s, want %s: migrate it by hand", name, c.name, typ, baseType(c.typ))
			}
			continue
		}
		stmt := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", l.q(name), c.name, c.typ)
		if i > 0 {
			stmt += " AFTER " + want[i-1].name
		}
		if err := conn.Exec(ctx, stmt); err != nil {
			// Another collector may have added it meanwhile.
			if _, now, rerr := l.columnsOf(ctx, conn, name); rerr == nil && now[c.name] != "" {
				continue
			}
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

// ensureMaterializedView creates the current version of kind's view from
// input to state and then drops earlier versions.
func (l layout) ensureMaterializedView(ctx context.Context, conn chdriver.Conn, k profileKind) error {
	in, st := l.local(k.input().name), l.local(k.state().name)
	stmt := fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s TO %s AS %s", l.q(k.mvName()), l.q(st), k.mvQuery(l.db, in))
	if err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("create %s: %w", k.mvName(), err)
	}
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND startsWith(name, ?)", l.db, k.name+"_state_mv_v")
	if err != nil {
		return fmt.Errorf("list materialized views: %w", err)
	}
	var old []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("list materialized views: %w", err)
		}
		if n != k.mvName() {
			old = append(old, n)
		}
	}
	rows.Close()
	for _, n := range old {
		if err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+l.q(n)); err != nil {
			return fmt.Errorf("drop %s: %w", n, err)
		}
	}
	return rows.Err()
}

// ensureView (re)creates the read view of a profile kind when it is
// missing or its columns differ from this version's.
func (l layout) ensureView(ctx context.Context, conn chdriver.Conn, k profileKind) error {
	have, _, err := l.columnsOf(ctx, conn, k.name)
	if err != nil {
		return err
	}
	if slices.Equal(have, k.viewColumns()) {
		return nil
	}
	if len(have) > 0 {
		if err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+l.q(k.name)); err != nil {
			return fmt.Errorf("drop outdated view %s: %w", k.name, err)
		}
	}
	stmt := fmt.Sprintf("CREATE VIEW IF NOT EXISTS %s AS %s", l.q(k.name), k.viewQuery(l.db, k.state().name))
	if err := conn.Exec(ctx, stmt); err != nil {
		var ex *chgo.Exception
		if errors.As(err, &ex) && ex.Code == codeTableAlreadyExists {
			return nil
		}
		return fmt.Errorf("create view %s: %w", k.name, err)
	}
	return nil
}

func firstLine(q string) string {
	if i := strings.IndexByte(q, '\n'); i >= 0 {
		return q[:i]
	}
	return q
}

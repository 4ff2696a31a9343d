package clickhouse

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"time"

	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// sqlDB exposes the native connection pool through database/sql, because
// store.Store.Query returns *sql.Rows.
//
// Why not clickhouse-go's own database/sql driver (OpenDB): after a server
// exception it keeps the connection, and against 18.16 that connection is
// then out of step with the server ("Unexpected packet Data received from
// client" on the next query). The native pool closes a connection that saw
// an error, so every statement here borrows from it instead; the
// database/sql "connections" below are mere handles on that pool.
func sqlDB(pool chdriver.Conn) *sql.DB {
	return sql.OpenDB(&sqlConnector{pool: pool})
}

type sqlConnector struct{ pool chdriver.Conn }

func (c *sqlConnector) Connect(context.Context) (driver.Conn, error) {
	return &sqlConn{pool: c.pool}, nil
}
func (c *sqlConnector) Driver() driver.Driver { return sqlDriver{} }

// sqlDriver exists because driver.Connector must name one; Open by DSN is
// not supported.
type sqlDriver struct{}

func (sqlDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("clickhouse store: open the database through the store")
}

type sqlConn struct{ pool chdriver.Conn }

var (
	_ driver.QueryerContext     = (*sqlConn)(nil)
	_ driver.NamedValueChecker  = (*sqlConn)(nil)
	_ driver.Pinger             = (*sqlConn)(nil)
	_ driver.ExecerContext      = (*sqlConn)(nil)
	_ driver.ConnPrepareContext = (*sqlConn)(nil)
)

// CheckNamedValue passes every argument through unchanged: clickhouse-go
// binds strings, numbers, times and slices itself.
func (c *sqlConn) CheckNamedValue(*driver.NamedValue) error { return nil }

func (c *sqlConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.pool.Query(ctx, query, values(args)...)
	if err != nil {
		return nil, err
	}
	types := rows.ColumnTypes()
	r := &sqlRows{rows: rows, cols: rows.Columns(), dest: make([]any, len(types)), conv: make([]func(any) any, len(types))}
	for i, t := range types {
		r.dest[i] = reflect.New(t.ScanType()).Interface()
		r.conv[i] = converter(t.DatabaseTypeName())
	}
	return r, nil
}

// ExecContext runs a statement without result rows (DDL in tests).
func (c *sqlConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := c.pool.Exec(ctx, query, values(args)...); err != nil {
		return nil, err
	}
	return driver.RowsAffected(0), nil
}

func (c *sqlConn) Ping(ctx context.Context) error { return c.pool.Ping(ctx) }

func (c *sqlConn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	return &sqlStmt{conn: c, query: query}, nil
}

func (c *sqlConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// Close releases nothing: the pool belongs to the store.
func (c *sqlConn) Close() error { return nil }

func (c *sqlConn) Begin() (driver.Tx, error) {
	return nil, errors.New("clickhouse store: transactions are not supported")
}

func values(args []driver.NamedValue) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

// sqlStmt serves database/sql's prepared statements by running the query
// text each time: ClickHouse binds parameters on the client anyway.
type sqlStmt struct {
	conn  *sqlConn
	query string
}

func (s *sqlStmt) Close() error  { return nil }
func (s *sqlStmt) NumInput() int { return -1 }
func (s *sqlStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.conn.ExecContext(context.Background(), s.query, named(args))
}
func (s *sqlStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.conn.QueryContext(context.Background(), s.query, named(args))
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, a := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return out
}

// sqlRows scans each row into values of the columns' own Go types and
// hands them to database/sql, which converts them for the caller's Scan
// (an absent Nullable becomes nil, so *string and sql.NullString work).
type sqlRows struct {
	rows chdriver.Rows
	cols []string
	dest []any             // pointers to the columns' scan types
	conv []func(v any) any // per column: nil, or how its values convert
}

// Two column types stand for types 18.16 lacks, so that the query layer
// can scan them as on DuckDB:
//   - Tuple(DateTime, UInt16): a time and its milliseconds (there is no
//     DateTime64), returned as one time.Time;
//   - Enum8('false' = 0, 'true' = 1): a boolean (there is no Bool),
//     returned as a bool.
var (
	msTimeType = regexp.MustCompile(`^Tuple\(DateTime(\('[^']*'\))?, UInt16\)$`)
	boolType   = "Enum8('false' = 0, 'true' = 1)"
)

func converter(dbType string) func(any) any {
	switch {
	case dbType == boolType:
		return func(v any) any {
			if s, ok := v.(string); ok {
				return s == "true"
			}
			return v
		}
	case msTimeType.MatchString(dbType):
		return func(v any) any {
			if tu, ok := v.([]any); ok && len(tu) == 2 {
				t, tok := tu[0].(time.Time)
				ms, mok := tu[1].(uint16)
				if tok && mok {
					return t.Add(time.Duration(ms) * time.Millisecond)
				}
			}
			return v
		}
	}
	return nil
}

func (r *sqlRows) Columns() []string { return r.cols }
func (r *sqlRows) Close() error      { return r.rows.Close() }

func (r *sqlRows) Next(out []driver.Value) error {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	if err := r.rows.Scan(r.dest...); err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	for i, d := range r.dest {
		v := reflect.ValueOf(d).Elem()
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				out[i] = nil
				continue
			}
			v = v.Elem()
		}
		out[i] = v.Interface()
		if r.conv[i] != nil {
			out[i] = r.conv[i](out[i])
		}
	}
	return nil
}

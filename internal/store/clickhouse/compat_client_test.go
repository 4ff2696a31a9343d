package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
)

func withSettings(ctx context.Context, settings map[string]any) context.Context {
	return chgo.Context(ctx, chgo.WithSettings(chgo.Settings(settings)))
}

func clientProbes(evs []fixtureEvent) []probe {
	return []probe{
		{name: "handshake_server_version", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			var v string
			if err := s.row(ctx, "SELECT version()", &v); err != nil {
				return err
			}
			hs := s.version.Version
			if want := fmt.Sprintf("%d.%d.%d", hs.Major, hs.Minor, hs.Patch); !strings.HasPrefix(v, want) {
				t.Errorf("version() = %q, handshake says %s", v, want)
			}
			t.Logf("server %q version %s revision %d timezone %v", s.version.Name, v, s.version.Revision, s.version.Timezone)
			return nil
		}},
		{name: "compression_lz4", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			return probeCompression(ctx, t, s, chgo.CompressionLZ4)
		}},
		{name: "compression_zstd", on1816: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			return probeCompression(ctx, t, s, chgo.CompressionZSTD)
		}},
		{name: "compression_none", on1816: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			return probeCompression(ctx, t, s, chgo.CompressionNone)
		}},
		{name: "settings_int_values", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			var v string
			ctx = withSettings(ctx, map[string]any{"max_threads": 1})
			if err := s.row(ctx, "SELECT value FROM system.settings WHERE name = 'max_threads'", &v); err != nil {
				return err
			}
			if v != "1" {
				t.Errorf("max_threads = %q, want 1", v)
			}
			return nil
		}},
		{name: "settings_string_values", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			var v string
			ctx = withSettings(ctx, map[string]any{"load_balancing": "in_order"})
			err := s.conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'load_balancing'").Scan(&v)
			if err != nil && strings.Contains(err.Error(), "unsupported data type") {
				// clickhouse-go sends settings as strings only from revision 54429 on.
				return unsupportedf("client refuses a string setting at revision %d: %w", s.version.Revision, err)
			}
			if err != nil {
				return classify(err)
			}
			if v != "in_order" {
				t.Errorf("load_balancing = %q, want in_order", v)
			}
			return nil
		}},
		{name: "bind_positional_client_side", on1816: true, required: true, run: probePositional},
		{name: "bind_named_at_client_side", on1816: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			var got string
			err := s.conn.QueryRow(ctx, "SELECT concat(@a, @b)", chgo.Named("a", "x'"), chgo.Named("b", `\y`)).Scan(&got)
			if err != nil {
				return classify(err)
			}
			if got != `x'\y` {
				t.Errorf("got %q", got)
			}
			return nil
		}},
		{name: "bind_server_side_parameters", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			var got string
			if err := s.conn.QueryRow(ctx, "SELECT {s:String}", chgo.Named("s", "x'y")).Scan(&got); err != nil {
				return classify(err)
			}
			if got != "x'y" {
				t.Errorf("got %q", got)
			}
			return nil
		}},
		{name: "batch_insert_named_columns", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			// The fixture was loaded this way; check it arrived whole.
			var n, lat uint64
			if err := s.row(ctx, fmt.Sprintf("SELECT count(), sum(latency) FROM %s.events", s.db), &n, &lat); err != nil {
				return err
			}
			var want uint64
			for _, e := range evs {
				want += uint64(e.latency)
			}
			if n != uint64(len(evs)) || lat != want {
				t.Errorf("count=%d sum=%d, want %d %d", n, lat, len(evs), want)
			}
			return nil
		}},
		{name: "batch_insert_without_column_list", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			if err := s.exec(ctx, fmt.Sprintf("CREATE TABLE %s.nocols (a UInt32, b String) ENGINE = MergeTree ORDER BY a", s.db)); err != nil {
				return err
			}
			err := insertAndCount(ctx, t, s, fmt.Sprintf("INSERT INTO %s.nocols", s.db), "nocols", 1)
			if err != nil && strings.Contains(err.Error(), "expected 0 arguments") {
				// 18.16 announces no columns for a bare INSERT, so the
				// client's batch has none to append to.
				return unsupportedf("batch sees no columns: %w", err)
			}
			return err
		}},
		{name: "exec_insert_values_inline", on1816: false, run: probeInlineValues},
		{name: "exec_insert_select", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			if err := s.exec(ctx, fmt.Sprintf(eventsDDL, s.db, "copied")); err != nil {
				return err
			}
			cols := strings.Trim(eventsColumns, "()")
			q := fmt.Sprintf("INSERT INTO %[1]s.copied (%[2]s) SELECT %[2]s FROM %[1]s.events WHERE app = 3", s.db, cols)
			if err := s.exec(ctx, q); err != nil {
				return err
			}
			var n uint64
			if err := s.row(ctx, fmt.Sprintf("SELECT count() FROM %s.copied", s.db), &n); err != nil {
				return err
			}
			var want uint64
			for _, e := range evs {
				if e.app == 3 {
					want++
				}
			}
			if n != want {
				t.Errorf("copied %d rows, want %d", n, want)
			}
			return nil
		}},
		{name: "http_protocol", on1816: false, run: probeHTTP},
		{name: "dedup_identical_blocks_plain_mergetree", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			return probeDedup(ctx, t, s, "dedup_plain", "")
		}},
		{name: "dedup_non_replicated_window_setting", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			return probeDedup(ctx, t, s, "dedup_window", "SETTINGS non_replicated_deduplication_window = 100")
		}},
		{name: "insert_deduplication_token", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			if err := s.exec(ctx, fmt.Sprintf("CREATE TABLE %s.token (a UInt32) ENGINE = MergeTree ORDER BY a", s.db)); err != nil {
				return err
			}
			return s.exec(ctx, fmt.Sprintf("INSERT INTO %s.token (a) SETTINGS insert_deduplication_token = 'batch-1' VALUES (1)", s.db))
		}},
		{name: "replicatedmergetree_without_zookeeper", on1816: false, run: probeReplicated},
	}
}

// insertAndCount appends rows (a, b) = (i, "row i") to table with the batch
// query insert and checks the table then holds copies×rows of them.
func insertAndCount(ctx context.Context, t *testing.T, s *server, insert, table string, copies uint64) error {
	const rows = 1000
	b, err := s.conn.PrepareBatch(ctx, insert)
	if err != nil {
		return classify(err)
	}
	for i := range rows {
		if err := b.Append(uint32(i), fmt.Sprintf("row %d", i)); err != nil {
			return err
		}
	}
	if err := b.Send(); err != nil {
		return classify(err)
	}
	var n, sum uint64
	if err := s.row(ctx, fmt.Sprintf("SELECT count(), sum(a) FROM %s.%s", s.db, table), &n, &sum); err != nil {
		return err
	}
	if n != copies*rows || sum != copies*rows*(rows-1)/2 {
		t.Errorf("count=%d sum=%d, want %d %d", n, sum, copies*rows, copies*rows*(rows-1)/2)
	}
	return nil
}

func probeCompression(ctx context.Context, t *testing.T, s *server, m chgo.CompressionMethod) error {
	opts := *s.opts
	opts.Compression = &chgo.Compression{Method: m}
	conn := openOptions(t, &opts)
	c := &server{conn: conn, opts: &opts, db: s.db, version: s.version}
	table := "comp_" + m.String()
	if err := c.exec(ctx, fmt.Sprintf("CREATE TABLE %s.%s (a UInt32, b String) ENGINE = MergeTree ORDER BY a", s.db, table)); err != nil {
		return err
	}
	if err := insertAndCount(ctx, t, c, fmt.Sprintf("INSERT INTO %s.%s (a, b)", s.db, table), table, 1); err != nil {
		return err
	}
	// Read the rows back so compressed blocks flow server to client too.
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT a, b FROM %s.%s", s.db, table))
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	var n int
	for rows.Next() {
		var a uint32
		var b string
		if err := rows.Scan(&a, &b); err != nil {
			return err
		}
		if b != fmt.Sprintf("row %d", a) {
			t.Errorf("row %d came back as %q", a, b)
		}
		n++
	}
	if n != 1000 {
		t.Errorf("read %d rows, want 1000", n)
	}
	return classify(rows.Err())
}

func probePositional(ctx context.Context, t *testing.T, s *server) error {
	str := "it's a \\ test\nwith 'quotes' and ? marks"
	at := time.Date(2024, 3, 5, 10, 11, 12, 0, time.UTC)
	var gotStr string
	var gotN int64
	var gotUnix uint32
	var gotHas uint8
	err := s.conn.QueryRow(ctx, "SELECT ?, toInt64(?), toUInt32(?), has(?, 'b')",
		str, -42, at, []string{"a", "b"}).Scan(&gotStr, &gotN, &gotUnix, &gotHas)
	if err != nil {
		return classify(err)
	}
	if gotStr != str || gotN != -42 || int64(gotUnix) != at.Unix() || gotHas != 1 {
		t.Errorf("got %q %d %d %d", gotStr, gotN, gotUnix, gotHas)
	}
	return nil
}

// probeDedup inserts the same block twice; it "works" when the table keeps
// one copy.
func probeDedup(ctx context.Context, t *testing.T, s *server, table, settings string) error {
	ddl := fmt.Sprintf("CREATE TABLE %s.%s (a UInt32, b String) ENGINE = MergeTree ORDER BY a %s", s.db, table, settings)
	if err := s.exec(ctx, ddl); err != nil {
		return err
	}
	ctx = withSettings(ctx, map[string]any{"insert_deduplicate": 1})
	insert := fmt.Sprintf("INSERT INTO %s.%s (a, b)", s.db, table)
	if err := insertAndCount(ctx, t, s, insert, table, 1); err != nil {
		return err
	}
	var n uint64
	b, err := s.conn.PrepareBatch(ctx, insert)
	if err != nil {
		return classify(err)
	}
	for i := range 1000 {
		if err := b.Append(uint32(i), fmt.Sprintf("row %d", i)); err != nil {
			return err
		}
	}
	if err := b.Send(); err != nil {
		return classify(err)
	}
	if err := s.row(ctx, fmt.Sprintf("SELECT count() FROM %s.%s", s.db, table), &n); err != nil {
		return err
	}
	switch n {
	case 1000:
		return nil
	case 2000:
		return unsupportedf("identical block stored twice (%d rows)", n)
	}
	t.Errorf("count = %d, want 1000 or 2000", n)
	return nil
}

// probeHTTP tries clickhouse-go's HTTP protocol against a server whose HTTP
// port is first shown to answer plain HTTP.
func probeHTTP(ctx context.Context, t *testing.T, s *server) error {
	base := os.Getenv(envHTTPURL)
	if base == "" {
		t.Skipf("%s not set", envHTTPURL)
	}
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("parse %s: %w", envHTTPURL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/?query="+url.QueryEscape("SELECT 1"), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("plain HTTP: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	if strings.TrimSpace(string(body)) != "1" {
		return fmt.Errorf("plain HTTP SELECT 1 answered %d %q", resp.StatusCode, body)
	}
	conn, err := chgo.Open(&chgo.Options{Protocol: chgo.HTTP, Addr: []string{u.Host}})
	if err != nil {
		return unsupportedf("open: %w", err)
	}
	defer conn.Close()
	var v string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return unsupportedf("query over HTTP: %w", err)
	}
	c := &server{conn: conn, db: s.db, version: s.version}
	if err := c.exec(ctx, fmt.Sprintf("CREATE TABLE %s.http (a UInt32, b String) ENGINE = MergeTree ORDER BY a", s.db)); err != nil {
		return unsupportedf("DDL over HTTP: %w", err)
	}
	if err := insertAndCount(ctx, t, c, fmt.Sprintf("INSERT INTO %s.http (a, b)", s.db), "http", 1); err != nil {
		return unsupportedf("batch over HTTP: %w", err)
	}
	return nil
}

// probeInlineValues sends INSERT ... VALUES through Exec. 18.16 treats any
// native INSERT as "data blocks follow" and waits, so the probe bounds the
// wait and uses a connection of its own.
func probeInlineValues(ctx context.Context, t *testing.T, s *server) error {
	if err := s.exec(ctx, fmt.Sprintf("CREATE TABLE %s.inline (a UInt32) ENGINE = MergeTree ORDER BY a", s.db)); err != nil {
		return err
	}
	conn := openOptions(t, s.opts)
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := conn.Exec(short, fmt.Sprintf("INSERT INTO %s.inline (a) VALUES (1), (2)", s.db))
	var netErr net.Error
	if err != nil && (short.Err() != nil || errors.As(err, &netErr) && netErr.Timeout()) {
		return unsupportedf("no answer within 3s (server waits for data blocks): %w", err)
	}
	if err != nil {
		return classify(err)
	}
	var n uint64
	if err := s.row(ctx, fmt.Sprintf("SELECT count() FROM %s.inline", s.db), &n); err != nil {
		return err
	}
	if n != 2 {
		t.Errorf("inline insert stored %d rows, want 2", n)
	}
	return nil
}

// probeReplicated: without ZooKeeper the CREATE fails, but 18.16 leaves the
// table's directory behind, which makes DROP DATABASE fail with "Directory
// not empty". Creating and dropping a plain table of that name removes it.
func probeReplicated(ctx context.Context, t *testing.T, s *server) error {
	err := s.exec(ctx, fmt.Sprintf(`CREATE TABLE %s.replicated (a UInt32)
		ENGINE = ReplicatedMergeTree('/clickhouse/tables/%s/replicated', 'r1') ORDER BY a`, s.db, s.db))
	if err == nil {
		return nil
	}
	cleanup := []string{
		fmt.Sprintf("CREATE TABLE %s.replicated (a UInt32) ENGINE = MergeTree ORDER BY a", s.db),
		fmt.Sprintf("DROP TABLE %s.replicated", s.db),
	}
	for _, q := range cleanup {
		if cerr := s.exec(ctx, q); cerr != nil {
			t.Errorf("clean up after the failed CREATE: %v", cerr)
		}
	}
	return err
}

package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/spool"
)

// loadLoop moves spooled frames into DuckDB every FlushInterval.
func (s *Store) loadLoop() {
	defer close(s.done)
	tick := time.NewTicker(s.cfg.FlushInterval)
	defer tick.Stop()
	backoff := s.cfg.FlushInterval
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		_, err := s.loadAll(ctx)
		cancel()
		if err != nil {
			s.log.Error("loading spooled batches into DuckDB failed; will retry", "err", err)
			select {
			case <-s.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = s.cfg.FlushInterval
	}
}

// loadOnce loads up to FlushBytes of spooled frames in one transaction and
// returns how many payload bytes it loaded.
func (s *Store) loadOnce(ctx context.Context) (int, error) {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if !s.loaded.Less(s.spool.Durable()) {
		return 0, nil
	}
	start := time.Now()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("duckdb store: connection: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return 0, fmt.Errorf("duckdb store: begin: %w", err)
	}
	l := &loader{users: map[profileKey]*profileAgg{}, companies: map[profileKey]*profileAgg{}}
	var next spool.Pos
	bytes := 0
	err = conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "events")
		if err != nil {
			return fmt.Errorf("events appender: %w", err)
		}
		l.events = app
		next, err = s.spool.Read(s.loaded, s.cfg.FlushBytes, func(frame []byte, _ spool.Pos) error {
			bytes += len(frame)
			return decodeFrame(frame, l)
		})
		if cerr := app.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("events appender: %w", cerr)
		}
		return err
	})
	if err == nil {
		err = l.finish(ctx, conn, s.profiles)
	}
	if err == nil {
		_, err = conn.ExecContext(ctx, `UPDATE spool_state SET segment = ?, "offset" = ? WHERE id = 1`, next.Segment, next.Offset)
	}
	if err == nil {
		_, err = conn.ExecContext(ctx, "COMMIT")
	}
	if err != nil {
		if _, rerr := conn.ExecContext(context.Background(), "ROLLBACK"); rerr != nil {
			err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
		return 0, fmt.Errorf("duckdb store: load: %w", err)
	}
	s.loaded = next
	s.profiles.commit(l)
	s.metrics.loadSeconds.Observe(time.Since(start).Seconds())
	s.metrics.loadedEvents.Add(float64(l.nEvents))
	if err := s.spool.Release(next); err != nil {
		s.log.Warn("releasing loaded spool segments failed", "err", err)
	}
	return bytes, nil
}

type profileKey struct{ app, id string }

// profileAgg is what one load learned about a user or company from events:
// when it was first and last seen. A logged companyId is the event's own;
// it does not link the user (PRODUCT.md section 6: only the users API
// links users to companies).
type profileAgg struct {
	first, last time.Time
}

// loader receives a load's decoded records: events stream into the
// appender, everything else is gathered and written by finish.
type loader struct {
	events    *duckdb.Appender
	nEvents   int
	users     map[profileKey]*profileAgg
	companies map[profileKey]*profileAgg
	rejects   []event.Rejected
	batches   []batchMarker
	userUpd   []event.UserUpdate
	compUpd   []event.CompanyUpdate
	roll      rollups // rollups: rollup.go (issue 4)
}

func (l *loader) event(ev *event.Event) error {
	l.nEvents++
	err := l.events.AppendRow(
		text(ev.AppID), text(ev.RequestID), ev.Time, ev.Received,
		opt(ev.APIID), opt(ev.Stage), opt(ev.Method), opt(ev.Path), opt(ev.Route), opt(ev.Host), opt(ev.Protocol),
		optStatus(ev.Status), optInt(ev.ResponseBytes), optFloat(ev.LatencyMs), optFloat(ev.IntegrationLatencyMs),
		opt(ev.IP), opt(ev.UserAgent), opt(ev.UserID), opt(ev.CompanyID), opt(ev.APIKeyID), opt(ev.PrincipalID),
		opt(ev.CognitoIdentityID), opt(ev.Caller), opt(ev.UserARN), opt(ev.ErrorMessage), opt(ev.ErrorType),
		text(string(ev.Source)), optBytes(ev.Metadata),
	)
	if err != nil {
		return fmt.Errorf("append event %q: %w", ev.RequestID, err)
	}
	l.roll.add(ev) // rollups: rollup.go (issue 4)
	if ev.UserID != "" {
		touch(l.users, profileKey{ev.AppID, ev.UserID}, ev.Time)
	}
	if ev.CompanyID != "" {
		touch(l.companies, profileKey{ev.AppID, ev.CompanyID}, ev.Time)
	}
	return nil
}

// touch records a sighting of a profile. k may alias a spool frame; it is
// copied only when the profile is new to this load.
func touch(m map[profileKey]*profileAgg, k profileKey, t time.Time) *profileAgg {
	a := m[k]
	if a == nil {
		a = &profileAgg{first: t, last: t}
		m[profileKey{strings.Clone(k.app), strings.Clone(k.id)}] = a
	}
	if t.Before(a.first) {
		a.first = t
	}
	if t.After(a.last) {
		a.last = t
	}
	return a
}

func (l *loader) rejected(r *event.Rejected) error {
	c := *r
	c.Raw = append([]byte(nil), r.Raw...)
	l.rejects = append(l.rejects, c)
	return nil
}

func (l *loader) batch(b *batchMarker) error {
	l.batches = append(l.batches, *b)
	return nil
}

func (l *loader) user(u *event.UserUpdate) error {
	c := *u
	c.Metadata = append([]byte(nil), u.Metadata...)
	l.userUpd = append(l.userUpd, c)
	return nil
}

func (l *loader) company(c *event.CompanyUpdate) error {
	cc := *c
	cc.Metadata = append([]byte(nil), c.Metadata...)
	l.compUpd = append(l.compUpd, cc)
	return nil
}

// finish writes what the load gathered besides events, in the load's
// transaction.
func (l *loader) finish(ctx context.Context, conn *sql.Conn, cache *profileCache) error {
	if err := l.roll.flush(ctx, conn); err != nil { // rollups: rollup.go (issue 4)
		return err
	}
	for _, r := range l.rejects {
		if _, err := conn.ExecContext(ctx, `INSERT INTO rejected VALUES (?, ?, ?, ?, ?, ?)`,
			r.AppID, r.Received, string(r.Source), validText(r.Reason), opt(r.BatchID), r.Raw); err != nil {
			return fmt.Errorf("insert rejected record: %w", err)
		}
	}
	for _, b := range l.batches {
		if _, err := conn.ExecContext(ctx, `INSERT INTO batches VALUES (?, ?, ?, ?)`, b.appID, validText(b.batchID), b.received, b.events); err != nil {
			return fmt.Errorf("insert batch: %w", err)
		}
	}
	cache.prune(l.users, true)
	cache.prune(l.companies, false)

	if err := upsertProfiles(ctx, conn, "users", "user_id", l.users); err != nil {
		return err
	}
	if err := upsertProfiles(ctx, conn, "companies", "company_id", l.companies); err != nil {
		return err
	}
	if err := applyUserUpdates(ctx, conn, l.userUpd); err != nil {
		return err
	}
	return applyCompanyUpdates(ctx, conn, l.compUpd)
}

// upsertProfiles folds one load's first/last-seen times into the users or
// companies table: the rows go through the appender into
// a temporary table, then one INSERT ... ON CONFLICT merges them, which is
// far cheaper than binding thousands of parameters. table and idCol are
// constants of this package, never input.
func upsertProfiles(ctx context.Context, conn *sql.Conn, table, idCol string, m map[profileKey]*profileAgg) error {
	if len(m) == 0 {
		return nil
	}
	stage := table + "_stage"
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE TEMP TABLE IF NOT EXISTS %s (app_id VARCHAR, id VARCHAR,
		first_seen TIMESTAMP, last_seen TIMESTAMP)`, stage)); err != nil {
		return fmt.Errorf("stage %s: %w", table, err)
	}
	if _, err := conn.ExecContext(ctx, "DELETE FROM "+stage); err != nil {
		return fmt.Errorf("stage %s: %w", table, err)
	}
	err := conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppender(dc.(driver.Conn), "temp", "main", stage)
		if err != nil {
			return err
		}
		for k, a := range m {
			if err := app.AppendRow(validText(k.app), validText(k.id), a.first, a.last); err != nil {
				app.Close()
				return err
			}
		}
		return app.Close()
	})
	if err != nil {
		return fmt.Errorf("stage %s: %w", table, err)
	}
	q := fmt.Sprintf(`INSERT INTO %s (app_id, %s, first_seen, last_seen)
		SELECT app_id, id, first_seen, last_seen FROM %s
		ON CONFLICT (app_id, %s) DO UPDATE SET
			first_seen = least(%s.first_seen, excluded.first_seen),
			last_seen = greatest(%s.last_seen, excluded.last_seen)`,
		table, idCol, stage, idCol, table, table)
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("upsert %s: %w", table, err)
	}
	return nil
}

// The appender takes driver values; these turn absent fields into NULL and
// guarantee valid UTF-8, which DuckDB requires of VARCHAR.
func text(s string) driver.Value { return validText(s) }

func opt(s string) driver.Value {
	if s == "" {
		return nil
	}
	return validText(s)
}

func optBytes(b []byte) driver.Value {
	if len(b) == 0 {
		return nil
	}
	return validText(string(b))
}

func optInt(n int64) driver.Value {
	if n == event.Absent {
		return nil
	}
	return n
}

func optFloat(x float64) driver.Value {
	if x == event.Absent {
		return nil
	}
	return x
}

func validText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func optStatus(n int) driver.Value {
	if n == event.Absent {
		return nil
	}
	return int32(n)
}

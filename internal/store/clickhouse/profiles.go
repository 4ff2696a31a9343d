package clickhouse

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/profile"
	"github.com/gatescope/gatescope/internal/store"
)

// Profiles (users, companies) are written by inserts only; see profileKind.
// Sightings come from events and need no reading: min, max and argMax fold
// them in any order. Metadata updates merge key by key (profile.Merge), which
// is not an aggregate ClickHouse can compute, so an update is first appended
// to a log, then the collector reads the profile's whole log back, merges it
// in Go and inserts the result with version = the number of log rows it
// merged. Every collector reads after its own log insert, and a later read
// sees every row an earlier one saw, so the merge with the highest version
// has seen every update acknowledged before it: argMax(metadata, version)
// picks it, whichever collector wrote it and in whatever order.

type profileKey struct{ app, id string }

// sighting is what a group's events say about a profile: when it was
// first and last seen. A companyId logged on an event is that event's own
// and links no user (PRODUCT.md section 6).
type sighting struct{ first, last time.Time }

// sightingRows turns a group's events into profile rows: one per user and
// one per company.
func sightingRows(evs []*event.Event) (users, companies []profileRow) {
	um := map[profileKey]*sighting{}
	cm := map[profileKey]*sighting{}
	for _, e := range evs {
		t := clampTime(e.Time.UTC())
		if e.UserID != "" {
			see(um, profileKey{e.AppID, e.UserID}, t)
		}
		if e.CompanyID != "" {
			see(cm, profileKey{e.AppID, e.CompanyID}, t)
		}
	}
	rows := func(m map[profileKey]*sighting) []profileRow {
		out := make([]profileRow, 0, len(m))
		for k, sg := range m {
			out = append(out, profileRow{key: k, first: sg.first, last: sg.last})
		}
		return out
	}
	return rows(um), rows(cm)
}

func see(m map[profileKey]*sighting, k profileKey, t time.Time) *sighting {
	sg := m[k]
	if sg == nil {
		sg = &sighting{first: t, last: t}
		m[k] = sg
	}
	if t.Before(sg.first) {
		sg.first = t
	}
	if t.After(sg.last) {
		sg.last = t
	}
	return sg
}

// profileRow is one row of a profile input table.
type profileRow struct {
	key             profileKey
	first, last     time.Time
	attr            string
	attrAt          uint64
	version         uint64
	metadata, times string
	modifiedAt      uint64
}

func (s *Store) insertProfileRows(ctx context.Context, k profileKind, rows []profileRow) error {
	if len(rows) == 0 {
		return nil
	}
	in := k.input()
	bt, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.lay.q(in.name)+" "+insertColumns(in))
	if err != nil {
		return err
	}
	for _, r := range rows {
		err := bt.Append(validText(r.key.app), validText(r.key.id), r.first.Truncate(time.Second), r.last.Truncate(time.Second),
			validText(r.attr), r.attrAt, r.version, r.metadata, r.times, r.modifiedAt)
		if err != nil {
			bt.Abort()
			return err
		}
	}
	return bt.Send()
}

// update is a user or company update, whichever kind.
type update struct {
	key      profileKey
	attr     string
	metadata []byte
	modified time.Time
}

func userUpdates(b *store.Batch) []update {
	out := make([]update, len(b.Users))
	for i, u := range b.Users {
		out[i] = update{profileKey{appOf(u.AppID, b), u.UserID}, u.CompanyID, u.Metadata, u.Modified}
	}
	return out
}

func companyUpdates(b *store.Batch) []update {
	out := make([]update, len(b.Companies))
	for i, c := range b.Companies {
		out[i] = update{profileKey{appOf(c.AppID, b), c.CompanyID}, c.Domain, c.Metadata, c.Modified}
	}
	return out
}

func appOf(app string, b *store.Batch) string {
	if app == "" {
		return b.AppID
	}
	return app
}

func (s *Store) applyUpdates(ctx context.Context, b *store.Batch, received time.Time) error {
	for _, x := range []struct {
		k   profileKind
		upd []update
	}{{usersKind, userUpdates(b)}, {compKind, companyUpdates(b)}} {
		if len(x.upd) == 0 {
			continue
		}
		if err := s.logUpdates(ctx, x.k, x.upd, received); err != nil {
			return err
		}
		logs, err := s.readLogs(ctx, x.k, x.upd)
		if err != nil {
			return err
		}
		rows := make([]profileRow, 0, len(logs))
		for key, l := range logs {
			r, err := mergeLog(key, x.k.attr, l)
			if err != nil {
				return err
			}
			rows = append(rows, r)
		}
		if err := s.insertProfileRows(ctx, x.k, rows); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) logUpdates(ctx context.Context, k profileKind, upd []update, received time.Time) error {
	bt, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.lay.q(k.updates.name)+" "+insertColumns(k.updates))
	if err != nil {
		return err
	}
	for _, u := range upd {
		err := bt.Append(validText(u.key.app), validText(u.key.id), unixMilli(u.modified), validText(u.attr), string(u.metadata), unixMilli(received))
		if err != nil {
			bt.Abort()
			return err
		}
	}
	return bt.Send()
}

// logRow is one logged update as read back.
type logRow struct {
	modified uint64
	received uint64 // Unix ms
	attr     string
	metadata string
}

// maxIDsPerQuery keeps a lookup's IN list well within max_query_size.
const maxIDsPerQuery = 1000

// readLogs reads the whole update log of every profile that upd touches.
func (s *Store) readLogs(ctx context.Context, k profileKind, upd []update) (map[profileKey][]logRow, error) {
	byApp := map[string][]string{}
	seen := map[profileKey]bool{}
	for _, u := range upd {
		key := profileKey{validText(u.key.app), validText(u.key.id)}
		if !seen[key] {
			seen[key] = true
			byApp[key.app] = append(byApp[key.app], key.id)
		}
	}
	out := map[profileKey][]logRow{}
	for app, ids := range byApp {
		for chunk := range slices.Chunk(ids, maxIDsPerQuery) {
			args := []any{app}
			for _, id := range chunk {
				args = append(args, id)
			}
			q := fmt.Sprintf("SELECT %[1]s, modified, received_ms, %[2]s, metadata FROM %[3]s WHERE app_id = ? AND %[1]s IN (%[4]s)",
				k.idCol, k.attr, s.lay.q(k.updates.name), strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", "))
			rows, err := s.conn.Query(ctx, q, args...)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var id string
				var r logRow
				if err := rows.Scan(&id, &r.modified, &r.received, &r.attr, &r.metadata); err != nil {
					rows.Close()
					return nil, err
				}
				key := profileKey{app, id}
				out[key] = append(out[key], r)
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// mergeLog folds a profile's log into one input row. The order is total
// (ties in modified time by arrival, then content), so every
// collector that reads the same rows writes the same result. Metadata that
// is not an object is skipped, as the DuckDB store does: the receivers
// validate it, and failing here would fail every later update.
func mergeLog(key profileKey, attrName string, log []logRow) (profileRow, error) {
	slices.SortFunc(log, func(a, b logRow) int {
		return cmp.Or(cmp.Compare(a.modified, b.modified), cmp.Compare(a.received, b.received),
			cmp.Compare(a.attr, b.attr), cmp.Compare(a.metadata, b.metadata))
	})
	r := profileRow{key: key, first: maxDateTime, last: minDateTime, version: uint64(len(log))}
	var meta, times []byte
	for _, l := range log {
		at := time.UnixMilli(int64(l.modified))
		m, err := profile.Merge(meta, times, profile.Update{Metadata: []byte(l.metadata), Fields: map[string]string{attrName: l.attr}, At: at})
		if err != nil && !errors.Is(err, profile.ErrBadUpdate) {
			return r, fmt.Errorf("merge profile %q: %w", key.id, err)
		}
		meta, times = m.Metadata, m.Times
		if v, ok := m.Fields[attrName]; ok {
			r.attr = v
		}
		r.modifiedAt = max(r.modifiedAt, l.modified)
	}
	r.metadata, r.times = string(meta), string(times)
	// The attribute is the log's too, so the row with the highest version
	// carries it, whether or not the log ever set it.
	r.attrAt = r.version
	return r, nil
}

func unixMilli(t time.Time) uint64 {
	if ms := t.UnixMilli(); ms > 0 {
		return uint64(ms)
	}
	return 0
}

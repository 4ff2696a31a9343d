package query

import (
	"context"
	"database/sql"
	"fmt"
)

// Grouped by company alone, the statement that computes every company's
// percentile (percentilesOf) groups its histogram pairs by the hash() of
// the company's id instead of the id: DuckDB's hash aggregate of a
// million pairs costs about a fifth less on integer keys than on text
// (docs/performance.md). The hashes are mapped back to ids through the
// app's companies and users, which hold every company a rollup or an
// event names (the loader writes them in the event's transaction).
// Should two of those ids share a hash, or the statement return a hash
// that none has, the statement runs again grouped by the ids themselves:
// the hashes only ever cost time, never correctness.
//
// Users are left keyed by text: mapping thousands of hashes back cost as
// much as the hashes saved.

// hashable reports whether s may group by the hash of its group.
func (s *aggSpec) hashable() bool {
	return len(s.groups) == 1 && s.groups[0].ref == refCompany &&
		s.iv == nil && !s.topUsed && !s.textGroups && s.only == nil
}

// keyDict maps the hash() of every company of an app, and of NULL, to
// the id (nil for NULL). unique is false when two share a hash, and the
// map then incomplete.
func (e *Engine) keyDict(ctx context.Context, app string) (dict map[uint64]any, unique bool, err error) {
	q := sqlExpr{`SELECT id, hash(id) FROM (SELECT company_id AS id FROM companies WHERE app_id = ?
		UNION SELECT company_id FROM users WHERE app_id = ? AND company_id IS NOT NULL
		UNION ALL SELECT CAST(NULL AS VARCHAR)) k`, []any{app, app}}
	dict, unique = map[uint64]any{}, true
	err = e.queryRows(ctx, q, func(rows *sql.Rows) error {
		var id sql.NullString
		var h uint64
		if err := rows.Scan(&id, &h); err != nil {
			return err
		}
		if _, dup := dict[h]; dup {
			unique = false
		}
		if id.Valid {
			dict[h] = id.String
		} else {
			dict[h] = nil
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("query: key hashes: %w", err)
	}
	return dict, unique, nil
}

// percentilesOf computes the percentile s.pcts[0] of each group of s,
// which has one group field and no time buckets, as a histogram bucket
// (a band when s.band is set): nil where the percentile is undefined
// (every latency negative), the NULL group under the key nil.
func (e *Engine) percentilesOf(ctx context.Context, s aggSpec) (map[any]*int64, error) {
	if err := e.setSealed(ctx, &s); err != nil {
		return nil, err
	}
	if s.hashable() {
		if out, ok, err := e.byHashes(ctx, s); err != nil || ok {
			return out, err
		}
	}
	return e.percentileRows(ctx, s)
}

// byHashes runs percentilesOf's statement of s, whose marks are set,
// grouped by the hashes of its group, and maps them back to the ids; ok
// is false when they cannot be (unhash).
func (e *Engine) byHashes(ctx context.Context, s aggSpec) (out map[any]*int64, ok bool, err error) {
	var dict map[uint64]any
	var unique bool
	var dictErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		dict, unique, dictErr = e.keyDict(ctx, s.app)
	}()
	s.hashed = true
	byHash, err := e.percentileRows(ctx, s)
	<-done
	if err == nil {
		err = dictErr
	}
	if err != nil {
		return nil, false, err
	}
	out, ok = unhash(byHash, dict, unique)
	return out, ok, nil
}

// unhash maps the keys of byHash, hashes, back to ids through dict; ok is
// false when it cannot be trusted to: dict is not unique, or a key is not
// in it.
func unhash(byHash map[any]*int64, dict map[uint64]any, unique bool) (out map[any]*int64, ok bool) {
	if !unique {
		return nil, false
	}
	out = make(map[any]*int64, len(byHash))
	for k, v := range byHash {
		h, isHash := k.(uint64)
		id, known := dict[h]
		if !isHash || !known {
			return nil, false
		}
		out[id] = v
	}
	return out, true
}

// percentileRows runs percentilesOf's statement and reads its rows itself:
// runFamily's per-row bookkeeping cost a third of the statement's time
// for the users' 4 811 rows on the benchmark.
func (e *Engine) percentileRows(ctx context.Context, s aggSpec) (map[any]*int64, error) {
	x, _, err := e.c.build(famHistogram, &s, e.rollups)
	if err != nil {
		return nil, err
	}
	out := map[any]*int64{}
	err = e.queryRows(ctx, x, func(rows *sql.Rows) error {
		var g any
		var h []any
		if err := rows.Scan(&g, &h); err != nil {
			return err
		}
		q, err := quantilesOf(h, s.pcts[:1])
		if err == nil {
			out[normalize(g)] = q[0]
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("query: percentiles: %w", err)
	}
	return out, nil
}

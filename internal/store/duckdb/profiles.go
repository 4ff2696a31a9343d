package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/profile"
)

// The profile fields that merge like metadata keys (package profile).
const (
	fieldCompany = "company_id"
	fieldDomain  = "domain"
)

// applyUserUpdates applies profile updates from the users API. They are
// rare next to events, so each is a read-merge-write; the merge itself is
// order-independent (package profile), sorting only keeps ties stable.
func applyUserUpdates(ctx context.Context, conn *sql.Conn, upds []event.UserUpdate) error {
	sort.SliceStable(upds, func(i, j int) bool { return upds[i].Modified.Before(upds[j].Modified) })
	for _, u := range upds {
		var meta, times, company sql.NullString
		var modified sql.NullTime
		err := conn.QueryRowContext(ctx, `SELECT metadata, metadata_modified, company_id, modified_at FROM users WHERE app_id = ? AND user_id = ?`,
			u.AppID, validText(u.UserID)).Scan(&meta, &times, &company, &modified)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read user: %w", err)
		}
		m, err := mergeProfile(meta, times, u.Metadata, map[string]string{fieldCompany: u.CompanyID}, u.Modified)
		if err != nil {
			return fmt.Errorf("user %q: %w", u.UserID, err)
		}
		if c, ok := m.Fields[fieldCompany]; ok {
			company = sql.NullString{String: validText(c), Valid: true}
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO users (app_id, user_id, company_id, metadata, metadata_modified, modified_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (app_id, user_id) DO UPDATE SET company_id = excluded.company_id, metadata = excluded.metadata,
				metadata_modified = excluded.metadata_modified, modified_at = excluded.modified_at`,
			u.AppID, validText(u.UserID), company, validText(string(m.Metadata)), string(m.Times), latest(modified, u.Modified)); err != nil {
			return fmt.Errorf("write user: %w", err)
		}
	}
	return nil
}

// applyCompanyUpdates is applyUserUpdates for companies.
func applyCompanyUpdates(ctx context.Context, conn *sql.Conn, upds []event.CompanyUpdate) error {
	sort.SliceStable(upds, func(i, j int) bool { return upds[i].Modified.Before(upds[j].Modified) })
	for _, c := range upds {
		var meta, times, domain sql.NullString
		var modified sql.NullTime
		err := conn.QueryRowContext(ctx, `SELECT metadata, metadata_modified, domain, modified_at FROM companies WHERE app_id = ? AND company_id = ?`,
			c.AppID, validText(c.CompanyID)).Scan(&meta, &times, &domain, &modified)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read company: %w", err)
		}
		m, err := mergeProfile(meta, times, c.Metadata, map[string]string{fieldDomain: c.Domain}, c.Modified)
		if err != nil {
			return fmt.Errorf("company %q: %w", c.CompanyID, err)
		}
		if d, ok := m.Fields[fieldDomain]; ok {
			domain = sql.NullString{String: validText(d), Valid: true}
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO companies (app_id, company_id, domain, metadata, metadata_modified, modified_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (app_id, company_id) DO UPDATE SET domain = excluded.domain, metadata = excluded.metadata,
				metadata_modified = excluded.metadata_modified, modified_at = excluded.modified_at`,
			c.AppID, validText(c.CompanyID), domain, validText(string(m.Metadata)), string(m.Times), latest(modified, c.Modified)); err != nil {
			return fmt.Errorf("write company: %w", err)
		}
	}
	return nil
}

// mergeProfile merges one update into a stored row. Metadata that is not
// an object cannot come through the receivers, which validate it; should
// one reach the spool anyway, its fields still apply and its metadata is
// dropped, because failing would stop every later load.
func mergeProfile(meta, times sql.NullString, upd []byte, fields map[string]string, at time.Time) (profile.Merged, error) {
	m, err := profile.Merge([]byte(meta.String), []byte(times.String), profile.Update{Metadata: upd, Fields: fields, At: at})
	if errors.Is(err, profile.ErrBadUpdate) {
		return m, nil
	}
	return m, err
}

// latest is a profile's modified_at after an update at t: the latest
// modified time of any update it has had.
func latest(prev sql.NullTime, t time.Time) time.Time {
	if prev.Valid && prev.Time.After(t) {
		return prev.Time
	}
	return t
}

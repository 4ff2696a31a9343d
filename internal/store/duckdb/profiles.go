package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/profile"
)

// applyUserUpdates applies profile updates from the users API in modified
// order. They are rare next to events, so each is a read-merge-write.
func applyUserUpdates(ctx context.Context, conn *sql.Conn, upds []event.UserUpdate) error {
	sort.SliceStable(upds, func(i, j int) bool { return upds[i].Modified.Before(upds[j].Modified) })
	for _, u := range upds {
		var meta, times sql.NullString
		var company sql.NullString
		var modified sql.NullTime
		err := conn.QueryRowContext(ctx, `SELECT metadata, metadata_modified, company_id, modified_at FROM users WHERE app_id = ? AND user_id = ?`,
			u.AppID, validText(u.UserID)).Scan(&meta, &times, &company, &modified)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read user: %w", err)
		}
		m, t, err := profile.Merge([]byte(meta.String), []byte(times.String), u.Metadata, u.Modified)
		if err != nil {
			return fmt.Errorf("user %q: %w", u.UserID, err)
		}
		latest := !modified.Valid || !u.Modified.Before(modified.Time)
		if u.CompanyID != "" && latest {
			company = sql.NullString{String: validText(u.CompanyID), Valid: true}
		}
		if latest {
			modified = sql.NullTime{Time: u.Modified, Valid: true}
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO users (app_id, user_id, company_id, metadata, metadata_modified, modified_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (app_id, user_id) DO UPDATE SET company_id = excluded.company_id, metadata = excluded.metadata,
				metadata_modified = excluded.metadata_modified, modified_at = excluded.modified_at`,
			u.AppID, validText(u.UserID), company, validText(string(m)), string(t), modified); err != nil {
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
		m, t, err := profile.Merge([]byte(meta.String), []byte(times.String), c.Metadata, c.Modified)
		if err != nil {
			return fmt.Errorf("company %q: %w", c.CompanyID, err)
		}
		latest := !modified.Valid || !c.Modified.Before(modified.Time)
		if c.Domain != "" && latest {
			domain = sql.NullString{String: validText(c.Domain), Valid: true}
		}
		if latest {
			modified = sql.NullTime{Time: c.Modified, Valid: true}
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO companies (app_id, company_id, domain, metadata, metadata_modified, modified_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (app_id, company_id) DO UPDATE SET domain = excluded.domain, metadata = excluded.metadata,
				metadata_modified = excluded.metadata_modified, modified_at = excluded.modified_at`,
			c.AppID, validText(c.CompanyID), domain, validText(string(m)), string(t), modified); err != nil {
			return fmt.Errorf("write company: %w", err)
		}
	}
	return nil
}

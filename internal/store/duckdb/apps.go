package duckdb

import (
	"context"
	"fmt"
	"strings"

	"github.com/gatescope/gatescope/internal/store"
)

// CreateApp implements store.Store.
func (s *Store) CreateApp(ctx context.Context, app store.App) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO apps (app_id, name, application_id, created_at) VALUES (?, ?, ?, ?)`,
		app.ID, validText(app.Name), app.ApplicationID, app.Created.UTC())
	if err != nil {
		if strings.Contains(err.Error(), "Constraint Error") {
			return fmt.Errorf("app %q: %w", app.ID, store.ErrConflict)
		}
		return fmt.Errorf("create app: %w", err)
	}
	return nil
}

// Apps implements store.Store.
func (s *Store) Apps(ctx context.Context) ([]store.App, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT app_id, name, application_id, created_at FROM apps ORDER BY created_at, app_id`)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	defer rows.Close()
	var apps []store.App
	for rows.Next() {
		var a store.App
		if err := rows.Scan(&a.ID, &a.Name, &a.ApplicationID, &a.Created); err != nil {
			return nil, fmt.Errorf("list apps: %w", err)
		}
		a.Created = a.Created.UTC()
		apps = append(apps, a)
	}
	return apps, rows.Err()
}

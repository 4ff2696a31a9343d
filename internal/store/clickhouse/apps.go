package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/gatescope/gatescope/internal/store"
)

// CreateApp implements store.Store. ClickHouse has no unique constraint,
// so the check for an existing app id or application id and the insert are
// two steps: two collectors creating the same id at the same instant could
// both succeed. Apps get random ids (package apps), so only an operator
// replaying the same request to two collectors at once could meet this.
func (s *Store) CreateApp(ctx context.Context, app store.App) error {
	var n uint64
	q := "SELECT count() FROM " + s.lay.q(appsTable.name) + " WHERE app_id = ? OR application_id = ?"
	if err := s.conn.QueryRow(ctx, q, app.ID, app.ApplicationID).Scan(&n); err != nil {
		return retryable("create app", err)
	}
	if n > 0 {
		return fmt.Errorf("app %q: %w", app.ID, store.ErrConflict)
	}
	bt, err := s.conn.PrepareBatch(s.writeCtx(ctx), "INSERT INTO "+s.lay.q(appsTable.name)+" "+insertColumns(appsTable))
	if err != nil {
		return retryable("create app", err)
	}
	created := app.Created.UTC()
	if err := bt.Append(app.ID, validText(app.Name), app.ApplicationID, clampTime(created).Truncate(time.Second), created.UnixMicro()); err != nil {
		bt.Abort()
		return retryable("create app", err)
	}
	if err := bt.Send(); err != nil {
		return retryable("create app", err)
	}
	return nil
}

// Apps implements store.Store. FINAL folds a row inserted twice.
func (s *Store) Apps(ctx context.Context) ([]store.App, error) {
	rows, err := s.conn.Query(ctx, "SELECT app_id, name, application_id, created_us FROM "+s.lay.q(appsTable.name)+" FINAL ORDER BY created_us, app_id")
	if err != nil {
		return nil, retryable("list apps", err)
	}
	defer rows.Close()
	var apps []store.App
	for rows.Next() {
		var a store.App
		var us int64
		if err := rows.Scan(&a.ID, &a.Name, &a.ApplicationID, &us); err != nil {
			return nil, retryable("list apps", err)
		}
		a.Created = time.UnixMicro(us).UTC()
		apps = append(apps, a)
	}
	if err := rows.Err(); err != nil {
		return nil, retryable("list apps", err)
	}
	return apps, nil
}

package clickhouse

import (
	"context"
	"fmt"
	"time"

	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Retention drops whole daily partitions (18.16 has no TTL). Every collector
// runs it; dropping is idempotent, so they need no coordination.

func (s *Store) retentionLoop() {
	defer close(s.done)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		n, err := s.ApplyRetention(ctx)
		cancel()
		if err != nil {
			s.log.Error("ClickHouse retention failed; will retry", "err", err)
		} else if n > 0 {
			s.log.Info("ClickHouse retention dropped partitions", "partitions", n, "retention_days", s.cfg.RetentionDays)
		}
		select {
		case <-s.stop:
			return
		case <-time.After(s.cfg.RetentionInterval):
		}
	}
}

// retentionCutoff is the first day kept, as a partition id (YYYYMMDD).
func (s *Store) retentionCutoff() string {
	day := s.now().UTC().AddDate(0, 0, -s.cfg.RetentionDays)
	return day.Format("20060102")
}

// ApplyRetention drops, on every host, the daily partitions of events,
// rejected records and delivery records that lie wholly before the
// retention window, and returns how many it dropped. Without RetentionDays
// it does nothing.
func (s *Store) ApplyRetention(ctx context.Context) (int, error) {
	if s.cfg.RetentionDays <= 0 {
		return 0, nil
	}
	cutoff := s.retentionCutoff()
	dropped := 0
	err := s.onEachHost(ctx, func(ctx context.Context, conn chdriver.Conn) error {
		for _, t := range storedTables() {
			if !t.partitioned {
				continue
			}
			name := s.lay.local(t.name)
			ids, err := s.expiredPartitions(ctx, conn, name, cutoff)
			if err != nil {
				return err
			}
			for _, id := range ids {
				// The id comes from system.parts and is all digits.
				if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP PARTITION ID '%s'", s.lay.q(name), id)); err != nil {
					return fmt.Errorf("drop partition %s of %s: %w", id, name, err)
				}
				dropped++
				s.metrics.droppedParts.Inc()
			}
		}
		return nil
	})
	return dropped, err
}

func (s *Store) expiredPartitions(ctx context.Context, conn chdriver.Conn, table, cutoff string) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT DISTINCT partition_id FROM system.parts
		WHERE database = ? AND table = ? AND active AND match(partition_id, '^[0-9]{8}$') AND partition_id < ?
		ORDER BY partition_id`, s.lay.db, table, cutoff)
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", table, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("partitions of %s: %w", table, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

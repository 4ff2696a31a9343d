package clickhouse

import (
	"context"
	"fmt"
)

// DropDatabase drops the database of cfg, with everything Gatescope keeps
// in it, on every host of the cluster (or the one server). It is for
// tests and for decommissioning: nothing asks before it deletes.
func DropDatabase(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	opts, err := cfg.options()
	if err != nil {
		return err
	}
	boot, err := dial(ctx, opts, opts.Addr[0])
	if err != nil {
		return fmt.Errorf("drop database: %w", err)
	}
	addrs, err := hosts(ctx, boot, opts, cfg.Cluster)
	boot.Close()
	if err != nil {
		return fmt.Errorf("drop database: %w", err)
	}
	for _, addr := range addrs {
		conn, err := dial(ctx, opts, addr)
		if err != nil {
			return fmt.Errorf("drop database: %w", err)
		}
		err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+opts.Auth.Database)
		conn.Close()
		if err != nil {
			return fmt.Errorf("drop database %s on %s: %w", opts.Auth.Database, addr, err)
		}
	}
	return nil
}

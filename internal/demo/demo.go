// Package demo is `gatescope demo`: Gatescope on its embedded store with a
// demo app, thirty days of simulated history and a live stream of traffic,
// so the dashboard shows a living product a minute after `make demo`.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/service"
	"github.com/gatescope/gatescope/internal/simulate"
	"github.com/gatescope/gatescope/internal/simulate/firehoseclient"
	"github.com/gatescope/gatescope/internal/simulate/traffic"
	"github.com/gatescope/gatescope/internal/store"
)

// AppName names the app the demo creates and, on later runs, reuses.
const AppName = "Demo API"

// backfilledMarker, in the data directory, records that the history was
// delivered, so a second run goes straight to live traffic.
const backfilledMarker = "demo-backfilled"

// Config configures a demo run.
type Config struct {
	Service   service.Config
	Users     int
	Companies int
	Backfill  time.Duration
	// Rate is the live traffic, in events per second at the start (it then
	// follows the model's daily rhythm).
	Rate float64
	Seed uint64
	// Live stops the run after the backfill when false (tests).
	Live bool
}

// DefaultConfig returns the `make demo` settings for a data directory.
func DefaultConfig(dataDir string) Config {
	return Config{
		Service:   service.DefaultConfig(dataDir),
		Users:     2000,
		Companies: 150,
		Backfill:  30 * 24 * time.Hour,
		Rate:      20,
		Seed:      1,
		Live:      true,
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Users < 1 || c.Companies < 1 {
		return errors.New("demo: users and companies must be positive")
	}
	if c.Backfill <= 0 || c.Rate <= 0 {
		return errors.New("demo: backfill and rate must be positive")
	}
	return c.Service.Validate()
}

// Run serves Gatescope, fills the demo app, prints where to look, and
// streams live traffic until ctx ends; then it shuts down cleanly.
func Run(ctx context.Context, cfg Config, out io.Writer, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	svc, err := service.Start(ctx, cfg.Service, log)
	if err != nil {
		return err
	}
	serveCtx, stopServe := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- svc.Run(serveCtx) }()
	err = fill(ctx, cfg, svc, out)
	stopServe()
	if serr := <-served; serr != nil {
		err = errors.Join(err, serr)
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // Ctrl-C: a normal end
	}
	return err
}

func fill(ctx context.Context, cfg Config, svc *service.Service, out io.Writer) error {
	app, err := demoApp(ctx, svc)
	if err != nil {
		return err
	}
	base := "http://" + svc.Addr()
	token, _ := svc.AdminToken()
	sim := simulate.Config{
		URL: base + "/v1/firehose", AccessKey: app.ApplicationID,
		Users: cfg.Users, Companies: cfg.Companies, Seed: cfg.Seed, LinkUsers: true,
		API: accesslog.REST, Format: traffic.FormatRecommended,
		Firehose: firehoseclient.Config{
			BufferSize: 4 << 20, BufferInterval: time.Second, Relaxed: true, Concurrency: 2,
			BackupDir: filepath.Join(cfg.Service.DataDir, "demo-firehose-backup"),
		},
	}
	marker := filepath.Join(cfg.Service.DataDir, backfilledMarker)
	if _, err := os.Stat(marker); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(out, "Delivering %s of history for %d users through the Firehose endpoint...\n", cfg.Backfill, cfg.Users)
		bf := sim
		bf.Backfill, bf.Progress = cfg.Backfill, true
		sum, err := simulate.Run(ctx, bf, out)
		if err != nil {
			return fmt.Errorf("demo backfill: %w", err)
		}
		if f, ok := svc.Store().(store.Flusher); ok {
			if err := f.Flush(ctx); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "History delivered: %d events in %s.\n", sum.Delivery.DeliveredEvents, sum.Elapsed.Round(100*time.Millisecond))
		if err := os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	fmt.Fprintf(out, "\nGatescope demo is running.\n  Dashboard:   %s/\n  Admin token: %s\n  App:         %s (%s)\nPress Ctrl-C to stop.\n\n",
		base, token, app.Name, app.ID)
	if !cfg.Live {
		return nil
	}
	live := sim
	live.Rate = cfg.Rate
	live.LinkUsers = false // linked during the backfill
	_, err = simulate.Run(ctx, live, io.Discard)
	if errors.Is(err, simulate.ErrUndelivered) && ctx.Err() != nil {
		return nil
	}
	return err
}

// demoApp finds the demo app from an earlier run, or creates it.
func demoApp(ctx context.Context, svc *service.Service) (store.App, error) {
	list, err := svc.Apps().List(ctx)
	if err != nil {
		return store.App{}, err
	}
	for _, a := range list {
		if a.Name == AppName {
			return a, nil
		}
	}
	return svc.Apps().Create(ctx, AppName)
}

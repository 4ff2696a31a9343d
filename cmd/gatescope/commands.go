package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/gatescope/gatescope/internal/accesslog"
	demopkg "github.com/gatescope/gatescope/internal/demo"
	simulatepkg "github.com/gatescope/gatescope/internal/simulate"
)

// demo is `gatescope demo`: serve on the embedded store with a demo app,
// thirty days of simulated history and live traffic.
func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := demopkg.DefaultConfig("./data")
	var level, format string
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serveFlags(fs, &cfg.Service, &level, &format)
	fs.IntVar(&cfg.Users, "users", cfg.Users, "simulated users")
	fs.IntVar(&cfg.Companies, "companies", cfg.Companies, "simulated companies")
	fs.DurationVar(&cfg.Backfill, "backfill", cfg.Backfill, "history delivered on the first run")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "live traffic, events per second")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "simulation seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	log, err := newLogger(stderr, level, format)
	if err != nil {
		return err
	}
	setMemoryLimit(cfg.Service)
	return demopkg.Run(ctx, cfg, stdout, log)
}

func simulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := simulatepkg.Main(ctx, args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func aws(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "log-format" {
		return fmt.Errorf("usage: gatescope aws log-format [--api rest|http|websocket]")
	}
	fs := flag.NewFlagSet("aws log-format", flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := fs.String("api", "rest", "API kind: rest, http or websocket")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	format, err := accesslog.FormatFor(*api)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, format)
	return nil
}

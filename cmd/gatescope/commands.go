package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/gatescope/gatescope/internal/accesslog"
)

// demo runs serve on the embedded default. Until the simulator lands it
// serves an empty store, and says so.
func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fmt.Fprintln(stdout, "gatescope demo: the traffic simulator is not built yet; starting `serve` on ./data with no simulated traffic.")
	return serve(ctx, args, stdout, stderr)
}

func simulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return fmt.Errorf("simulate: not built yet")
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

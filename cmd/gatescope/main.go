// Command gatescope is API analytics for AWS API Gateway: the collector
// that Kinesis Data Firehose delivers access logs to, the store, and the
// analytics on top. Run `gatescope help` for the commands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `gatescope: API analytics for AWS API Gateway

Usage:
  gatescope serve      [flags]   run the collector, store, API and dashboard
  gatescope demo       [flags]   serve with simulated traffic (make demo)
  gatescope simulate   [flags]   deliver simulated API Gateway traffic like Firehose
  gatescope aws log-format [--api rest|http|websocket]
                                  print the recommended access-log format
  gatescope version

Run "gatescope <command> -h" for a command's flags. Every serve flag can
also be set by an environment variable, GATESCOPE_<FLAG_NAME>.
`

// version is set by the Makefile from git.
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatescope:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "demo":
		return demo(ctx, args[1:], stdout, stderr)
	case "simulate":
		return simulate(ctx, args[1:], stdout, stderr)
	case "aws":
		return aws(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "gatescope", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

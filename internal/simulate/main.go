package simulate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/simulate/traffic"
)

// Main is `gatescope simulate ARGS`: it parses its flags, runs, and prints
// the summary on stdout and progress and errors on stderr. -h prints the
// usage and returns flag.ErrHelp.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	sum, err := Run(ctx, cfg, stderr)
	printSummary(stdout, cfg, sum)
	return err
}

func parseFlags(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: gatescope simulate --url URL --access-key KEY (--rate N | --backfill 30d) [flags]\n\n"+
			"Sends realistic API Gateway access logs the way Kinesis Data Firehose delivers them.\n\n")
		fs.PrintDefaults()
	}
	var (
		cfg        Config
		api        = fs.String("api", "rest", "API kind: rest, http or websocket (http and websocket go through CloudWatch Logs)")
		format     = fs.String("format", "recommended", "REST access-log format: recommended or seed")
		backfill   = fs.String("backfill", "", "history to send, ending at --end, as fast as the endpoint takes it: 30d, 12h, 90m")
		end        = fs.String("end", "", "end of the backfill, RFC 3339 (default now); with --seed it makes the lines reproducible")
		bufferMiB  = fs.Float64("buffer-size", 5, "Firehose buffer size in MiB (1-64)")
		attrs      = attrFlag{}
		noGzip     = fs.Bool("no-gzip", false, "send uncompressed bodies (Firehose's content encoding NONE)")
		quiet      = fs.Bool("quiet", false, "no progress line")
		seed       = fs.Uint64("seed", 1, "random seed: the same seed gives the same traffic")
		backupDir  = fs.String("backup-dir", "firehose-backup", "folder for batches that could not be delivered (Firehose's S3 backup layout)")
		retry      = fs.Duration("retry-duration", 300*time.Second, "how long a failing batch is retried (0-2h)")
		usersOnly  = fs.Bool("link-users", false, "send each user's company through the users API (POST /v1/users/batch) before their traffic")
		usersURL   = fs.String("users-url", "", "users API address (default: --url's host + /v1/users/batch)")
		perUserDay = fs.Float64("events-per-user-day", 0, "backfill volume: mean calls per active user per day (default 40)")
	)
	fs.StringVar(&cfg.URL, "url", "", "Firehose HTTP endpoint, e.g. http://127.0.0.1:8080/v1/firehose (required)")
	fs.StringVar(&cfg.AccessKey, "access-key", "", "the endpoint's access key: the app's application id (required)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "live mode: events per second now (the rate then follows the daily rhythm)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "live mode: stop after this long (default: until interrupted)")
	fs.IntVar(&cfg.Users, "users", 200, "number of users")
	fs.IntVar(&cfg.Companies, "companies", 20, "number of companies")
	fs.DurationVar(&cfg.Firehose.BufferInterval, "buffer-interval", 60*time.Second, "Firehose buffer interval (60-900 s)")
	fs.BoolVar(&cfg.Firehose.Relaxed, "relaxed", false, "allow buffers under 1 MiB and intervals under 60 s (demos, tests)")
	fs.DurationVar(&cfg.Firehose.ResponseTimeout, "timeout", 180*time.Second, "response timeout of one delivery attempt")
	fs.IntVar(&cfg.Firehose.Concurrency, "concurrency", 2, "batches in flight at once")
	fs.StringVar(&cfg.Firehose.StreamName, "stream", "", "delivery stream name (default amazon-apigateway-gatescope-sim, or gatescope-cloudwatch-sim for http/websocket)")
	fs.StringVar(&cfg.Firehose.Region, "region", "us-east-1", "region in the source ARN")
	fs.StringVar(&cfg.Firehose.AccountID, "account", "123456789012", "account id in the source ARN and log events")
	fs.Var(&attrs, "common-attribute", "KEY=VALUE sent in X-Amz-Firehose-Common-Attributes (repeatable)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("simulate: unexpected arguments %q", fs.Args())
	}
	kind, err := accesslog.ParseAPI(*api)
	if err != nil {
		return Config{}, fmt.Errorf("simulate: --api: %w", err)
	}
	cfg.API = kind
	switch f := traffic.Format(*format); f {
	case traffic.FormatRecommended, traffic.FormatSeed:
		cfg.Format = f
		if kind != accesslog.REST && f == traffic.FormatSeed {
			return Config{}, errors.New("simulate: --format seed is for --api rest")
		}
	default:
		return Config{}, fmt.Errorf("simulate: --format %q: want recommended or seed", *format)
	}
	if *backfill != "" {
		if cfg.Backfill, err = ParseSpan(*backfill); err != nil {
			return Config{}, fmt.Errorf("simulate: --backfill: %w", err)
		}
	}
	if *end != "" {
		if cfg.End, err = time.Parse(time.RFC3339, *end); err != nil {
			return Config{}, fmt.Errorf("simulate: --end: %w", err)
		}
	}
	cfg.Seed = *seed
	cfg.EventsPerUserDay = *perUserDay
	cfg.LinkUsers, cfg.UsersURL = *usersOnly, *usersURL
	cfg.Progress = !*quiet
	cfg.Firehose.BufferSize = int(*bufferMiB * (1 << 20))
	cfg.Firehose.Uncompressed = *noGzip
	cfg.Firehose.BackupDir = *backupDir
	cfg.Firehose.RetryDuration = *retry
	if *retry == 0 {
		cfg.Firehose.RetryDuration = -1 // firehoseclient.NoRetries: the flag's 0 means none
	}
	if len(attrs) > 0 {
		cfg.Firehose.CommonAttributes = attrs
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// ParseSpan reads a span as "30d", "12h", "90m" or any Go duration.
func ParseSpan(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days <= 0 || days > 3650 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(days * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive span like 30d, 12h or 90m", s)
	}
	return d, nil
}

// attrFlag collects repeated KEY=VALUE flags.
type attrFlag map[string]string

func (a attrFlag) String() string { return fmt.Sprint(map[string]string(a)) }

func (a attrFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", s)
	}
	a[k] = v
	return nil
}

func printSummary(w io.Writer, cfg Config, s Summary) {
	d := s.Delivery
	rate := 0.0
	if secs := s.Elapsed.Seconds(); secs > 0 {
		rate = float64(s.Events) / secs
	}
	fmt.Fprintf(w, "simulated %s events in %v (%s events/s)\n", count(s.Events), s.Elapsed.Round(100*time.Millisecond), count(int64(rate)))
	fmt.Fprintf(w, "  delivered: %s events in %s batches (%s requests)\n", count(d.DeliveredEvents), count(d.DeliveredBatches), count(d.Attempts))
	fmt.Fprintf(w, "  retried:   %s attempts\n", count(d.Retries))
	fmt.Fprintf(w, "  failed:    %s batches (%s events)\n", count(d.FailedBatches), count(d.FailedEvents))
	fmt.Fprintf(w, "  backed up: %s batches (%s events) under %s\n", count(d.BackedUpBatches), count(d.BackedUpEvents), s.BackupDir)
	if cfg.LinkUsers {
		fmt.Fprintf(w, "  users API: %s users linked to their companies\n", count(int64(s.UsersLinked)))
	}
}

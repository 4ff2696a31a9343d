// Package simulate is `gatescope simulate`: realistic API Gateway traffic
// from the traffic model, delivered exactly as Kinesis Data Firehose
// delivers it to an HTTP endpoint, either as history (backfill, as fast as
// the endpoint takes it) or live at a given rate.
package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/simulate/firehoseclient"
	"github.com/gatescope/gatescope/internal/simulate/traffic"
)

// liveWindow bounds a live run without Duration: the model plans that far.
const liveWindow = 30 * 24 * time.Hour

// Config is one simulator run.
type Config struct {
	// URL and AccessKey address the Firehose HTTP endpoint; they override
	// Firehose.URL and Firehose.AccessKey.
	URL, AccessKey string

	// Exactly one of Rate (live: events per second at the start, following
	// the daily rhythm after) and Backfill (history ending at End) is set.
	Rate     float64
	Backfill time.Duration
	// End is where a backfill ends; zero means now. The same Seed and End
	// give the same lines.
	End time.Time
	// Duration stops a live run; zero runs until ctx ends (or 30 days).
	Duration time.Duration

	Users, Companies int
	Seed             uint64
	API              accesslog.API
	Format           traffic.Format
	// EventsPerUserDay sets a backfill's volume; 0 selects the model's.
	EventsPerUserDay float64

	// LinkUsers sends every user's company link to the users API
	// (Moesif's POST /v1/users/batch) before their traffic; UsersURL
	// overrides the address derived from URL.
	LinkUsers bool
	UsersURL  string

	// Firehose configures delivery; BackupDir defaults to
	// ./firehose-backup and StreamName to one fitting the API kind.
	Firehose firehoseclient.Config

	// Progress draws a progress line on the progress writer.
	Progress bool
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	if (c.Rate > 0) == (c.Backfill > 0) {
		return errors.New("simulate: give either --rate (live) or --backfill (history)")
	}
	if c.Rate < 0 || c.Backfill < 0 || c.Duration < 0 {
		return errors.New("simulate: rate, backfill and duration must not be negative")
	}
	if c.URL == "" {
		return errors.New("simulate: --url is required")
	}
	if c.LinkUsers {
		if _, err := c.usersURL(); err != nil {
			return err
		}
	}
	tc := c.trafficConfig(time.Unix(1e9, 0))
	if err := tc.Validate(); err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	fc := c.firehoseConfig()
	if err := fc.Validate(); err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	return nil
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c Config) live() bool { return c.Rate > 0 }

// trafficConfig is the model's configuration for a run starting now.
func (c Config) trafficConfig(now time.Time) traffic.Config {
	tc := traffic.Config{Seed: c.Seed, Users: c.Users, Companies: c.Companies, API: c.API, Format: c.Format}
	if c.live() {
		tc.Start = now.Truncate(time.Millisecond)
		d := c.Duration
		if d == 0 {
			d = liveWindow
		}
		tc.End = tc.Start.Add(d)
		tc.Rate = c.Rate
	} else {
		end := c.End
		if end.IsZero() {
			end = now
		}
		tc.End = end.Truncate(time.Millisecond)
		tc.Start = tc.End.Add(-c.Backfill)
		tc.EventsPerUserDay = c.EventsPerUserDay
	}
	return tc
}

func (c Config) firehoseConfig() firehoseclient.Config {
	fc := c.Firehose
	fc.URL, fc.AccessKey = c.URL, c.AccessKey
	if fc.BackupDir == "" {
		fc.BackupDir = "firehose-backup"
	}
	if fc.StreamName == "" {
		fc.StreamName = "amazon-apigateway-gatescope-sim"
		if c.API != accesslog.REST {
			fc.StreamName = "gatescope-cloudwatch-sim"
		}
	}
	return fc
}

func (c Config) usersURL() (string, error) {
	if c.UsersURL != "" {
		return c.UsersURL, nil
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("simulate: cannot derive the users API address from %q", c.URL)
	}
	return u.Scheme + "://" + u.Host + "/v1/users/batch", nil
}

// Summary is what a run did.
type Summary struct {
	Events  int64 // generated and handed to delivery
	Elapsed time.Duration
	// Delivery is the Firehose client's account, events included.
	Delivery    firehoseclient.Stats
	UsersLinked int
	BackupDir   string
}

// ErrUndelivered is returned (wrapped) when some events were not
// acknowledged: they are in the backup folder, or lost if that failed.
var ErrUndelivered = errors.New("some events were not delivered")

// Run generates and delivers traffic until the range is done or ctx ends
// (a live run's normal stop). progress receives the progress line.
func Run(ctx context.Context, cfg Config, progress io.Writer) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	began := cfg.now()
	tc := cfg.trafficConfig(began)
	model, err := traffic.New(tc)
	if err != nil {
		return Summary{}, fmt.Errorf("simulate: %w", err)
	}
	fc := cfg.firehoseConfig()
	sum := Summary{BackupDir: fc.BackupDir}

	var links *linker
	if cfg.LinkUsers {
		usersURL, _ := cfg.usersURL()
		links = newLinker(usersURL, cfg.AccessKey, fc.HTTPClient)
		if err := links.sendExisting(ctx, model, tc.Start, cfg.live()); err != nil {
			return sum, err
		}
	}

	client, err := firehoseclient.New(fc)
	if err != nil {
		return sum, fmt.Errorf("simulate: %w", err)
	}
	var generated atomic.Int64
	var fraction atomic.Uint64 // float64 bits of the model's progress
	stopProgress := func() {}
	if cfg.Progress && progress != nil {
		stopProgress = startProgress(progress, cfg.live(), began, cfg.now, &generated, &fraction, client.Stats)
	}

	out, err := newSink(cfg, client, model)
	if err != nil {
		_ = client.Close(ctx)
		return sum, err
	}
	runErr := produce(ctx, cfg, tc.Start, model, out, links, &generated, &fraction)

	// A stopped live run still delivers what it generated; give delivery a
	// bounded grace period beyond ctx.
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeGrace(fc))
	defer cancel()
	closeErr := client.Close(closeCtx)
	stopProgress()

	sum.Events = generated.Load()
	sum.Elapsed = cfg.now().Sub(began)
	sum.Delivery = client.Stats()
	if links != nil {
		sum.UsersLinked = links.sent
	}
	if runErr == nil && !cfg.live() && ctx.Err() != nil {
		runErr = fmt.Errorf("simulate: backfill stopped at %.0f%%: %w", 100*math.Float64frombits(fraction.Load()), ctx.Err())
	}
	if runErr != nil {
		return sum, runErr
	}
	if closeErr != nil {
		return sum, fmt.Errorf("simulate: finishing delivery: %w", closeErr)
	}
	if lost := sum.Events - sum.Delivery.DeliveredEvents; lost > 0 {
		return sum, fmt.Errorf("simulate: %d events not delivered (%d backed up under %s): %w",
			lost, sum.Delivery.BackedUpEvents, sum.BackupDir, ErrUndelivered)
	}
	return sum, nil
}

// closeGrace is how long Close may take: every pending batch's full retry
// duration plus a margin, as Firehose would.
func closeGrace(fc firehoseclient.Config) time.Duration {
	retry := fc.RetryDuration
	switch retry {
	case 0:
		retry = 300 * time.Second
	case firehoseclient.NoRetries:
		retry = 0
	}
	timeout := fc.ResponseTimeout
	if timeout == 0 {
		timeout = 180 * time.Second
	}
	return retry + timeout + 10*time.Second
}

// produce feeds the model's events to the sink: at once for a backfill,
// each at its own time for a live run.
func produce(ctx context.Context, cfg Config, start time.Time, model *traffic.Model, out *sink, links *linker,
	generated *atomic.Int64, fraction *atomic.Uint64) error {
	if err := out.open(ctx, start); err != nil {
		return err
	}
	live := cfg.live()
	for n := 0; ; n++ {
		if n%1024 == 0 {
			fraction.Store(math.Float64bits(model.Progress()))
			if ctx.Err() != nil {
				break
			}
		}
		ev, ok := model.Next()
		if !ok {
			fraction.Store(math.Float64bits(1))
			break
		}
		if live {
			if err := waitUntil(ctx, cfg, ev.Time, out); err != nil {
				break // stopped: deliver what was generated
			}
			if links != nil {
				if ev.Truth.Role == traffic.RoleSignup {
					links.queue(model.UserLink(ev.Truth.Sender))
				}
				if err := links.flushIfDue(ctx, cfg.now()); err != nil {
					return err
				}
			}
		}
		generated.Add(1)
		if err := out.add(ctx, ev, cfg.now()); err != nil {
			if ctx.Err() != nil {
				break // the record stays with the client for Close
			}
			return err
		}
	}
	// Deliver what is pending even when ctx has ended: Close has its own
	// grace period.
	flushCtx := context.WithoutCancel(ctx)
	if links != nil {
		if err := links.flush(flushCtx); err != nil {
			return err
		}
	}
	return out.flush(flushCtx)
}

// waitUntil sleeps until t, first forwarding CloudWatch events that would
// otherwise wait more than a second (CloudWatch Logs forwards about that
// fast).
func waitUntil(ctx context.Context, cfg Config, t time.Time, out *sink) error {
	wait := t.Sub(cfg.now())
	if out.pendingSince(cfg.now().Add(wait)) > time.Second {
		if err := out.flush(ctx); err != nil {
			return err
		}
	}
	if wait <= 2*time.Millisecond {
		return nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

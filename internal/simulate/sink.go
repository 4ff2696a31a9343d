package simulate

import (
	"context"
	"fmt"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/simulate/firehoseclient"
	"github.com/gatescope/gatescope/internal/simulate/traffic"
)

// sink turns events into Firehose records: one line per record for REST
// APIs, CloudWatch Logs subscription records for HTTP and WebSocket APIs.
type sink struct {
	client  *firehoseclient.Client
	logs    *firehoseclient.LogsBatcher // nil for REST APIs
	line    []byte
	pending time.Time // when the first event still in logs was added
}

func newSink(cfg Config, client *firehoseclient.Client, model *traffic.Model) (*sink, error) {
	s := &sink{client: client}
	if cfg.API == accesslog.REST {
		return s, nil
	}
	logs, err := firehoseclient.NewLogsBatcher(firehoseclient.LogsConfig{
		Owner:     cfg.firehoseConfig().AccountID,
		LogGroup:  "/aws/apigateway/" + model.APIID() + "/access-logs",
		LogStream: model.APIID() + "_" + model.Stage(),
	})
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	s.logs = logs
	return s, nil
}

// open sends what precedes the traffic: for a CloudWatch Logs
// subscription, the health-check control message it starts with.
func (s *sink) open(ctx context.Context, start time.Time) error {
	if s.logs == nil {
		return nil
	}
	rec, err := firehoseclient.ControlRecord(start)
	if err == nil {
		err = s.client.PutEvents(ctx, rec, 0)
	}
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	return nil
}

func (s *sink) add(ctx context.Context, ev traffic.Event, now time.Time) error {
	if s.logs == nil {
		// API Gateway appends a newline to each line it sends Firehose.
		s.line = append(append(s.line[:0], ev.Line...), '\n')
		if err := s.client.Put(ctx, s.line); err != nil {
			return fmt.Errorf("simulate: %w", err)
		}
		return nil
	}
	if s.logs.Pending() == 0 {
		s.pending = now
	}
	rec, n, err := s.logs.Add(ev.Time, ev.Line)
	if err == nil && rec != nil {
		s.pending = now
		err = s.client.PutEvents(ctx, rec, n)
	}
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	return nil
}

// pendingSince is how long, at t, the oldest unsent CloudWatch event will
// have waited; 0 when none waits.
func (s *sink) pendingSince(t time.Time) time.Duration {
	if s.logs == nil || s.logs.Pending() == 0 {
		return 0
	}
	return t.Sub(s.pending)
}

func (s *sink) flush(ctx context.Context) error {
	if s.logs == nil {
		return nil
	}
	rec, n, err := s.logs.Flush()
	if err == nil && rec != nil {
		err = s.client.PutEvents(ctx, rec, n)
	}
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	return nil
}

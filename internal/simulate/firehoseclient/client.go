package firehoseclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Put and Flush after Close.
var ErrClosed = errors.New("firehoseclient: client closed")

// ErrRecordTooLarge is returned by Put for a record over MaxRecordSize.
var ErrRecordTooLarge = errors.New("firehoseclient: record larger than 1,000 KiB")

// Stats counts what the client did. Records and batches are counted once
// each, whatever the number of attempts.
type Stats struct {
	Records          int64 // accepted by Put
	Events           int64 // log events in those records (see PutEvents)
	Batches          int64 // handed to delivery
	Attempts         int64 // HTTP requests made
	Retries          int64 // attempts after a batch's first
	DeliveredBatches int64
	DeliveredRecords int64
	// FailedBatches gave up after the retry duration; each is then
	// backed up, and counted in BackedUp* if the backup was written.
	FailedBatches   int64
	FailedRecords   int64
	BackedUpBatches int64
	BackedUpRecords int64
	BackupErrors    int64
	// Events counted per outcome.
	DeliveredEvents, FailedEvents, BackedUpEvents int64
}

type counters struct {
	records, events, batches, attempts, retries atomic.Int64
	deliveredEvents, failedEvents, backedUpEvts atomic.Int64
	deliveredBatches, deliveredRecords          atomic.Int64
	failedBatches, failedRecords                atomic.Int64
	backedUpBatches, backedUpRecords, backupErr atomic.Int64
}

// batch is a sealed buffer: the records of one request.
type batch struct {
	records [][]byte
	arrival []int64 // when each record was Put, ms
	size    int
	events  int
}

// Client delivers records. Put, Flush and Stats may be called from several
// goroutines; Close must be the last call.
type Client struct {
	cfg   Config
	arn   string
	attrs string // X-Amz-Firehose-Common-Attributes, "" for none

	mu      sync.Mutex
	buf     *batch
	gen     uint64 // identifies buf for its interval timer
	timer   *time.Timer
	closed  bool
	orphans []*batch // sealed while their sender's context ended

	queue   chan *batch
	senders sync.WaitGroup
	workers sync.WaitGroup
	// stopCtx ends attempts and retries early when Close's context ends.
	stopCtx context.Context
	stop    context.CancelFunc

	n counters
}

// New validates cfg and starts the delivery workers.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	attrs, err := commonAttributesHeader(cfg.CommonAttributes)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:   cfg,
		arn:   cfg.SourceARN(),
		attrs: attrs,
		queue: make(chan *batch, cfg.Concurrency),
	}
	c.stopCtx, c.stop = context.WithCancel(context.Background())
	for range cfg.Concurrency {
		c.workers.Add(1)
		go func() {
			defer c.workers.Done()
			for b := range c.queue {
				c.deliver(b)
			}
		}()
	}
	return c, nil
}

// Put adds one record that carries one log event; see PutEvents.
func (c *Client) Put(ctx context.Context, data []byte) error {
	return c.PutEvents(ctx, data, 1)
}

// PutEvents adds one record carrying the given number of log events (a
// CloudWatch Logs record carries many, a control message none); events
// only feed Stats. The client copies data. PutEvents blocks while every
// delivery slot is busy, which is how a backfill goes as fast as the
// endpoint takes it. If ctx ends while it waits, the batch stays with the
// client for Close and the error is ctx's.
func (c *Client) PutEvents(ctx context.Context, data []byte, events int) error {
	if len(data) > MaxRecordSize {
		return ErrRecordTooLarge
	}
	now := c.cfg.Now().UnixMilli()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	// At most two batches seal at once: the buffer the record does not
	// fit in, and the record's own when it alone fills a buffer.
	var sealed [2]*batch
	n := 0
	if c.buf != nil && c.buf.size+len(data) > c.cfg.BufferSize {
		sealed[n] = c.sealLocked()
		n++
	}
	if c.buf == nil {
		c.buf = &batch{}
		c.gen++
		gen := c.gen
		c.timer = time.AfterFunc(c.cfg.BufferInterval, func() { c.onInterval(gen) })
	}
	c.buf.records = append(c.buf.records, append([]byte(nil), data...))
	c.buf.arrival = append(c.buf.arrival, now)
	c.buf.size += len(data)
	c.buf.events += events
	c.n.records.Add(1)
	c.n.events.Add(int64(events))
	if c.buf.size >= c.cfg.BufferSize {
		sealed[n] = c.sealLocked()
		n++
	}
	c.senders.Add(n)
	c.mu.Unlock()
	for i := range n {
		if err := c.send(ctx, sealed[i]); err != nil {
			for _, b := range sealed[i+1 : n] {
				c.mu.Lock()
				c.orphans = append(c.orphans, b)
				c.mu.Unlock()
				c.senders.Done()
			}
			return err
		}
	}
	return nil
}

// Flush hands the buffered records to delivery now, without waiting for
// them to be delivered.
func (c *Client) Flush(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	b := c.sealLocked()
	if b == nil {
		c.mu.Unlock()
		return nil
	}
	c.senders.Add(1)
	c.mu.Unlock()
	return c.send(ctx, b)
}

// Close delivers what is buffered and waits for every batch to be
// delivered or backed up. If ctx ends first, retries stop and the batches
// still pending are backed up at once; Close then returns ctx's error.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.closed = true
	last := c.sealLocked()
	c.mu.Unlock()

	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			c.stop()
		case <-done:
		}
	}()
	defer close(done)
	defer c.stop()

	// Senders blocked on the queue finish as workers drain it; once they
	// have, no one else sends and the queue can close.
	c.senders.Wait()
	c.mu.Lock()
	pending := append(c.orphans, last)
	c.orphans = nil
	c.mu.Unlock()
	for _, b := range pending {
		if b == nil {
			continue
		}
		select {
		case c.queue <- b:
		case <-c.stopCtx.Done():
			c.giveUp(b, 0, interrupted(ctx.Err()))
		}
	}
	close(c.queue)
	c.workers.Wait()
	return ctx.Err()
}

// Stats returns the counts so far.
func (c *Client) Stats() Stats {
	return Stats{
		Records: c.n.records.Load(), Events: c.n.events.Load(), Batches: c.n.batches.Load(),
		Attempts: c.n.attempts.Load(), Retries: c.n.retries.Load(),
		DeliveredBatches: c.n.deliveredBatches.Load(), DeliveredRecords: c.n.deliveredRecords.Load(),
		FailedBatches: c.n.failedBatches.Load(), FailedRecords: c.n.failedRecords.Load(),
		BackedUpBatches: c.n.backedUpBatches.Load(), BackedUpRecords: c.n.backedUpRecords.Load(),
		BackupErrors:    c.n.backupErr.Load(),
		DeliveredEvents: c.n.deliveredEvents.Load(), FailedEvents: c.n.failedEvents.Load(), BackedUpEvents: c.n.backedUpEvts.Load(),
	}
}

// sealLocked takes the buffer as a batch, nil when it is empty.
func (c *Client) sealLocked() *batch {
	b := c.buf
	c.buf = nil
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if b == nil || len(b.records) == 0 {
		return nil
	}
	c.n.batches.Add(1)
	return b
}

func (c *Client) onInterval(gen uint64) {
	c.mu.Lock()
	if c.closed || gen != c.gen || c.buf == nil {
		c.mu.Unlock()
		return
	}
	b := c.sealLocked()
	c.senders.Add(1)
	c.mu.Unlock()
	_ = c.send(context.Background(), b)
}

// send queues a sealed batch; the caller has done senders.Add(1).
func (c *Client) send(ctx context.Context, b *batch) error {
	defer c.senders.Done()
	select {
	case c.queue <- b:
		return nil
	case <-ctx.Done():
	case <-c.stopCtx.Done():
	}
	c.mu.Lock()
	c.orphans = append(c.orphans, b)
	c.mu.Unlock()
	if ctx.Err() != nil {
		return fmt.Errorf("firehoseclient: queueing a batch: %w", ctx.Err())
	}
	return ErrClosed
}

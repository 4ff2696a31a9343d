package duckdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatescope/gatescope/internal/dedup"
	"github.com/gatescope/gatescope/internal/spool"
	"github.com/gatescope/gatescope/internal/store"
)

// Append implements store.Store. The batch is durable in the spool when
// Append returns nil; it becomes queryable at the next load.
func (s *Store) Append(ctx context.Context, b *store.Batch) (store.AppendResult, error) {
	var res store.AppendResult
	select {
	case <-s.stop:
		return res, store.ErrClosed
	default:
	}
	s.loadMu.Lock()
	backlog := s.spool.Backlog(s.loaded)
	s.loadMu.Unlock()
	if backlog > s.cfg.MaxBacklogBytes {
		s.metrics.overloaded.Inc()
		return res, fmt.Errorf("%w: %d bytes wait to be loaded", store.ErrOverloaded, backlog)
	}
	received := b.Received
	if received.IsZero() {
		received = time.Now()
	}

	// Encode and digest on the caller's goroutine, so the spool's single
	// writer only filters and copies.
	p := prepare(s.seen, b, received)
	enc := func() []byte {
		return p.encode(s.seen, &res, received)
	}
	start := time.Now()
	err := s.spool.Commit(ctx, enc)
	s.metrics.commitSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		switch {
		case errors.Is(err, spool.ErrClosed):
			return store.AppendResult{}, store.ErrClosed
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return store.AppendResult{}, fmt.Errorf("%w: %v", store.ErrUnavailable, err)
		}
		return store.AppendResult{}, fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return res, nil
}

// prepared is a batch encoded record by record, with the digests the writer
// needs to drop duplicates.
type prepared struct {
	b *store.Batch
	// buf is the frame as it is when nothing is a duplicate: the version
	// byte, the events, then the other records (the batch marker is
	// appended by encode).
	buf      []byte
	ends     []int       // ends[i] is where event i's record ends in buf
	keys     []dedup.Key // keys[i] identifies event i
	batchKey dedup.Key
	rest     int // where the non-event records start in buf
}

// prepare stamps every event with the batch's arrival time: the dedup
// window after a restart is rebuilt from it.
func prepare(set *dedup.Set, b *store.Batch, received time.Time) *prepared {
	p := &prepared{b: b, ends: make([]int, len(b.Events)), keys: make([]dedup.Key, len(b.Events))}
	// An encoded event is a few hundred bytes: size the buffer once.
	p.buf = make([]byte, 0, 512*len(b.Events)+256*(len(b.Rejected)+len(b.Users)+len(b.Companies)+1))
	p.buf = append(p.buf, frameVersion)
	for i := range b.Events {
		ev := &b.Events[i]
		ev.Received = received
		p.buf = appendEvent(p.buf, ev)
		p.ends[i] = len(p.buf)
		p.keys[i] = eventKey(set, ev.AppID, ev.RequestID)
	}
	p.rest = len(p.buf)
	for i := range b.Rejected {
		p.buf = appendRejected(p.buf, &b.Rejected[i])
	}
	for i := range b.Users {
		p.buf = appendUser(p.buf, &b.Users[i])
	}
	for i := range b.Companies {
		p.buf = appendCompany(p.buf, &b.Companies[i])
	}
	if b.ID != "" {
		p.batchKey = batchKey(set, b.AppID, b.ID)
	}
	return p
}

// encode runs on the spool writer: it decides, in commit order, which
// events are new, and returns the frame. When none is a duplicate (the
// common case) the frame is buf itself, so a large batch is not copied.
// An empty frame writes nothing (a retried batch).
func (p *prepared) encode(set *dedup.Set, res *store.AppendResult, received time.Time) []byte {
	now := time.Now()
	if p.b.ID != "" && set.Seen(p.batchKey) {
		res.BatchDuplicate = true
		res.Duplicates = len(p.b.Events)
		return nil
	}
	// Keys are added as they are checked, so that a record repeated inside
	// the batch is caught too; at the first duplicate, the frame is rebuilt
	// from there on.
	frame := p.buf
	res.Stored = len(p.keys)
	for i, k := range p.keys {
		if set.Seen(k) {
			res.Stored = i
			frame = p.withoutDuplicates(set, res, now, i)
			break
		}
		set.Add(k, now)
	}
	if p.b.ID != "" {
		set.Add(p.batchKey, now)
		frame = appendBatchMarker(frame, p.b.AppID, p.b.ID, received, res.Stored)
	}
	if len(frame) == 1 {
		return nil // only the version byte: nothing new to write
	}
	return frame
}

// withoutDuplicates builds the frame when event from is a duplicate: the
// events before it (new, their keys added), then the later ones not seen
// before (adding their keys), then every other record.
func (p *prepared) withoutDuplicates(set *dedup.Set, res *store.AppendResult, now time.Time, from int) []byte {
	prev := 1
	if from > 0 {
		prev = p.ends[from-1]
	}
	frame := make([]byte, prev, len(p.buf)+256)
	copy(frame, p.buf[:prev])
	for i := from; i < len(p.ends); i++ {
		if set.Seen(p.keys[i]) {
			res.Duplicates++
		} else {
			set.Add(p.keys[i], now)
			frame = append(frame, p.buf[prev:p.ends[i]]...)
			res.Stored++
		}
		prev = p.ends[i]
	}
	return append(frame, p.buf[p.rest:]...)
}

// Package spool is an append-only, checksummed log of opaque frames with
// group commit: many writers hand in frames, one goroutine writes them and
// makes them durable with a single fsync, and every writer returns only
// once its frame is on disk. A reader then consumes frames at its own pace
// and releases whole segments when it no longer needs them.
//
// Gatescope acknowledges a Firehose batch as soon as its frame is durable
// here; the store loads frames into its tables in large, cheap flushes, and
// replays unloaded frames after a crash.
package spool

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
)

// Config configures a Spool.
type Config struct {
	Dir string
	// SegmentBytes is the size at which a new segment file is started.
	SegmentBytes int64
	// NoSync skips fsync: for tests and benchmarks that measure everything
	// but the disk. Never in production.
	NoSync bool
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("spool: Dir is required")
	case c.SegmentBytes < 1<<20:
		return fmt.Errorf("spool: SegmentBytes %d is below 1 MiB", c.SegmentBytes)
	}
	return nil
}

// DefaultConfig returns production settings for a spool in dir.
func DefaultConfig(dir string) Config {
	return Config{Dir: dir, SegmentBytes: 256 << 20}
}

// Pos is a position in the spool: a segment number and a byte offset in it.
type Pos struct {
	Segment uint64
	Offset  int64
}

// Less orders positions.
func (p Pos) Less(q Pos) bool {
	return p.Segment < q.Segment || p.Segment == q.Segment && p.Offset < q.Offset
}

// Encoder produces one frame's payload. It runs on the spool's writer
// goroutine, in commit order, so it may consult state that must see frames
// in the order they become durable (a deduplication set, say). The payload
// may be the encoder's own memory: the spool only reads it, before Commit
// returns. An empty payload writes no frame.
type Encoder func() []byte

// ErrFailed is returned once a write or fsync has failed: the spool's tail
// is then unknown and it takes no more frames until reopened.
var ErrFailed = errors.New("spool: write failed earlier; reopen to recover")

// ErrClosed is returned by Commit after Close.
var ErrClosed = errors.New("spool: closed")

type request struct {
	enc  Encoder
	done chan error
}

// Spool is safe for concurrent use.
type Spool struct {
	cfg     Config
	reqs    chan request
	quit    chan struct{}
	stopped chan struct{}

	mu      sync.Mutex // guards seg, segSize, failed, closed
	seg     *os.File
	w       *bufio.Writer // coalesces small frames into few writes; writer goroutine only
	segNum  uint64
	segSize int64
	failed  error
	closed  bool

	durable atomic.Pointer[Pos]
}

// Open opens or creates the spool in cfg.Dir. A torn frame at the tail (a
// crash mid-write) is cut off: it was never acknowledged.
func Open(cfg Config) (*Spool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", cfg.Dir, err)
	}
	segs, err := listSegments(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{cfg: cfg, reqs: make(chan request, 1024), quit: make(chan struct{}), stopped: make(chan struct{}),
		w: bufio.NewWriterSize(nil, 1<<20)}
	if len(segs) == 0 {
		segs = []uint64{1}
	}
	last := segs[len(segs)-1]
	f, err := os.OpenFile(s.segPath(last), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: open segment: %w", err)
	}
	end, err := validEnd(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Truncate(end); err != nil {
		f.Close()
		return nil, fmt.Errorf("spool: cut torn tail: %w", err)
	}
	if _, err := f.Seek(end, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("spool: seek: %w", err)
	}
	s.seg, s.segNum, s.segSize = f, last, end
	s.durable.Store(&Pos{Segment: last, Offset: end})
	if !cfg.NoSync {
		if err := syncDir(cfg.Dir); err != nil {
			f.Close()
			return nil, err
		}
	}
	go s.writeLoop()
	return s, nil
}

// Commit hands enc to the writer and waits until its frame is durable.
// If ctx ends first, Commit returns ctx's error, but the frame may still
// become durable: callers treat that as "unknown", like a timeout.
func (s *Spool) Commit(ctx context.Context, enc Encoder) error {
	req := request{enc: enc, done: make(chan error, 1)}
	select {
	case s.reqs <- req:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Durable returns the end of the durable part of the spool: readers may
// read up to it.
func (s *Spool) Durable() Pos { return *s.durable.Load() }

// Err returns the write failure that stopped the spool, if any.
func (s *Spool) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// Close stops the writer after the frames already handed in are durable,
// and closes the current segment.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.quit)
	<-s.stopped
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seg.Close()
}

func (s *Spool) writeLoop() {
	defer close(s.stopped)
	var group []request
	for {
		var first request
		select {
		case first = <-s.reqs:
		case <-s.quit:
			// Drain what was handed in before Close, then stop.
			for {
				select {
				case r := <-s.reqs:
					s.writeGroup(append(group[:0], r))
				default:
					return
				}
			}
		}
		group = append(group[:0], first)
	drain:
		for len(group) < cap(s.reqs) {
			select {
			case r := <-s.reqs:
				group = append(group, r)
			default:
				break drain
			}
		}
		s.writeGroup(group)
		clear(group) // let the encoders' memory go
	}
}

// writeGroup encodes the group's frames, writes them and syncs once, and
// answers every request. Payloads are written where they lie, not copied
// into one buffer: a 64 MiB batch costs no second 64 MiB here.
func (s *Spool) writeGroup(group []request) {
	s.mu.Lock()
	err := s.failed
	s.mu.Unlock()
	if err == nil {
		payloads := make([][]byte, len(group))
		size := 0
		for i, r := range group {
			payloads[i] = r.enc()
			if len(payloads[i]) > 0 {
				size += headerSize + len(payloads[i])
			}
		}
		err = s.write(payloads, size)
	}
	for _, r := range group {
		r.done <- err
	}
}

// write appends the frames of payloads (size bytes in all) to the current
// segment, or a new one if it would grow past SegmentBytes, and syncs.
func (s *Spool) write(payloads [][]byte, size int) error {
	if size == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.segSize > 0 && s.segSize+int64(size) > s.cfg.SegmentBytes {
		if err := s.rotate(); err != nil {
			s.failed = fmt.Errorf("%w: %v", ErrFailed, err)
			return s.failed
		}
	}
	s.w.Reset(s.seg)
	for _, p := range payloads {
		if len(p) == 0 {
			continue
		}
		var h [headerSize]byte
		putHeader(h[:], p)
		s.w.Write(h[:])
		s.w.Write(p)
	}
	if err := s.w.Flush(); err != nil {
		s.failed = fmt.Errorf("%w: write: %v", ErrFailed, err)
		return s.failed
	}
	if !s.cfg.NoSync {
		if err := s.seg.Sync(); err != nil {
			s.failed = fmt.Errorf("%w: fsync: %v", ErrFailed, err)
			return s.failed
		}
	}
	s.segSize += int64(size)
	s.durable.Store(&Pos{Segment: s.segNum, Offset: s.segSize})
	return nil
}

func (s *Spool) rotate() error {
	next := s.segNum + 1
	f, err := os.OpenFile(s.segPath(next), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("new segment: %w", err)
	}
	if !s.cfg.NoSync {
		if err := syncDir(s.cfg.Dir); err != nil {
			f.Close()
			return err
		}
	}
	if err := s.seg.Close(); err != nil {
		f.Close()
		return fmt.Errorf("close segment: %w", err)
	}
	s.seg, s.segNum, s.segSize = f, next, 0
	return nil
}

// Release deletes every segment wholly before pos: the reader has loaded
// and durably recorded everything in them.
func (s *Spool) Release(pos Pos) error {
	segs, err := listSegments(s.cfg.Dir)
	if err != nil {
		return err
	}
	for _, n := range segs {
		if n >= pos.Segment {
			break
		}
		if err := os.Remove(s.segPath(n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("spool: release segment %d: %w", n, err)
		}
	}
	return nil
}

// Backlog returns how many bytes lie between pos and the durable end: what
// a reader at pos has yet to consume.
func (s *Spool) Backlog(pos Pos) int64 {
	end := s.Durable()
	if pos.Segment == end.Segment {
		return end.Offset - pos.Offset
	}
	var n int64
	for seg := pos.Segment; seg < end.Segment; seg++ {
		if fi, err := os.Stat(s.segPath(seg)); err == nil {
			n += fi.Size()
		}
	}
	return n - pos.Offset + end.Offset
}

func (s *Spool) segPath(n uint64) string {
	return filepath.Join(s.cfg.Dir, fmt.Sprintf("%016x.spool", n))
}

func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: list %s: %w", dir, err)
	}
	var segs []uint64
	for _, e := range entries {
		var n uint64
		if _, err := fmt.Sscanf(e.Name(), "%016x.spool", &n); err == nil && e.Name() == fmt.Sprintf("%016x.spool", n) {
			segs = append(segs, n)
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i] < segs[j] })
	return segs, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: sync dir: %w", err)
	}
	return nil
}

package spool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func openTest(t *testing.T, dir string) *Spool {
	t.Helper()
	cfg := DefaultConfig(dir)
	cfg.SegmentBytes = 1 << 20
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func frame(p string) Encoder { return func() []byte { return []byte(p) } }

func readAll(t *testing.T, s *Spool, from Pos) ([]string, Pos) {
	t.Helper()
	var got []string
	end, err := s.Read(from, 1<<30, func(p []byte, _ Pos) error {
		got = append(got, string(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, end
}

func TestCommitReadAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := context.Background()
	var wg sync.WaitGroup
	const writers, each = 8, 50
	payload := string(make([]byte, 10_000)) // 400 frames of 10 kB span 4 segments
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := s.Commit(ctx, frame(fmt.Sprintf("%d/%d/%s", w, i, payload))); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	got, end := readAll(t, s, Pos{Segment: 1})
	if len(got) != writers*each {
		t.Fatalf("read %d frames, want %d", len(got), writers*each)
	}
	if end != s.Durable() {
		t.Fatalf("read ended at %+v, durable end is %+v", end, s.Durable())
	}
	if end.Segment < 4 {
		t.Fatalf("400 frames of 10 kB with 1 MiB segments ended in segment %d", end.Segment)
	}
	// Per writer, frames come back in commit order.
	last := map[string]int{}
	for _, g := range got {
		var w, i int
		fmt.Sscanf(g, "%d/%d/", &w, &i)
		key := fmt.Sprint(w)
		if prev, ok := last[key]; ok && i != prev+1 {
			t.Fatalf("writer %d: frame %d after %d", w, i, prev)
		}
		last[key] = i
	}
	if err := s.Release(end); err != nil {
		t.Fatal(err)
	}
	segs, _ := listSegments(dir)
	if len(segs) != 1 || segs[0] != end.Segment {
		t.Fatalf("after release: segments %v, want only %d", segs, end.Segment)
	}
	s.Close()
}

func TestTornTailIsCut(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := context.Background()
	for _, p := range []string{"one", "two", "three"} {
		if err := s.Commit(ctx, frame(p)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	seg := filepath.Join(dir, fmt.Sprintf("%016x.spool", 1))
	fi, _ := os.Stat(seg)
	for _, cut := range []struct {
		name   string
		mangle func() error
		want   []string
	}{
		{"half a header", func() error { return appendBytes(seg, []byte{5, 0, 0}) }, []string{"one", "two", "three"}},
		// The file now ends with the frame "after" written by the first case.
		{"payload cut short", func() error { return os.Truncate(seg, fi.Size()-2) }, []string{"one", "two", "three"}},
	} {
		if err := cut.mangle(); err != nil {
			t.Fatal(err)
		}
		s = openTest(t, dir)
		got, _ := readAll(t, s, Pos{Segment: 1})
		if fmt.Sprint(got) != fmt.Sprint(cut.want) {
			t.Fatalf("%s: read %q, want %q", cut.name, got, cut.want)
		}
		if err := s.Commit(ctx, frame("after")); err != nil {
			t.Fatal(err)
		}
		got, _ = readAll(t, s, Pos{Segment: 1})
		if got[len(got)-1] != "after" || len(got) != len(cut.want)+1 {
			t.Fatalf("%s: after reopening and writing, read %q", cut.name, got)
		}
		s.Close()
		fi, _ = os.Stat(seg)
	}
}

func TestCorruptChecksumStopsRead(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := context.Background()
	for _, p := range []string{"good", "flipped"} {
		if err := s.Commit(ctx, frame(p)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	seg := filepath.Join(dir, fmt.Sprintf("%016x.spool", 1))
	b, _ := os.ReadFile(seg)
	b[len(b)-1] ^= 0xff
	os.WriteFile(seg, b, 0o600)
	s = openTest(t, dir)
	defer s.Close()
	got, _ := readAll(t, s, Pos{Segment: 1})
	if fmt.Sprint(got) != "[good]" {
		t.Fatalf("read %q, want only the intact frame", got)
	}
}

func TestEmptyEncoderWritesNothing(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	before := s.Durable()
	if err := s.Commit(context.Background(), func() []byte { return nil }); err != nil {
		t.Fatal(err)
	}
	if s.Durable() != before {
		t.Fatalf("durable end moved from %+v to %+v for an empty frame", before, s.Durable())
	}
}

func appendBytes(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(b)
	return err
}

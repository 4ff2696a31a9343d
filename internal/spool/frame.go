package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// A frame is a 4-byte little-endian payload length, the payload's CRC-32C,
// and the payload. The checksum tells a torn or corrupted tail from data.
const (
	headerSize = 8
	// MaxFrame bounds one payload, so a corrupted length cannot make a
	// reader allocate without limit.
	MaxFrame = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func putHeader(h []byte, payload []byte) {
	binary.LittleEndian.PutUint32(h, uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(payload, castagnoli))
}

// appendFrame appends payload as a frame (for tests building spools).
func appendFrame(buf, payload []byte) []byte {
	var h [headerSize]byte
	putHeader(h[:], payload)
	return append(append(buf, h[:]...), payload...)
}

// validEnd scans a segment and returns the offset after its last intact
// frame.
func validEnd(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("spool: stat: %w", err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return 0, fmt.Errorf("spool: seek: %w", err)
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var payload []byte
	for {
		n, err := readFrame(r, fi.Size()-off, &payload)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, errCorrupt) {
				return off, nil
			}
			return 0, err
		}
		off += int64(headerSize + n)
	}
}

var errCorrupt = errors.New("spool: corrupt frame")

// readFrame reads one frame. avail is how many bytes the segment holds
// from this frame's start: a length beyond it is corruption, refused before
// anything is allocated for it.
func readFrame(r io.Reader, avail int64, payload *[]byte) (int, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, errCorrupt
		}
		return 0, err
	}
	n := int(binary.LittleEndian.Uint32(h[:]))
	if n == 0 || n > MaxFrame || int64(n) > avail-headerSize {
		return 0, errCorrupt
	}
	if cap(*payload) < n {
		*payload = make([]byte, n)
	}
	p := (*payload)[:n]
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return 0, errCorrupt
		}
		return 0, err
	}
	if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(h[4:]) {
		return 0, errCorrupt
	}
	*payload = p
	return n, nil
}

// Read calls fn for each durable frame from pos on, in order, until fn has
// seen at least maxBytes of payload or the durable end is reached. fn gets
// the payload (valid only during the call) and the position after the
// frame. Read returns the position after the last frame fn accepted.
func (s *Spool) Read(pos Pos, maxBytes int, fn func(payload []byte, next Pos) error) (Pos, error) {
	end := s.Durable()
	read := 0
	var payload []byte
	for pos.Less(end) && read < maxBytes {
		f, err := os.Open(s.segPath(pos.Segment))
		if err != nil {
			return pos, fmt.Errorf("spool: open segment %d: %w", pos.Segment, err)
		}
		size := end.Offset
		if pos.Segment < end.Segment {
			fi, err := f.Stat()
			if err != nil {
				f.Close()
				return pos, fmt.Errorf("spool: stat segment: %w", err)
			}
			size = fi.Size()
		}
		r := bufio.NewReaderSize(io.NewSectionReader(f, pos.Offset, size-pos.Offset), 1<<20)
		for pos.Offset < size && read < maxBytes {
			n, err := readFrame(r, size-pos.Offset, &payload)
			if err != nil {
				f.Close()
				return pos, fmt.Errorf("spool: segment %d offset %d: %w", pos.Segment, pos.Offset, err)
			}
			next := Pos{Segment: pos.Segment, Offset: pos.Offset + int64(headerSize+n)}
			if err := fn(payload, next); err != nil {
				f.Close()
				return pos, err
			}
			pos = next
			read += n
		}
		f.Close()
		if pos.Offset >= size && pos.Segment < end.Segment {
			pos = Pos{Segment: pos.Segment + 1}
		}
	}
	return pos, nil
}

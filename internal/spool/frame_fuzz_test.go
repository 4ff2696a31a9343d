package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"testing"
)

// FuzzReadFrame feeds arbitrary bytes to the frame reader, as a torn or
// corrupted segment would: it must never panic, and whatever it returns as
// a frame must be a whole frame whose checksum holds.
func FuzzReadFrame(f *testing.F) {
	good := appendFrame(nil, []byte("payload"))
	f.Add(good)
	f.Add(append(good, good[:5]...))
	f.Add(good[:len(good)-1])
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		var payload []byte
		off := 0
		for {
			n, err := readFrame(r, int64(len(data)-off), &payload)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, errCorrupt) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if n != len(payload) || off+headerSize+n > len(data) {
				t.Fatalf("frame of %d bytes at %d overruns the %d input bytes", n, off, len(data))
			}
			if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(data[off+4:]) {
				t.Fatal("returned a frame whose checksum does not hold")
			}
			off += headerSize + n
			if len(data) >= off+headerSize && binary.LittleEndian.Uint32(data[off:]) > 16<<20 {
				return
			}
		}
	})
}

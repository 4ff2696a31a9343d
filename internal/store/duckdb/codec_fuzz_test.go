package duckdb

import (
	"bytes"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
)

// countingVisitor touches every decoded value, as the loader does.
type countingVisitor struct {
	n     int
	bytes int
	last  event.Event
}

func (v *countingVisitor) event(ev *event.Event) error {
	v.n++
	v.bytes += len(ev.AppID) + len(ev.RequestID) + len(ev.UserAgent) + len(ev.Metadata)
	v.last = *ev
	v.last.Metadata = bytes.Clone(ev.Metadata)
	return nil
}
func (v *countingVisitor) rejected(r *event.Rejected) error { v.n++; v.bytes += len(r.Raw); return nil }
func (v *countingVisitor) batch(b *batchMarker) error       { v.n++; v.bytes += len(b.batchID); return nil }
func (v *countingVisitor) user(u *event.UserUpdate) error {
	v.n++
	v.bytes += len(u.Metadata)
	return nil
}
func (v *countingVisitor) company(c *event.CompanyUpdate) error {
	v.n++
	v.bytes += len(c.Metadata)
	return nil
}

// FuzzDecodeFrame: a spool frame read back after a crash or from a
// corrupted disk must never make the decoder panic or read past the frame;
// and an event encoded from the fuzzer's strings decodes to itself.
func FuzzDecodeFrame(f *testing.F) {
	ev := event.Event{AppID: "app", RequestID: "r1", Time: time.UnixMicro(1772272800000000).UTC(), Received: time.UnixMicro(1772272800000001).UTC(),
		Method: "GET", Path: "/a", Status: 200, ResponseBytes: 10, LatencyMs: 1.5, IntegrationLatencyMs: event.Absent,
		UserAgent: "ua", Source: event.SourceFirehose, Metadata: []byte(`{"k":"v"}`)}
	frame := appendEvent([]byte{frameVersion}, &ev)
	frame = appendBatchMarker(frame, "app", "b1", ev.Received, 1)
	f.Add(frame, "r1", "ua", []byte(`{}`))
	f.Add([]byte{frameVersion, kindEvent, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "", "", []byte(nil))
	f.Add([]byte{frameVersion, 'Z'}, "x\x00y", "\xff", []byte("\x00"))
	f.Fuzz(func(t *testing.T, frame []byte, id, ua string, meta []byte) {
		_ = decodeFrame(frame, &countingVisitor{})

		want := ev
		want.RequestID, want.UserAgent, want.Metadata = id, ua, meta
		var v countingVisitor
		if err := decodeFrame(appendEvent([]byte{frameVersion}, &want), &v); err != nil {
			t.Fatalf("decoding an encoded event: %v", err)
		}
		got := v.last
		if v.n != 1 || got.RequestID != id || got.UserAgent != ua || !bytes.Equal(got.Metadata, meta) ||
			!got.Time.Equal(want.Time) || got.Status != want.Status || got.LatencyMs != want.LatencyMs {
			t.Fatalf("round trip: got %+v, want %+v", got, want)
		}
	})
}

package moesif

import (
	"encoding/json"
	"testing"

	"github.com/gatescope/gatescope/internal/event"
)

// BenchmarkDecodeEvent maps one SDK event (the README example) to an
// event. BenchmarkUnmarshalBaseline is the floor it is compared with in the
// same run: encoding/json reading the same bytes into a generic map.
func BenchmarkDecodeEvent(b *testing.B) {
	raw := readmeEvent(b)
	d := newDecoder(false, 0)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		clear(d.seen)
		var ev event.Event
		if rerr := d.decode(raw, "app1", &ev); rerr != nil {
			b.Fatal(rerr)
		}
	}
}

func BenchmarkUnmarshalBaseline(b *testing.B) {
	raw := readmeEvent(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			b.Fatal(err)
		}
	}
}

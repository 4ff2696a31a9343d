package simulate

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatescope/gatescope/internal/simulate/firehoseclient"
)

// startProgress redraws a progress line every 200 ms on a terminal (every
// 5 s as plain lines otherwise) until the returned stop is called, which
// draws it a last time.
func startProgress(w io.Writer, live bool, began time.Time, now func() time.Time,
	generated *atomic.Int64, fraction *atomic.Uint64, stats func() firehoseclient.Stats) func() {
	tty := isTerminal(w)
	every := 5 * time.Second
	if tty {
		every = 200 * time.Millisecond
	}
	draw := func(final bool) {
		line := progressLine(live, now().Sub(began), generated.Load(), math.Float64frombits(fraction.Load()), stats())
		switch {
		case tty && final:
			fmt.Fprintf(w, "\r%s\033[K\n", line)
		case tty:
			fmt.Fprintf(w, "\r%s\033[K", line)
		default:
			fmt.Fprintln(w, line)
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				draw(false)
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			draw(true)
		})
	}
}

// progressLine is the bar (backfill) or the status (live): events, their
// rate, the ETA and the delivery counts.
func progressLine(live bool, elapsed time.Duration, events int64, fraction float64, st firehoseclient.Stats) string {
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(events) / s
	}
	delivery := fmt.Sprintf("delivered %s, retried %d, failed %d, backed up %s",
		count(st.DeliveredEvents), st.Retries, st.FailedBatches, count(st.BackedUpEvents))
	if live {
		return fmt.Sprintf("live %s: %s events, %s events/s | %s", elapsed.Truncate(time.Second), count(events), count(int64(rate)), delivery)
	}
	const width = 30
	fraction = min(max(fraction, 0), 1)
	filled := int(fraction * width)
	eta := "--:--"
	if fraction > 0.001 && fraction < 1 {
		eta = clock(time.Duration(float64(elapsed) * (1 - fraction) / fraction))
	} else if fraction >= 1 {
		eta = "0:00"
	}
	return fmt.Sprintf("[%s%s] %3.0f%% %s events, %s events/s, ETA %s | %s",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), 100*fraction, count(events), count(int64(rate)), eta, delivery)
}

func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// count writes n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

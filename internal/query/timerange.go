package query

import (
	"strconv"
	"strings"
	"time"
)

// ParseTime reads an RFC 3339 time or one relative to now: "now", or a
// negative duration with unit s, m, h, d or w ("-24h", "-7d"). Empty gives
// the zero time.
func ParseTime(name, s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if s == "now" {
		return now.UTC(), nil
	}
	if strings.HasPrefix(s, "-") {
		d, err := ParseDuration(s[1:])
		if err != nil {
			return time.Time{}, badQuery("%s %q: %v", name, s, err)
		}
		return now.Add(-d).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badQuery("%s %q is neither an RFC 3339 time nor relative like -24h", name, s)
	}
	if t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, badQuery("%s %q is out of range", name, s)
	}
	return t.UTC(), nil
}

// ParseDuration reads a positive whole number of s, m, h, d (24 h) or w.
func ParseDuration(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, badQuery("duration %q: want a number and a unit (s, m, h, d, w)", s)
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n <= 0 || n > 100_000 {
		return 0, badQuery("duration %q: want a positive number and a unit (s, m, h, d, w)", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 {
		return 0, badQuery("duration %q: unit must be s, m, h, d or w", s)
	}
	return time.Duration(n) * unit, nil
}

// Range is a validated [From, To) with From possibly zero (unbounded).
type Range struct{ From, To time.Time }

// ParseRange reads from and to; defFrom is used when from is empty (a
// relative duration before now, or 0 for unbounded).
func ParseRange(from, to string, defFrom time.Duration, now time.Time) (Range, error) {
	var r Range
	var err error
	if r.From, err = ParseTime("from", from, now); err != nil {
		return r, err
	}
	if r.To, err = ParseTime("to", to, now); err != nil {
		return r, err
	}
	if r.To.IsZero() {
		r.To = now.UTC()
	}
	if r.From.IsZero() && defFrom > 0 {
		r.From = r.To.Add(-defFrom)
	}
	if !r.From.IsZero() && !r.From.Before(r.To) {
		return r, badQuery("from must be before to")
	}
	r.From, r.To = r.From.Truncate(time.Microsecond), r.To.Truncate(time.Microsecond)
	return r, nil
}

// Interval is a time-series bucket width.
type Interval struct {
	Name string
	D    time.Duration // fixed width; for 1d and 1w the nominal one
	// Calendar says buckets are local days, weeks (Monday) or months in
	// the time zone, whose length varies with daylight saving.
	Calendar bool
}

// monthInterval buckets by calendar month (retention periods only).
var monthInterval = Interval{"1mo", 30 * 24 * time.Hour, true}

var intervals = map[string]Interval{
	"1m": {"1m", time.Minute, false}, "5m": {"5m", 5 * time.Minute, false}, "15m": {"15m", 15 * time.Minute, false},
	"1h": {"1h", time.Hour, false}, "1d": {"1d", 24 * time.Hour, true}, "1w": {"1w", 7 * 24 * time.Hour, true},
}

// MaxBuckets caps the points of a series.
const MaxBuckets = 5000

// ParseInterval reads an interval; "auto" or "" picks one from the range's
// length: 1m up to 2 h, 5m up to 12 h, 1h up to 8 days, else 1d.
func ParseInterval(s string, r Range) (Interval, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "auto" {
		d := r.To.Sub(r.From)
		switch {
		case d <= 2*time.Hour:
			s = "1m"
		case d <= 12*time.Hour:
			s = "5m"
		case d <= 8*24*time.Hour:
			s = "1h"
		default:
			s = "1d"
		}
	}
	iv, ok := intervals[s]
	if !ok {
		return iv, badQuery("interval %q: want auto, 1m, 5m, 15m, 1h, 1d or 1w", s)
	}
	if n := r.To.Sub(r.From) / iv.D; n > MaxBuckets {
		return iv, badQuery("interval %s gives %d buckets over this range, over %d: choose a larger one", s, n, MaxBuckets)
	}
	return iv, nil
}

// ParseTZ reads an IANA zone name; empty is UTC.
func ParseTZ(s string) (*time.Location, error) {
	if s == "" || s == "UTC" {
		return time.UTC, nil
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/_+-", c)) {
			return nil, badQuery("tz %q is not an IANA time zone name", s)
		}
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, badQuery("tz %q is not an IANA time zone name", s)
	}
	return loc, nil
}

// bucketStart is the start of the bucket holding t, as the SQL computes it.
func bucketStart(t time.Time, iv Interval, loc *time.Location) time.Time {
	if !iv.Calendar {
		if loc == time.UTC {
			return t.Truncate(iv.D)
		}
		// Align to the zone's wall clock: shift by the offset at t.
		_, off := t.In(loc).Zone()
		shift := time.Duration(off) * time.Second
		return t.Add(shift).Truncate(iv.D).Add(-shift)
	}
	l := t.In(loc)
	day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	if iv.Name == monthInterval.Name {
		return time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, loc).UTC()
	}
	if iv.D > 24*time.Hour {
		wd := (int(day.Weekday()) + 6) % 7 // Monday is 0
		day = time.Date(l.Year(), l.Month(), l.Day()-wd, 0, 0, 0, 0, loc)
	}
	return day.UTC()
}

// nextBucket is the start of the bucket after the one starting at t.
func nextBucket(t time.Time, iv Interval, loc *time.Location) time.Time {
	if !iv.Calendar {
		return t.Add(iv.D)
	}
	l := t.In(loc)
	if iv.Name == monthInterval.Name {
		return time.Date(l.Year(), l.Month()+1, 1, 0, 0, 0, 0, loc).UTC()
	}
	days := 1
	if iv.D > 24*time.Hour {
		days = 7
	}
	return time.Date(l.Year(), l.Month(), l.Day()+days, 0, 0, 0, 0, loc).UTC()
}

// buckets lists the bucket starts covering r.
func buckets(r Range, iv Interval, loc *time.Location) []time.Time {
	var out []time.Time
	for t := bucketStart(r.From, iv, loc); t.Before(r.To); t = nextBucket(t, iv, loc) {
		out = append(out, t)
	}
	return out
}

// wholeHourZone reports whether loc's offsets over r are whole hours, so
// that hourly rollups align with its buckets.
func wholeHourZone(loc *time.Location, r Range) bool {
	for _, t := range []time.Time{r.From, r.To} {
		if t.IsZero() {
			continue
		}
		if _, off := t.In(loc).Zone(); off%3600 != 0 {
			return false
		}
	}
	return true
}

package clickhouse

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Zones with DST (New York, Adelaide) and a half-hour offset (Kolkata).
var probeZones = []string{"UTC", "America/New_York", "Asia/Kolkata", "Australia/Adelaide"}

// Instants chosen around edges: just after New York's spring-forward, the
// last second of March (already April in Kolkata), a Sunday, a year end.
var probeInstants = []time.Time{
	time.Date(2024, 3, 5, 10, 11, 12, 0, time.UTC),
	time.Date(2024, 3, 10, 7, 30, 0, 0, time.UTC),
	time.Date(2024, 3, 31, 23, 59, 59, 0, time.UTC),
	time.Date(2024, 4, 7, 16, 45, 0, 0, time.UTC),
	time.Date(2024, 11, 3, 12, 0, 0, 0, time.UTC),
	time.Date(2024, 12, 31, 20, 0, 0, 0, time.UTC),
}

// localStart is the Go side of the known answers: the start of the local
// hour or day containing t, as a Unix time.
func localStart(t time.Time, loc *time.Location, hour bool) int64 {
	l := t.In(loc)
	h := 0
	if hour {
		h = l.Hour()
	}
	return time.Date(l.Year(), l.Month(), l.Day(), h, 0, 0, 0, loc).Unix()
}

func localMonday(t time.Time, loc *time.Location) string {
	l := t.In(loc)
	back := (int(l.Weekday()) + 6) % 7
	return time.Date(l.Year(), l.Month(), l.Day()-back, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

func timeProbes() []probe {
	return []probe{
		{name: "tostartof_minute_hour_day_month_monday_tz", on1816: true, required: true, run: probeStartOfTZ},
		{name: "tostartoffifteenminutes", on1816: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			for _, in := range probeInstants {
				var got uint32
				q := fmt.Sprintf("SELECT toUInt32(toStartOfFifteenMinutes(toDateTime(%d), 'Asia/Kolkata'))", in.Unix())
				if err := s.row(ctx, q, &got); err != nil {
					return err
				}
				if want := in.Truncate(15 * time.Minute).Unix(); int64(got) != want {
					t.Errorf("%v: got %d, want %d", in, got, want)
				}
			}
			return nil
		}},
		{name: "interval_buckets_via_intdiv", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			for _, in := range probeInstants {
				var got uint32
				q := fmt.Sprintf("SELECT toUInt32(toDateTime(intDiv(toUInt32(toDateTime(%d)), 600) * 600))", in.Unix())
				if err := s.row(ctx, q, &got); err != nil {
					return err
				}
				if want := in.Unix() / 600 * 600; int64(got) != want {
					t.Errorf("%v: got %d, want %d", in, got, want)
				}
			}
			return nil
		}},
		{name: "tostartofinterval", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			var got uint32
			return s.row(ctx, "SELECT toUInt32(toStartOfInterval(toDateTime(0), INTERVAL 10 minute))", &got)
		}},
		{name: "tostartofweek", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			var got string
			return s.row(ctx, "SELECT toString(toStartOfWeek(toDateTime(0), 1))", &got)
		}},
		{name: "tostartoftenminutes", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			var got uint32
			return s.row(ctx, "SELECT toUInt32(toStartOfTenMinutes(toDateTime(0)))", &got)
		}},
	}
}

func probeStartOfTZ(ctx context.Context, t *testing.T, s *server) error {
	for _, zone := range probeZones {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return fmt.Errorf("load %s: %w", zone, err)
		}
		for _, in := range probeInstants {
			var minute, hour, day uint32
			var month, monday, date string
			q := fmt.Sprintf(`SELECT toUInt32(toStartOfMinute(t, '%[2]s')), toUInt32(toStartOfHour(t, '%[2]s')),
				toUInt32(toStartOfDay(t, '%[2]s')), toString(toStartOfMonth(t, '%[2]s')),
				toString(toMonday(t, '%[2]s')), toString(toDate(t, '%[2]s'))
				FROM (SELECT toDateTime(%[1]d) AS t)`, in.Unix(), zone)
			if err := s.row(ctx, q, &minute, &hour, &day, &month, &monday, &date); err != nil {
				return err
			}
			l := in.In(loc)
			want := fmt.Sprint(in.Truncate(time.Minute).Unix(), localStart(in, loc, true), localStart(in, loc, false),
				l.Format("2006-01")+"-01", localMonday(in, loc), l.Format(time.DateOnly))
			if got := fmt.Sprint(minute, hour, day, month, monday, date); got != want {
				t.Errorf("%s %v: got %s, want %s", zone, in, got, want)
			}
		}
	}
	return nil
}

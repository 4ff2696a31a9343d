package clickhouse

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

func queryProbes(evs []fixtureEvent) []probe {
	return []probe{
		{name: "visitparam_json_functions", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			var pro, seqSum uint64
			q := fmt.Sprintf(`SELECT countIf(visitParamExtractString(metadata, 'plan') = 'pro'),
				sum(visitParamExtractUInt(metadata, 'seq')) FROM %s.events`, s.db)
			if err := s.row(ctx, q, &pro, &seqSum); err != nil {
				return err
			}
			var wantPro, wantSum uint64
			for _, e := range evs {
				if e.plan == "pro" {
					wantPro++
				}
				wantSum += e.seq
			}
			if pro != wantPro || seqSum != wantSum {
				t.Errorf("pro=%d seqSum=%d, want %d %d", pro, seqSum, wantPro, wantSum)
			}
			return nil
		}},
		{name: "jsonextract_functions", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			var got string
			return s.row(ctx, `SELECT JSONExtractString('{"a":"x"}', 'a')`, &got)
		}},
		{name: "quantile_functions", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			var exact95, exact50 uint32
			var tdigest95, sampled50 float64
			var multi []float64
			q := fmt.Sprintf(`SELECT quantileExact(0.95)(latency), quantileExact(0.5)(latency),
				toFloat64(quantileTDigest(0.95)(latency)), toFloat64(quantile(0.5)(latency)),
				arrayMap(x -> toFloat64(x), quantilesExact(0.5, 0.95)(latency)) FROM %s.events`, s.db)
			if err := s.row(ctx, q, &exact95, &exact50, &tdigest95, &sampled50, &multi); err != nil {
				return err
			}
			lat := latencies(evs)
			if want := exactQuantile(lat, 0.95); exact95 != want {
				t.Errorf("quantileExact(0.95) = %d, want %d", exact95, want)
			}
			if want := exactQuantile(lat, 0.5); exact50 != want {
				t.Errorf("quantileExact(0.5) = %d, want %d", exact50, want)
			}
			if want := []float64{float64(exactQuantile(lat, 0.5)), float64(exactQuantile(lat, 0.95))}; !slices.Equal(multi, want) {
				t.Errorf("quantilesExact = %v, want %v", multi, want)
			}
			// The approximate ones must land within two percentiles of the truth.
			inBand(t, "quantileTDigest(0.95)", tdigest95, lat, 0.93, 0.97)
			inBand(t, "quantile(0.5)", sampled50, lat, 0.48, 0.52)
			return nil
		}},
		{name: "uniq_functions", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			var exact, approx, combined uint64
			q := fmt.Sprintf("SELECT uniqExact(user), uniq(user), uniqCombined(user) FROM %s.events", s.db)
			if err := s.row(ctx, q, &exact, &approx, &combined); err != nil {
				return err
			}
			want := uint64(distinctUsers(evs))
			if exact != want {
				t.Errorf("uniqExact = %d, want %d", exact, want)
			}
			for name, got := range map[string]uint64{"uniq": approx, "uniqCombined": combined} {
				if math.Abs(float64(got)-float64(want)) > 0.02*float64(want) {
					t.Errorf("%s = %d, want %d within 2%%", name, got, want)
				}
			}
			return nil
		}},
		{name: "argmax_argmin", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			var last string
			var fastest uint64
			q := fmt.Sprintf("SELECT argMax(user, (time, ms)), argMin(visitParamExtractUInt(metadata, 'seq'), (latency, visitParamExtractUInt(metadata, 'seq'))) FROM %s.events", s.db)
			if err := s.row(ctx, q, &last, &fastest); err != nil {
				return err
			}
			wantLast, wantFast := evs[0], evs[0]
			for _, e := range evs {
				if e.time.After(wantLast.time) {
					wantLast = e
				}
				if e.latency < wantFast.latency || (e.latency == wantFast.latency && e.seq < wantFast.seq) {
					wantFast = e
				}
			}
			if last != wantLast.user || fastest != wantFast.seq {
				t.Errorf("argMax user = %q, argMin seq = %d; want %q, %d", last, fastest, wantLast.user, wantFast.seq)
			}
			return nil
		}},
		{name: "if_combinators", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			var errs, errLatency uint64
			q := fmt.Sprintf("SELECT countIf(status >= 400), sumIf(latency, status >= 400) FROM %s.events", s.db)
			if err := s.row(ctx, q, &errs, &errLatency); err != nil {
				return err
			}
			var wantN, wantSum uint64
			for _, e := range evs {
				if e.status >= 400 {
					wantN++
					wantSum += uint64(e.latency)
				}
			}
			if errs != wantN || errLatency != wantSum {
				t.Errorf("countIf=%d sumIf=%d, want %d %d", errs, errLatency, wantN, wantSum)
			}
			return nil
		}},
		{name: "arrays_arrayjoin", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			var statuses []uint16
			q := fmt.Sprintf("SELECT arraySort(groupUniqArray(status)) FROM %s.events", s.db)
			if err := s.row(ctx, q, &statuses); err != nil {
				return err
			}
			var sum uint64
			if err := s.row(ctx, "SELECT sum(x) FROM (SELECT arrayJoin([3, 4, 5]) AS x)", &sum); err != nil {
				return err
			}
			if !slices.Equal(statuses, []uint16{200, 201, 404, 500}) || sum != 12 {
				t.Errorf("statuses = %v, arrayJoin sum = %d", statuses, sum)
			}
			return nil
		}},
		{name: "order_by_with_fill", on1816: false, run: func(ctx context.Context, t *testing.T, s *server) error {
			var n uint64
			return s.row(ctx, "SELECT count() FROM (SELECT number AS x FROM numbers(3) ORDER BY x WITH FILL FROM 0 TO 10)", &n)
		}},
		{name: "limit_offset_and_limit_by", on1816: true, required: true, run: func(ctx context.Context, t *testing.T, s *server) error {
			var page, perGroup []uint64
			if err := s.row(ctx, "SELECT groupArray(number) FROM (SELECT number FROM numbers(10) ORDER BY number LIMIT 2 OFFSET 3)", &page); err != nil {
				return err
			}
			q := "SELECT arraySort(groupArray(number)) FROM (SELECT number FROM numbers(10) ORDER BY number DESC LIMIT 1 BY number % 3)"
			if err := s.row(ctx, q, &perGroup); err != nil {
				return err
			}
			if !slices.Equal(page, []uint64{3, 4}) || !slices.Equal(perGroup, []uint64{7, 8, 9}) {
				t.Errorf("LIMIT OFFSET = %v, LIMIT BY = %v", page, perGroup)
			}
			return nil
		}},
		{name: "windowfunnel", on1816: true, required: true, run: probeFunnel},
		{name: "retention", on1816: true, required: true, run: probeRetention},
	}
}

// inBand checks that got lies between the lo and hi quantiles of vals.
func inBand(t *testing.T, name string, got float64, vals []uint32, lo, hi float64) {
	t.Helper()
	l, h := float64(exactQuantile(vals, lo)), float64(exactQuantile(vals, hi))
	if got < l || got > h {
		t.Errorf("%s = %v, want within [%v, %v]", name, got, l, h)
	}
}

// journey is one hand-made step of a user's path; the funnel and retention
// probes state their answers for these rows.
type journey struct {
	at   string
	user string
	step string
}

var journeys = []journey{
	{"2024-03-01 10:00:00", "alice", "signup"}, {"2024-03-01 10:05:00", "alice", "key"}, {"2024-03-01 10:30:00", "alice", "call"},
	{"2024-03-01 11:00:00", "bob", "signup"}, {"2024-03-01 11:10:00", "bob", "call"},
	{"2024-03-01 12:00:00", "carol", "signup"}, {"2024-03-01 12:10:00", "carol", "key"}, {"2024-03-01 14:00:00", "carol", "call"},
	{"2024-03-02 09:00:00", "alice", "call"}, {"2024-03-08 09:00:00", "carol", "call"},
}

func loadJourneys(ctx context.Context, s *server, table string) error {
	ddl := fmt.Sprintf("CREATE TABLE %s.%s (time DateTime, user String, step String) ENGINE = MergeTree ORDER BY (user, time)", s.db, table)
	if err := s.exec(ctx, ddl); err != nil {
		return err
	}
	b, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (time, user, step)", s.db, table))
	if err != nil {
		return classify(err)
	}
	for _, j := range journeys {
		at, err := time.Parse(time.DateTime, j.at)
		if err != nil {
			return err
		}
		if err := b.Append(at, j.user, j.step); err != nil {
			return err
		}
	}
	return classify(b.Send())
}

// probeFunnel: signup -> key -> call within one hour. alice completes all
// three; bob never makes a key (1 step); carol's call comes after the hour
// (2 steps).
func probeFunnel(ctx context.Context, t *testing.T, s *server) error {
	if err := loadJourneys(ctx, s, "funnel"); err != nil {
		return err
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(`SELECT user, toUInt8(windowFunnel(3600)(time, step = 'signup', step = 'key', step = 'call'))
		FROM %s.funnel GROUP BY user ORDER BY user`, s.db))
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	got := map[string]uint8{}
	for rows.Next() {
		var u string
		var level uint8
		if err := rows.Scan(&u, &level); err != nil {
			return err
		}
		got[u] = level
	}
	if err := rows.Err(); err != nil {
		return classify(err)
	}
	want := map[string]uint8{"alice": 3, "bob": 1, "carol": 2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("funnel levels = %v, want %v", got, want)
	}
	return nil
}

// probeRetention: cohort = signed up on 2024-03-01; returned on day 1
// (alice) and in days 2-7 (carol).
func probeRetention(ctx context.Context, t *testing.T, s *server) error {
	if err := loadJourneys(ctx, s, "cohort"); err != nil {
		return err
	}
	var got []uint64
	q := fmt.Sprintf(`SELECT sumForEach(r) FROM (
		SELECT user, arrayMap(x -> toUInt64(x), retention(
			toDate(time) = '2024-03-01' AND step = 'signup',
			toDate(time) = '2024-03-02',
			toDate(time) > '2024-03-02' AND toDate(time) <= '2024-03-08')) AS r
		FROM %s.cohort GROUP BY user)`, s.db)
	if err := s.row(ctx, q, &got); err != nil {
		return err
	}
	if want := []uint64{3, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("retention = %v, want %v", got, want)
	}
	return nil
}

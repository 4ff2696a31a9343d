package clickhouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// fixtureEvent is one row of the probe's event table. The probe computes
// every expected figure from these values in Go, never from ClickHouse.
type fixtureEvent struct {
	time               time.Time // millisecond precision
	app                uint32
	user               string
	status             uint16
	latency            uint32
	integrationLatency *uint32 // nil: not logged
	plan               string
	seq                uint64
	metadata           string
}

// eventsDDL is the table shape a Gatescope event store needs on 18.16:
// DateTime plus a millisecond column, because DateTime64 does not exist there.
const eventsDDL = `CREATE TABLE IF NOT EXISTS %s.%s (
	time DateTime,
	ms UInt16,
	app UInt32,
	user String,
	status UInt16,
	latency UInt32,
	integration_latency Nullable(UInt32),
	metadata String
) ENGINE = MergeTree PARTITION BY toYYYYMM(time) ORDER BY (app, time)`

const eventsColumns = "(time, ms, app, user, status, latency, integration_latency, metadata)"

func genEvents(n int) []fixtureEvent {
	r := rand.New(rand.NewPCG(8, 18016))
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	plans := []string{"free", "pro", "enterprise"}
	statuses := []uint16{200, 200, 200, 201, 404, 500}
	evs := make([]fixtureEvent, n)
	for i := range evs {
		ms := time.Duration(r.IntN(61*24*3600*1000)) * time.Millisecond // March and April
		e := fixtureEvent{
			time:    base.Add(ms),
			app:     uint32(1 + r.IntN(3)),
			user:    fmt.Sprintf("u%03d", r.IntN(700)),
			status:  statuses[r.IntN(len(statuses))],
			latency: uint32(r.IntN(2000)),
			plan:    plans[r.IntN(len(plans))],
			seq:     uint64(i),
		}
		if i%3 != 0 {
			v := uint32(r.IntN(1500))
			e.integrationLatency = &v
		}
		e.metadata = fmt.Sprintf(`{"plan":%q,"seq":%d}`, e.plan, e.seq)
		evs[i] = e
	}
	// One event strictly after all others gives argMax a single right answer.
	evs[n-1].time = base.Add(61 * 24 * time.Hour).Add(123 * time.Millisecond)
	return evs
}

// insertEvents writes evs with the batch API, naming the columns (18.16
// needs the column list; see the batch probes).
func insertEvents(ctx context.Context, s *server, table string, evs []fixtureEvent) error {
	b, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s %s", s.db, table, eventsColumns))
	if err != nil {
		return classify(err)
	}
	defer func() { _ = b.Abort() }()
	for _, e := range evs {
		err := b.Append(e.time.Truncate(time.Second), uint16(e.time.Nanosecond()/1e6), e.app, e.user,
			e.status, e.latency, e.integrationLatency, e.metadata)
		if err != nil {
			return fmt.Errorf("append: %w", err)
		}
	}
	return classify(b.Send())
}

// loadEvents creates table and fills it with evs, failing the test when that
// is impossible: every other single-server probe reads this table.
func loadEvents(t *testing.T, s *server, table string, evs []fixtureEvent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.exec(ctx, fmt.Sprintf(eventsDDL, s.db, table)); err != nil {
		t.Fatalf("create %s: %v", table, err)
	}
	if err := insertEvents(ctx, s, table, evs); err != nil {
		t.Fatalf("insert into %s: %v", table, err)
	}
}

// exactQuantile mirrors ClickHouse's documented quantileExact: the element
// at index floor(level*n) of the sorted values.
func exactQuantile(vals []uint32, level float64) uint32 {
	s := slices.Clone(vals)
	slices.Sort(s)
	return s[int(level*float64(len(s)))]
}

func latencies(evs []fixtureEvent) []uint32 {
	out := make([]uint32, len(evs))
	for i, e := range evs {
		out[i] = e.latency
	}
	return out
}

func distinctUsers(evs []fixtureEvent) int {
	seen := map[string]bool{}
	for _, e := range evs {
		seen[e.user] = true
	}
	return len(seen)
}

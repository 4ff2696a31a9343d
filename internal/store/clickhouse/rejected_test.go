package clickhouse

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query/rollup"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/storetest"
)

// TestRejectedColumn: the rejected column the writer fills agrees with
// rollup.RejectedAtGateway, and its SQL default (what rows written before
// the column existed read) agrees with both, across every branch of the
// definition.
func TestRejectedColumn(t *testing.T) {
	tg := singleTarget(t)
	s := tg.open(t, tg.freshConfig(t))
	defer s.Close()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		status     int
		errType    string
		integ      float64
		meta       string
		isRejected bool
	}{
		{200, "", event.Absent, "", false},
		{403, "", event.Absent, "", true},
		{429, "", event.Absent, `{"tier":"gold"}`, true},
		{403, "", event.Absent, `{"integrationStatus":403}`, false},
		{403, "", 12, "", false},
		{404, "", event.Absent, "", false},
		{401, "ACCESS_DENIED", 5, "", true},
		{504, "INTEGRATION_TIMEOUT", 29000, "", false},
		{302, "ACCESS_DENIED", event.Absent, "", false},
		{event.Absent, "THROTTLED", event.Absent, "", false},
		{500, "DEFAULT_5XX", event.Absent, `{"integrationStatus":500}`, true},
	}
	var evs []event.Event
	for i, c := range cases {
		ev := storetest.Event("app1", i, at)
		ev.Status, ev.ErrorType, ev.IntegrationLatencyMs, ev.Metadata = c.status, c.errType, c.integ, []byte(c.meta)
		if got := rollup.RejectedAtGateway(&ev, strings.HasPrefix(c.meta, `{"integrationStatus"`)); got != c.isRejected {
			t.Fatalf("case %d: the definition says %v; fix the case", i, got)
		}
		evs = append(evs, ev)
	}
	ctx := context.Background()
	if _, err := s.Append(ctx, &store.Batch{AppID: "app1", Events: evs}); err != nil {
		t.Fatal(err)
	}
	rows, err := s.Query(ctx, "SELECT request_id, rejected, "+rejectedSQL+" FROM events WHERE app_id = ? ORDER BY request_id", "app1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var id string
		var stored, computed bool
		if err := rows.Scan(&id, &stored, &computed); err != nil {
			t.Fatal(err)
		}
		if stored != cases[i].isRejected || computed != cases[i].isRejected {
			t.Errorf("%s (%+v): stored %v, SQL default %v", id, cases[i], stored, computed)
		}
	}
	if i != len(cases) {
		t.Fatalf("%d rows, want %d (%v)", i, len(cases), rows.Err())
	}
}

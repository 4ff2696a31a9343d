package clickhouse

import (
	"testing"

	// The timezone known answers must not depend on the machine's zoneinfo.
	_ "time/tzdata"
)

// TestClickHouseCompat probes one real server for every feature an event
// analytics store could use and checks the result against the compatibility
// table (docs/clickhouse-compat.md): on 18.16 each probe must behave as the
// table says; on any server the features Gatescope relies on must work.
// Run with -v to print the table as observed.
func TestClickHouseCompat(t *testing.T) {
	s := connect(t, parseDSN(t, requireEnv(t, envURL)), scratchDB())
	evs := genEvents(5000)
	loadEvents(t, s, "events", evs)
	var probes []probe
	probes = append(probes, schemaProbes(evs)...)
	probes = append(probes, queryProbes(evs)...)
	probes = append(probes, timeProbes()...)
	probes = append(probes, clientProbes(evs)...)
	runProbes(t, s, probes)
}

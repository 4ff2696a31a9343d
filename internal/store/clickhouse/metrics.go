package clickhouse

import "github.com/prometheus/client_golang/prometheus"

// metrics reuse the DuckDB store's names where they mean the same, so one
// dashboard serves both stores.
type metrics struct {
	commitSeconds prometheus.Histogram
	storedEvents  prometheus.Counter
	overloaded    prometheus.Counter
	droppedParts  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatescope_store_commit_seconds",
			Help:    "Time to make a batch durable: from Append to ClickHouse's acknowledgement of every insert.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		storedEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatescope_store_loaded_events_total",
			Help: "Events stored (inserted into ClickHouse).",
		}),
		overloaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatescope_store_overloaded_total",
			Help: "Batches refused because ClickHouse reported overload (too many parts, memory, queries).",
		}),
		droppedParts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatescope_store_retention_dropped_partitions_total",
			Help: "Daily partitions dropped by retention, counted per table and host.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.commitSeconds, m.storedEvents, m.overloaded, m.droppedParts)
	}
	return m
}

package duckdb

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	commitSeconds prometheus.Histogram
	loadSeconds   prometheus.Histogram
	loadedEvents  prometheus.Counter
	overloaded    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Store) *metrics {
	m := &metrics{
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatescope_store_commit_seconds",
			Help:    "Time to make a batch durable (spool group commit), from hand-in to fsync.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		loadSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatescope_store_load_seconds",
			Help:    "Time of one load of spooled batches into DuckDB.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		loadedEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatescope_store_loaded_events_total",
			Help: "Events loaded from the spool into DuckDB.",
		}),
		overloaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatescope_store_overloaded_total",
			Help: "Batches refused because too much data waited to be loaded.",
		}),
	}
	if reg != nil {
		backlog := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatescope_store_backlog_bytes",
			Help: "Acknowledged bytes in the spool not yet loaded into DuckDB.",
		}, func() float64 {
			s.loadMu.Lock()
			defer s.loadMu.Unlock()
			return float64(s.spool.Backlog(s.loaded))
		})
		reg.MustRegister(m.commitSeconds, m.loadSeconds, m.loadedEvents, m.overloaded, backlog)
	}
	return m
}

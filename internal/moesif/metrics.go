package moesif

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatescope/gatescope/internal/store"
)

type metrics struct {
	requests       *prometheus.CounterVec
	records        *prometheus.CounterVec
	stored         prometheus.Counter
	duplicates     prometheus.Counter
	rejected       *prometheus.CounterVec
	requestSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatescope_moesif_requests_total",
			Help: "Moesif-compatible API requests answered, by endpoint and HTTP status.",
		}, []string{"endpoint", "code"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatescope_moesif_records_total",
			Help: "Events, users and companies received in accepted Moesif-compatible requests, by kind.",
		}, []string{"kind"}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatescope_moesif_events_stored_total",
			Help: "Events from Moesif-compatible SDKs stored durably.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatescope_moesif_duplicates_total",
			Help: "SDK events dropped because they were stored before (retries).",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatescope_moesif_rejected_total",
			Help: "Batch records set aside in the rejected-records store, by reason.",
		}, []string{"reason"}),
		requestSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatescope_moesif_request_seconds",
			Help:    "Time from receiving a Moesif-compatible request to answering 201.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.records, m.stored, m.duplicates, m.rejected, m.requestSeconds)
	}
	return m
}

func (m *metrics) observe(kind string, records int, res store.AppendResult, reasons map[string]int, took time.Duration) {
	m.records.WithLabelValues(kind).Add(float64(records))
	m.stored.Add(float64(res.Stored))
	m.duplicates.Add(float64(res.Duplicates))
	for reason, n := range reasons {
		m.rejected.WithLabelValues(reason).Add(float64(n))
	}
	m.requestSeconds.Observe(took.Seconds())
}

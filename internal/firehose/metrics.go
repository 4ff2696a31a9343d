package firehose

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatescope/gatescope/internal/store"
)

type metrics struct {
	batches      *prometheus.CounterVec
	records      prometheus.Counter
	stored       prometheus.Counter
	duplicates   prometheus.Counter
	rejected     *prometheus.CounterVec
	batchSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatescope_firehose_batches_total",
			Help: "Firehose deliveries answered, by HTTP status.",
		}, []string{"code"}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatescope_firehose_records_total",
			Help: "Records received in accepted Firehose deliveries.",
		}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatescope_firehose_events_stored_total",
			Help: "Events from Firehose deliveries stored durably.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatescope_firehose_duplicates_total",
			Help: "Events dropped because they were stored before (Firehose retries).",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatescope_firehose_rejected_total",
			Help: "Records or lines set aside in the rejected-records store, by reason.",
		}, []string{"reason"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatescope_firehose_batch_seconds",
			Help:    "Time from receiving a delivery to answering 200.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.batches, m.records, m.stored, m.duplicates, m.rejected, m.batchSeconds)
	}
	return m
}

func (m *metrics) observe(records int, res store.AppendResult, reasons map[string]int, took time.Duration) {
	m.records.Add(float64(records))
	m.stored.Add(float64(res.Stored))
	m.duplicates.Add(float64(res.Duplicates))
	for reason, n := range reasons {
		m.rejected.WithLabelValues(reason).Add(float64(n))
	}
	m.batchSeconds.Observe(took.Seconds())
}

package query

import "strings"

// Metric is one of the measures of PRODUCT.md's analytics (docs/api.md
// defines each).
type Metric string

// The metrics.
const (
	Count           Metric = "count"
	UniqueUsers     Metric = "unique_users"
	UniqueCompanies Metric = "unique_companies"
	ErrorRate       Metric = "error_rate"
	ErrorRate4xx    Metric = "error_rate_4xx"
	ErrorRate5xx    Metric = "error_rate_5xx"
	LatencyAvg      Metric = "latency_avg"
	LatencyP50      Metric = "latency_p50"
	LatencyP90      Metric = "latency_p90"
	LatencyP95      Metric = "latency_p95"
	LatencyP99      Metric = "latency_p99"
	Bytes           Metric = "bytes"
	Rejected        Metric = "rejected_at_gateway"
)

// Metrics lists every metric.
var Metrics = []Metric{Count, UniqueUsers, UniqueCompanies, ErrorRate, ErrorRate4xx, ErrorRate5xx, LatencyAvg,
	LatencyP50, LatencyP90, LatencyP95, LatencyP99, Bytes, Rejected}

// family is how a metric is computed: additive partial sums, distinct
// counts, or a latency histogram.
type family int

const (
	famAdditive family = iota
	famDistinct
	famHistogram
)

func (m Metric) family() family {
	switch m {
	case UniqueUsers, UniqueCompanies:
		return famDistinct
	case LatencyP50, LatencyP90, LatencyP95, LatencyP99:
		return famHistogram
	}
	return famAdditive
}

// quantile is the percentile of a histogram metric, as a fraction.
func (m Metric) quantile() float64 {
	switch m {
	case LatencyP50:
		return 0.50
	case LatencyP90:
		return 0.90
	case LatencyP95:
		return 0.95
	case LatencyP99:
		return 0.99
	}
	return 0
}

// ParseMetric validates a metric name.
func ParseMetric(s string) (Metric, error) {
	s = strings.TrimSpace(s)
	for _, m := range Metrics {
		if string(m) == s {
			return m, nil
		}
	}
	return "", badQuery("unknown metric %q", s)
}

// ParseMetrics reads a comma-separated list; empty means count.
func ParseMetrics(s string) ([]Metric, error) {
	if strings.TrimSpace(s) == "" {
		return []Metric{Count}, nil
	}
	var out []Metric
	seen := map[Metric]bool{}
	for _, p := range strings.Split(s, ",") {
		m, err := ParseMetric(p)
		if err != nil {
			return nil, err
		}
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out, nil
}

package query_test

import (
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query"
)

// This file computes expected answers with plain loops over the events the
// test stored, independently of the SQL under test.

// gatewayTypes2 restates docs/api.md's list of gateway response types.
var gatewayTypes2 = map[string]bool{
	"ACCESS_DENIED": true, "API_CONFIGURATION_ERROR": true, "AUTHORIZER_CONFIGURATION_ERROR": true, "AUTHORIZER_FAILURE": true,
	"BAD_REQUEST_PARAMETERS": true, "BAD_REQUEST_BODY": true, "DEFAULT_4XX": true, "DEFAULT_5XX": true, "EXPIRED_TOKEN": true,
	"INVALID_API_KEY": true, "INVALID_SIGNATURE": true, "MISSING_AUTHENTICATION_TOKEN": true, "QUOTA_EXCEEDED": true,
	"REQUEST_TOO_LARGE": true, "RESOURCE_NOT_FOUND": true, "THROTTLED": true, "UNAUTHORIZED": true, "UNSUPPORTED_MEDIA_TYPE": true,
	"WAF_FILTERED": true,
}

// rejected restates docs/api.md's definition of rejected_at_gateway.
func rejected(ev *event.Event) bool {
	if ev.Status == event.Absent || ev.Status < 400 {
		return false
	}
	if ev.ErrorType != "" {
		return gatewayTypes2[ev.ErrorType]
	}
	hasIntegrationStatus := strings.Contains(string(ev.Metadata), `"integrationStatus":`)
	return ev.IntegrationLatencyMs == event.Absent && !hasIntegrationStatus && (ev.Status == 401 || ev.Status == 403 || ev.Status == 429)
}

// figures are every metric over a set of events.
type figures struct {
	count, e4, e5, rej, bytes float64
	users, companies          map[string]bool
	lat                       []float64
}

func newFigures() *figures { return &figures{users: map[string]bool{}, companies: map[string]bool{}} }

func (f *figures) add(ev *event.Event, company string) {
	f.count++
	switch {
	case ev.Status >= 400 && ev.Status < 500:
		f.e4++
	case ev.Status >= 500 && ev.Status < 600:
		f.e5++
	}
	if rejected(ev) {
		f.rej++
	}
	if ev.ResponseBytes != event.Absent {
		f.bytes += float64(ev.ResponseBytes)
	}
	if ev.UserID != "" {
		f.users[ev.UserID] = true
	}
	if company != "" {
		f.companies[company] = true
	}
	if ev.LatencyMs != event.Absent {
		f.lat = append(f.lat, ev.LatencyMs)
	}
}

// nearestRank is the exact p-th percentile: the ceil(p*n/100)-th smallest.
func nearestRank(xs []float64, p int) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	k := (p*len(s) + 99) / 100
	v := s[max(k, 1)-1]
	return &v
}

// metric returns a metric's expected value (nil where undefined).
func (f *figures) metric(m string) *float64 {
	v := func(x float64) *float64 { return &x }
	switch m {
	case "count":
		return v(f.count)
	case "unique_users":
		return v(float64(len(f.users)))
	case "unique_companies":
		return v(float64(len(f.companies)))
	case "error_rate", "error_rate_4xx", "error_rate_5xx":
		if f.count == 0 {
			return nil
		}
		return v(map[string]float64{"error_rate": f.e4 + f.e5, "error_rate_4xx": f.e4, "error_rate_5xx": f.e5}[m] / f.count)
	case "latency_avg":
		if len(f.lat) == 0 {
			return nil
		}
		s := 0.0
		for _, x := range f.lat {
			s += x
		}
		return v(s / float64(len(f.lat)))
	case "latency_p50":
		return nearestRank(f.lat, 50)
	case "latency_p90":
		return nearestRank(f.lat, 90)
	case "latency_p95":
		return nearestRank(f.lat, 95)
	case "latency_p99":
		return nearestRank(f.lat, 99)
	case "bytes":
		return v(f.bytes)
	case "rejected_at_gateway":
		return v(f.rej)
	}
	panic(m)
}

// tolerance is what a metric may differ by: percentiles come from
// histograms whose buckets are within (1.1-1)/(1.1+1) of every value in
// them (docs/api.md); averages and rates are float sums.
func close(m string, got, want *float64) bool {
	if (got == nil) != (want == nil) {
		return false
	}
	if got == nil {
		return true
	}
	if strings.HasPrefix(m, "latency_p") {
		return math.Abs(*got-*want) <= 0.1/2.1**want+1e-9
	}
	return math.Abs(*got-*want) <= 1e-9*math.Max(1, math.Abs(*want))
}

// sameFigures reports each metric of a segmentation row that differs
// from f's; what names the row.
func sameFigures(t *testing.T, what string, row map[string]any, f *figures) {
	t.Helper()
	for _, m := range query.Metrics {
		got, _ := row[string(m)].(*float64)
		if w := f.metric(string(m)); !close(string(m), got, w) {
			t.Errorf("%s: %s = %s, want %s", what, m, fmtv(got), fmtv(w))
		}
	}
}

// bucketOf is the start of the UTC-aligned or zone-calendar bucket of t.
func bucketOf(t time.Time, width time.Duration, loc *time.Location, calendar bool) time.Time {
	if !calendar {
		return t.Truncate(width)
	}
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc).UTC()
}

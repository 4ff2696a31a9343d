// Package rollup holds what the DuckDB store's loader (the writer of the
// rollup tables) and the query compiler (their reader) must agree on: the
// definition of a gateway rejection, the latency histogram, and the layout
// of the rollup tables. It is dialect-free and imports nothing of either.
package rollup

import (
	"math"
	"strconv"
	"time"

	"github.com/gatescope/gatescope/internal/event"
)

// GatewayResponseTypes are the $context.error.responseType values of
// responses API Gateway makes itself, before or instead of calling an
// integration. INTEGRATION_FAILURE and INTEGRATION_TIMEOUT are absent on
// purpose: those calls reached the integration.
var GatewayResponseTypes = []string{
	"ACCESS_DENIED", "API_CONFIGURATION_ERROR", "AUTHORIZER_CONFIGURATION_ERROR", "AUTHORIZER_FAILURE",
	"BAD_REQUEST_PARAMETERS", "BAD_REQUEST_BODY", "DEFAULT_4XX", "DEFAULT_5XX", "EXPIRED_TOKEN",
	"INVALID_API_KEY", "INVALID_SIGNATURE", "MISSING_AUTHENTICATION_TOKEN", "QUOTA_EXCEEDED",
	"REQUEST_TOO_LARGE", "RESOURCE_NOT_FOUND", "THROTTLED", "UNAUTHORIZED", "UNSUPPORTED_MEDIA_TYPE",
	"WAF_FILTERED",
}

// SeedRejectionStatuses are the statuses that, in a log without integration
// fields (the seed format), count as answered by the gateway.
var SeedRejectionStatuses = []int{401, 403, 429}

// IntegrationStatusKey is the metadata key the access-log parser keeps
// $context.integrationStatus under.
const IntegrationStatusKey = "integrationStatus"

// RejectedAtGateway is the one definition of "answered by API Gateway
// without an integration" (docs/api.md): a status of 400 or more, and
// either an error type from GatewayResponseTypes, or (no error type logged,
// no integration latency, no integration status) one of the
// SeedRejectionStatuses. hasIntegrationStatus says whether the event's
// metadata has IntegrationStatusKey. The SQL form is query's
// rejectedExpr; both are checked against each other by tests.
func RejectedAtGateway(ev *event.Event, hasIntegrationStatus bool) bool {
	if ev.Status == event.Absent || ev.Status < 400 {
		return false
	}
	if ev.ErrorType != "" {
		for _, t := range GatewayResponseTypes {
			if ev.ErrorType == t {
				return true
			}
		}
		return false
	}
	if ev.IntegrationLatencyMs != event.Absent || hasIntegrationStatus {
		return false
	}
	for _, s := range SeedRejectionStatuses {
		if ev.Status == s {
			return true
		}
	}
	return false
}

// The latency histogram: bucket 0 holds [0, 1) ms, bucket b >= 1 holds
// [Gamma^(b-1), Gamma^b) ms, and MaxBucket everything above. A bucket's
// representative value is within Tolerance (relative) of every value in it,
// so percentiles read from histograms are within Tolerance of the exact
// nearest-rank percentile (or 0.5 ms below 1 ms).
const (
	Gamma     = 1.1
	MaxBucket = 200 // Gamma^200 ms is about 6 years
	// Tolerance is (Gamma-1)/(Gamma+1).
	Tolerance = (Gamma - 1) / (Gamma + 1)
)

var lnGamma = math.Log(Gamma)

// Bucket returns the histogram bucket of a latency in milliseconds, or -1
// for an absent latency.
func Bucket(ms float64) int {
	switch {
	case ms == event.Absent || ms < 0 || math.IsNaN(ms):
		return -1
	case ms < 1:
		return 0
	}
	b := int(math.Floor(math.Log(ms)/lnGamma)) + 1
	return min(b, MaxBucket)
}

// Value returns a bucket's representative latency: the value whose
// relative distance to both of the bucket's ends is Tolerance.
func Value(b int) float64 {
	if b <= 0 {
		return 0.5
	}
	lo := math.Pow(Gamma, float64(b-1))
	return 2 * lo * Gamma / (1 + Gamma)
}

// Table names and their columns. The tables are summed over, never read
// row by row, so a load may leave a key in more than one row (see the
// store's rollup.go); every column not listed as a key is additive except
// first_time (min) and last_time (max).
const (
	// TrafficHour has one row per app, UTC hour, and combination of
	// api_id, stage, method, route, status, error_type, rejected and
	// lat_bucket (NULL when the latency is absent). Measures: n, lat_sum,
	// lat_n, bytes_sum, bytes_n.
	TrafficHour = "rollup_traffic_hour"
	// UserHour has one row per app, UTC hour, user_id and logged
	// company_id (either NULL when absent; the query resolves the company
	// against users.company_id). Every event is counted in it, so its
	// totals equal TrafficHour's. Measures: n, n_4xx, n_5xx, n_rejected,
	// lat_sum, lat_n, bytes_sum, bytes_n, first_time, last_time.
	UserHour = "rollup_user_hour"
	// TrafficDay and UserDay have the same keys and measures with a UTC
	// day (column day) instead of the hour. They hold exactly the days
	// before State's sealed time (NULL: none): a day is sealed, from the
	// hourly rows, once an event an hour past its end is loaded, and
	// events that arrive later for a sealed day go to both tables.
	TrafficDay = "rollup_traffic_day"
	UserDay    = "rollup_user_day"

	// The derived rollups are built from the events table in SQL (the
	// store's rollup_derive.go), a done hour or a sealed day at a time,
	// and rebuilt when late events arrive. An hour is done once an event
	// an hour past its end is loaded: they hold exactly the events before
	// State's done (the hourly one) or sealed (the daily ones).
	//
	// UserHistHour and UserHistDay have one row per app, UTC hour (day),
	// user_id and logged company_id, the keys of UserHour (UserDay), and
	// hist, the latency histogram: a list of HistPair.
	UserHistHour = "rollup_user_hist_hour"
	UserHistDay  = "rollup_user_hist_day"
	// UserHistWeek has UserHistDay's rows summed per ISO week: one row
	// per app, week (column day: its Monday, UTC), user_id and logged
	// company_id, with hist. It holds the weeks whose seven days are
	// sealed, each built when its last day is sealed and built again in
	// the transaction that derives one of its days again. A range of whole
	// weeks merges about half as many histogram pairs from it as from the
	// days (docs/performance.md). Its rows also carry their histogram's
	// bands (BandColumn).
	UserHistWeek = "rollup_user_hist_week"
	// UserHistOpen has the open week's histograms: UserHistHour's rows
	// from the week of State's open_to up to open_to, summed per app,
	// user_id and logged company_id (column day: the week's Monday, as in
	// UserHistWeek), with hist and the bands. open_to is a done hour less
	// than 6 hours behind done: the rows are built again, whole, when done
	// moves 6 hours past it or into another week, or when late events
	// touch an hour they hold (the store's rollup_open.go). Unlike the other rollups its
	// rows change the span they cover, so a reader holds the open_to its
	// plan assumed against the one its statement sees (OpenGuardSQL).
	UserHistOpen = "rollup_user_hist_open"
	// UserRouteDay has one row per app, UTC day (column day), user_id,
	// logged company_id, method and route (each NULL when absent), with
	// UserHour's measures, hist, and times, the list of its events' times
	// (in no order): funnels need each event's time, and per user and
	// route a day's times are few and compress well.
	UserRouteDay = "rollup_user_route_day"
	// CompanyRouteDay holds UserRouteDay's rows (its keys, n, n_4xx, n_5xx
	// and hist), kept in the same transactions, in company order: app_id,
	// company_id (NULL last), user_id, day, route, method. UserRouteDay is
	// in route order for funnels, which spreads a company's rows over the
	// whole table; here they are a few adjacent vectors, which a scan
	// keeping one company (or the NULL company and a few users) reads
	// alone. Rows written since the table was last sorted follow in load
	// order until it is sorted again (the store's rollup_cluster.go).
	CompanyRouteDay = "rollup_company_route_day"
	// RequestIDs has one row per event: app_id, hour (UTC) and h, the
	// RequestIDHashSQL of its request id, so that a lookup by id scans one
	// narrow column and then reads only the hours whose h matches.
	RequestIDs = "rollup_request_ids"
	// AppSpan has one row per app with loaded events: first_time and
	// last_time, the earliest and the latest event's time, kept in the
	// load's transaction (late events move first_time back). A query
	// skips the pieces of its range before an app's first event, which
	// would read nothing at a cost each.
	AppSpan = "rollup_app_span"
	// State has one row: version, sealed, done, open_to.
	State = "rollup_state"
)

// OpenWeek is the Monday of the week whose rows UserHistOpen holds when
// State's open_to is to: the rows end at to, which is after the Monday.
func OpenWeek(to time.Time) time.Time { return Week(to.Add(-time.Microsecond)) }

// OpenGuardSQL is a condition that holds when State's open_to is its one
// parameter, and otherwise fails the statement with an error holding
// OpenMoved: a query whose plan read open_to before a load rebuilt the
// open week's rows would otherwise count hours twice or not at all.
const OpenGuardSQL = `(SELECT CASE WHEN max(open_to) = ? THEN true ELSE error('` + OpenMoved + `') END FROM ` + State + `)`

// OpenMoved is the text of OpenGuardSQL's error.
const OpenMoved = "gatescope: the open week rollup moved; run the query again"

// Week is the Monday (UTC) of the ISO week holding t: the day column of
// UserHistWeek's rows, as DuckDB's date_trunc('week', ...) gives it.
func Week(t time.Time) time.Time {
	d := t.UTC().Truncate(24 * time.Hour)
	return d.AddDate(0, 0, -(int(d.Weekday())+6)%7)
}

// HistPair is an element of a user rollup's hist list: n events in
// histogram bucket b, as n<<8 | b (in SQL: b = h & 255, n = h >> 8). A
// bucket may repeat within a list or across rows; readers sum them.
func HistPair(b int, n int64) int64 { return n<<8 | int64(b) }

// BandShift sets the width of a latency band: 2^BandShift adjacent
// histogram buckets, a factor of Gamma^8 (about 2.1) in latency. Bands is
// how many there are: bucket b is in band b >> BandShift.
const (
	BandShift = 3
	Bands     = MaxBucket>>BandShift + 1
)

// BandColumn names the column of UserHistWeek and UserHistOpen that holds
// how many events of the row's hist are in band k (0 <= k < Bands): a
// BIGINT, never NULL once the store is open. A reader ranking users by a
// percentile's band sums these columns, a few per row, instead of
// unnesting and grouping every histogram pair (docs/performance.md).
func BandColumn(k int) string { return "band" + strconv.Itoa(k) }

// RequestIDHashSQL is the SQL of a request id's h in RequestIDs: the low
// 32 bits of DuckDB's hash() of the VARCHAR expression x. hash() may
// differ between DuckDB versions: the store records the version that built
// the table and builds it again under another, and readers hash in SQL
// too. Distinct ids share an h with probability 2^-32.
func RequestIDHashSQL(x string) string {
	return "(hash(CAST(" + x + " AS VARCHAR)) & 4294967295)::UINTEGER"
}

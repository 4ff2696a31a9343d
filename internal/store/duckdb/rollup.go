package duckdb

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query/rollup"
)

// rollups aggregates one load's events into the rollup tables' keys
// (package query/rollup) and writes them in the load's transaction
// (rollup_flush.go), so the rollups always say exactly what the events
// do. Aggregating in Go first keeps the cost per event to two map updates.
type rollups struct {
	traffic map[trafficKey]*trafficAgg
	users   map[userKey]*userAgg
	routes  map[routeKey]*routeAgg
	// ids are the rows of rollup.RequestIDs (rollup_ids.go), naming
	// their app by its index in apps.
	ids      []idRow
	apps     []string
	appIndex map[string]int32
	lastApp  int32
	hasher   rollup.RequestIDHasher
}

type trafficKey struct {
	app                               string
	hour                              int64 // unix seconds
	apiID, stage, method, route, errT string
	status                            int32 // event.Absent when absent
	bucket                            int16 // -1 when the latency is absent
	rejected                          bool
}

type trafficAgg struct {
	n, latN, bytesSum, bytesN int64
	latSum                    float64
}

type userKey struct {
	app, user, company string
	hour               int64
}

type userAgg struct {
	n, n4xx, n5xx, rejected, latN, bytesSum, bytesN int64
	latSum                                          float64
	first, last                                     time.Time
}

// routeKey is a key of rollup.UserRouteDay: the day is unix seconds.
type routeKey struct {
	app, user, company, method, route string
	day                               int64
}

// routeAgg is userAgg plus the latency histogram as (bucket, events)
// pairs: a user calls few buckets of one route in a day, so a short
// slice searched linearly beats a map.
type routeAgg struct {
	userAgg
	hist []histPair
}

type histPair struct {
	b uint8
	n int64
}

// add folds one event in. The event's strings may alias a spool frame:
// they are cloned only when they become a new map key.
func (r *rollups) add(ev *event.Event) {
	if r.traffic == nil {
		r.traffic = map[trafficKey]*trafficAgg{}
		r.users = map[userKey]*userAgg{}
		r.routes = map[routeKey]*routeAgg{}
		r.appIndex = map[string]int32{}
		r.lastApp = -1
	}
	hour := ev.Time.Truncate(time.Hour).Unix()
	rejected := rollup.RejectedAtGateway(ev, false)
	if rejected && ev.ErrorType == "" && bytes.Contains(ev.Metadata, []byte(`"`+rollup.IntegrationStatusKey+`"`)) {
		// Rare: only a seed-like rejection needs the metadata looked at.
		rejected = rollup.RejectedAtGateway(ev, hasTopLevelKey(ev.Metadata, rollup.IntegrationStatusKey))
	}
	tk := trafficKey{app: ev.AppID, hour: hour, apiID: ev.APIID, stage: ev.Stage, method: ev.Method, route: ev.Route,
		errT: ev.ErrorType, status: int32(ev.Status), bucket: int16(rollup.Bucket(ev.LatencyMs)), rejected: rejected}
	ta := r.traffic[tk]
	if ta == nil {
		ta = &trafficAgg{}
		tk.app, tk.apiID, tk.stage = strings.Clone(tk.app), strings.Clone(tk.apiID), strings.Clone(tk.stage)
		tk.method, tk.route, tk.errT = strings.Clone(tk.method), strings.Clone(tk.route), strings.Clone(tk.errT)
		r.traffic[tk] = ta
	}
	ta.n++
	if ev.LatencyMs != event.Absent {
		ta.latSum += ev.LatencyMs
		ta.latN++
	}
	if ev.ResponseBytes != event.Absent {
		ta.bytesSum += ev.ResponseBytes
		ta.bytesN++
	}
	uk := userKey{app: ev.AppID, user: ev.UserID, company: ev.CompanyID, hour: hour}
	ua := r.users[uk]
	if ua == nil {
		ua = &userAgg{first: ev.Time, last: ev.Time}
		uk.app, uk.user, uk.company = strings.Clone(uk.app), strings.Clone(uk.user), strings.Clone(uk.company)
		r.users[uk] = ua
	}
	ua.addEvent(ev, rejected)
	rk := routeKey{app: ev.AppID, user: ev.UserID, company: ev.CompanyID, method: ev.Method, route: ev.Route,
		day: hour - (hour%86400+86400)%86400}
	ra := r.routes[rk]
	if ra == nil {
		ra = &routeAgg{userAgg: userAgg{first: ev.Time, last: ev.Time}}
		rk.app, rk.user, rk.company = strings.Clone(rk.app), strings.Clone(rk.user), strings.Clone(rk.company)
		rk.method, rk.route = strings.Clone(rk.method), strings.Clone(rk.route)
		r.routes[rk] = ra
	}
	ra.addEvent(ev, rejected)
	if b := tk.bucket; b >= 0 {
		ra.addBucket(uint8(b), 1)
	}
	r.addID(ev.AppID, hour, ev.RequestID)
}

func (a *userAgg) addEvent(ev *event.Event, rejected bool) {
	a.n++
	switch {
	case ev.Status >= 400 && ev.Status <= 499:
		a.n4xx++
	case ev.Status >= 500 && ev.Status <= 599:
		a.n5xx++
	}
	if rejected {
		a.rejected++
	}
	if ev.LatencyMs != event.Absent {
		a.latSum += ev.LatencyMs
		a.latN++
	}
	if ev.ResponseBytes != event.Absent {
		a.bytesSum += ev.ResponseBytes
		a.bytesN++
	}
	if ev.Time.Before(a.first) {
		a.first = ev.Time
	}
	if ev.Time.After(a.last) {
		a.last = ev.Time
	}
}

func (a *routeAgg) addBucket(b uint8, n int64) {
	for i := range a.hist {
		if a.hist[i].b == b {
			a.hist[i].n += n
			return
		}
	}
	a.hist = append(a.hist, histPair{b, n})
}

func hasTopLevelKey(meta []byte, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(meta, &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}

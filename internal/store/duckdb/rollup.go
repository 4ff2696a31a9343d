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

// add folds one event in. The event's strings may alias a spool frame:
// they are cloned only when they become a new map key.
func (r *rollups) add(ev *event.Event) {
	if r.traffic == nil {
		r.traffic = map[trafficKey]*trafficAgg{}
		r.users = map[userKey]*userAgg{}
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
	ua.n++
	switch {
	case ev.Status >= 400 && ev.Status <= 499:
		ua.n4xx++
	case ev.Status >= 500 && ev.Status <= 599:
		ua.n5xx++
	}
	if rejected {
		ua.rejected++
	}
	if ev.LatencyMs != event.Absent {
		ua.latSum += ev.LatencyMs
		ua.latN++
	}
	if ev.ResponseBytes != event.Absent {
		ua.bytesSum += ev.ResponseBytes
		ua.bytesN++
	}
	if ev.Time.Before(ua.first) {
		ua.first = ev.Time
	}
	if ev.Time.After(ua.last) {
		ua.last = ev.Time
	}
}

func hasTopLevelKey(meta []byte, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(meta, &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}

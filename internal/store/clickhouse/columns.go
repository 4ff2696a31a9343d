package clickhouse

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/query/rollup"
)

// eventColumns holds a chunk of events column by column, in the order of
// insertColumns(eventsTable), for the client's columnar Append. Absent
// values are stored as the event holds them: ” and event.Absent.
type eventColumns struct {
	appID, requestID []string
	tm               []time.Time
	ms               []uint16
	received         []time.Time
	source           []string
	head             [7][]string // api_id .. protocol
	status           []int16
	responseBytes    []int64
	latency, integ   []float64
	tail             [12][]string // ip .. error_type, metadata
	rejected         []uint8
}

func newEventColumns(evs []*event.Event, received []time.Time) *eventColumns {
	n := len(evs)
	c := &eventColumns{
		appID: make([]string, n), requestID: make([]string, n), tm: make([]time.Time, n), ms: make([]uint16, n),
		received: make([]time.Time, n), source: make([]string, n), status: make([]int16, n), responseBytes: make([]int64, n),
		latency: make([]float64, n), integ: make([]float64, n), rejected: make([]uint8, n),
	}
	for i := range c.head {
		c.head[i] = make([]string, n)
	}
	for i := range c.tail {
		c.tail[i] = make([]string, n)
	}
	for i, e := range evs {
		t := clampTime(e.Time.UTC())
		c.appID[i] = validText(e.AppID)
		c.requestID[i] = validText(e.RequestID)
		c.tm[i] = t.Truncate(time.Second)
		c.ms[i] = uint16(t.Nanosecond() / int(time.Millisecond))
		c.received[i] = clampTime(received[i].UTC()).Truncate(time.Second)
		c.source[i] = string(e.Source)
		for j, s := range [...]string{e.APIID, e.Stage, e.Method, e.Path, e.Route, e.Host, e.Protocol} {
			c.head[j][i] = validText(s)
		}
		c.status[i] = int16(max(min(e.Status, 32767), event.Absent))
		c.responseBytes[i] = max(e.ResponseBytes, event.Absent)
		c.latency[i] = max(e.LatencyMs, event.Absent)
		c.integ[i] = max(e.IntegrationLatencyMs, event.Absent)
		for j, s := range [...]string{e.IP, e.UserAgent, e.UserID, e.CompanyID, e.APIKeyID, e.PrincipalID,
			e.CognitoIdentityID, e.Caller, e.UserARN, e.ErrorMessage, e.ErrorType, string(e.Metadata)} {
			c.tail[j][i] = validText(s)
		}
		if rejectedAtGateway(e) {
			c.rejected[i] = 1
		}
	}
	return c
}

// rejectedAtGateway is rollup.RejectedAtGateway, reading the metadata only
// for the rare event that needs it.
func rejectedAtGateway(e *event.Event) bool {
	r := rollup.RejectedAtGateway(e, false)
	if r && e.ErrorType == "" && bytes.Contains(e.Metadata, []byte(`"`+rollup.IntegrationStatusKey+`"`)) {
		var m map[string]json.RawMessage
		if json.Unmarshal(e.Metadata, &m) == nil {
			_, has := m[rollup.IntegrationStatusKey]
			r = rollup.RejectedAtGateway(e, has)
		}
	}
	return r
}

// list returns the columns in insert order.
func (c *eventColumns) list() []any {
	out := []any{c.appID, c.requestID, c.tm, c.ms, c.received, c.source}
	for _, h := range c.head {
		out = append(out, h)
	}
	out = append(out, c.status, c.responseBytes, c.latency, c.integ)
	for _, t := range c.tail {
		out = append(out, t)
	}
	return append(out, c.rejected)
}

// validText makes text valid UTF-8 as the DuckDB store does, so that both
// stores group and compare the same strings.
func validText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

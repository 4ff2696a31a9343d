package traffic

import (
	"cmp"
	"math"
	"slices"

	"github.com/gatescope/gatescope/internal/accesslog"
)

// rhythmAt is the normalized rhythm at a time in ms since the epoch, which
// was a Thursday (index 4 counting from Sunday).
func (m *Model) rhythmAt(ms int64) float64 {
	h := (floorDiv(ms, hourMs) + 4*24) % 168
	if h < 0 {
		h += 168
	}
	return m.rhythm[h]
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// nextVisit draws the next visit start after now by thinning a Poisson
// process of rate visitRate*rmax down to visitRate*rhythm(t). It returns
// a time >= limit when the user has no visit before limit (or End).
func (m *Model) nextVisit(a *actor, now, limit int64) int64 {
	limit = min(limit, m.end)
	lam := a.visitRate * m.rmax
	if lam <= 0 {
		return math.MaxInt64
	}
	t := float64(now)
	for {
		t += m.r.ExpFloat64() / lam
		if t >= float64(limit) {
			return max(int64(t), limit)
		}
		if m.r.Float64()*m.rmax < m.rhythmAt(int64(t)) {
			return int64(t) + 1
		}
	}
}

// addVisit plans a session of regular calls starting at t: a geometric
// number of calls (mean visitCallsMean) with exponential gaps, wrapped in
// $connect and $disconnect for WebSocket APIs.
func (m *Model) addVisit(a *actor, t int64) {
	calls := m.pending[:0]
	n := 1 + int(m.r.ExpFloat64()/-math.Log1p(-1/visitCallsMean))
	gap := callGapMs
	var conn string
	ws := m.api == accesslog.WebSocket
	if ws {
		gap = wsGapMs
		conn = m.connectionID()
		calls = append(calls, call{t: t, route: int32(m.roleRoute[RoleConnect]), conn: conn, connectedAt: t})
		t += 200 + int64(m.r.ExpFloat64()*800)
	}
	connectedAt := calls0(calls)
	for range n {
		calls = append(calls, call{t: t, route: int32(m.pickRoute()), conn: conn, connectedAt: connectedAt})
		t += 1 + int64(m.r.ExpFloat64()*gap)
	}
	if ws {
		calls = append(calls, call{t: t + int64(m.r.ExpFloat64()*20000), route: int32(m.roleRoute[RoleDisconnect]), conn: conn, connectedAt: connectedAt})
	}
	m.pending = calls
	m.merge(a, calls)
}

// addJourney plans the sign-up or the account deletion, wrapped in a
// session for WebSocket APIs. The role must have a route.
func (m *Model) addJourney(a *actor, t int64, role Role) {
	calls := m.pending[:0]
	route := m.roleRoute[role]
	var conn string
	ws := m.api == accesslog.WebSocket
	if ws {
		conn = m.connectionID()
		calls = append(calls, call{t: t, route: int32(m.roleRoute[RoleConnect]), conn: conn, connectedAt: t, journey: true})
		t += 200 + int64(m.r.ExpFloat64()*800)
	}
	connectedAt := calls0(calls)
	calls = append(calls, call{t: t, route: int32(route), conn: conn, connectedAt: connectedAt})
	if ws {
		t += 500 + int64(m.r.ExpFloat64()*3000)
		calls = append(calls, call{t: t, route: int32(m.roleRoute[RoleDisconnect]), conn: conn, connectedAt: connectedAt})
	}
	m.pending = calls
	m.merge(a, calls)
}

// calls0 is the time of the first call, the connection's start.
func calls0(calls []call) int64 {
	if len(calls) == 0 {
		return 0
	}
	return calls[0].t
}

// connectionID draws a WebSocket connection id ("L0SM9cOFvHcCIhw=").
func (m *Model) connectionID() string {
	return string(appendChars(make([]byte, 0, 16), m.r, 15, base64Alpha[:62])) + "="
}

func (m *Model) pickRoute() int {
	x := m.r.Float64() * m.regularCum[len(m.regularCum)-1]
	for i, c := range m.regularCum {
		if x < c {
			return m.regular[i]
		}
	}
	return m.regular[len(m.regular)-1]
}

func (m *Model) less(i, j int) bool {
	return m.actors[m.heap[i]].next < m.actors[m.heap[j]].next
}

func (m *Model) siftDown(i int) {
	n := len(m.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && m.less(r, l) {
			c = r
		}
		if !m.less(c, i) {
			return
		}
		m.heap[i], m.heap[c] = m.heap[c], m.heap[i]
		i = c
	}
}

// expand turns the actor's pending visit into planned calls and schedules
// the visit after it.
func (m *Model) expand(a *actor) {
	at, kind := a.visitAt, a.visitKind
	a.visitKind = visitNone
	if a.user < 0 {
		m.merge(a, append(m.pending[:0], call{t: at, route: -1}))
		m.scheduleAnonymous(a, at)
		return
	}
	switch kind {
	case visitChurn:
		m.addJourney(a, at, RoleChurn)
	default:
		m.addVisit(a, at)
		m.scheduleAfter(a, at)
	}
}

// scheduleAfter draws the user's next visit after a visit started at from,
// or their churn.
func (m *Model) scheduleAfter(a *actor, from int64) {
	u := &m.users[a.user]
	churn := u.Churn.UnixMilli()
	t := m.nextVisit(a, from, churn)
	switch {
	case t < churn:
		a.visitKind, a.visitAt = visitRegular, t
	case u.ChurnCall && m.roleRoute[RoleChurn] >= 0:
		a.visitKind, a.visitAt = visitChurn, max(churn, from)
	default:
		a.visitKind = visitNone
	}
}

func (m *Model) scheduleAnonymous(a *actor, from int64) {
	a.visitKind = visitNone
	if m.anonRate <= 0 {
		return
	}
	gap := m.r.ExpFloat64() / m.anonRate
	if gap < float64(m.end-from) {
		a.visitKind, a.visitAt = visitRegular, from+int64(gap)+1
	}
}

// merge adds calls (sorted by time) to the actor's plan, keeping it sorted.
func (m *Model) merge(a *actor, calls []call) {
	if a.head > 0 {
		n := copy(a.plan, a.plan[a.head:])
		a.plan, a.head = a.plan[:n], 0
	}
	overlap := len(a.plan) > 0 && len(calls) > 0 && a.plan[len(a.plan)-1].t > calls[0].t
	a.plan = append(a.plan, calls...)
	if overlap {
		slices.SortStableFunc(a.plan, func(x, y call) int { return cmp.Compare(x.t, y.t) })
	}
}

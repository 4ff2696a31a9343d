package traffic

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/accesslog"
)

const (
	secondMs = 1000
	hourMs   = 3600 * secondMs
	dayMs    = 24 * hourMs
)

// Event is one simulated API call.
type Event struct {
	Time time.Time // UTC, millisecond precision
	// Line is the access-log JSON object API Gateway writes for the call,
	// without the newline it appends. The caller owns it.
	Line  []byte
	Truth Truth
}

// Truth is what the line encodes, known independently of any parser.
type Truth struct {
	RequestID string
	// Sender is the index into Model.Users() of the caller; -1 for
	// anonymous traffic.
	Sender int
	// UserID is who PRODUCT.md section 6 identifies from the line; "" when
	// the line carries no identity (anonymous traffic, and rejections that
	// happen before authentication completes).
	UserID string
	// IdentifiedBy is the access-log key UserID comes from; "" with UserID.
	IdentifiedBy string
	// CompanyID is the company the event belongs to: the logged companyId
	// or else the user's users-API link; "" when UserID is "".
	CompanyID string
	// CompanyLogged says the line itself carries CompanyID.
	CompanyLogged bool

	Method string // "" for WebSocket
	Path   string // as logged in resourcePath; "" for WebSocket
	// Route is the route template ("/orders/{id}", "sendMessage"); "" for
	// calls to routes that do not exist.
	Route string
	// RouteKey is what routeTemplate logs ("GET /orders/{id}" for HTTP
	// APIs); "-" for unknown routes.
	RouteKey  string
	Role      Role
	FirstCall bool // a new user's first regular call

	Status  int
	Outcome Outcome
	// Rejected says API Gateway answered and the integration did not.
	Rejected             bool
	LatencyMs            int
	IntegrationLatencyMs int // -1 when no integration ran
	IntegrationStatus    int // -1 when no integration answered
	ResponseBytes        int
	ErrorType            string // "" when none
	ErrorMessage         string // "" when none

	EventType    string // WebSocket: CONNECT, MESSAGE or DISCONNECT
	ConnectionID string // WebSocket
	MessageID    string // WebSocket MESSAGE events
	ConnectedAt  int64  // WebSocket: the connection's CONNECT time, epoch ms
}

// Model generates the events of one Config in time order. It is not safe
// for concurrent use.
type Model struct {
	api        accesslog.API
	fields     []fieldKind
	keys       []string // `"key":"` for each field
	r          *rand.Rand
	start, end int64

	companies []Company
	users     []User
	actors    []actor
	heap      []int32

	routes     []routeInfo
	regular    []int     // indexes of regular routes
	regularCum []float64 // cumulative weights of regular
	roleRoute  [RoleDisconnect + 1]int

	mixCum   [6]float64 // cumulative ClientError..WAF
	authProb float64    // WebSocket $connect rejection probability

	rhythm   [168]float64
	rmax     float64
	anonRate float64 // anonymous events per ms

	apiID, stage, host, pathPrefix string

	lastSec  int64
	timeText [26]byte
	lineCap  int
	scratch  []byte
	pending  []call
}

type routeInfo struct {
	Route
	key  string
	segs []segment
}

// call is a planned event of an actor.
type call struct {
	t     int64
	route int32 // index into routes; -1 for anonymous traffic
	// conn and connectedAt are the WebSocket connection the call belongs to.
	conn        string
	connectedAt int64
	// journey marks the sessions of sign-up and account deletion, which
	// always succeed so that the funnel's truth is exact.
	journey bool
}

// What an actor's next visit is.
const (
	visitNone uint8 = iota
	visitRegular
	visitFirst // a new user's first regular visit
	visitChurn // the account deletion
)

// actor is a user (or the anonymous crowd) with the calls planned for it.
// Visits start as a Poisson process independent of how long each lasts, so
// two visits of a busy user may overlap; their calls merge in plan.
type actor struct {
	next      int64  // min(plan[head].t, visitAt)
	plan      []call // plan[head:] is still to come, sorted by t
	head      int
	visitAt   int64
	visitKind uint8
	user      int32   // -1 anonymous
	visitRate float64 // visits per ms at rhythm 1
	protocol  string
	// firstPending marks a new user whose first regular call is still to
	// come (a refused WebSocket session does not count).
	firstPending bool
}

const (
	visitCallsMean = 4.0
	callGapMs      = 4000.0
	wsGapMs        = 6000.0
)

// New builds the population and primes the event stream.
func New(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{
		api:   cfg.API,
		r:     rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		start: cfg.Start.UnixMilli(),
		end:   cfg.End.UnixMilli(),
	}
	fields, err := cfg.Fields()
	if err != nil {
		return nil, err
	}
	for i, f := range fields {
		m.fields = append(m.fields, kindOf(f.Key))
		sep := ","
		if i == 0 {
			sep = "{"
		}
		m.keys = append(m.keys, sep+`"`+f.Key+`":"`)
	}

	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	m.apiID = cfg.APIID
	if m.apiID == "" {
		m.apiID = randString(m.r, 10, lowerAlnum)
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	m.stage = cfg.Stage
	if m.stage == "" {
		m.stage = map[accesslog.API]string{accesslog.REST: "prod", accesslog.HTTP: "$default", accesslog.WebSocket: "production"}[cfg.API]
	}
	m.host = cfg.Host
	if m.host == "" {
		m.host = "api.example.com"
	}
	// $context.path carries the stage when the API is called on its
	// execute-api domain with a named stage; custom domains hide it.
	if strings.Contains(m.host, ".execute-api.") && m.stage != "$default" {
		m.pathPrefix = "/" + m.stage
	}
	_ = region
	for _, v := range []string{m.apiID, m.stage, m.host, cfg.AccountID} {
		if !safeJSON(v) {
			return nil, fmt.Errorf("traffic: %q has characters a log line would need to escape", v)
		}
	}

	for i := range m.roleRoute {
		m.roleRoute[i] = -1
	}
	total := 0.0
	for i, r := range cfg.routes() {
		m.routes = append(m.routes, routeInfo{Route: r, key: r.RouteKey(cfg.API), segs: parseTemplate(r.Template)})
		if r.Role == RoleRegular {
			if r.Weight > 0 {
				total += r.Weight
				m.regular = append(m.regular, i)
				m.regularCum = append(m.regularCum, total)
			}
		} else if int(r.Role) < len(m.roleRoute) {
			m.roleRoute[r.Role] = i
		}
	}
	if cfg.API == accesslog.WebSocket && (m.roleRoute[RoleConnect] < 0 || m.roleRoute[RoleDisconnect] < 0) {
		return nil, fmt.Errorf("traffic: WebSocket routes need a RoleConnect and a RoleDisconnect route")
	}

	mix := cfg.EffectiveMix()
	m.authProb = mix.AuthRejected
	if cfg.API == accesslog.WebSocket {
		mix.AuthRejected = 0 // refused at $connect instead
	}
	c := 0.0
	for i, p := range []float64{mix.ClientError, mix.ServerError, mix.AuthRejected, mix.Throttled, mix.Timeout, mix.WAF} {
		c += p
		m.mixCum[i] = c
	}

	rh := cfg.rhythm()
	sum := 0.0
	for d := range 7 {
		for h := range 24 {
			v := rh.Weekday[d] * rh.Hourly[h]
			m.rhythm[d*24+h] = v
			sum += v
		}
	}
	if sum <= 0 {
		return nil, fmt.Errorf("traffic: the rhythm is zero everywhere")
	}
	for i := range m.rhythm {
		m.rhythm[i] *= 168 / sum
		m.rmax = max(m.rmax, m.rhythm[i])
	}

	m.companies, m.users = populate(cfg, m.r, m.start, m.end)

	userTotal := 0.0
	for _, u := range m.users {
		userTotal += u.EventsPerDay
	}
	m.anonRate = share(cfg.AnonymousShare, 0.02) * userTotal / dayMs
	if cfg.Rate > 0 {
		// Scale every volume so that the expected rate at Start is Rate.
		perMs := m.anonRate
		for _, u := range m.users {
			if !u.New {
				perMs += u.EventsPerDay / dayMs * m.rhythmAt(m.start)
			}
		}
		if perMs <= 0 {
			return nil, fmt.Errorf("traffic: Rate needs users or anonymous traffic active at Start")
		}
		k := cfg.Rate / 1000 / perMs
		for i := range m.users {
			m.users[i].EventsPerDay *= k
		}
		m.anonRate *= k
	}

	m.actors = make([]actor, len(m.users)+1)
	for i := range m.users {
		u := &m.users[i]
		a := &m.actors[i]
		a.user = int32(i)
		a.visitRate = u.EventsPerDay / dayMs / visitCallsMean
		a.protocol = "HTTP/1.1"
		if strings.HasPrefix(u.UserAgent, "Mozilla/5.0 (") {
			a.protocol = "HTTP/2.0"
		}
		if !u.New {
			m.scheduleAfter(a, m.start)
		} else {
			// Without a sign-up route the sign-up happens outside the API.
			if m.roleRoute[RoleSignup] >= 0 {
				m.addJourney(a, u.Signup.UnixMilli(), RoleSignup)
			}
			if !u.NeverActivates {
				a.visitKind, a.visitAt = visitFirst, u.FirstCall.UnixMilli()
				a.firstPending = true
			}
		}
		m.updateNext(a)
	}
	anon := &m.actors[len(m.users)]
	anon.user = -1
	m.scheduleAnonymous(anon, m.start)
	m.updateNext(anon)

	m.heap = make([]int32, 0, len(m.actors))
	for i := range m.actors {
		if m.actors[i].next < m.end {
			m.heap = append(m.heap, int32(i))
		}
	}
	for i := len(m.heap)/2 - 1; i >= 0; i-- {
		m.siftDown(i)
	}
	m.lastSec = math.MinInt64
	return m, nil
}

// Users returns the population. The slice is the model's; do not modify it.
func (m *Model) Users() []User { return m.users }

// Companies returns the companies. The slice is the model's; do not modify it.
func (m *Model) Companies() []Company { return m.companies }

// UserLinks returns what the users API should receive for every user.
func (m *Model) UserLinks() []UserLink { return links(m.users, m.companies) }

// APIID is the apiId the lines carry.
func (m *Model) APIID() string { return m.apiID }

// Stage is the stage the lines carry.
func (m *Model) Stage() string { return m.stage }

// Progress is the fraction of [Start, End) already generated.
func (m *Model) Progress() float64 {
	if len(m.heap) == 0 {
		return 1
	}
	t := m.actors[m.heap[0]].next
	return min(1, max(0, float64(t-m.start)/float64(m.end-m.start)))
}

// Next returns the next event in time order, or false when [Start, End)
// holds no more.
func (m *Model) Next() (Event, bool) {
	for len(m.heap) > 0 {
		a := &m.actors[m.heap[0]]
		if a.visitKind != visitNone && (a.head == len(a.plan) || a.visitAt <= a.plan[a.head].t) {
			m.expand(a)
			m.updateNext(a)
			m.fixRoot()
			continue
		}
		c := a.plan[a.head]
		a.head++
		ev := m.emit(a, c)
		m.updateNext(a)
		m.fixRoot()
		return ev, true
	}
	return Event{}, false
}

// fixRoot restores the heap after the root actor's next time grew,
// retiring the actor when it has nothing more before End.
func (m *Model) fixRoot() {
	if m.actors[m.heap[0]].next >= m.end {
		last := len(m.heap) - 1
		m.heap[0] = m.heap[last]
		m.heap = m.heap[:last]
	}
	if len(m.heap) > 0 {
		m.siftDown(0)
	}
}

func (m *Model) updateNext(a *actor) {
	if a.head == len(a.plan) {
		a.plan, a.head = a.plan[:0], 0
	}
	a.next = math.MaxInt64
	if a.head < len(a.plan) {
		a.next = a.plan[a.head].t
	}
	if a.visitKind != visitNone {
		a.next = min(a.next, a.visitAt)
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

// ExpectedRate is the expected number of events per second at t from the
// users' regular calls and anonymous traffic, for users active at t.
func (m *Model) ExpectedRate(t time.Time) float64 {
	ms := t.UnixMilli()
	perMs := m.anonRate
	for _, u := range m.users {
		active := (!u.New || (!u.NeverActivates && u.FirstCall.UnixMilli() <= ms)) && u.Churn.UnixMilli() > ms
		if active {
			perMs += u.EventsPerDay / dayMs * m.rhythmAt(ms)
		}
	}
	return perMs * 1000
}

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

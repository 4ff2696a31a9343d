package traffic

import (
	"fmt"
	"math"
	"math/rand/v2"
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

// UserLink returns what the users API should receive for user i.
func (m *Model) UserLink(i int) UserLink { return links(m.users[i:i+1], m.companies)[0] }

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

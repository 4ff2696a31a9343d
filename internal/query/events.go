// Package query is Gatescope's read side: the analytics model (filters,
// metrics, the event log) compiled to each store's SQL dialect. Identifiers
// in the SQL come from allow-lists in this package; every value is a bind
// parameter.
package query

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBadQuery wraps every problem with a query's parameters: a 400.
var ErrBadQuery = errors.New("bad query")

func badQuery(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadQuery, fmt.Sprintf(format, args...))
}

// Event is an event as the API returns it: the fields of PRODUCT.md
// section 7, absent values as null.
type Event struct {
	AppID                string          `json:"app_id"`
	RequestID            string          `json:"request_id"`
	Time                 time.Time       `json:"time"`
	APIID                *string         `json:"api_id"`
	Stage                *string         `json:"stage"`
	Method               *string         `json:"method"`
	Path                 *string         `json:"path"`
	Route                *string         `json:"route"`
	Host                 *string         `json:"host"`
	Protocol             *string         `json:"protocol"`
	Status               *int64          `json:"status"`
	ResponseBytes        *int64          `json:"response_bytes"`
	LatencyMs            *float64        `json:"latency_ms"`
	IntegrationLatencyMs *float64        `json:"integration_latency_ms"`
	IP                   *string         `json:"ip"`
	UserAgent            *string         `json:"user_agent"`
	UserID               *string         `json:"user_id"`
	CompanyID            *string         `json:"company_id"`
	APIKeyID             *string         `json:"api_key_id"`
	PrincipalID          *string         `json:"principal_id"`
	CognitoIdentityID    *string         `json:"cognito_identity_id"`
	Caller               *string         `json:"caller"`
	UserARN              *string         `json:"user_arn"`
	ErrorMessage         *string         `json:"error_message"`
	ErrorType            *string         `json:"error_type"`
	RejectedAtGateway    bool            `json:"rejected_at_gateway"`
	Source               string          `json:"source"`
	Metadata             json.RawMessage `json:"metadata"`
}

// eventColumns are selected in this order and scanned into Event. The
// company is resolved at query time: logged on the event, or else the
// company the user is linked to now (PRODUCT.md section 6), so linking a
// user re-attributes its earlier events without rewriting them.
const eventColumns = `e.app_id, e.request_id, e.time, e.api_id, e.stage, e.method, e.path, e.route, e.host, e.protocol,
	e.status, e.response_bytes, e.latency_ms, e.integration_latency_ms, e.ip, e.user_agent, e.user_id,
	coalesce(e.company_id, u.company_id), e.api_key_id, e.principal_id, e.cognito_identity_id, e.caller,
	e.user_arn, e.error_message, e.error_type, e.source, e.metadata`

// eventSelect is the SELECT list of an event, rejected_at_gateway
// included.
func eventSelect(d Dialect) sqlExpr {
	rj, args := rejectedExpr(d, "e.")
	return sqlExpr{eventColumns + ", " + rj, args}
}

func scanEvent(sc interface{ Scan(...any) error }) (Event, error) {
	return scanEventPlus(sc)
}

// scanEventPlus scans an event and then extra columns into extra.
func scanEventPlus(sc interface{ Scan(...any) error }, extra ...any) (Event, error) {
	var e Event
	var meta *string
	err := sc.Scan(append([]any{&e.AppID, &e.RequestID, &e.Time, &e.APIID, &e.Stage, &e.Method, &e.Path, &e.Route, &e.Host,
		&e.Protocol, &e.Status, &e.ResponseBytes, &e.LatencyMs, &e.IntegrationLatencyMs, &e.IP, &e.UserAgent,
		&e.UserID, &e.CompanyID, &e.APIKeyID, &e.PrincipalID, &e.CognitoIdentityID, &e.Caller, &e.UserARN,
		&e.ErrorMessage, &e.ErrorType, &e.Source, &meta, &e.RejectedAtGateway}, extra...)...)
	if err != nil {
		return e, err
	}
	e.Time = e.Time.UTC()
	e.Metadata = json.RawMessage("{}")
	if meta != nil && *meta != "" {
		e.Metadata = json.RawMessage(*meta)
	}
	return e, nil
}

// statusRange reads "404" or "4xx" as an inclusive range of codes.
func statusRange(s string) (int, int, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5' {
		lo := int(s[0]-'0') * 100
		return lo, lo + 99, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return 0, 0, badQuery("status %q is not a code (404) or a class (4xx)", s)
	}
	return n, n, nil
}

// Page is a cursor page of a newest-first listing.
type Page struct {
	Limit  int
	Cursor string
}

// MaxLimit caps a page.
const MaxLimit = 1000

type cursor struct {
	T  int64  `json:"t"` // microseconds
	ID string `json:"id"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.ID == "" {
		return c, badQuery("cursor %q is not one this API returned", s)
	}
	return c, nil
}

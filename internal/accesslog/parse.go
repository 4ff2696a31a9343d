// Package accesslog turns API Gateway access-log lines into events: the seed
// and recommended JSON formats of PRODUCT.md section 5, and any format a user
// customizes from them (unknown keys become metadata, nothing is dropped).
package accesslog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/identify"
)

// Attr is a key and string value added to every event's metadata, for
// attributes of the delivery rather than of the line (Firehose common
// attributes, the CloudWatch log group). A key the line itself logs wins.
type Attr struct{ Key, Value string }

// Context is what a line's event inherits from the delivery that carried it.
type Context struct {
	AppID    string
	Source   event.Source
	Received time.Time
	// Fallback is the time used when the line logs none (a CloudWatch log
	// event's timestamp); zero means a line without a time is rejected.
	Fallback time.Time
	Attrs    []Attr
}

// ErrInvalid wraps every reason a line cannot become an event. Such a line
// is a permanent failure: delivering it again cannot succeed.
var ErrInvalid = errors.New("invalid access-log line")

// Error is why a line cannot become an event: a short Code for metrics
// labels and a Detail for the operator.
type Error struct {
	Code   string // not_json, not_object, missing_request_id, missing_time, bad_time
	Detail string
}

func (e *Error) Error() string { return ErrInvalid.Error() + ": " + e.Detail }

// Unwrap makes every *Error match ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

func invalid(code, format string, args ...any) error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// requestTimeLayout is $context.requestTime's CLF form.
const requestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// Parser parses lines one at a time. It reuses memory between calls, so a
// Parser must not be used by two goroutines at once; the events it returns
// do not alias its memory and may be kept.
type Parser struct {
	json  fastjson.Parser
	arena fastjson.Arena
	meta  []byte
}

// Parse fills ev from one access-log line. The error, if any, wraps
// ErrInvalid and says why in words an operator can act on.
func (p *Parser) Parse(line []byte, ctx *Context, ev *event.Event) error {
	v, err := p.json.ParseBytes(line)
	if err != nil {
		return invalid("not_json", "not JSON: %v", err)
	}
	obj, err := v.Object()
	if err != nil {
		return invalid("not_object", "not a JSON object but %s", v.Type())
	}
	*ev = event.Event{
		AppID: ctx.AppID, Source: ctx.Source, Received: ctx.Received,
		Status: event.Absent, ResponseBytes: event.Absent,
		LatencyMs: event.Absent, IntegrationLatencyMs: event.Absent,
	}
	p.arena.Reset()
	meta := p.arena.NewObject()
	var f fields
	obj.Visit(func(key []byte, val *fastjson.Value) {
		f.set(string(key), val, ev, meta, &p.arena)
	})
	if ev.RequestID == "" {
		return invalid("missing_request_id", "no requestId")
	}
	switch {
	case f.epoch != "":
		ms, err := strconv.ParseInt(f.epoch, 10, 64)
		if err != nil || ms <= 0 {
			return invalid("bad_time", "requestTimeEpoch %q is not milliseconds since the epoch", f.epoch)
		}
		ev.Time = time.UnixMilli(ms).UTC()
	case f.clf != "":
		t, err := time.Parse(requestTimeLayout, f.clf)
		if err != nil {
			return invalid("bad_time", "requestTime %q is not dd/Mon/yyyy:HH:mm:ss +zzzz", f.clf)
		}
		ev.Time = t.UTC()
	case !ctx.Fallback.IsZero():
		ev.Time = ctx.Fallback.UTC()
	default:
		return invalid("missing_time", "no requestTime or requestTimeEpoch")
	}
	if ev.PrincipalID == "" && f.claimsSub != "" {
		ev.PrincipalID = f.claimsSub
	} else if f.claimsSub != "" {
		meta.Set("claimsSub", p.arena.NewString(f.claimsSub))
	}
	ev.UserID = identify.User(ev, f.user)
	ev.Route = identify.Route(f.route, ev.Path)
	for _, a := range ctx.Attrs {
		if meta.Get(a.Key) == nil {
			meta.Set(a.Key, p.arena.NewString(a.Value))
		}
	}
	if o, _ := meta.Object(); o.Len() > 0 {
		p.meta = meta.MarshalTo(p.meta[:0])
		if !utf8.Valid(p.meta) {
			p.meta = []byte(toValidUTF8(string(p.meta)))
		}
		ev.Metadata = append([]byte(nil), p.meta...)
	}
	return nil
}

// fields holds the values that need the whole line before they mean
// anything.
type fields struct {
	user, route, epoch, clf, claimsSub string
}

func (f *fields) set(key string, val *fastjson.Value, ev *event.Event, meta *fastjson.Value, a *fastjson.Arena) {
	s, ok := scalar(val)
	if !ok {
		// Objects and arrays have no column; keep them whole.
		meta.Set(key, val)
		return
	}
	if s == "" || s == "-" {
		return // absent, whatever the key
	}
	switch key {
	case "requestId":
		ev.RequestID = s
	case "requestTime":
		f.clf = s
	case "requestTimeEpoch":
		f.epoch = s
	case "apiId":
		ev.APIID = s
	case "stage":
		ev.Stage = s
	case "httpMethod":
		ev.Method = s
	case "resourcePath":
		ev.Path = s
	case "routeTemplate":
		f.route = s
	case "requestHostHeader":
		ev.Host = s
	case "protocol":
		ev.Protocol = s
	case "ip":
		ev.IP = s
	case "requestUserAgentHeader":
		ev.UserAgent = s
	case "user":
		f.user = s
	case "apiKeyId":
		ev.APIKeyID = s
	case "principalId":
		ev.PrincipalID = s
	case "claimsSub":
		f.claimsSub = s
	case "cognitoIdentityId":
		ev.CognitoIdentityID = s
	case "caller":
		ev.Caller = s
	case "userArn":
		ev.UserARN = s
	case "companyId":
		ev.CompanyID = s
	case "errorMessage":
		ev.ErrorMessage = s
	case "errorType":
		ev.ErrorType = s
	case "status":
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			ev.Status = n
			return
		}
		meta.Set(key, a.NewString(s))
	case "responseLength":
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
			ev.ResponseBytes = n
			return
		}
		meta.Set(key, a.NewString(s))
	case "durationMs":
		if x, err := strconv.ParseFloat(s, 64); err == nil && x >= 0 {
			ev.LatencyMs = x
			return
		}
		meta.Set(key, a.NewString(s))
	case "integrationLatencyMs":
		if x, err := strconv.ParseFloat(s, 64); err == nil && x >= 0 {
			ev.IntegrationLatencyMs = x
			return
		}
		meta.Set(key, a.NewString(s))
	case "apiKey":
		// The key itself is a credential of the API's caller: keep only
		// enough to tell keys apart, never the secret.
		meta.Set(key, a.NewString(MaskSecret(s)))
	case "integrationStatus":
		if n, err := strconv.Atoi(s); err == nil {
			meta.Set(key, a.NewNumberInt(n))
			return
		}
		meta.Set(key, a.NewString(s))
	default:
		if val.Type() == fastjson.TypeString {
			meta.Set(key, a.NewString(s))
		} else {
			meta.Set(key, val)
		}
	}
}

// scalar returns a string, number or boolean value as text, and reports
// false for objects and arrays. null reads as absent.
func scalar(v *fastjson.Value) (string, bool) {
	switch v.Type() {
	case fastjson.TypeString:
		b := v.GetStringBytes()
		if !utf8.Valid(b) {
			return toValidUTF8(string(b)), true
		}
		return string(b), true
	case fastjson.TypeNull:
		return "", true
	case fastjson.TypeObject, fastjson.TypeArray:
		return "", false
	default:
		return string(v.MarshalTo(nil)), true
	}
}

// MaskSecret keeps the last four characters of a credential so that keys
// can be told apart in the event log without being usable.
func MaskSecret(s string) string {
	const keep = 4
	if len(s) <= keep*2 {
		return "****"
	}
	return "****" + s[len(s)-keep:]
}

// toValidUTF8 replaces invalid byte sequences so that every stored string is
// text: stores reject invalid UTF-8, and one bad byte must not cost a batch.
func toValidUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

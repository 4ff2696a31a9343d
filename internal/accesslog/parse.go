// Package accesslog turns API Gateway access-log lines into events: the seed
// and recommended JSON formats of PRODUCT.md section 5, and any format a user
// customizes from them (unknown keys become metadata, nothing is dropped).
package accesslog

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

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

// maxEpochMs is 9999-12-31T23:59:59.999Z. Later times overflow the stores'
// microsecond timestamps and would be kept as garbage.
const maxEpochMs = 253402300799999

// Parser parses lines one at a time. It reuses memory between calls, so a
// Parser must not be used by two goroutines at once; the events it returns
// do not alias its memory and may be kept.
type Parser struct {
	json fastjson.Parser
	md   metadata
	meta []byte
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
	p.md.reset()
	// Every string the event keeps is copied into one block the size of the
	// line (values never grow when unescaped, but replacement of invalid
	// UTF-8 can: then the block grows, and earlier strings keep the old
	// one alive). One allocation per event instead of one per field.
	f := fields{block: make([]byte, 0, len(line))}
	obj.Visit(func(key []byte, val *fastjson.Value) {
		f.set(key, val, ev, &p.md)
	})
	if ev.RequestID == "" {
		return invalid("missing_request_id", "no requestId")
	}
	switch {
	case f.epoch != "":
		ms, err := strconv.ParseInt(f.epoch, 10, 64)
		if err != nil || ms <= 0 || ms > maxEpochMs {
			return invalid("bad_time", "requestTimeEpoch %q is not milliseconds since the epoch", f.epoch)
		}
		ev.Time = time.UnixMilli(ms).UTC()
	case f.clf != "":
		t, err := time.Parse(requestTimeLayout, f.clf)
		if err != nil || t.UnixMilli() > maxEpochMs {
			return invalid("bad_time", "requestTime %q is not dd/Mon/yyyy:HH:mm:ss +zzzz", f.clf)
		}
		ev.Time = t.UTC()
	case !ctx.Fallback.IsZero() && ctx.Fallback.UnixMilli() <= maxEpochMs:
		ev.Time = ctx.Fallback.UTC()
	default:
		return invalid("missing_time", "no requestTime or requestTimeEpoch")
	}
	if ev.PrincipalID == "" && f.claimsSub != "" {
		ev.PrincipalID = f.claimsSub
	} else if f.claimsSub != "" {
		p.md.setString("claimsSub", f.claimsSub)
	}
	ev.UserID = identify.User(ev, f.user)
	ev.Route = identify.Route(f.route, ev.Path)
	for _, a := range ctx.Attrs {
		if !p.md.has(a.Key) {
			p.md.setString(a.Key, a.Value)
		}
	}
	if len(p.md.entries) > 0 {
		p.meta = p.md.appendTo(p.meta[:0])
		ev.Metadata = append([]byte(nil), p.meta...)
	}
	return nil
}

// fields holds the values that need the whole line before they mean
// anything.
type fields struct {
	user, route, epoch, clf, claimsSub string
	block                              []byte
}

// keep copies b into the event's block and returns it as a string.
func (f *fields) keep(b []byte) string {
	start := len(f.block)
	f.block = append(f.block, b...)
	return unsafe.String(unsafe.SliceData(f.block[start:]), len(b))
}

// set files one key of the line. Metadata entries may alias the line: they
// are written out before Parse returns.
func (f *fields) set(keyb []byte, val *fastjson.Value, ev *event.Event, meta *metadata) {
	key := view(keyb)
	raw, ok := scalar(val)
	if !ok {
		// Objects and arrays have no column; keep them whole.
		meta.setValue(key, val)
		return
	}
	if len(raw) == 0 || len(raw) == 1 && raw[0] == '-' {
		return // absent, whatever the key
	}
	if !utf8.Valid(raw) {
		raw = []byte(toValidUTF8(string(raw)))
	}
	s := f.keep(raw)
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
		// HTTP statuses have three digits; anything else is not one.
		if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 999 {
			ev.Status = n
			return
		}
		meta.setString(key, s)
	case "responseLength":
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
			ev.ResponseBytes = n
			return
		}
		meta.setString(key, s)
	case "durationMs":
		if x, err := strconv.ParseFloat(s, 64); err == nil && x >= 0 && !math.IsInf(x, 1) {
			ev.LatencyMs = x
			return
		}
		meta.setString(key, s)
	case "integrationLatencyMs":
		// "Inf" parses, but JSON cannot carry it: it stays text.
		if x, err := strconv.ParseFloat(s, 64); err == nil && x >= 0 && !math.IsInf(x, 1) {
			ev.IntegrationLatencyMs = x
			return
		}
		meta.setString(key, s)
	case "apiKey":
		// The key itself is a credential of the API's caller: keep only
		// enough to tell keys apart, never the secret.
		meta.setString(key, MaskSecret(s))
	case "integrationStatus":
		if n, err := strconv.Atoi(s); err == nil {
			meta.setRaw(key, strconv.Itoa(n))
			return
		}
		meta.setString(key, s)
	default:
		if val.Type() == fastjson.TypeString {
			meta.setString(key, s)
		} else {
			meta.setValue(key, val)
		}
	}
}

// scalar returns a string, number or boolean value as text (aliasing the
// parser's memory), and reports false for objects and arrays. null reads
// as absent.
func scalar(v *fastjson.Value) ([]byte, bool) {
	switch v.Type() {
	case fastjson.TypeString:
		return v.GetStringBytes(), true
	case fastjson.TypeNull:
		return nil, true
	case fastjson.TypeObject, fastjson.TypeArray:
		return nil, false
	default:
		return v.MarshalTo(nil), true
	}
}

// view is b as a string without a copy; it lives as long as b's memory.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
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

// metadata collects the keys of a line that have no column. fastjson's
// own objects are not used for it: its Arena stores strings escaped with
// strconv.Quote (whose \x7f, \a, \v and \U escapes are not JSON, and which
// it cannot read back), and it writes numbers as its lenient parser read
// them (NaN, -Inf, 1-2). Invalid metadata would break every reader of the
// event.
type metadata struct{ entries []metaEntry }

// metaEntry is one key: a string, a JSON literal, or a value of the line.
type metaEntry struct {
	key string
	str string
	raw string          // a JSON number, when set
	val *fastjson.Value // an object, array, number or boolean of the line, when set
}

func (m *metadata) reset() {
	clear(m.entries) // drop references to the last line's values
	m.entries = m.entries[:0]
}

func (m *metadata) has(key string) bool {
	for i := range m.entries {
		if m.entries[i].key == key {
			return true
		}
	}
	return false
}

// set adds e, replacing an earlier entry of the same key: in a line that
// repeats a key, the last one wins, as in most JSON readers.
func (m *metadata) set(e metaEntry) {
	for i := range m.entries {
		if m.entries[i].key == e.key {
			m.entries[i] = e
			return
		}
	}
	m.entries = append(m.entries, e)
}

func (m *metadata) setString(key, s string)                { m.set(metaEntry{key: key, str: s}) }
func (m *metadata) setRaw(key, raw string)                 { m.set(metaEntry{key: key, raw: raw}) }
func (m *metadata) setValue(key string, v *fastjson.Value) { m.set(metaEntry{key: key, val: v}) }

// appendTo writes the entries as a JSON object.
func (m *metadata) appendTo(dst []byte) []byte {
	dst = append(dst, '{')
	for i, e := range m.entries {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, e.key)
		dst = append(dst, ':')
		switch {
		case e.val != nil:
			dst = appendJSON(dst, e.val)
		case e.raw != "":
			dst = append(dst, e.raw...)
		default:
			dst = appendJSONString(dst, e.str)
		}
	}
	return append(dst, '}')
}

// appendJSON writes a value of the line as strict JSON; numbers that JSON
// cannot carry are kept as strings.
func appendJSON(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		first := true
		o.Visit(func(key []byte, val *fastjson.Value) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSONString(dst, key)
			dst = append(dst, ':')
			dst = appendJSON(dst, val)
		})
		return append(dst, '}')
	case fastjson.TypeArray:
		a, _ := v.Array()
		dst = append(dst, '[')
		for i, e := range a {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, e)
		}
		return append(dst, ']')
	case fastjson.TypeString:
		return appendJSONString(dst, v.GetStringBytes())
	case fastjson.TypeNumber:
		start := len(dst)
		dst = v.MarshalTo(dst)
		if !json.Valid(dst[start:]) {
			num := string(dst[start:])
			dst = appendJSONString(dst[:start], num)
		}
		return dst
	default: // true, false, null
		return v.MarshalTo(dst)
	}
}

// appendJSONString writes s as a JSON string, replacing each run of
// invalid UTF-8 with U+FFFD as strings.ToValidUTF8 does.
func appendJSONString[S string | []byte](dst []byte, s S) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	invalid := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			invalid = false
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune([]byte(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			if !invalid {
				dst = append(dst, "\uFFFD"...)
			}
			invalid = true
		} else {
			invalid = false
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

package moesif

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// recordError is why one record cannot be stored: a short Code for the
// rejected-records metric and a Detail for the sender and the operator.
type recordError struct {
	Code   string
	Detail string
}

func (e *recordError) Error() string { return e.Detail }

func reject(code, format string, args ...any) *recordError {
	return &recordError{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// object is a JSON object of the wire format. The SDKs' models serialize
// snake_case names (user_id), but a plain object handed to an SDK goes out
// as the caller wrote it, usually camelCase (userId), and the Moesif API
// takes both; so every accessor takes the names a field goes by.
type object map[string]json.RawMessage

func parseObject(raw []byte, what string) (object, *recordError) {
	var o object
	if err := json.Unmarshal(raw, &o); err != nil || o == nil {
		return nil, reject("not_object", "%s is not a JSON object", what)
	}
	return o, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// raw returns the first of names that is present and not null.
func (o object) raw(names ...string) (json.RawMessage, string) {
	for _, n := range names {
		if v, ok := o[n]; ok && !isNull(v) {
			return v, n
		}
	}
	return nil, names[0]
}

// str reads a string field; absent and null read as "".
func (o object) str(names ...string) (string, *recordError) {
	v, name := o.raw(names...)
	if v == nil {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", reject("bad_field", "%s is not a string", name)
	}
	return s, nil
}

// id reads an identifier: a string, or an integer that some callers send
// for numeric ids (kept as its decimal text).
func (o object) id(names ...string) (string, *recordError) {
	v, name := o.raw(names...)
	if v == nil {
		return "", nil
	}
	if v[0] == '"' {
		return o.str(names...)
	}
	if _, err := strconv.ParseInt(string(v), 10, 64); err != nil {
		return "", reject("bad_field", "%s is not a string or an integer", name)
	}
	return string(v), nil
}

// obj reads a nested object; absent and null read as nil.
func (o object) obj(names ...string) (object, *recordError) {
	v, name := o.raw(names...)
	if v == nil {
		return nil, nil
	}
	if v[0] != '{' {
		return nil, reject("bad_field", "%s is not an object", name)
	}
	return parseObject(v, name)
}

// time reads a timestamp field; absent and null read as the zero time.
func (o object) time(names ...string) (time.Time, *recordError) {
	s, rerr := o.str(names...)
	if rerr != nil || s == "" {
		return time.Time{}, rerr
	}
	t, err := parseTime(s)
	if err != nil {
		_, name := o.raw(names...)
		return time.Time{}, reject("bad_time", "%s %q is not an ISO 8601 time", name, clip(s, 64))
	}
	return t, nil
}

// Layouts of the ISO 8601 times the SDKs send: JavaScript's toISOString
// (UTC, milliseconds, Z), Go's RFC 3339 with nanoseconds, Python's
// isoformat() of a naive UTC datetime (microseconds, no zone), and offsets
// without a colon. A time without a zone is UTC, as the Moesif API reads it.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	var err error
	for _, l := range timeLayouts {
		var t time.Time
		if t, err = time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, err
}

// metadataObject reads a metadata field, which must be an object.
func (o object) metadataObject(names ...string) (object, *recordError) {
	v, name := o.raw(names...)
	if v == nil {
		return nil, nil
	}
	if v[0] != '{' {
		return nil, reject("bad_metadata", "%s is not a JSON object", name)
	}
	m, rerr := parseObject(v, name)
	if rerr != nil {
		rerr.Code = "bad_metadata"
	}
	return m, rerr
}

// headers reads a header map case-insensitively. Values are strings, or
// arrays of strings (Node.js gives Set-Cookie that way), or numbers; other
// values are ignored, since no field is taken from them.
type headers map[string]string

func (o object) headers(names ...string) (headers, *recordError) {
	m, rerr := o.obj(names...)
	if rerr != nil || m == nil {
		return nil, rerr
	}
	h := make(headers, len(m))
	for k, v := range m {
		var s string
		switch {
		case isNull(v):
			continue
		case v[0] == '"':
			json.Unmarshal(v, &s)
		case v[0] == '[':
			var parts []string
			if json.Unmarshal(v, &parts) != nil {
				continue
			}
			s = strings.Join(parts, ", ")
		case v[0] == '-' || (v[0] >= '0' && v[0] <= '9'):
			s = string(v)
		default:
			continue
		}
		h[strings.ToLower(k)] = s
	}
	return h, nil
}

func (h headers) get(name string) string { return h[strings.ToLower(name)] }

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// metaBuilder assembles a metadata object: the caller's keys, then the
// keys Gatescope adds (which win over a caller's key of the same name).
type metaBuilder map[string]json.RawMessage

func (m metaBuilder) set(key string, v any) {
	b, err := marshal(v)
	if err == nil {
		m[key] = b
	}
}

func (m metaBuilder) setRaw(key string, v json.RawMessage) { m[key] = v }

func (m metaBuilder) bytes() []byte {
	if len(m) == 0 {
		return nil
	}
	b, err := marshal(map[string]json.RawMessage(m))
	if err != nil {
		return nil
	}
	return b
}

// marshal writes JSON without escaping <, > and &: metadata is data, not
// HTML, and reads back as it was sent.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

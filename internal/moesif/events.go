package moesif

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/identify"
)

// Metadata keys Gatescope adds to an SDK event next to the caller's own
// metadata. They share one prefix so they read as the SDK's and cannot
// be mistaken for the caller's; on a clash, these win.
const (
	keyAPIVersion     = "sdk_api_version"
	keySessionToken   = "sdk_session_token" // masked: it is often the caller's API key
	keyDirection      = "sdk_direction"
	keyWeight         = "sdk_weight"
	keyTags           = "sdk_tags"
	keyBlockedBy      = "sdk_blocked_by"
	keyRequestBody    = "sdk_request_body"
	keyResponseBody   = "sdk_response_body"
	suffixEncoding    = "_encoding"
	suffixTruncated   = "_truncated"
	headerTransaction = "X-Moesif-Transaction-Id"
)

// maxRequestIDBytes caps a caller-supplied transaction id.
const maxRequestIDBytes = 256

// eventDecoder turns Moesif events into Gatescope events.
type eventDecoder struct {
	keepBodies bool
	bodyCap    int
	// seen counts content digests within one request, so that identical
	// events in one batch get distinct ids (and a retry the same ones).
	seen map[string]int
}

// decode maps one wire event (raw, a JSON value) of app appID onto ev.
func (d *eventDecoder) decode(raw []byte, appID string, ev *event.Event) *recordError {
	o, rerr := parseObject(raw, "event")
	if rerr != nil {
		return rerr
	}
	req, rerr := o.obj("request")
	if rerr != nil {
		return rerr
	}
	if req == nil {
		return reject("missing_request", "event has no request object")
	}
	resp, rerr := o.obj("response")
	if rerr != nil {
		return rerr
	}
	*ev = event.Event{AppID: appID, Source: event.SourceSDK, Status: event.Absent, ResponseBytes: event.Absent,
		LatencyMs: event.Absent, IntegrationLatencyMs: event.Absent}

	if ev.Time, rerr = req.time("time"); rerr != nil {
		return rerr
	}
	if ev.Time.IsZero() {
		return reject("missing_time", "event has no request.time")
	}
	uri, rerr := req.str("uri")
	if rerr != nil {
		return rerr
	}
	if uri == "" {
		return reject("missing_uri", "event has no request.uri")
	}
	u, err := url.Parse(strings.TrimSpace(uri))
	if err != nil {
		return reject("bad_uri", "request.uri %q is not a URL", clip(uri, 128))
	}
	ev.Path = u.EscapedPath()
	if ev.Path == "" {
		ev.Path = "/"
	}
	ev.Host = u.Host
	ev.Route = identify.Route("", ev.Path)
	verb, rerr := req.str("verb")
	if rerr != nil {
		return rerr
	}
	if ev.Method = strings.ToUpper(strings.TrimSpace(verb)); ev.Method == "" {
		return reject("missing_verb", "event has no request.verb")
	}
	if !isToken(ev.Method) {
		return reject("bad_verb", "request.verb %q is not an HTTP method", clip(verb, 32))
	}
	reqHeaders, rerr := req.headers("headers")
	if rerr != nil {
		return rerr
	}
	if ev.Host == "" {
		ev.Host = reqHeaders.get("Host")
	}
	ev.UserAgent = reqHeaders.get("User-Agent")
	if ev.IP, rerr = req.str("ip_address", "ipAddress"); rerr != nil {
		return rerr
	}

	var respHeaders headers
	if resp != nil {
		if ev.Status, rerr = status(resp); rerr != nil {
			return rerr
		}
		end, rerr := resp.time("time")
		if rerr != nil {
			return rerr
		}
		// A response before its request is a clock problem, not a latency.
		if !end.IsZero() && !end.Before(ev.Time) {
			ev.LatencyMs = float64(end.Sub(ev.Time).Microseconds()) / 1000
		}
		if respHeaders, rerr = resp.headers("headers"); rerr != nil {
			return rerr
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(respHeaders.get("Content-Length")), 10, 64); err == nil && n >= 0 {
			ev.ResponseBytes = n
		}
	}
	if ev.UserID, rerr = o.id("user_id", "userId"); rerr != nil {
		return rerr
	}
	if ev.CompanyID, rerr = o.id("company_id", "companyId"); rerr != nil {
		return rerr
	}
	if rerr = d.metadata(o, req, resp, ev); rerr != nil {
		return rerr
	}
	return d.requestID(o, reqHeaders, respHeaders, raw, ev)
}

// status reads response.status: an integer (or its decimal text) of at
// most three digits. 0, which some SDKs send when no response came, is
// absent.
func status(resp object) (int, *recordError) {
	v, _ := resp.raw("status")
	if v == nil {
		return event.Absent, nil
	}
	s := string(v)
	if v[0] == '"' {
		json.Unmarshal(v, &s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 999 {
		return 0, reject("bad_status", "response.status %s is not an HTTP status", clip(string(v), 32))
	}
	if n == 0 {
		return event.Absent, nil
	}
	return n, nil
}

// metadata builds the event's metadata: the caller's object, then the SDK
// fields that have no column. Headers are not kept: they carry
// credentials (Authorization, cookies, API keys) and the useful ones
// already have columns.
func (d *eventDecoder) metadata(o, req, resp object, ev *event.Event) *recordError {
	caller, rerr := o.metadataObject("metadata")
	if rerr != nil {
		return rerr
	}
	m := metaBuilder(caller)
	if m == nil {
		m = metaBuilder{}
	}
	if v, _ := req.raw("api_version", "apiVersion"); v != nil {
		m.setRaw(keyAPIVersion, v)
	}
	token, rerr := o.str("session_token", "sessionToken")
	if rerr != nil {
		return rerr
	}
	if token != "" {
		m.set(keySessionToken, accesslog.MaskSecret(token))
	}
	if dir, rerr := o.str("direction"); rerr != nil {
		return rerr
	} else if dir != "" {
		m.set(keyDirection, dir)
	}
	if v, _ := o.raw("weight"); v != nil {
		w, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || w < 0 {
			return reject("bad_field", "weight %s is not a non-negative integer", clip(string(v), 32))
		}
		m.set(keyWeight, w)
	}
	if v, _ := o.raw("tags"); v != nil {
		m.setRaw(keyTags, v)
	}
	if v, _ := o.raw("blocked_by", "blockedBy"); v != nil {
		m.setRaw(keyBlockedBy, v)
	}
	if d.keepBodies {
		d.body(m, req, keyRequestBody)
		if resp != nil {
			d.body(m, resp, keyResponseBody)
		}
	}
	ev.Metadata = m.bytes()
	return nil
}

// body keeps a request or response body, cut to the cap: a JSON body as
// itself when it fits, otherwise its text cut short and marked truncated.
func (d *eventDecoder) body(m metaBuilder, o object, key string) {
	v, _ := o.raw("body")
	if v == nil {
		return
	}
	if enc, _ := o.str("transfer_encoding", "transferEncoding"); enc != "" {
		m.set(key+suffixEncoding, enc)
	}
	if len(v) <= d.bodyCap {
		m.setRaw(key, v)
		return
	}
	text := string(v)
	if v[0] == '"' {
		json.Unmarshal(v, &text)
	}
	if len(text) > d.bodyCap {
		text = clip(text, d.bodyCap)
		m.set(key+suffixTruncated, true)
	}
	m.set(key, strings.ToValidUTF8(text, "\uFFFD"))
}

// requestID gives the event the id deduplication keys on: the caller's
// transaction id when it sent one (the field, or the
// X-Moesif-Transaction-Id header the Moesif middlewares add), else a
// digest of the event's content, numbered among identical events of the
// same request. An SDK retrying a batch sends the same bytes, so its
// events get the same ids and are dropped as duplicates.
func (d *eventDecoder) requestID(o object, reqH, respH headers, raw []byte, ev *event.Event) *recordError {
	id, rerr := o.str("transaction_id", "transactionId")
	if rerr != nil {
		return rerr
	}
	if id == "" {
		id = reqH.get(headerTransaction)
	}
	if id == "" {
		id = respH.get(headerTransaction)
	}
	id = strings.TrimSpace(id)
	if id != "" {
		if len(id) > maxRequestIDBytes || !utf8.ValidString(id) {
			return reject("bad_transaction_id", "transaction id is not text of at most %d bytes", maxRequestIDBytes)
		}
		ev.RequestID = id
		return nil
	}
	sum := sha256.Sum256(compact(raw))
	digest := hex.EncodeToString(sum[:16])
	n := d.seen[digest]
	d.seen[digest] = n + 1
	ev.RequestID = "sdk-" + digest
	if n > 0 {
		ev.RequestID += "-" + strconv.Itoa(n)
	}
	return nil
}

// compact drops insignificant whitespace, so that the digest depends on
// the event, not on how it was indented.
func compact(raw []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return raw
	}
	return buf.Bytes()
}

// isToken reports whether s is an HTTP method token (RFC 9110 tchar).
func isToken(s string) bool {
	if len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

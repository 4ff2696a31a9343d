// Package firehosetest is a strict Firehose HTTP endpoint for tests: it
// serves real HTTP on loopback, checks every request against the published
// HTTP endpoint delivery request specification (protocol 1.0), records
// what it received and answers as scripted. It also accepts Moesif's
// POST /v1/users/batch so that simulator runs can be checked end to end.
package firehosetest

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Options say what the receiver expects and how it answers.
type Options struct {
	// AccessKey is the X-Amz-Firehose-Access-Key every request must carry.
	AccessKey string
	// Gzip says requests must be gzip-encoded; otherwise they must not be.
	Gzip bool
	// CommonAttributes, when not nil, must arrive as the
	// X-Amz-Firehose-Common-Attributes header; nil means no such header.
	CommonAttributes map[string]string
	// SourceARN, when set, must equal X-Amz-Firehose-Source-Arn.
	SourceARN string
	// Respond scripts the answer to each request; nil accepts everything.
	Respond func(r *Request) Response
	// Users, when set, receives POST /v1/users/batch; it must carry
	// X-Moesif-Application-Id equal to AccessKey.
	Users bool
}

// Request is one delivery attempt as received.
type Request struct {
	ID string
	// Attempt counts requests with this ID, from 1.
	Attempt  int
	Header   http.Header
	Received time.Time
	// Timestamp is the body's timestamp (ms).
	Timestamp int64
	Records   [][]byte // decoded data of each record
	// Violations lists where this request broke the specification.
	Violations []string
}

// Response is a scripted answer. The zero Response acknowledges.
type Response struct {
	Status int // 0 means 200
	// RequestID overrides the echoed id; OmitRequestID leaves it out.
	RequestID     string
	OmitRequestID bool
	// Body, when not empty, is sent verbatim instead of the JSON answer.
	Body string
	// Delay holds the answer back (for response timeouts).
	Delay time.Duration
}

// UserLink is one item of a users batch.
type UserLink struct {
	UserID       string            `json:"user_id"`
	CompanyID    string            `json:"company_id"`
	Metadata     map[string]string `json:"metadata"`
	ModifiedTime string            `json:"modified_time"`
}

// Receiver is a running endpoint.
type Receiver struct {
	// URL is the Firehose endpoint (…/v1/firehose); BaseURL the server's root.
	URL, BaseURL string

	opts   Options
	server *httptest.Server

	mu         sync.Mutex
	requests   []*Request
	attempts   map[string]int
	digests    map[string][32]byte
	acked      map[string]bool
	records    [][]byte // records of acknowledged batches, once per batch
	users      []UserLink
	violations []string
}

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
var arnRE = regexp.MustCompile(`^arn:aws:firehose:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:deliverystream/[a-zA-Z0-9_.-]{1,64}$`)

// Start serves a receiver on loopback until the test ends.
func Start(t testing.TB, opts Options) *Receiver {
	t.Helper()
	r := &Receiver{opts: opts, attempts: map[string]int{}, digests: map[string][32]byte{}, acked: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/firehose", r.firehose)
	mux.HandleFunc("POST /v1/users/batch", r.usersBatch)
	r.server = httptest.NewServer(mux)
	t.Cleanup(r.server.Close)
	r.BaseURL = r.server.URL
	r.URL = r.server.URL + "/v1/firehose"
	return r
}

// Requests returns the requests received so far.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Request, len(r.requests))
	for i, q := range r.requests {
		out[i] = *q
	}
	return out
}

// Records returns the records of every acknowledged batch, each batch
// counted once however often it was delivered.
func (r *Receiver) Records() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.records...)
}

// Users returns the users-API links received.
func (r *Receiver) Users() []UserLink {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]UserLink(nil), r.users...)
}

// Violations lists every departure from the specification seen so far.
func (r *Receiver) Violations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.violations...)
}

func (r *Receiver) firehose(w http.ResponseWriter, hr *http.Request) {
	q := &Request{Header: hr.Header.Clone(), Received: time.Now()}
	bad := func(format string, args ...any) { q.Violations = append(q.Violations, fmt.Sprintf(format, args...)) }
	h := hr.Header

	if hr.Method != http.MethodPost {
		bad("method %s, want POST", hr.Method)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		bad("Content-Type %q, want application/json", ct)
	}
	if v := h.Get("X-Amz-Firehose-Protocol-Version"); v != "1.0" {
		bad("X-Amz-Firehose-Protocol-Version %q, want 1.0", v)
	}
	q.ID = h.Get("X-Amz-Firehose-Request-Id")
	if !guidRE.MatchString(q.ID) {
		bad("X-Amz-Firehose-Request-Id %q is not a GUID", q.ID)
	}
	arn := h.Get("X-Amz-Firehose-Source-Arn")
	if !arnRE.MatchString(arn) || (r.opts.SourceARN != "" && arn != r.opts.SourceARN) {
		bad("X-Amz-Firehose-Source-Arn %q is not the delivery stream ARN %q", arn, r.opts.SourceARN)
	}
	if key := h.Get("X-Amz-Firehose-Access-Key"); subtle.ConstantTimeCompare([]byte(key), []byte(r.opts.AccessKey)) != 1 {
		bad("X-Amz-Firehose-Access-Key does not match")
	}
	attrs, hasAttrs := h["X-Amz-Firehose-Common-Attributes"]
	switch {
	case r.opts.CommonAttributes == nil && hasAttrs:
		bad("X-Amz-Firehose-Common-Attributes sent but none configured: %v", attrs)
	case r.opts.CommonAttributes != nil:
		var got struct {
			CommonAttributes map[string]string `json:"commonAttributes"`
		}
		if !hasAttrs || len(attrs) != 1 {
			bad("X-Amz-Firehose-Common-Attributes missing or repeated")
		} else if err := strictJSON([]byte(attrs[0]), &got); err != nil || fmt.Sprint(got.CommonAttributes) != fmt.Sprint(r.opts.CommonAttributes) {
			bad("X-Amz-Firehose-Common-Attributes %q, want %v (%v)", attrs[0], r.opts.CommonAttributes, err)
		}
	}
	enc := h.Values("Content-Encoding")
	raw, err := io.ReadAll(http.MaxBytesReader(w, hr.Body, 128<<20))
	if err != nil {
		bad("reading the body: %v", err)
	}
	body := raw
	switch {
	case r.opts.Gzip && (len(enc) != 1 || enc[0] != "gzip"):
		bad("Content-Encoding %q, want gzip", enc)
	case !r.opts.Gzip && len(enc) != 0:
		bad("Content-Encoding %q sent for an uncompressed body", enc)
	case r.opts.Gzip:
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			body, err = io.ReadAll(zr)
		}
		if err != nil {
			bad("body is not gzip: %v", err)
		}
	}
	var payload struct {
		RequestID *string `json:"requestId"`
		Timestamp *int64  `json:"timestamp"`
		Records   *[]struct {
			Data *string `json:"data"`
		} `json:"records"`
	}
	if err := strictJSON(body, &payload); err != nil {
		bad("body is not the request JSON: %v", err)
	} else {
		if payload.RequestID == nil || *payload.RequestID != q.ID {
			bad("body requestId %v does not match the header %q", payload.RequestID, q.ID)
		}
		if payload.Timestamp == nil || time.Since(time.UnixMilli(*payload.Timestamp)).Abs() > 24*time.Hour {
			bad("body timestamp %v is not a current epoch-millisecond time", payload.Timestamp)
		} else {
			q.Timestamp = *payload.Timestamp
		}
		if payload.Records == nil || len(*payload.Records) == 0 {
			bad("body has no records")
		} else {
			for i, rec := range *payload.Records {
				if rec.Data == nil {
					bad("record %d has no data", i)
					continue
				}
				d, err := base64.StdEncoding.Strict().DecodeString(*rec.Data)
				if err != nil || len(d) == 0 || len(d) > 1000*1024 {
					bad("record %d data is not 1 B-1,000 KiB of standard base64: %v", i, err)
				}
				q.Records = append(q.Records, d)
			}
		}
	}

	r.mu.Lock()
	r.attempts[q.ID]++
	q.Attempt = r.attempts[q.ID]
	digest := digestRecords(q.Records)
	if prev, ok := r.digests[q.ID]; ok && prev != digest {
		bad("retry of request %s carries different records", q.ID)
	}
	r.digests[q.ID] = digest
	r.requests = append(r.requests, q)
	for _, v := range q.Violations {
		r.violations = append(r.violations, q.ID+": "+v)
	}
	r.mu.Unlock()

	var resp Response
	if len(q.Violations) > 0 {
		resp = Response{Status: http.StatusBadRequest}
	} else if r.opts.Respond != nil {
		resp = r.opts.Respond(q)
	}
	if resp.Delay > 0 {
		select {
		case <-time.After(resp.Delay):
		case <-hr.Context().Done():
			return
		}
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	if status == http.StatusOK && !resp.OmitRequestID && resp.RequestID == "" && resp.Body == "" {
		r.mu.Lock()
		if !r.acked[q.ID] {
			r.acked[q.ID] = true
			r.records = append(r.records, q.Records...)
		}
		r.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if resp.Body != "" {
		_, _ = io.WriteString(w, resp.Body)
		return
	}
	answer := map[string]any{"timestamp": time.Now().UnixMilli()}
	switch {
	case resp.OmitRequestID:
	case resp.RequestID != "":
		answer["requestId"] = resp.RequestID
	default:
		answer["requestId"] = q.ID
	}
	if status != http.StatusOK {
		answer["errorMessage"] = "scripted failure " + strconv.Itoa(status)
		if len(q.Violations) > 0 {
			answer["errorMessage"] = fmt.Sprint(q.Violations)
		}
	}
	_ = json.NewEncoder(w).Encode(answer)
}

func (r *Receiver) usersBatch(w http.ResponseWriter, hr *http.Request) {
	var violations []string
	if !r.opts.Users {
		http.NotFound(w, hr)
		return
	}
	if key := hr.Header.Get("X-Moesif-Application-Id"); subtle.ConstantTimeCompare([]byte(key), []byte(r.opts.AccessKey)) != 1 {
		violations = append(violations, "users batch: X-Moesif-Application-Id does not match")
	}
	if ct := hr.Header.Get("Content-Type"); ct != "application/json" {
		violations = append(violations, fmt.Sprintf("users batch: Content-Type %q", ct))
	}
	var links []UserLink
	body, err := io.ReadAll(http.MaxBytesReader(w, hr.Body, 16<<20))
	if err == nil {
		err = strictJSON(body, &links)
	}
	if err != nil {
		violations = append(violations, fmt.Sprintf("users batch: %v", err))
	}
	for _, l := range links {
		if l.UserID == "" {
			violations = append(violations, "users batch: an item has no user_id")
		}
		if _, err := time.Parse(time.RFC3339, l.ModifiedTime); err != nil {
			violations = append(violations, fmt.Sprintf("users batch: modified_time %q is not RFC 3339", l.ModifiedTime))
		}
	}
	r.mu.Lock()
	r.violations = append(r.violations, violations...)
	if len(violations) == 0 {
		r.users = append(r.users, links...)
	}
	r.mu.Unlock()
	if len(violations) > 0 {
		http.Error(w, fmt.Sprint(violations), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// strictJSON decodes one JSON value with no unknown fields and nothing after it.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

func digestRecords(records [][]byte) [32]byte {
	h := sha256.New()
	for _, r := range records {
		var n [8]byte
		for i := range n {
			n[i] = byte(len(r) >> (8 * i))
		}
		h.Write(n[:])
		h.Write(r)
	}
	var d [32]byte
	copy(d[:], h.Sum(nil))
	return d
}

package duckdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/gatescope/gatescope/internal/event"
)

// A spool frame holds one batch as a sequence of records, each a kind byte
// followed by its fields. The encoding is private to this package and only
// lives until the loader has moved the frame into DuckDB, so it favours
// speed over evolvability; a version byte leads each frame all the same.
const frameVersion = 1

const (
	kindEvent    byte = 'E'
	kindRejected byte = 'R'
	kindBatch    byte = 'B'
	kindUser     byte = 'U'
	kindCompany  byte = 'C'
)

var errShortFrame = errors.New("spool frame truncated")

type enc struct{ b []byte }

func (e *enc) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *enc) bytes(p []byte) {
	e.b = binary.AppendUvarint(e.b, uint64(len(p)))
	e.b = append(e.b, p...)
}
func (e *enc) int(n int64) { e.b = binary.AppendVarint(e.b, n) }
func (e *enc) float(x float64) {
	e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(x))
}
func (e *enc) time(t time.Time) { e.int(t.UnixMicro()) }

func appendEvent(dst []byte, ev *event.Event) []byte {
	e := enc{dst}
	e.b = append(e.b, kindEvent)
	e.str(ev.AppID)
	e.str(ev.RequestID)
	e.time(ev.Time)
	e.time(ev.Received)
	for _, s := range [...]string{ev.APIID, ev.Stage, ev.Method, ev.Path, ev.Route, ev.Host, ev.Protocol} {
		e.str(s)
	}
	e.int(int64(ev.Status))
	e.int(ev.ResponseBytes)
	e.float(ev.LatencyMs)
	e.float(ev.IntegrationLatencyMs)
	for _, s := range [...]string{ev.IP, ev.UserAgent, ev.UserID, ev.CompanyID, ev.APIKeyID, ev.PrincipalID,
		ev.CognitoIdentityID, ev.Caller, ev.UserARN, ev.ErrorMessage, ev.ErrorType, string(ev.Source)} {
		e.str(s)
	}
	e.bytes(ev.Metadata)
	return e.b
}

func appendRejected(dst []byte, r *event.Rejected) []byte {
	e := enc{dst}
	e.b = append(e.b, kindRejected)
	e.str(r.AppID)
	e.time(r.Received)
	e.str(string(r.Source))
	e.str(r.Reason)
	e.str(r.BatchID)
	e.bytes(r.Raw)
	return e.b
}

func appendBatchMarker(dst []byte, appID, batchID string, received time.Time, events int) []byte {
	e := enc{dst}
	e.b = append(e.b, kindBatch)
	e.str(appID)
	e.str(batchID)
	e.time(received)
	e.int(int64(events))
	return e.b
}

func appendUser(dst []byte, u *event.UserUpdate) []byte {
	e := enc{dst}
	e.b = append(e.b, kindUser)
	e.str(u.AppID)
	e.str(u.UserID)
	e.str(u.CompanyID)
	e.bytes(u.Metadata)
	e.time(u.Modified)
	return e.b
}

func appendCompany(dst []byte, c *event.CompanyUpdate) []byte {
	e := enc{dst}
	e.b = append(e.b, kindCompany)
	e.str(c.AppID)
	e.str(c.CompanyID)
	e.str(c.Domain)
	e.bytes(c.Metadata)
	e.time(c.Modified)
	return e.b
}

// dec reads a frame. Strings it returns are copies; byte slices alias the
// frame and must be copied by whoever keeps them past the frame's life.
type dec struct {
	b   []byte
	err error
}

func (d *dec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShortFrame
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) raw() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.err = errShortFrame
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *dec) str() string { return string(d.raw()) }

// view returns a string that aliases the frame: no copy, valid only while
// the frame is (during the visitor call).
func (d *dec) view() string {
	b := d.raw()
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (d *dec) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShortFrame
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) float() float64 {
	if d.err != nil || len(d.b) < 8 {
		d.err = errShortFrame
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *dec) time() time.Time { return time.UnixMicro(d.int()).UTC() }

// event decodes an event whose strings alias the frame (see view): the
// loader hands them straight to the appender, which copies them into
// DuckDB, so a hundred thousand events cost no string allocations.
func (d *dec) event(ev *event.Event) {
	ev.AppID = d.view()
	ev.RequestID = d.view()
	ev.Time = d.time()
	ev.Received = d.time()
	for _, p := range [...]*string{&ev.APIID, &ev.Stage, &ev.Method, &ev.Path, &ev.Route, &ev.Host, &ev.Protocol} {
		*p = d.view()
	}
	ev.Status = int(d.int())
	ev.ResponseBytes = d.int()
	ev.LatencyMs = d.float()
	ev.IntegrationLatencyMs = d.float()
	var source string
	for _, p := range [...]*string{&ev.IP, &ev.UserAgent, &ev.UserID, &ev.CompanyID, &ev.APIKeyID, &ev.PrincipalID,
		&ev.CognitoIdentityID, &ev.Caller, &ev.UserARN, &ev.ErrorMessage, &ev.ErrorType, &source} {
		*p = d.view()
	}
	ev.Source = event.Source(source)
	ev.Metadata = d.raw()
}

func (d *dec) rejected(r *event.Rejected) {
	r.AppID = d.str()
	r.Received = d.time()
	r.Source = event.Source(d.str())
	r.Reason = d.str()
	r.BatchID = d.str()
	r.Raw = d.raw()
}

func (d *dec) user(u *event.UserUpdate) {
	u.AppID = d.str()
	u.UserID = d.str()
	u.CompanyID = d.str()
	u.Metadata = d.raw()
	u.Modified = d.time()
}

func (d *dec) company(c *event.CompanyUpdate) {
	c.AppID = d.str()
	c.CompanyID = d.str()
	c.Domain = d.str()
	c.Metadata = d.raw()
	c.Modified = d.time()
}

type batchMarker struct {
	appID, batchID string
	received       time.Time
	events         int64
}

// frameVisitor receives a frame's records in order. Values passed by
// pointer are reused between calls, and an event's strings alias the frame:
// a visitor copies what it keeps.
type frameVisitor interface {
	event(*event.Event) error
	rejected(*event.Rejected) error
	batch(*batchMarker) error
	user(*event.UserUpdate) error
	company(*event.CompanyUpdate) error
}

func decodeFrame(frame []byte, v frameVisitor) error {
	if len(frame) == 0 || frame[0] != frameVersion {
		return fmt.Errorf("spool frame: unknown version")
	}
	d := dec{b: frame[1:]}
	var (
		ev event.Event
		rj event.Rejected
		bm batchMarker
		u  event.UserUpdate
		c  event.CompanyUpdate
	)
	for len(d.b) > 0 && d.err == nil {
		kind := d.b[0]
		d.b = d.b[1:]
		var err error
		switch kind {
		case kindEvent:
			if d.event(&ev); d.err == nil {
				err = v.event(&ev)
			}
		case kindRejected:
			if d.rejected(&rj); d.err == nil {
				err = v.rejected(&rj)
			}
		case kindBatch:
			bm = batchMarker{appID: d.str(), batchID: d.str(), received: d.time(), events: d.int()}
			if d.err == nil {
				err = v.batch(&bm)
			}
		case kindUser:
			if d.user(&u); d.err == nil {
				err = v.user(&u)
			}
		case kindCompany:
			if d.company(&c); d.err == nil {
				err = v.company(&c)
			}
		default:
			return fmt.Errorf("spool frame: unknown record kind %q", kind)
		}
		if err != nil {
			return err
		}
	}
	if d.err != nil {
		return fmt.Errorf("spool frame: %w", d.err)
	}
	return nil
}

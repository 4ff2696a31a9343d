// Package firehose receives Amazon Data Firehose HTTP endpoint deliveries
// (protocol 1.0, "HTTP endpoint delivery request and response
// specifications"): it authenticates the access key, decodes the batch,
// turns every record into events or rejected records, has the store make
// them durable, and only then answers 200.
package firehose

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/valyala/fastjson"
)

// Protocol headers, as Firehose sends them.
const (
	HeaderRequestID        = "X-Amz-Firehose-Request-Id"
	HeaderAccessKey        = "X-Amz-Firehose-Access-Key"
	HeaderCommonAttributes = "X-Amz-Firehose-Common-Attributes"
	HeaderProtocolVersion  = "X-Amz-Firehose-Protocol-Version"
	HeaderSourceARN        = "X-Amz-Firehose-Source-Arn"
)

// ErrBadRequest wraps every reason a whole body is refused (400): Firehose
// would send it the same way again, so it is the sender's to fix.
var ErrBadRequest = errors.New("bad request")

// Request is a decoded delivery body. Record data aliases the parser's
// memory and lives until the next Decode on the same Decoder.
type Request struct {
	RequestID string
	Timestamp int64 // milliseconds since the epoch, as Firehose sent it
	Records   []Record
}

// Record is one entry of "records": its decoded data, or why it could not
// be decoded and the record as sent (for the rejected-records store).
type Record struct {
	Data []byte
	Err  error
	Raw  []byte // set only with Err
}

// Decoder decodes request bodies, reusing memory between calls. It is not
// safe for concurrent use.
type Decoder struct {
	json fastjson.Parser
	data []byte // every record's decoded data, back to back
}

// Decode parses a (decompressed) request body. It fails, wrapping
// ErrBadRequest, only when the body as a whole is unusable; a record that
// cannot be decoded is returned with its Err set, so that the batch's other
// records are kept.
func (d *Decoder) Decode(body []byte, maxRecords int) (*Request, error) {
	v, err := d.json.ParseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("%w: body is not JSON: %v", ErrBadRequest, err)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, fmt.Errorf("%w: body is not a JSON object", ErrBadRequest)
	}
	recs := v.Get("records")
	if recs == nil || recs.Type() != fastjson.TypeArray {
		return nil, fmt.Errorf("%w: body has no \"records\" array", ErrBadRequest)
	}
	arr, _ := recs.Array()
	if len(arr) > maxRecords {
		return nil, fmt.Errorf("%w: %d records, more than the limit of %d", ErrBadRequest, len(arr), maxRecords)
	}
	req := &Request{
		RequestID: string(v.GetStringBytes("requestId")),
		Timestamp: v.GetInt64("timestamp"),
		Records:   make([]Record, len(arr)),
	}
	// One buffer for all records' data: base64 shrinks, so the encoded
	// sizes bound it, and no record's slice moves once cut.
	need := 0
	for _, r := range arr {
		need += base64.StdEncoding.DecodedLen(len(r.GetStringBytes("data")))
	}
	if cap(d.data) < need {
		d.data = make([]byte, 0, need)
	}
	d.data = d.data[:0]
	for i, r := range arr {
		rec := &req.Records[i]
		data := r.Get("data")
		if r.Type() != fastjson.TypeObject || data == nil || data.Type() != fastjson.TypeString {
			rec.Raw = r.MarshalTo(nil)
			rec.Err = errors.New(`record is not an object with a "data" string`)
			continue
		}
		enc := data.GetStringBytes()
		start := len(d.data)
		n, err := base64.StdEncoding.Decode(d.data[start:start+base64.StdEncoding.DecodedLen(len(enc))], enc)
		if err != nil {
			rec.Raw = r.MarshalTo(nil)
			rec.Err = fmt.Errorf("record data is not base64: %w", err)
			continue
		}
		d.data = d.data[:start+n]
		rec.Data = d.data[start : start+n : start+n]
	}
	return req, nil
}

// shrink drops the decoder's buffer if it grew past max.
func (d *Decoder) shrink(max int) {
	if cap(d.data) > max {
		d.data = nil
	}
}

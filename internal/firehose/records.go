package firehose

import (
	"bytes"
	"errors"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/cwlogs"
	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
)

// Rejection reasons, the label values of the rejected-records metric.
const (
	reasonBadRecord  = "bad_record"
	reasonCloudWatch = "bad_cloudwatch_payload"
)

// batchBuilder turns a request's records into a store batch. It reuses
// parsers between batches and is not safe for concurrent use.
type batchBuilder struct {
	parser accesslog.Parser
	cw     cwlogs.Decoder
}

// build fills b from req. Every record ends up as events, rejected
// records, or (CloudWatch control messages) nothing; reasons counts the
// rejections by reason code.
func (bb *batchBuilder) build(req *Request, b *store.Batch, attrs []accesslog.Attr, maxDecoded int64, reasons map[string]int) {
	ctx := accesslog.Context{AppID: b.AppID, Source: event.SourceFirehose, Received: b.Received, Attrs: attrs}
	// Most records hold one line: size for that instead of growing by
	// doubling, which would hold twice the events at the peak.
	b.Events = make([]event.Event, 0, len(req.Records))
	for i := range req.Records {
		rec := &req.Records[i]
		if rec.Err != nil {
			bb.reject(b, reasons, event.SourceFirehose, reasonBadRecord, rec.Err.Error(), rec.Raw)
			continue
		}
		if cwlogs.IsGzip(rec.Data) {
			bb.cloudWatch(rec.Data, b, attrs, maxDecoded, reasons)
			continue
		}
		bb.lines(rec.Data, &ctx, b, reasons)
	}
}

// lines parses a record holding one or more newline-separated log lines:
// API Gateway ends each line with a newline, and Firehose may concatenate
// several into one record.
func (bb *batchBuilder) lines(data []byte, ctx *accesslog.Context, b *store.Batch, reasons map[string]int) {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		b.Events = append(b.Events, event.Event{})
		ev := &b.Events[len(b.Events)-1]
		if err := bb.parser.Parse(line, ctx, ev); err != nil {
			b.Events = b.Events[:len(b.Events)-1]
			code := "invalid_line"
			var le *accesslog.Error
			if errors.As(err, &le) {
				code = le.Code
			}
			bb.reject(b, reasons, ctx.Source, code, err.Error(), line)
		}
	}
}

func (bb *batchBuilder) cloudWatch(data []byte, b *store.Batch, attrs []accesslog.Attr, maxDecoded int64, reasons map[string]int) {
	p, err := bb.cw.Decode(data, maxDecoded)
	if err != nil {
		bb.reject(b, reasons, event.SourceCloudWatch, reasonCloudWatch, err.Error(), data)
		return
	}
	if p.MessageType != cwlogs.DataMessage {
		return // CONTROL_MESSAGE: CloudWatch checking the destination
	}
	cwAttrs := append(attrs[:len(attrs):len(attrs)],
		accesslog.Attr{Key: "logGroup", Value: p.LogGroup},
		accesslog.Attr{Key: "logStream", Value: p.LogStream},
		accesslog.Attr{Key: "owner", Value: p.Owner})
	ctx := accesslog.Context{AppID: b.AppID, Source: event.SourceCloudWatch, Received: b.Received, Attrs: cwAttrs}
	for _, le := range p.LogEvents {
		ctx.Fallback = le.Timestamp
		bb.lines(le.Message, &ctx, b, reasons)
	}
}

func (bb *batchBuilder) reject(b *store.Batch, reasons map[string]int, src event.Source, code, detail string, raw []byte) {
	reasons[code]++
	b.Rejected = append(b.Rejected, event.Rejected{
		AppID: b.AppID, Received: b.Received, Source: src,
		Reason: detail, BatchID: b.ID, Raw: bytes.Clone(raw),
	})
}

package firehose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fastjson"

	"github.com/gatescope/gatescope/internal/accesslog"
	"github.com/gatescope/gatescope/internal/reqbody"
	"github.com/gatescope/gatescope/internal/store"
)

// Config limits what one delivery may cost.
type Config struct {
	// MaxBodyBytes caps the request body as sent (compressed or not).
	MaxBodyBytes int64
	// MaxDecodedBytes caps the body after gunzip, and each CloudWatch
	// record after its own gunzip: the defence against gzip bombs.
	MaxDecodedBytes int64
	// MaxRecords caps the records of one batch.
	MaxRecords int
	// MaxConcurrent caps batches processed at once; past it, 503.
	MaxConcurrent int
	// MaxInflightBytes caps decoded bytes held by all batches in progress;
	// past it, 503. It is what bounds the collector's memory.
	MaxInflightBytes int64
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:     64 << 20,
		MaxDecodedBytes:  64 << 20,
		MaxRecords:       500_000,
		MaxConcurrent:    16,
		MaxInflightBytes: 512 << 20,
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxBodyBytes < 1<<10:
		return fmt.Errorf("firehose: MaxBodyBytes %d below 1 KiB", c.MaxBodyBytes)
	case c.MaxDecodedBytes < c.MaxBodyBytes:
		return fmt.Errorf("firehose: MaxDecodedBytes %d below MaxBodyBytes %d", c.MaxDecodedBytes, c.MaxBodyBytes)
	case c.MaxRecords < 1:
		return errors.New("firehose: MaxRecords must be positive")
	case c.MaxConcurrent < 1:
		return errors.New("firehose: MaxConcurrent must be positive")
	case c.MaxInflightBytes < c.MaxDecodedBytes:
		return fmt.Errorf("firehose: MaxInflightBytes %d below MaxDecodedBytes %d", c.MaxInflightBytes, c.MaxDecodedBytes)
	}
	return nil
}

// Authenticator finds the app an access key belongs to.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (store.App, bool)
}

// Handler serves POST /v1/firehose.
type Handler struct {
	cfg     Config
	store   store.Store
	apps    Authenticator
	log     *slog.Logger
	metrics *metrics
	slots   chan struct{}
	budget  *reqbody.Budget
	workers sync.Pool // *worker
	now     func() time.Time
}

// worker is the reusable memory of one batch in progress.
type worker struct {
	body    bytes.Buffer
	decoder Decoder
	builder batchBuilder
}

// NewHandler returns a handler that stores into st.
func NewHandler(cfg Config, st store.Store, apps Authenticator, log *slog.Logger, reg prometheus.Registerer) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{
		cfg: cfg, store: st, apps: apps, log: log, metrics: newMetrics(reg),
		slots: make(chan struct{}, cfg.MaxConcurrent), budget: reqbody.NewBudget(cfg.MaxInflightBytes), now: time.Now,
	}
	h.workers.New = func() any { return new(worker) }
	return h, nil
}

// answer is the response body the specification prescribes.
type answer struct {
	RequestID    string `json:"requestId"`
	Timestamp    int64  `json:"timestamp"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

func (h *Handler) reply(w http.ResponseWriter, status int, requestID, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(answer{RequestID: requestID, Timestamp: h.now().UnixMilli(), ErrorMessage: msg})
	h.metrics.batches.WithLabelValues(fmt.Sprint(status)).Inc()
}

// ServeHTTP implements the delivery protocol.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	reqID := r.Header.Get(HeaderRequestID)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reply(w, http.StatusMethodNotAllowed, reqID, "use POST")
		return
	}
	if v := r.Header.Get(HeaderProtocolVersion); v != "" && !strings.HasPrefix(v, "1.") {
		h.reply(w, http.StatusBadRequest, reqID, fmt.Sprintf("unsupported %s %q; this endpoint speaks 1.0", HeaderProtocolVersion, v))
		return
	}
	app, ok := h.apps.Authenticate(r.Context(), r.Header.Get(HeaderAccessKey))
	if !ok {
		h.reply(w, http.StatusUnauthorized, reqID, "missing or unknown access key")
		return
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		reqbody.Discard(w, r, h.cfg.MaxBodyBytes)
		h.reply(w, http.StatusServiceUnavailable, reqID, "too many deliveries in progress; retry")
		return
	}
	attrs, err := commonAttributes(r.Header.Get(HeaderCommonAttributes))
	if err != nil {
		h.reply(w, http.StatusBadRequest, reqID, err.Error())
		return
	}

	wk := h.workers.Get().(*worker)
	defer h.putWorker(wk)
	reserved, err := reqbody.Read(w, r, &wk.body, h.limits(), h.budget)
	defer h.budget.Release(reserved)
	if be := (*reqbody.Error)(nil); errors.As(err, &be) {
		h.reply(w, be.Status, reqID, be.Msg)
		return
	}
	req, err := wk.decoder.Decode(wk.body.Bytes(), h.cfg.MaxRecords)
	if err != nil {
		h.reply(w, http.StatusBadRequest, reqID, err.Error())
		return
	}
	if reqID == "" {
		reqID = req.RequestID
	}
	// The records are decoded into their own memory: a large body and its
	// parse tree can go before the events are built, lowering the peak.
	wk.dropLarge(len(req.Records))
	batch := &store.Batch{AppID: app.ID, ID: reqID, Received: start.UTC()}
	reasons := map[string]int{}
	wk.builder.build(req, batch, attrs, h.cfg.MaxDecodedBytes, reasons)
	res, err := h.store.Append(r.Context(), batch)
	if err != nil {
		code := http.StatusServiceUnavailable
		if !errors.Is(err, store.ErrOverloaded) && !errors.Is(err, store.ErrUnavailable) && !errors.Is(err, store.ErrClosed) {
			code = http.StatusInternalServerError
		}
		h.log.Warn("firehose batch not stored", "request_id", reqID, "app_id", app.ID, "err", err)
		h.reply(w, code, reqID, "could not store the batch; retry")
		return
	}
	h.metrics.observe(len(req.Records), res, reasons, h.now().Sub(start))
	h.log.Debug("firehose batch stored", "request_id", reqID, "app_id", app.ID, "records", len(req.Records),
		"stored", res.Stored, "duplicates", res.Duplicates, "rejected", len(batch.Rejected))
	h.reply(w, http.StatusOK, reqID, "")
}

func (h *Handler) limits() reqbody.Limits {
	return reqbody.Limits{MaxBytes: h.cfg.MaxBodyBytes, MaxDecoded: h.cfg.MaxDecodedBytes}
}

// pooledMax is the largest buffer a pooled worker keeps between batches:
// the occasional 64 MiB batch's memory goes back to the runtime instead of
// staying parked in the pool.
const pooledMax = 16 << 20

func (h *Handler) putWorker(wk *worker) {
	wk.dropLarge(0)
	wk.decoder.shrink(pooledMax)
	h.workers.Put(wk)
}

// dropLarge lets a large body, and the parse tree of a batch of many
// records, be collected.
func (wk *worker) dropLarge(records int) {
	if wk.body.Cap() > pooledMax {
		wk.body = bytes.Buffer{}
	}
	if records > 10_000 {
		wk.decoder.json = fastjson.Parser{}
	}
}

// commonAttributes parses the X-Amz-Firehose-Common-Attributes header,
// {"commonAttributes":{"key":"value",...}}, into metadata attributes in a
// stable order.
func commonAttributes(header string) ([]accesslog.Attr, error) {
	if header == "" {
		return nil, nil
	}
	var v struct {
		CommonAttributes map[string]string `json:"commonAttributes"`
	}
	if err := json.Unmarshal([]byte(header), &v); err != nil {
		return nil, fmt.Errorf("%s is not {\"commonAttributes\":{...}} with string values: %v", HeaderCommonAttributes, err)
	}
	attrs := make([]accesslog.Attr, 0, len(v.CommonAttributes))
	for k, val := range v.CommonAttributes {
		attrs = append(attrs, accesslog.Attr{Key: k, Value: val})
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].Key < attrs[j].Key })
	return attrs, nil
}

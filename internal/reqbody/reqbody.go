// Package reqbody reads request bodies for the receivers (Firehose, the
// Moesif API): through a size limit as sent, gunzipped when they say so,
// through a second limit once inflated (the defence against gzip bombs),
// and within a budget of bytes shared by every request in progress, which
// is what bounds a collector's memory.
package reqbody

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// Limits bounds one body.
type Limits struct {
	MaxBytes   int64 // as sent
	MaxDecoded int64 // after gunzip
}

// Budget is an allowance of bytes shared by concurrent requests. It is safe
// for concurrent use.
type Budget struct {
	mu   sync.Mutex
	used int64
	max  int64
}

// NewBudget returns a budget of max bytes.
func NewBudget(max int64) *Budget { return &Budget{max: max} }

// Reserve takes n bytes if they are free.
func (b *Budget) Reserve(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

// Release returns n reserved bytes.
func (b *Budget) Release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// Error is a body that cannot be read, with the HTTP status that says why:
// 400 (not what it claims to be), 413 (too large), 503 (no budget left, or
// too slow: a retry may pass).
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Read reads r's body into buf (reset first), within lim and budget. It
// returns how much budget it reserved, which the caller releases once done
// with buf, and an *Error when the body was refused. Refused for want of
// budget, the body is read to its end (Discard) with nothing reserved.
func Read(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer, lim Limits, budget *Budget) (reserved int64, err error) {
	buf.Reset()
	body := io.Reader(http.MaxBytesReader(w, r.Body, lim.MaxBytes))
	gzipped := false
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return 0, &Error{readStatus(err), fmt.Sprintf("body says gzip but is not: %v", err)}
		}
		defer zr.Close()
		body, gzipped = zr, true
	default:
		return 0, &Error{http.StatusBadRequest, fmt.Sprintf("unsupported Content-Encoding %q (gzip or none)", enc)}
	}
	limit := lim.MaxDecoded
	// Size the buffer once from Content-Length (gzip'd JSON inflates about
	// fourfold) rather than doubling it up from nothing, which would
	// allocate twice the body; MinRead more lets the final read see EOF
	// without growing it.
	if cl := r.ContentLength; cl > 0 {
		if gzipped {
			cl *= 4
		}
		buf.Grow(int(min(cl, limit)) + bytes.MinRead + 1)
	}
	const step = 1 << 20
	for {
		// Read at most one byte past the limit, enough to tell a body over
		// it, and reserve no more than the limit: a budget of MaxDecoded
		// (or under a step) must still take a full body.
		chunk := min(step, limit+1-int64(buf.Len()))
		if need := min(int64(buf.Len())+chunk, limit) - reserved; need > 0 {
			if !budget.Reserve(need) {
				budget.Release(reserved)
				Discard(w, r, lim.MaxBytes)
				return 0, &Error{http.StatusServiceUnavailable, "collector is at its memory limit; retry"}
			}
			reserved += need
		}
		n, err := buf.ReadFrom(io.LimitReader(body, chunk))
		if int64(buf.Len()) > limit {
			return reserved, &Error{http.StatusRequestEntityTooLarge, fmt.Sprintf("body is over %d bytes decoded", limit)}
		}
		if err != nil {
			return reserved, &Error{readStatus(err), fmt.Sprintf("reading body: %v", err)}
		}
		if n < chunk {
			return reserved, nil
		}
	}
}

// Discard reads what is left of r's body, at most max bytes more. A
// request refused with a status to retry (503) before its body is read
// calls it: closed under a sender still writing, the connection resets,
// and the reset can reach the sender before the answer does, which it
// then never reads.
func Discard(w http.ResponseWriter, r *http.Request, max int64) {
	io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, max))
}

func readStatus(err error) int {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge
	}
	// The body did not arrive within the request's time (the server's
	// MaxRequestDuration): the sender or its network is slow, not wrong,
	// and a retry may pass.
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

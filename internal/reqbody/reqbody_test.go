package reqbody

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestRead(t *testing.T) {
	plain := []byte(strings.Repeat("x", 3000))
	bomb := gz(make([]byte, 1<<20)) // 1 MiB of zeros in about a kilobyte
	lim := Limits{MaxBytes: 64 << 10, MaxDecoded: 100 << 10}
	for _, tc := range []struct {
		name     string
		body     []byte
		encoding string
		budget   int64
		status   int // 0: read fine
	}{
		{"plain", plain, "", 1 << 20, 0},
		{"gzip", gz(plain), "gzip", 1 << 20, 0},
		{"identity", plain, "identity", 1 << 20, 0},
		{"says gzip but is not", plain, "gzip", 1 << 20, http.StatusBadRequest},
		{"truncated gzip", gz(plain)[:20], "gzip", 1 << 20, http.StatusBadRequest},
		{"unknown encoding", plain, "br", 1 << 20, http.StatusBadRequest},
		{"over the size as sent", make([]byte, 65<<10), "", 1 << 20, http.StatusRequestEntityTooLarge},
		{"gzip bomb over the decoded limit", bomb, "gzip", 1 << 20, http.StatusRequestEntityTooLarge},
		{"exactly the decoded limit", make([]byte, 100<<10), "", 1 << 20, http.StatusRequestEntityTooLarge}, // over MaxBytes as sent
		{"no budget left", plain, "", 0, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(tc.body))
			if tc.encoding != "" {
				r.Header.Set("Content-Encoding", tc.encoding)
			}
			budget := NewBudget(tc.budget)
			var buf bytes.Buffer
			reserved, err := Read(httptest.NewRecorder(), r, &buf, lim, budget)
			defer budget.Release(reserved)
			var be *Error
			switch {
			case tc.status == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.status == 0 && !bytes.Equal(buf.Bytes(), plain):
				t.Fatalf("read %d bytes, want the %d sent", buf.Len(), len(plain))
			case tc.status != 0 && (!errors.As(err, &be) || be.Status != tc.status):
				t.Fatalf("got %v, want status %d", err, tc.status)
			}
			if reserved > lim.MaxDecoded {
				t.Fatalf("reserved %d, more than the decoded limit", reserved)
			}
		})
	}
}

func TestBudgetIsShared(t *testing.T) {
	b := NewBudget(10)
	if !b.Reserve(6) || b.Reserve(5) || !b.Reserve(4) {
		t.Fatal("reservations past the budget must fail, within it succeed")
	}
	b.Release(6)
	if !b.Reserve(6) {
		t.Fatal("released bytes are free again")
	}
}

// TestRefusedBodyIsReadToItsEnd: a body refused for want of budget, part
// of it read already, is read to its end with nothing left reserved, and
// Discard reads no more than it is allowed.
func TestRefusedBodyIsReadToItsEnd(t *testing.T) {
	lim := Limits{MaxBytes: 8 << 20, MaxDecoded: 8 << 20}
	budget := NewBudget(3 << 20) // a step or two, then refused
	body := bytes.NewReader(make([]byte, 6<<20))
	r := httptest.NewRequest(http.MethodPost, "/", body)
	var buf bytes.Buffer
	reserved, err := Read(httptest.NewRecorder(), r, &buf, lim, budget)
	var be *Error
	if !errors.As(err, &be) || be.Status != http.StatusServiceUnavailable {
		t.Fatalf("got %v, want a 503", err)
	}
	if reserved != 0 || !budget.Reserve(3<<20) {
		t.Fatalf("reserved %d after the refusal; want the whole budget free", reserved)
	}
	if body.Len() != 0 {
		t.Fatalf("%d bytes of the refused body left unread", body.Len())
	}

	long := bytes.NewReader(make([]byte, 3<<20))
	Discard(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", long), 1<<20)
	if read := 3<<20 - long.Len(); read < 1<<20 || read > 1<<20+64<<10 {
		t.Fatalf("Discard read %d bytes of a longer body, want about its limit of %d", read, 1<<20)
	}
}

package service_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/service"
)

// TestFirehoseRedelivery: Firehose retries a batch it got no 200 for, and
// may put a record in a later batch again; neither stores an event twice.
func TestFirehoseRedelivery(t *testing.T) {
	r := start(t, t.TempDir(), nil)
	a := r.createApp(t, "redelivery")

	spec := bodySpecs[1] // the gzip body of recommended-format lines
	raw := readBody(t, spec.file)
	fb, lines := decodeBody(t, raw)
	first := delivery{key: a.Key, requestID: spec.requestID, body: raw, gzip: true}
	for attempt := range 3 { // the original and two retries of the same batch
		if ans := r.post(t, first); ans.status != http.StatusOK {
			t.Fatalf("attempt %d: %d %s", attempt, ans.status, ans.raw)
		}
	}
	// A different batch carrying the first batch's first record again,
	// with one new line.
	again := body("redelivery-2", mustB64Decode(t, fb.Records[0].Data), logLine("redelivery-new-1"))
	if ans := r.post(t, delivery{key: a.Key, requestID: "redelivery-2", body: again, gzip: true}); ans.status != http.StatusOK {
		t.Fatalf("second batch: %d %s", ans.status, ans.raw)
	}
	// A batch with a bad line, delivered twice: its rejected record is kept once.
	bad := body("redelivery-3", []byte("not json, twice"), logLine("redelivery-new-2"))
	for range 2 {
		if ans := r.post(t, delivery{key: a.Key, requestID: "redelivery-3", body: bad}); ans.status != http.StatusOK {
			t.Fatalf("third batch: %d %s", ans.status, ans.raw)
		}
	}

	evs := r.waitFor(t, a.ID, "redelivery-new-2")
	if len(evs) != len(lines)+2 {
		t.Errorf("%d events, want %d: each request once", len(evs), len(lines)+2)
	}
	if rej := r.rejected(t, a.ID); len(rej) != 1 || string(rej[0].raw) != "not json, twice" {
		t.Errorf("rejected records %+v, want the bad line once", rej)
	}
	rows, err := r.svc.Store().Query(context.Background(),
		`SELECT request_id, count(*) FROM events WHERE app_id = ? GROUP BY request_id HAVING count(*) > 1`, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var n int
		rows.Scan(&id, &n)
		t.Errorf("request %s stored %d times", id, n)
	}
	rows.Close()

	m := r.metrics(t)
	// The two retries drop the whole batch; the second batch drops one
	// record; the third batch's retry drops its one event.
	wantDup := float64(2*len(lines) + 1 + 1)
	for series, v := range map[string]float64{
		`gatescope_firehose_duplicates_total`:          wantDup,
		`gatescope_firehose_events_stored_total`:       float64(len(lines) + 2),
		`gatescope_firehose_batches_total{code="200"}`: 6,
	} {
		if got, ok := m[series]; !ok || got != v {
			t.Errorf("/metrics %s = %v (present %v), want %v", series, got, ok, v)
		}
	}
}

// TestRestartKeepsData stops Gatescope, some batches acknowledged but not
// yet loaded, starts it again on the same data directory, and reads every
// event back field by field; apps, the admin token and duplicate detection
// survive too.
func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	r1 := start(t, dir, func(c *service.Config) { c.DuckDB.FlushInterval = 10 * time.Second })
	token, created := r1.svc.AdminToken()
	if !created {
		t.Error("first start did not generate an admin token")
	}
	a := r1.createApp(t, "survivor")
	want, _ := deliverFixtures(t, r1, a, nil)
	// No wait: with a 10 s flush interval the batches are, at most, in the
	// spool when the service stops.
	r1.stop()

	r2 := start(t, dir, nil)
	if tok, created := r2.svc.AdminToken(); tok != token || created {
		t.Errorf("admin token after restart: created %v, same %v", created, tok == token)
	}
	checkEvents(t, r2.waitEvents(t, a.ID, len(want)), want)

	// The app's key still authenticates, and a retry of a batch delivered
	// before the restart is still recognized.
	spec := bodySpecs[0]
	retry := delivery{key: a.Key, requestID: spec.requestID, body: readBody(t, spec.file), attrs: commonAttributes}
	if ans := r2.post(t, retry); ans.status != http.StatusOK {
		t.Fatalf("retry after restart: %d %s", ans.status, ans.raw)
	}
	if ans := r2.post(t, delivery{key: a.Key, requestID: "after-restart", body: body("after-restart", logLine("after-restart-1"))}); ans.status != http.StatusOK {
		t.Fatalf("new batch after restart: %d %s", ans.status, ans.raw)
	}
	evs := r2.waitFor(t, a.ID, "after-restart-1")
	if len(evs) != len(want)+1 {
		t.Errorf("%d events after the retry and a new batch, want %d", len(evs), len(want)+1)
	}
	_, lines := decodeBody(t, retry.body)
	if got := r2.metrics(t)[`gatescope_firehose_duplicates_total`]; got != float64(len(lines)) {
		t.Errorf("duplicates after restart = %v, want %d (the retried batch)", got, len(lines))
	}
}

// TestStoreUnavailable closes the store under a running server: a delivery
// then gets 503 with a specification answer and leaves nothing behind, and
// Firehose's retry after a restart is stored once.
func TestStoreUnavailable(t *testing.T) {
	dir := t.TempDir()
	r1 := start(t, dir, nil)
	a := r1.createApp(t, "outage")
	if ans := r1.post(t, delivery{key: a.Key, requestID: "before", body: body("before", logLine("before-1"))}); ans.status != http.StatusOK {
		t.Fatalf("before the outage: %d %s", ans.status, ans.raw)
	}
	r1.waitFor(t, a.ID, "before-1")

	if err := r1.svc.Store().Close(); err != nil {
		t.Fatalf("closing the store: %v", err)
	}
	during := delivery{key: a.Key, requestID: "during", body: body("during", logLine("during-1"), []byte("not json")), gzip: true}
	if ans := r1.post(t, during); ans.status != http.StatusServiceUnavailable {
		t.Errorf("delivery while the store is closed: %d %s, want 503", ans.status, ans.raw)
	}
	if resp, err := http.Get(r1.base + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz while the store is closed: %v %v, want 503", resp.Status, err)
	} else {
		resp.Body.Close()
	}
	m := r1.metrics(t)
	for series, v := range map[string]float64{
		`gatescope_firehose_batches_total{code="503"}`: 1,
		`gatescope_firehose_events_stored_total`:       1,
	} {
		if got, ok := m[series]; !ok || got != v {
			t.Errorf("/metrics %s = %v (present %v), want %v", series, got, ok, v)
		}
	}
	r1.stop()

	r2 := start(t, dir, nil)
	if evs := r2.events(t, a.ID); len(evs) != 1 {
		t.Errorf("after the outage: %d events, want only the one before it", len(evs))
	}
	if rej := r2.rejected(t, a.ID); len(rej) != 0 {
		t.Errorf("the refused batch left rejected records: %+v", rej)
	}
	if ans := r2.post(t, during); ans.status != http.StatusOK {
		t.Fatalf("Firehose's retry: %d %s", ans.status, ans.raw)
	}
	evs := r2.waitFor(t, a.ID, "during-1")
	if len(evs) != 2 {
		t.Errorf("%d events after the retry, want 2", len(evs))
	}
	if rej := r2.rejected(t, a.ID); len(rej) != 1 {
		t.Errorf("%d rejected records after the retry, want 1", len(rej))
	}
}

// TestStoreOverloaded lets the backlog of acknowledged-but-unloaded data
// pass its limit: deliveries get 503 until the loader catches up, and the
// retried batch is then stored once.
func TestStoreOverloaded(t *testing.T) {
	r := start(t, t.TempDir(), func(c *service.Config) {
		c.DuckDB.FlushInterval = 3 * time.Second
		c.DuckDB.FlushBytes = 1 << 20
		c.DuckDB.MaxBacklogBytes = 1 << 20
	})
	a := r.createApp(t, "overload")
	batch := func(n int) delivery {
		id := fmt.Sprintf("load-%03d", n)
		var lines []byte
		for i := range 1000 {
			lines = append(lines, logLine(fmt.Sprintf("%s-%04d", id, i))...)
			lines = append(lines, '\n')
		}
		return delivery{key: a.Key, requestID: id, body: body(id, lines), gzip: true}
	}
	accepted := 0
	var refused *delivery
	for n := 0; n < 40 && refused == nil; n++ {
		d := batch(n)
		switch ans := r.post(t, d); ans.status {
		case http.StatusOK:
			accepted++
		case http.StatusServiceUnavailable:
			refused = &d
		default:
			t.Fatalf("%s: %d %s", d.requestID, ans.status, ans.raw)
		}
	}
	if refused == nil {
		t.Fatal("40 MB-sized batches never met the 1 MiB backlog limit")
	}
	if got := r.metrics(t)[`gatescope_store_overloaded_total`]; got < 1 {
		t.Errorf("gatescope_store_overloaded_total = %v after a refusal", got)
	}
	// Firehose retries with back-off until the loader has caught up.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ans := r.post(t, *refused)
		if ans.status == http.StatusOK {
			break
		}
		if ans.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("retry: %d %s", ans.status, ans.raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
	last := refused.requestID + "-0999"
	evs := r.waitFor(t, a.ID, last)
	if len(evs) != (accepted+1)*1000 {
		t.Errorf("%d events, want %d: every accepted batch and the retried one, once", len(evs), (accepted+1)*1000)
	}
}

// TestTooManyDeliveries holds the only delivery slot with a body that is
// still arriving: another delivery meanwhile gets 503.
func TestTooManyDeliveries(t *testing.T) {
	r := start(t, t.TempDir(), func(c *service.Config) { c.Firehose.MaxConcurrent = 1 })
	a := r.createApp(t, "slots")

	// slowDelivery sends the first bytes of a body and holds the rest.
	type slowDelivery struct {
		rest []byte
		pw   *io.PipeWriter
		done chan *http.Response
	}
	startSlow := func(id string) *slowDelivery {
		pr, pw := io.Pipe()
		req, err := http.NewRequest("POST", r.base+"/v1/firehose", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Amz-Firehose-Request-Id", id)
		req.Header.Set("X-Amz-Firehose-Access-Key", a.Key)
		s := &slowDelivery{pw: pw, done: make(chan *http.Response, 1)}
		go func() {
			resp, _ := http.DefaultClient.Do(req) // an abandoned one fails
			pr.Close()
			s.done <- resp
		}()
		full := body(id, logLine(id+"-1"))
		pw.Write(full[:10])
		s.rest = full[10:]
		return s
	}

	// Each round starts a slow delivery while nothing else is in flight,
	// gives it a moment to reach the handler, then tries a quick one. If
	// the quick one still got the slot, the slow one had not arrived yet:
	// abandon it and try again.
	var slow *slowDelivery
	slowID := ""
	for round := 0; ; round++ {
		if round == 50 {
			t.Fatal("a second delivery while the only slot is held was never refused")
		}
		slowID = fmt.Sprintf("slow-%d", round)
		slow = startSlow(slowID)
		time.Sleep(time.Duration(20*(round+1)) * time.Millisecond)
		id := fmt.Sprintf("quick-%d", round)
		ans := r.post(t, delivery{key: a.Key, requestID: id, body: body(id, logLine(id+"-1"))})
		if ans.status == http.StatusServiceUnavailable {
			if !strings.Contains(*ans.errorMsg, "retry") {
				t.Errorf("503 without a retryable message: %s", ans.raw)
			}
			break
		}
		if ans.status != http.StatusOK {
			t.Fatalf("%s: %d %s", id, ans.status, ans.raw)
		}
		slow.pw.CloseWithError(errors.New("abandoned"))
		if resp := <-slow.done; resp != nil {
			resp.Body.Close()
		}
	}
	slow.pw.Write(slow.rest)
	slow.pw.Close()
	resp := <-slow.done
	if resp == nil {
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"requestId":"`+slowID+`"`)) {
		t.Errorf("slow delivery: %d %s", resp.StatusCode, b)
	}
	r.waitFor(t, a.ID, slowID+"-1")
	if got := r.metrics(t)[`gatescope_firehose_batches_total{code="503"}`]; got < 1 {
		t.Errorf("batches_total{code=\"503\"} = %v", got)
	}
}

func mustB64Decode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gatescope/gatescope/internal/query"
)

// Live tail timing: how often the store is polled, how often an idle
// stream sends a keep-alive comment.
const (
	tailPoll      = time.Second
	tailKeepAlive = 15 * time.Second
	tailBatch     = 500
	// A tail looks back a second, for the listing the page fetched just
	// before; a reconnecting EventSource (it names the last id it saw)
	// over its gap: browsers wait about 3 s before reconnecting.
	tailLookBack  = time.Second
	tailReconnect = 10 * time.Second
)

// streaming wraps a long-lived handler with admin1's check (an
// EventSource sends the dashboard's session cookie, not a header); each
// store poll gets the query timeout instead of the whole response.
func (a *API) streaming(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, status, msg := a.authenticate(r); !ok {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="gatescope"`)
			}
			writeError(w, status, msg)
			return
		}
		if err := h(w, r); err != nil {
			a.fail(w, r, err)
		}
	})
}

// streamEvents serves the live tail as server-sent events: one `event`
// message per new event matching the filters, oldest first.
func (a *API) streamEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	app, err := a.app(r, q.Get("app_id"))
	if err != nil {
		return err
	}
	f, err := query.FilterFromParams(q)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	lookBack := tailLookBack
	if r.Header.Get("Last-Event-ID") != "" {
		lookBack = tailReconnect
	}
	tail := a.engine.NewTail(lookBack)
	send := func(format string, args ...any) bool {
		// The server's WriteTimeout bounds ordinary responses; a stream
		// moves its deadline forward with each write.
		rc.SetWriteDeadline(time.Now().Add(tailKeepAlive * 2))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// The id makes a browser that reconnects before any event send
	// Last-Event-ID too.
	if !send(": tailing app %s\nid: open\n\n", app) {
		return nil
	}
	tick := time.NewTicker(tailPoll)
	defer tick.Stop()
	idle := time.Now()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.QueryTimeout)
		events, err := a.engine.Poll(ctx, tail, app, f, tailBatch)
		cancel()
		if err != nil {
			if r.Context().Err() != nil {
				return nil
			}
			a.log.Warn("live tail poll failed", "err", err)
			continue
		}
		for _, ev := range events {
			b, _ := json.Marshal(ev)
			if !send("event: event\nid: %s\ndata: %s\n\n", ev.RequestID, b) {
				return nil
			}
			idle = time.Now()
		}
		if time.Since(idle) >= tailKeepAlive {
			if !send(": keepalive\n\n") {
				return nil
			}
			idle = time.Now()
		}
	}
}

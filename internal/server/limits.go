package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatescope/gatescope/internal/firehose"
	"github.com/gatescope/gatescope/internal/moesif"
	"github.com/gatescope/gatescope/internal/ratelimit"
)

// receiver reports whether r is a delivery to one of the receivers:
// Firehose's endpoint or the Moesif-compatible API.
func receiver(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/v1/") }

// bound gives every receiver request MaxRequestDuration from now: the body
// must have arrived by then (a read deadline on the connection, so a slow
// sender cannot hold a delivery slot and its memory), and the store must
// have answered (a context deadline). The receivers answer 503 to both.
func (s *Server) bound(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !receiver(r) {
			next.ServeHTTP(w, r)
			return
		}
		deadline := time.Now().Add(s.cfg.MaxRequestDuration)
		// Not every connection supports deadlines (HTTP/2 streams do,
		// httptest recorders do not); the context still bounds the store.
		_ = http.NewResponseController(w).SetReadDeadline(deadline)
		ctx, cancel := context.WithDeadline(r.Context(), deadline)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// authPolicy is Gatescope's use of the failed-authentication limiter:
// every route that takes a credential is guarded; a 401 counts when the
// request presented an access key, an application id, a bearer token or a
// login.
var authPolicy = ratelimit.Policy{
	Guarded: func(r *http.Request) bool {
		p := r.URL.Path
		return receiver(r) || strings.HasPrefix(p, "/api/v1/") && p != "/api/v1/openapi.json"
	},
	Guess: func(r *http.Request) bool {
		h := r.Header
		return h.Get(firehose.HeaderAccessKey) != "" || h.Get(moesif.HeaderApplicationID) != "" ||
			h.Get("Authorization") != "" || r.Method == http.MethodPost && r.URL.Path == "/api/v1/session"
	},
	Refuse: func(w http.ResponseWriter, r *http.Request, wait time.Duration) {
		msg := fmt.Sprintf("too many failed authentications from this address; retry in %d s", int(wait.Seconds()))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		if r.URL.Path == "/v1/firehose" {
			// The delivery protocol's answer; Firehose retries a 429.
			json.NewEncoder(w).Encode(map[string]any{
				"requestId": r.Header.Get(firehose.HeaderRequestID), "timestamp": time.Now().UnixMilli(), "errorMessage": msg,
			})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
	},
}

package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
	"github.com/gatescope/gatescope/internal/store/storetest"
)

// TestStreamLookBack: a new live tail does not send events that arrived
// seconds before it opened (the page has just listed them); a browser's
// reconnection (Last-Event-ID) does, to cover the gap. The stream names an
// id before any event, so that even an idle stream's reconnection has one.
func TestStreamLookBack(t *testing.T) {
	e := newOAEnv(t)
	for i, tc := range []struct {
		name        string
		lastEventID string
		wantEarlier bool
	}{
		{"new stream", "", false},
		{"reconnection", "open", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// Arrived 4 s before the stream opens: within the tail's 5 s
			// overlap, outside a new tail's second.
			earlier := storetest.Event(e.app, 910000+10*i, time.Now())
			at := time.Now().UTC().Add(-4 * time.Second)
			if _, err := e.st.Append(ctx, &store.Batch{AppID: e.app, Received: at, Events: []event.Event{earlier}}); err != nil {
				t.Fatal(err)
			}
			storetest.Flush(t, e.st)

			req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/events/stream?"+url.Values{"app_id": {e.app}}.Encode(), nil)
			req.Header.Set("Authorization", "Bearer "+oaToken)
			if tc.lastEventID != "" {
				req.Header.Set("Last-Event-ID", tc.lastEventID)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			var head []string
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("stream ended in its opening: %v", err)
				}
				if line == "\n" {
					break
				}
				head = append(head, line)
			}
			if !strings.HasPrefix(head[0], ":") || !strings.Contains(strings.Join(head, ""), "\nid: ") {
				t.Fatalf("stream opened with %q, want a comment and an id", head)
			}

			now := storetest.Event(e.app, 910001+10*i, time.Now())
			if _, err := e.st.Append(ctx, &store.Batch{AppID: e.app, Received: time.Now().UTC(), Events: []event.Event{now}}); err != nil {
				t.Fatal(err)
			}
			storetest.Flush(t, e.st)
			// The fixture's events arrived just before too; only these two
			// tell the cases apart.
			var got []string
			for len(got) == 0 || got[len(got)-1] != now.RequestID {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("stream ended after %v: %v", got, err)
				}
				if data, found := strings.CutPrefix(line, "data: "); found {
					var ev struct {
						RequestID string `json:"request_id"`
					}
					if err := json.Unmarshal([]byte(data), &ev); err != nil {
						t.Fatal(err)
					}
					if ev.RequestID == earlier.RequestID || ev.RequestID == now.RequestID {
						got = append(got, ev.RequestID)
					}
				}
			}
			want := []string{now.RequestID}
			if tc.wantEarlier {
				want = []string{earlier.RequestID, now.RequestID}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("stream sent %v, want %v", got, want)
			}
		})
	}
}

package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/gatescope/gatescope/internal/event"
	"github.com/gatescope/gatescope/internal/store"
)

// TestDashboardEndpointsFitDocument calls the dashboard's own endpoints
// (session, log formats, app status) and validates each answer against
// openapi.json.
func TestDashboardEndpointsFitDocument(t *testing.T) {
	e := newDashEnv(t)
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(openapiDoc)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("openapi.json is not valid OpenAPI 3: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: e.srv.URL}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	app, err := e.apps.Create(ctx, "Orders")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if _, err := e.store.Append(ctx, &store.Batch{AppID: app.ID, ID: "b-1", Received: now,
		Rejected: []event.Rejected{{AppID: app.ID, Received: now, Source: event.SourceFirehose, Reason: "not JSON", BatchID: "b-1", Raw: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	if f, ok := e.store.(store.Flusher); ok {
		if err := f.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}

	tests := []struct {
		method, path, body string
		hdr                map[string]string
		want               int
	}{
		{"POST", "/api/v1/session", `{"token":"wrong-wrong-wrong"}`, nil, 401},
		{"POST", "/api/v1/session", `{"token":"` + dashToken + `"}`, map[string]string{"Origin": "https://evil.example"}, 403},
		{"POST", "/api/v1/session", `{"token":"` + dashToken + `"}`, nil, 200},
		{"GET", "/api/v1/session", "", nil, 200},
		{"GET", "/api/v1/log-formats", "", nil, 200},
		{"GET", "/api/v1/apps/" + app.ID + "/status", "", nil, 200},
		{"GET", "/api/v1/apps/nope/status", "", nil, 404},
		{"DELETE", "/api/v1/session", "", nil, 403},
		{"DELETE", "/api/v1/session", "", map[string]string{CSRFHeader: "1"}, 204},
		{"GET", "/api/v1/session", "", nil, 401},
	}
	for _, tc := range tests {
		var rd io.Reader
		if tc.body != "" {
			rd = bytes.NewReader([]byte(tc.body))
		}
		req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, rd)
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range tc.hdr {
			req.Header.Set(k, v)
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s %s is not documented: %v", tc.method, tc.path, err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, resp.StatusCode, got, tc.want)
			continue
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes(got)
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s %s -> %d: the answer does not fit the document: %v\n%s", tc.method, tc.path, resp.StatusCode, err, got)
		}
	}
}

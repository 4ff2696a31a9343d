package identify

import (
	"strings"
	"testing"

	"github.com/gatescope/gatescope/internal/event"
)

func TestUser(t *testing.T) {
	// all holds a distinct value in every identity field, so that each case
	// shows which field won by the value it returns.
	all := event.Event{APIKeyID: "key-1", PrincipalID: "principal-1", CognitoIdentityID: "us-east-1:cognito-1",
		Caller: "AIDACALLER1", UserARN: "arn:aws:iam::123456789012:user/alice"}
	without := func(clear ...func(*event.Event)) *event.Event {
		ev := all
		for _, c := range clear {
			c(&ev)
		}
		return &ev
	}
	noKey := func(e *event.Event) { e.APIKeyID = "" }
	noPrincipal := func(e *event.Event) { e.PrincipalID = "" }
	noCognito := func(e *event.Event) { e.CognitoIdentityID = "" }
	noCaller := func(e *event.Event) { e.Caller = "" }
	noARN := func(e *event.Event) { e.UserARN = "" }

	tests := []struct {
		name string
		ev   *event.Event
		user string
		want string
	}{
		{"1 user wins over everything", without(), "alice", "alice"},
		{"user override with a source IP", without(), "203.0.113.7", "203.0.113.7"},
		{"2 apiKeyId", without(), "", "key-1"},
		{"3 principalId", without(noKey), "", "principal-1"},
		{"4 cognitoIdentityId", without(noKey, noPrincipal), "", "us-east-1:cognito-1"},
		{"5 caller", without(noKey, noPrincipal, noCognito), "", "AIDACALLER1"},
		{"6 userArn", without(noKey, noPrincipal, noCognito, noCaller), "", "arn:aws:iam::123456789012:user/alice"},
		{"none", without(noKey, noPrincipal, noCognito, noCaller, noARN), "", ""},
		{"user alone", without(noKey, noPrincipal, noCognito, noCaller, noARN), "bob", "bob"},
		{"later field alone", &event.Event{UserARN: "arn:x"}, "", "arn:x"},
		{"caller beats userArn only", &event.Event{Caller: "c", UserARN: "arn:x"}, "", "c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := User(tt.ev, tt.user); got != tt.want {
				t.Errorf("User() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRoute(t *testing.T) {
	tests := []struct {
		name, template, path, want string
	}{
		{"REST template wins", "/orders/{orderId}", "/orders/123", "/orders/{orderId}"},
		{"template wins even without ids", "/{proxy+}", "/anything/here", "/{proxy+}"},
		{"HTTP route key loses its method", "GET /orders/{id}", "/orders/42", "/orders/{id}"},
		{"HTTP ANY route key", "ANY /{proxy+}", "/a/b", "/{proxy+}"},
		{"lower-case method", "post /orders", "/orders", "/orders"},
		{"every method", "DELETE /orders/{id}", "/orders/1", "/orders/{id}"},
		{"PATCH", "PATCH /orders/{id}", "/orders/1", "/orders/{id}"},
		{"HEAD", "HEAD /", "/", "/"},
		{"OPTIONS", "OPTIONS /x", "/x", "/x"},
		{"PUT", "PUT /x", "/x", "/x"},
		{"not a method: kept", "FETCH /orders", "/orders", "FETCH /orders"},
		{"method without path: kept", "GET ", "/x", "GET "},
		{"space but no slash: kept", "GET orders", "/x", "GET orders"},
		{"$default falls back to the path", "$default", "/orders/123", "/orders/{id}"},
		{"$default without a path", "$default", "", "$default"},
		{"WebSocket route key", "$connect", "", "$connect"},
		{"WebSocket custom route", "sendMessage", "", "sendMessage"},
		{"no template: normalized path", "", "/users/550e8400-e29b-41d4-a716-446655440000/orders", "/users/{id}/orders"},
		{"no template, no path", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Route(tt.template, tt.path); got != tt.want {
				t.Errorf("Route(%q, %q) = %q, want %q", tt.template, tt.path, got, tt.want)
			}
		})
	}
}

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		name, path, want string
	}{
		{"number", "/orders/123", "/orders/{id}"},
		{"zero", "/orders/0", "/orders/{id}"},
		{"several numbers", "/users/7/orders/981273", "/users/{id}/orders/{id}"},
		{"UUID lower", "/users/550e8400-e29b-41d4-a716-446655440000", "/users/{id}"},
		{"UUID upper", "/users/550E8400-E29B-41D4-A716-446655440000/", "/users/{id}/"},
		{"Mongo object id (24 hex)", "/items/5f2b6c1e9a3d4e7f8a9b0c1d", "/items/{id}"},
		{"SHA-1", "/blobs/da39a3ee5e6b4b0d3255bfef95601890afd80709", "/blobs/{id}"},
		{"ULID", "/events/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/events/{id}"},
		{"prefixed token", "/customers/cus_9s6XKzkNRiz8i3", "/customers/{id}"},
		{"base64url token", "/share/aGVsbG8td29ybGQtMTIzNDU2", "/share/{id}"},
		{"date", "/reports/2024-01-31", "/reports/{id}"},
		{"e-mail address", "/users/alice.smith%40example.com", "/users/{id}"},
		{"query string dropped", "/orders?page=2&sort=desc", "/orders"},
		{"query string dropped after id", "/orders/42?expand=items", "/orders/{id}"},
		{"words untouched", "/orders", "/orders"},
		{"version untouched", "/v1/orders", "/v1/orders"},
		{"me untouched", "/users/me", "/users/me"},
		{"short hex word untouched", "/feed/cafe", "/feed/cafe"},
		{"long word untouched", "/settings/authentication-preferences", "/settings/authentication-preferences"},
		{"root", "/", "/"},
		{"empty", "", ""},
		{"no leading slash", "orders/12", "orders/{id}"},
		{"id first", "/123/orders", "/{id}/orders"},
		{"trailing slash kept", "/orders/12/", "/orders/{id}/"},
		{"empty segments kept", "/orders//12", "/orders//{id}"},
		{"placeholder untouched", "/orders/{id}", "/orders/{id}"},
		{"stage prefix kept", "/prod/orders/77", "/prod/orders/{id}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NormalizePath(tt.path); got != tt.want {
				t.Errorf("NormalizePath(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func TestNormalizePathDoesNotAllocateWithoutIDs(t *testing.T) {
	path := "/v1/orders/me/settings"
	if n := testing.AllocsPerRun(100, func() { _ = NormalizePath(path) }); n != 0 {
		t.Errorf("NormalizePath(%q) allocates %v times, want 0", path, n)
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{
		"/orders/123", "/users/550e8400-e29b-41d4-a716-446655440000/orders?x=1", "/v1/me", "",
		"/", "//", "?", "/a/?/b", "/events/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/prod/items/5f2b6c1e9a3d4e7f8a9b0c1d/",
		"/users/alice%40example.com", "/caf\xc3\xa9/42", "/\xff\xfe/1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		got := NormalizePath(path)
		if strings.Contains(got, "?") {
			t.Fatalf("NormalizePath(%q) = %q keeps a query string", path, got)
		}
		if again := NormalizePath(got); again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", path, got, again)
		}
		base := path
		if q := strings.IndexByte(base, '?'); q >= 0 {
			base = base[:q]
		}
		in, out := strings.Split(base, "/"), strings.Split(got, "/")
		if len(in) != len(out) {
			t.Fatalf("NormalizePath(%q) = %q changes the number of segments", path, got)
		}
		for i := range in {
			if out[i] != in[i] && out[i] != IDPlaceholder {
				t.Fatalf("NormalizePath(%q) = %q: segment %q became %q", path, got, in[i], out[i])
			}
			if in[i] == "" && out[i] != "" {
				t.Fatalf("NormalizePath(%q) = %q: empty segment replaced", path, got)
			}
		}
	})
}

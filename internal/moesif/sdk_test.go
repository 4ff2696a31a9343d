package moesif_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sdkDir is the Node project that drives the official Moesif SDKs.
const sdkDir = "testdata/sdk"

// installSDK returns a directory holding testdata/sdk with its
// node_modules installed by `npm ci` from the committed lock file, cached
// per lock file under the user cache directory (so the repository stays
// free of node_modules and repeat runs are offline). Outside CI a machine
// without Node skips; in CI it fails.
func installSDK(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed: the Moesif SDK test needs Node.js 18+ and npm (Debian: apt-get install nodejs npm) and the npm registry", tool)
			}
			t.Skipf("%s not installed; this test needs Node.js and npm", tool)
		}
	}
	lock, err := os.ReadFile(filepath.Join(sdkDir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "gatescope", "moesif-sdk-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "moesifapi", "package.json")); err != nil {
		// Install beside the final place and rename, so that an
		// interrupted install is never taken for a finished one.
		tmp, err := os.MkdirTemp(filepath.Dir(dir), "moesif-sdk-install-")
		if err != nil {
			if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
				t.Fatal(err)
			}
			if tmp, err = os.MkdirTemp(filepath.Dir(dir), "moesif-sdk-install-"); err != nil {
				t.Fatal(err)
			}
		}
		defer os.RemoveAll(tmp)
		for _, f := range []string{"package.json", "package-lock.json"} {
			copyFile(t, filepath.Join(sdkDir, f), filepath.Join(tmp, f))
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", tmp)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci (the Moesif SDKs from the npm registry) failed: %v\n%s", err, out)
		}
		if err := os.Rename(tmp, dir); err != nil && !dirHasSDK(dir) {
			t.Fatalf("install the SDKs: %v", err)
		}
	}
	copyFile(t, filepath.Join(sdkDir, "send.js"), filepath.Join(dir, "send.js"))
	return dir
}

func dirHasSDK(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "node_modules", "moesifapi", "package.json"))
	return err == nil
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMoesifSDK points the official Moesif Node.js SDKs (moesifapi, the
// API library, and moesif-nodejs, the middleware), unmodified from the
// npm registry, at a running Gatescope, has them send companies, users
// and events, and reads everything back through the query API and the
// store.
func TestMoesifSDK(t *testing.T) {
	dir := installSDK(t)
	e := start(t)
	// The middleware reports into an app of its own.
	mw := *e
	mw.appID, mw.key = e.createApp("middleware")
	if len(mw.key) < moesifNodeMinKey {
		t.Fatalf("application ids are %d characters; moesif-nodejs throws on ids under %d (lib/ensureValidUtils.js), so its users "+
			"cannot point it at Gatescope", len(mw.key), moesifNodeMinKey)
	}
	cmd := exec.Command("node", filepath.Join(dir, "send.js"))
	cmd.Env = append(os.Environ(), "GATESCOPE_URL="+e.base, "GATESCOPE_APP_KEY="+e.key, "GATESCOPE_MIDDLEWARE_KEY="+mw.key)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node send.js: %v\n%s\n%s", err, out, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("send.js output %q: %v\n%s", out, err, stderr.String())
	}
	// What each SDK call ended with, as the SDK saw it: 201 is Moesif's
	// answer to every collector call, 401 a wrong application id.
	want := map[string]any{
		"updateCompany": 201.0, "updateCompaniesBatch": 201.0, "updateUser": 201.0, "updateUsersBatch": 201.0,
		"createEvent": 201.0, "createEventsBatch": 201.0, "wrongKey": 401.0,
		"appCall": 200.0, "middlewareBatch": "sent", "middlewareUpdateUser": 201.0, "middlewareUpdateCompany": 201.0,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SDK calls ended with\n%v\nwant\n%v\nstderr: %s", got, want, stderr.String())
	}

	t.Run("event read back", func(t *testing.T) {
		evs := e.events(url.Values{"user_id": {"12345"}})
		if len(evs) != 1 {
			t.Fatalf("%d events for user 12345, want 1 (the wrong-key event must not be stored)", len(evs))
		}
		ev := evs[0]
		checks := []struct {
			name      string
			got, want any
		}{
			{"time", ev.Time, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
			{"method", str(ev.Method), "GET"},
			{"path", str(ev.Path), "/orders/42"},
			{"route", str(ev.Route), "/orders/{id}"},
			{"host", str(ev.Host), "api.acme.test"},
			{"status", *ev.Status, 200},
			{"latency_ms", *ev.LatencyMs, 75.0},
			{"response_bytes", *ev.ResponseBytes, int64(61)},
			{"ip", str(ev.IP), "61.48.220.123"},
			{"user_agent", str(ev.UserAgent), "Dalvik/2.1.0 (Linux; U; Android 5.0.2)"},
			// Not sent on the event: the company the user is linked to.
			{"company_id", str(ev.CompanyID), "acme"},
			{"source", ev.Source, "sdk"},
		}
		for _, c := range checks {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		}
		var meta map[string]any
		json.Unmarshal(ev.Metadata, &meta)
		wantMeta := map[string]any{"foo": "abc", "sdk_api_version": "1.1.0", "sdk_direction": "Incoming", "sdk_weight": 1.0, "sdk_session_token": "****x43f"}
		if !reflect.DeepEqual(meta, wantMeta) {
			t.Errorf("metadata %s, want %v", ev.Metadata, wantMeta)
		}
		if strings.Contains(string(ev.Metadata), "never-stored") || strings.Contains(string(ev.Metadata), "fwfrf") {
			t.Errorf("headers or bodies stored: %s", ev.Metadata)
		}
	})

	t.Run("attribution", func(t *testing.T) {
		for company, wantUsers := range map[string][]string{
			"acme":    {"12345"},      // linked by updateUser
			"globex":  {"67890"},      // linked in a users batch
			"initech": {"u-explicit"}, // logged on the event
		} {
			var users []string
			for _, ev := range e.events(url.Values{"company_id": {company}}) {
				users = append(users, str(ev.UserID))
			}
			if fmt.Sprint(sorted(users)) != fmt.Sprint(wantUsers) {
				t.Errorf("company %s has events of %v, want %v", company, users, wantUsers)
			}
		}
	})

	t.Run("middleware event", func(t *testing.T) {
		// Linked to acme by the middleware's updateUser, after the call.
		evs := mw.events(url.Values{"company_id": {"acme"}})
		if len(evs) != 1 {
			t.Fatalf("%d middleware events, want 1", len(evs))
		}
		ev := evs[0]
		if str(ev.Method) != "GET" || str(ev.Path) != "/widgets/7" || str(ev.Route) != "/widgets/{id}" || ev.Status == nil || *ev.Status != 200 ||
			!strings.HasPrefix(str(ev.Host), "127.0.0.1:") || ev.Source != "sdk" || time.Since(ev.Time) > time.Hour {
			t.Errorf("middleware event %+v", ev)
		}
		var meta map[string]any
		json.Unmarshal(ev.Metadata, &meta)
		if meta["via"] != "middleware" {
			t.Errorf("middleware metadata %s", ev.Metadata)
		}
	})

	t.Run("users and companies through the API", func(t *testing.T) { apiProfiles(t, e) })

	t.Run("users and companies", func(t *testing.T) {
		u, ok := e.user("12345")
		if !ok || str(u.company) != "acme" {
			t.Fatalf("user 12345: %+v", u)
		}
		wantMeta := map[string]any{
			"email": "john@acme.test", "plan": "free", "title": "Engineer", // the older batch update lost "plan" only
			"sdk_campaign": map[string]any{"utm_source": "newsletter"}, "sdk_ip_address": "61.48.220.123",
			"sdk_user_agent": "Mozilla/5.0 (X11; Linux x86_64)", "sdk_session_token": "****x43f",
		}
		if !reflect.DeepEqual(u.metadata, wantMeta) {
			t.Errorf("user 12345 metadata %v, want %v", u.metadata, wantMeta)
		}
		if u, _ := e.user("67890"); str(u.company) != "globex" || u.metadata["email"] != "mary@globex.test" {
			t.Errorf("user 67890: %+v", u)
		}
		c, ok := e.company("acme")
		// The plain-object update sent camelCase; the batch's later update
		// won "plan" and kept "employees".
		if !ok || str(c.domain) != "acme.test" || c.metadata["plan"] != "enterprise" || c.metadata["employees"] != 47.0 ||
			!reflect.DeepEqual(c.metadata["sdk_campaign"], map[string]any{"utmSource": "google", "utmMedium": "cpc"}) {
			t.Errorf("company acme: %+v %v", c, c.metadata)
		}
		if c, _ := e.company("globex"); str(c.domain) != "globex.test" || c.metadata["plan"] != "pro" {
			t.Errorf("company globex: %+v", c)
		}
		if c, _ := mw.company("initech"); str(c.domain) != "initech.test" {
			t.Errorf("company initech (middleware): %+v", c)
		}
		if u, _ := mw.user("mw-user"); str(u.company) != "acme" || u.metadata["source"] != "middleware" {
			t.Errorf("user mw-user (middleware): %+v", u)
		}
	})
}

// moesifNodeMinKey is the shortest application id moesif-nodejs accepts.
const moesifNodeMinKey = 50

// apiProfiles reads users and companies back through the query API, over
// the month of the test's events.
func apiProfiles(t *testing.T, e *env) {
	window := url.Values{"app_id": {e.appID}, "from": {"2026-02-01T00:00:00Z"}, "to": {"2026-04-01T00:00:00Z"}}.Encode()
	var u struct {
		User struct {
			CompanyID *string        `json:"company_id"`
			Metadata  map[string]any `json:"metadata"`
		} `json:"user"`
	}
	e.adminJSON("GET", "/api/v1/users/12345?"+window, nil, &u)
	if str(u.User.CompanyID) != "acme" || u.User.Metadata["title"] != "Engineer" || u.User.Metadata["plan"] != "free" {
		t.Errorf("GET /api/v1/users/12345: %+v", u.User)
	}
	var c struct {
		Company struct {
			Domain   *string        `json:"domain"`
			Metadata map[string]any `json:"metadata"`
		} `json:"company"`
	}
	e.adminJSON("GET", "/api/v1/companies/acme?"+window, nil, &c)
	if str(c.Company.Domain) != "acme.test" || c.Company.Metadata["plan"] != "enterprise" {
		t.Errorf("GET /api/v1/companies/acme: %+v", c.Company)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/testenv"
	"github.com/mediamesh/mediamesh/services/ingest/feed/feedtest"
)

// ingestWithAPIKey is an ingest client working with an API key that an ADMIN made for it: through
// the CMS gateway at gw and directly at the services in direct (by name; nil: none), it creates a source and
// triggers a run (X-API-Key and Authorization: ApiKey), is refused what its scopes do not cover
// (403) and, once the key is revoked, everything (401). It returns how long after the revocation
// was answered the key was refused at each place, and the id of the run it triggered.
func ingestWithAPIKey(t *testing.T, gw string, direct map[string]string, admin, feedURL string) ([]time.Duration, string, string) {
	t.Helper()
	code, out := call(t, "POST", gw+"/api/v1/auth/api-keys", admin, `{"name":"Podcast ingest client","scopes":["ingest:manage","ingest:run","ingest:read"]}`)
	if code != 201 {
		t.Fatalf("create the key: %d %s", code, out)
	}
	var key struct {
		ID, Key, Prefix string
	}
	if err := json.Unmarshal([]byte(out), &key); err != nil || !strings.HasPrefix(key.Key, "mmk_") || key.Prefix != key.Key[:12] {
		t.Fatalf("created key: %s", out)
	}
	withKey := func(method, url, body string) (int, string) {
		t.Helper()
		c, b, _ := callWith(t, method, url, "", body, "X-API-Key", key.Key)
		return c, b
	}
	withAuthorization := func(method, url, body string) (int, string) {
		t.Helper()
		c, b, _ := callWith(t, method, url, "", body, "Authorization", "ApiKey "+key.Key)
		return c, b
	}

	// Create a source and run it, with the key only.
	src := fmt.Sprintf(`{"name":"Sabah podcast","type":"rss","url":%q,"enabled":false,"target":{"default_kind":"podcast","default_language":"ar"}}`, feedURL)
	code, out = withKey("POST", gw+"/api/v1/ingest/sources", src)
	if code != 201 {
		t.Fatalf("create a source with the key: %d %s", code, out)
	}
	var source struct{ ID string }
	_ = json.Unmarshal([]byte(out), &source)
	code, out = withAuthorization("POST", gw+"/api/v1/ingest/sources/"+source.ID+"/runs", `{"full_refresh":true}`)
	if code != 202 {
		t.Fatalf("trigger a run with the key: %d %s", code, out)
	}
	var run struct{ ID string }
	_ = json.Unmarshal([]byte(out), &run)
	if direct != nil {
		if code, out := withKey("GET", direct[app.ServiceIngest]+"/api/v1/ingest/sources/"+source.ID, ""); code != 200 {
			t.Fatalf("read the source at the ingest service with the key: %d %s", code, out)
		}
	}

	// Outside its scopes: refused, at the gateway and at the services.
	refusals := []struct{ method, url, body string }{
		{"POST", gw + "/api/v1/cms/programs", `{"kind":"show","title":"t","slug":"api-key-refused","language":"ar"}`},
		{"GET", gw + "/api/v1/cms/programs", ""},
		{"GET", gw + "/api/v1/auth/users", ""},
		{"GET", gw + "/api/v1/auth/api-keys", ""},
		{"POST", gw + "/api/v1/auth/api-keys", `{"name":"child","scopes":["ingest:read"]}`},
	}
	if direct != nil {
		refusals = append(refusals, struct{ method, url, body string }{"GET", direct[app.ServiceCMS] + "/api/v1/cms/programs", ""},
			struct{ method, url, body string }{"POST", direct[app.ServiceAuth] + "/api/v1/auth/api-keys", `{"name":"child","scopes":["ingest:read"]}`})
	}
	for _, c := range refusals {
		if code, out := withKey(c.method, c.url, c.body); code != 403 {
			t.Errorf("%s %s with the key: %d %s, want 403", c.method, c.url, code, out)
		}
	}
	if code, _, _ := callWith(t, "GET", gw+"/api/v1/ingest/sources", "", "", "X-API-Key", "mmk_"+strings.Repeat("x", 43)); code != 401 {
		t.Errorf("an unknown key: %d, want 401", code)
	}

	// Its last use is recorded, without the secret.
	code, out = call(t, "GET", gw+"/api/v1/auth/api-keys/"+key.ID, admin, "")
	if code != 200 || !strings.Contains(out, `"last_used_at"`) || !strings.Contains(out, `"last_used_address":"127.0.0.1"`) || strings.Contains(out, key.Key) {
		t.Errorf("the key after use: %d %s", code, out)
	}

	// Revoked: refused everywhere within a second.
	places := map[string]string{"gateway": gw + "/api/v1/ingest/sources"}
	if direct != nil {
		places["ingest service"] = direct[app.ServiceIngest] + "/api/v1/ingest/sources"
	}
	for where, url := range places {
		if code, out := withKey("GET", url, ""); code != 200 {
			t.Fatalf("%s before the revocation: %d %s", where, code, out)
		}
	}
	if code, out := call(t, "DELETE", gw+"/api/v1/auth/api-keys/"+key.ID, admin, ""); code != 204 {
		t.Fatalf("revoke: %d %s", code, out)
	}
	revoked := time.Now()
	var lags []time.Duration
	for where, url := range places {
		for {
			code, out := withKey("GET", url, "")
			if code == 401 {
				lags = append(lags, time.Since(revoked))
				break
			}
			if time.Since(revoked) > 10*time.Second {
				t.Fatalf("%s: the revoked key still works after 10 s: %d %s", where, code, out)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return lags, source.ID, run.ID
}

// TestAPIKeyIngestAll: an ingest client with an API key creates a source and runs it in the
// all-in-one process (where services have no listener of their own: the gateway is the only
// place); the run ingests the feed.
func TestAPIKeyIngestAll(t *testing.T) {
	feeds := feedtest.FeedServer(t)
	cfg := app.Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminPassword = "api key admin password"
	cfg.Gateway.RateLimits = false // the test polls every 5 ms
	cfg.Ingest.AllowLoopback = true
	urls, _, _ := start(t, cfg)
	cms := urls["cms gateway"]
	admin := login(t, cms, "admin@mediamesh.local", "api key admin password")
	lags, source, _ := ingestWithAPIKey(t, cms, nil, admin, feeds.URL+"/podcast.xml")
	checkKeyLags(t, lags)
	if run := waitRun(t, cms, admin, source, 1); run.ItemsCreated == 0 {
		t.Errorf("the run the key triggered created nothing: %+v", run)
	}

	// A change made with a key is in the CMS audit trail with the key's id (and its owner as actor).
	code, out := call(t, "POST", cms+"/api/v1/auth/api-keys", admin, `{"name":"CI publisher","scopes":["content:write"]}`)
	var key struct {
		ID, Key string
		OwnerID string `json:"owner_id"`
	}
	if code != 201 || json.Unmarshal([]byte(out), &key) != nil {
		t.Fatalf("create a content key: %d %s", code, out)
	}
	code, out, _ = callWith(t, "POST", cms+"/api/v1/cms/programs", "", `{"kind":"show","title":"From CI","slug":"from-ci","language":"ar"}`, "X-API-Key", key.Key)
	var program struct{ ID string }
	if code != 201 || json.Unmarshal([]byte(out), &program) != nil {
		t.Fatalf("create a program with the key: %d %s", code, out)
	}
	code, out = call(t, "GET", cms+"/api/v1/cms/audit?entity_id="+program.ID, admin, "")
	if code != 200 || !strings.Contains(out, `"api_key_id":"`+key.ID+`"`) || !strings.Contains(out, `"actor_id":"`+key.OwnerID+`"`) {
		t.Errorf("the audit entry of a change made with a key: %d %s", code, out)
	}
}

// TestAPIKeyIngestSplit runs the same with auth, cms, ingest and the CMS gateway each in a process
// of its own over Kafka: the gateway and the services exchange the key with the auth service over
// HTTP and learn its revocation from auth.events.
func TestAPIKeyIngestSplit(t *testing.T) {
	brokers := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_BROKERS", "a Kafka broker (bash tools/kafka/start.sh; e.g. 127.0.0.1:9092)")
	feeds := feedtest.FeedServer(t)
	base := app.Default()
	base.Kafka.Brokers = strings.Split(brokers, ",")
	base.Auth.AdminPassword = "split api key admin password"
	base.Auth.AdminEmail = fmt.Sprintf("admin-%d@apikey.test", time.Now().UnixNano())
	base.Gateway.RateLimits = false
	base.Ingest.AccountPassword = "split api key ingest password"
	base.Ingest.AccountEmail = fmt.Sprintf("ingest-%d@apikey.test", time.Now().UnixNano())
	base.Ingest.CredentialsKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	base.Ingest.AllowLoopback = true
	// As startSplit, keeping the services' addresses to call them directly.
	direct := map[string]string{}
	for _, s := range app.AllServices {
		ep := base.Services.Endpoint(s)
		ep.Addr = testenv.FreeAddr(t)
		ep.URL = "http://" + ep.Addr
		direct[s] = ep.URL
	}
	for _, s := range []string{app.ServiceAuth, app.ServiceMetadata, app.ServiceCMS, app.ServiceIngest} {
		cfg := base
		cfg.Target = []string{s}
		cfg.DataDir = t.TempDir()
		cfg.Services.Endpoint(s).DatabaseURL = databasetest.PostgresURL(t)
		start(t, cfg)
	}
	gw := base
	gw.Target = []string{app.GatewayCMS}
	gw.DataDir = t.TempDir()
	gw.Gateway.DiscoveryAddr, gw.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	urls, _, _ := start(t, gw)
	cms := urls["cms gateway"]
	admin := login(t, cms, base.Auth.AdminEmail, base.Auth.AdminPassword)
	lags, _, _ := ingestWithAPIKey(t, cms, direct, admin, feeds.URL+"/podcast.xml")
	checkKeyLags(t, lags)
}

func checkKeyLags(t *testing.T, lags []time.Duration) {
	t.Helper()
	for _, l := range lags {
		if l > time.Second {
			t.Errorf("a revoked API key worked for %v after the revocation (want under 1 s): %v", l, lags)
		}
	}
	t.Logf("revoked API key refused after %v", lags)
}

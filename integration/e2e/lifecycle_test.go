package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// removalCycles is how many unpublish and republish rounds the lifecycle measures.
const removalCycles = 20

// api is a client of both gateways with an ADMIN token.
type api struct {
	t          *testing.T
	cms, disc  string
	token      string
	unique     string
	removalLag []time.Duration
}

// do calls the CMS gateway and decodes a JSON answer into out (when not nil); it fails the test
// unless the status is want. It returns the ETag.
func (a *api) do(method, path, body string, want int, out any, header ...string) string {
	a.t.Helper()
	code, resp, etag := callWith(a.t, method, a.cms+path, a.token, body, header...)
	if code != want {
		a.t.Fatalf("%s %s: %d, want %d: %s", method, path, code, want, resp)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(resp), out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, resp)
		}
	}
	return etag
}

// public reads the discovery gateway: its status and body.
func (a *api) public(path string) (int, string) {
	a.t.Helper()
	code, body, _ := callWith(a.t, "GET", a.disc+path, "", "")
	return code, body
}

// await polls the discovery gateway until path answers want (and contains text, when given),
// and returns how long that took.
func (a *api) await(path string, want int, text string) time.Duration {
	a.t.Helper()
	start := time.Now()
	deadline := start.Add(15 * time.Second)
	for {
		code, body := a.public(path)
		if code == want && (text == "" || strings.Contains(body, text)) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("GET %s: still %d %s, want %d with %q", path, code, body, want, text)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// awaitGone polls the discovery gateway until path answers 200 without text, and returns how long
// that took.
func (a *api) awaitGone(path, text string) time.Duration {
	a.t.Helper()
	start := time.Now()
	deadline := start.Add(15 * time.Second)
	for {
		code, body := a.public(path)
		if code == 200 && !strings.Contains(body, text) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("GET %s: still %d %s, want 200 without %q", path, code, body, text)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lifecycle takes a program and its episode through the whole editorial workflow on the CMS
// gateway and checks what the public discovery gateway shows at each step: drafts never, a
// published program with its published episode, edits, scheduling that fires without a request,
// unpublish and delete (measuring how long removal takes), purge, and the audit trail.
func lifecycle(t *testing.T, a *api) {
	var cat struct{ ID string }
	a.do("POST", "/api/v1/metadata/categories", fmt.Sprintf(`{"slug":"news-%s","names":{"en":"News","ar":"أخبار"}}`, a.unique), 201, &cat)

	var prog struct {
		ID      string
		Status  string
		Version int
	}
	etag := a.do("POST", "/api/v1/cms/programs", fmt.Sprintf(`{"kind":"show","title":"برنامج الصباح","slug":"sabah-%s","language":"ar","category_id":%q,"tags":["صباحي"]}`, a.unique, cat.ID), 201, &prog)
	if prog.Status != "draft" || etag != `"1"` {
		t.Fatalf("created program %+v, ETag %s", prog, etag)
	}
	var ep struct{ ID, Status string }
	a.do("POST", "/api/v1/cms/programs/"+prog.ID+"/episodes", `{"episode_number":1,"title":"الحلقة الأولى","duration_seconds":1800}`, 201, &ep)
	a.do("POST", "/api/v1/cms/programs", fmt.Sprintf(`{"kind":"show","title":"x","slug":"sabah-%s","language":"ar"}`, a.unique), 409, nil)
	a.do("POST", "/api/v1/cms/programs", fmt.Sprintf(`{"kind":"show","title":"x","slug":"other-%s","language":"ar","category_id":"0193a4b0-5c6d-7e8f-9a0b-1c2d3e4f5a6b"}`, a.unique), 422, nil)

	// A published episode of a draft program is not public; publishing the program shows both.
	a.do("POST", "/api/v1/cms/episodes/"+ep.ID+"/publish", "", 200, nil)
	if code, _ := a.public("/api/v1/discovery/programs/" + prog.ID); code != 404 {
		t.Fatalf("a draft program is public: %d", code)
	}
	etag = a.do("POST", "/api/v1/cms/programs/"+prog.ID+"/publish", "", 200, &prog)
	a.await("/api/v1/discovery/programs/"+prog.ID, 200, "أخبار")
	a.await("/api/v1/discovery/programs/"+prog.ID+"/episodes", 200, ep.ID)

	// Edits reach the public side; a stale If-Match is refused.
	if next := a.do("PATCH", "/api/v1/cms/programs/"+prog.ID, `{"title":"برنامج الصباح الجديد"}`, 200, nil, "If-Match", etag); next == etag {
		t.Fatalf("the ETag %s did not change with the edit", etag)
	}
	a.do("PATCH", "/api/v1/cms/programs/"+prog.ID, `{"title":"stale"}`, 412, nil, "If-Match", `"1"`)
	a.await("/api/v1/discovery/programs/"+prog.ID, 200, "برنامج الصباح الجديد")

	// It is searchable, in Arabic with or without the article and diacritics.
	search := "/api/v1/discovery/search?q=" + url.QueryEscape("صَباح") + "&limit=100"
	a.await(search, 200, prog.ID)

	// Unpublish removes it from browse and search; republish brings it back. Measured each round:
	// the time until both have let it go.
	for i := 0; i < removalCycles; i++ {
		a.do("POST", "/api/v1/cms/programs/"+prog.ID+"/unpublish", "", 200, nil)
		start := time.Now()
		a.await("/api/v1/discovery/programs/"+prog.ID, 404, "")
		a.awaitGone(search, prog.ID)
		a.removalLag = append(a.removalLag, time.Since(start))
		a.do("POST", "/api/v1/cms/programs/"+prog.ID+"/publish", "", 200, nil)
		a.await("/api/v1/discovery/programs/"+prog.ID, 200, "")
		a.await(search, 200, prog.ID)
	}

	// Scheduling: the program goes live at its time with no request.
	var later struct{ ID, Status string }
	a.do("POST", "/api/v1/cms/programs", fmt.Sprintf(`{"kind":"podcast","title":"Late show","slug":"late-%s","language":"en"}`, a.unique), 201, &later)
	at := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
	a.do("POST", "/api/v1/cms/programs/"+later.ID+"/publish", fmt.Sprintf(`{"publish_at":%q}`, at), 200, &later)
	if later.Status != "scheduled" {
		t.Fatalf("scheduled program: %+v", later)
	}
	if code, body := a.public("/api/v1/discovery/programs/" + later.ID); code != 404 {
		t.Fatalf("a scheduled program is public before its time: %d %s (publish_at %s)", code, body, at)
	}
	a.await("/api/v1/discovery/programs/"+later.ID, 200, "Late show")

	// Delete is soft and removes it from the public side; an ADMIN purges it for good.
	a.do("DELETE", "/api/v1/cms/programs/"+prog.ID, "", 204, nil)
	start := time.Now()
	a.await("/api/v1/discovery/programs/"+prog.ID, 404, "")
	a.awaitGone(search, prog.ID)
	a.removalLag = append(a.removalLag, time.Since(start))
	a.await("/api/v1/discovery/episodes/"+ep.ID, 404, "")
	a.do("POST", "/api/v1/cms/programs/"+prog.ID+"/publish", "", 409, nil)
	a.do("POST", "/api/v1/cms/programs/"+prog.ID+"/purge", "", 204, nil)
	a.do("GET", "/api/v1/cms/programs/"+prog.ID, "", 404, nil)

	var audit struct {
		Items []struct{ Action string }
	}
	a.do("GET", "/api/v1/cms/audit?entity_id="+prog.ID+"&limit=100", "", 200, &audit)
	var actions []string
	for _, e := range audit.Items {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{"created", "published", "updated", "unpublished", "deleted", "purged"} {
		if !slices.Contains(actions, want) {
			t.Fatalf("audit of the program %v lacks %q", actions, want)
		}
	}
}

// checkRemovalLag reports the removal lag and fails when its p99 is a second or more: unpublished
// and deleted content must leave the public side within one second of the CMS response.
func checkRemovalLag(t *testing.T, lags []time.Duration) {
	t.Helper()
	s := slices.Clone(lags)
	slices.Sort(s)
	p50, p99 := s[len(s)/2], s[(len(s)*99+99)/100-1]
	t.Logf("removal from browse and search after the CMS response, %d samples: p50 %v, p99 %v, max %v", len(s), p50, p99, s[len(s)-1])
	if p99 >= time.Second {
		t.Fatalf("removal p99 %v, want under 1s", p99)
	}
}

// TestContentLifecycleAll runs the lifecycle against `--target=all` on embedded defaults.
func TestContentLifecycleAll(t *testing.T) {
	cfg := app.Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminPassword = "lifecycle admin password"
	cfg.Gateway.RateLimits = false // the test polls the public side every 5ms
	urls, _, _ := start(t, cfg)
	a := &api{t: t, cms: urls["cms gateway"], disc: urls["discovery gateway"], unique: fmt.Sprint(time.Now().UnixNano())}
	a.token = login(t, a.cms, "admin@mediamesh.local", "lifecycle admin password")
	lifecycle(t, a)
	checkRemovalLag(t, a.removalLag)
}

// TestContentLifecycleSplit runs the lifecycle with every service in a process of its own, each on
// its own PostgreSQL database, events over Kafka and the gateways' cache in Redis.
func TestContentLifecycleSplit(t *testing.T) {
	brokers := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_BROKERS", "a Kafka broker (bash tools/kafka/start.sh; e.g. 127.0.0.1:9092)")
	redisURL := testenv.Get(t, "MEDIAMESH_TEST_REDIS_URL", "a Redis server, e.g. redis://127.0.0.1:6379/0")
	base := app.Default()
	base.Kafka.Brokers = strings.Split(brokers, ",")
	base.Redis.URL = redisURL
	base.Auth.AdminPassword = "split lifecycle admin password"
	base.Gateway.RateLimits = false // the test polls the public side every 5ms
	base.Auth.AdminEmail = fmt.Sprintf("admin-%d@split.test", time.Now().UnixNano())
	base.Ingest.AccountPassword = "split ingest account password"
	base.Ingest.CredentialsKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	// Search gets PostgreSQL full text.
	urls := startSplit(t, base, []string{app.ServiceAuth, app.ServiceMetadata, app.ServiceCMS, app.ServiceDiscovery, app.ServiceSearch, app.ServiceMedia, app.ServiceIngest}, app.GatewayDiscovery, app.GatewayCMS)
	a := &api{t: t, cms: urls["cms gateway"], disc: urls["discovery gateway"], unique: fmt.Sprint(time.Now().UnixNano())}
	a.token = login(t, a.cms, base.Auth.AdminEmail, base.Auth.AdminPassword)
	lifecycle(t, a)
	checkRemovalLag(t, a.removalLag)
}

// callWith is call with extra request headers (name, value, ...); it also returns the ETag.
func callWith(t *testing.T, method, url, token, body string, header ...string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("ETag")
}

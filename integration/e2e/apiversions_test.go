package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// deprecatedV1 are the v1 operations that v2 replaces (specs/openapi/discovery.yaml: deprecated,
// x-deprecated-at 2026-12-07, x-sunset 2027-06-30, the migration guide).
const (
	v1Deprecation = "@1796601600" // 2026-12-07T00:00:00Z
	v1Sunset      = "Wed, 30 Jun 2027 00:00:00 GMT"
	v1Guide       = `<https://github.com/mediamesh/mediamesh/blob/main/docs/api-v2-migration.md>; rel="deprecation"; type="text/html"`
)

// TestAPIVersionsAll runs the versions test against the composed process (--target=all).
func TestAPIVersionsAll(t *testing.T) {
	cfg := app.Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.AdminAddr = testenv.FreeAddr(t)
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminPassword = "versions admin password"
	cfg.Gateway.RateLimits = false // the test polls the public side
	urls, _, _ := start(t, cfg)
	apiVersions(t, urls["cms gateway"], urls["discovery gateway"], "http://"+cfg.AdminAddr, "admin@mediamesh.local", cfg.Auth.AdminPassword)
}

// TestAPIVersionsSplit runs it with the discovery service in a process of its own, behind a
// gateway that reaches it over HTTP (PostgreSQL, Kafka, Redis), so v2 crosses the remote proxy.
func TestAPIVersionsSplit(t *testing.T) {
	brokers := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_BROKERS", "a Kafka broker (bash tools/kafka/start.sh; e.g. 127.0.0.1:9092)")
	redisURL := testenv.Get(t, "MEDIAMESH_TEST_REDIS_URL", "a Redis server, e.g. redis://127.0.0.1:6379/0")
	base := app.Default()
	base.Kafka.Brokers = strings.Split(brokers, ",")
	base.Redis.URL = redisURL
	base.Auth.AdminPassword = "split versions admin password"
	base.Gateway.RateLimits = false
	base.Auth.AdminEmail = fmt.Sprintf("admin-%d@versions.test", time.Now().UnixNano())
	base.Ingest.AccountPassword = "split ingest account password"
	base.Ingest.CredentialsKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	startServices(t, &base, []string{app.ServiceAuth, app.ServiceMetadata, app.ServiceCMS, app.ServiceDiscovery, app.ServiceSearch, app.ServiceMedia, app.ServiceIngest})
	base.AdminAddr = testenv.FreeAddr(t) // the gateways' process, whose metrics the test reads
	urls := startGateways(t, base, app.GatewayDiscovery, app.GatewayCMS)
	apiVersions(t, urls["cms gateway"], urls["discovery gateway"], "http://"+base.AdminAddr, base.Auth.AdminEmail, base.Auth.AdminPassword)
}

// apiVersions publishes an Arabic and an English program with an episode each through the CMS
// gateway and reads them through the discovery gateway in v1 and v2: the same data (v2's language
// an object with names and direction, everything else equal, the same pages and cursors), the
// deprecation headers on the v1 operations v2 replaces (errors and cache hits included) and on no
// other, the same errors, each version's contract and the docs' picker, and the per-version,
// per-client usage metric on the admin address.
func apiVersions(t *testing.T, cms, disc, admin, email, password string) {
	a := &api{t: t, cms: cms, disc: disc, unique: fmt.Sprint(time.Now().UnixNano())}
	a.token = login(t, cms, email, password)
	var cat struct{ ID string }
	a.do("POST", "/api/v1/metadata/categories", fmt.Sprintf(`{"slug":"culture-%s","names":{"en":"Culture","ar":"ثقافة"}}`, a.unique), 201, &cat)
	type item struct{ ID string }
	var ar, en, arEp, enEp item
	a.do("POST", "/api/v1/cms/programs", fmt.Sprintf(`{"kind":"show","title":"مساء الثقافة","slug":"masa-%s","language":"ar","category_id":%q,"tags":["ثقافة"]}`, a.unique, cat.ID), 201, &ar)
	a.do("POST", "/api/v1/cms/programs", fmt.Sprintf(`{"kind":"podcast","title":"Evening Culture","slug":"evening-%s","language":"en","category_id":%q,"tags":["culture"]}`, a.unique, cat.ID), 201, &en)
	a.do("POST", "/api/v1/cms/programs/"+ar.ID+"/episodes", `{"season_number":1,"episode_number":1,"title":"الحلقة الأولى","duration_seconds":1800}`, 201, &arEp)
	a.do("POST", "/api/v1/cms/programs/"+en.ID+"/episodes", `{"episode_number":1,"title":"Episode one","duration_seconds":900}`, 201, &enEp)
	for _, id := range []string{arEp.ID, enEp.ID} {
		a.do("POST", "/api/v1/cms/episodes/"+id+"/publish", "", 200, nil)
	}
	for _, id := range []string{ar.ID, en.ID} {
		a.do("POST", "/api/v1/cms/programs/"+id+"/publish", "", 200, nil)
	}
	slug := "culture-" + a.unique
	a.await("/api/v1/discovery/programs?category="+slug, 200, ar.ID)
	a.await("/api/v1/discovery/programs?category="+slug, 200, en.ID)
	a.await("/api/v1/discovery/latest?category="+slug, 200, arEp.ID)
	a.await("/api/v1/discovery/latest?category="+slug, 200, enEp.ID)

	langs := map[string]map[string]any{
		"ar": {"code": "ar", "name": "Arabic", "native_name": "العربية", "direction": "rtl"},
		"en": {"code": "en", "name": "English", "native_name": "English", "direction": "ltr"},
	}
	// Each pair is one read in v1 and in v2; list answers compare item by item.
	pairs := []struct{ v1, v2 string }{
		{"/api/v1/discovery/programs?category=" + slug, "/api/v2/discovery/programs?category=" + slug},
		{"/api/v1/discovery/programs?category=" + slug + "&sort=title", "/api/v2/discovery/programs?category=" + slug + "&sort=title"},
		{"/api/v1/discovery/programs?category=" + slug + "&language=ar", "/api/v2/discovery/programs?category=" + slug + "&language=ar"},
		{"/api/v1/discovery/programs/" + ar.ID, "/api/v2/discovery/programs/" + ar.ID},
		{"/api/v1/discovery/programs/" + en.ID, "/api/v2/discovery/programs/" + en.ID},
		{"/api/v1/discovery/programs/" + ar.ID + "/episodes", "/api/v2/discovery/programs/" + ar.ID + "/episodes"},
		{"/api/v1/discovery/episodes/" + arEp.ID, "/api/v2/discovery/episodes/" + arEp.ID},
		{"/api/v1/discovery/episodes/" + enEp.ID, "/api/v2/discovery/episodes/" + enEp.ID},
		{"/api/v1/discovery/latest?category=" + slug, "/api/v2/discovery/latest?category=" + slug},
		{"/api/v1/discovery/latest?category=" + slug + "&limit=1", "/api/v2/discovery/latest?category=" + slug + "&limit=1"},
	}
	for _, p := range pairs {
		for round := range 2 { // the second read of each is answered from the gateway cache
			r1, b1 := get(t, disc+p.v1)
			r2, b2 := get(t, disc+p.v2)
			if r1.StatusCode != 200 || r2.StatusCode != 200 {
				t.Fatalf("%s: %d %s; %s: %d %s", p.v1, r1.StatusCode, b1, p.v2, r2.StatusCode, b2)
			}
			checkDeprecated(t, p.v1, r1, true)
			checkDeprecated(t, p.v2, r2, false)
			var j1, j2 map[string]any
			mustJSON(t, b1, &j1)
			mustJSON(t, b2, &j2)
			items1, list := j1["items"].([]any)
			items2, _ := j2["items"].([]any)
			if !list {
				items1, items2 = []any{j1}, []any{j2}
			} else if fmt.Sprint(j1["page"]) != fmt.Sprint(j2["page"]) {
				t.Errorf("%s: page %v in v1, %v in v2", p.v2, j1["page"], j2["page"])
			}
			if len(items1) == 0 || len(items1) != len(items2) {
				t.Fatalf("%s: %d items in v1, %d in v2", p.v2, len(items1), len(items2))
			}
			for i := range items1 {
				o1, o2 := items1[i].(map[string]any), items2[i].(map[string]any)
				code, _ := o1["language"].(string)
				if fmt.Sprint(o2["language"]) != fmt.Sprint(langs[code]) {
					t.Errorf("%s item %d: v2 language %v for v1's %q", p.v2, i, o2["language"], code)
				}
				o1["language"], o2["language"] = nil, nil
				if fmt.Sprint(o1) != fmt.Sprint(o2) {
					t.Errorf("%s item %d (round %d): v1 %v\nv2 %v", p.v2, i, round, o1, o2)
				}
			}
			if round == 1 && (r1.Header.Get("X-Cache") != "HIT" || r2.Header.Get("X-Cache") != "HIT") {
				t.Errorf("%s read again: X-Cache %q in v1, %q in v2, want HIT", p.v2, r1.Header.Get("X-Cache"), r2.Header.Get("X-Cache"))
			}
			if !list && r1.Header.Get("ETag") == "" || !list && r2.Header.Get("ETag") == "" {
				t.Errorf("%s: no ETag (v1 %q, v2 %q)", p.v2, r1.Header.Get("ETag"), r2.Header.Get("ETag"))
			}
		}
	}
	// An edit reaches v2's cached reads as v1's (the same cache scopes, invalidated together).
	a.do("PATCH", "/api/v1/cms/programs/"+ar.ID, `{"title":"مساء الثقافة الجديد"}`, 200, nil)
	a.await("/api/v2/discovery/programs/"+ar.ID, 200, "مساء الثقافة الجديد")
	a.await("/api/v2/discovery/programs?category="+slug, 200, "مساء الثقافة الجديد")
	a.await("/api/v2/discovery/latest?category="+slug, 200, "مساء الثقافة الجديد")

	// A v1 cursor pages v2 alike (one read model, one cursor format).
	_, b := get(t, disc+"/api/v1/discovery/programs?category="+slug+"&limit=1")
	var page struct {
		Items []struct{ ID string }
		Page  struct {
			NextCursor string `json:"next_cursor"`
		}
	}
	mustJSON(t, b, &page)
	_, b1 := get(t, disc+"/api/v1/discovery/programs?category="+slug+"&limit=1&cursor="+page.Page.NextCursor)
	_, b2 := get(t, disc+"/api/v2/discovery/programs?category="+slug+"&limit=1&cursor="+page.Page.NextCursor)
	var n1, n2 struct{ Items []struct{ ID string } }
	mustJSON(t, b1, &n1)
	mustJSON(t, b2, &n2)
	if page.Page.NextCursor == "" || len(n1.Items) != 1 || len(n2.Items) != 1 || n1.Items[0].ID != n2.Items[0].ID || n1.Items[0].ID == page.Items[0].ID {
		t.Errorf("the second page: v1 %s, v2 %s (first %v)", b1, b2, page.Items)
	}

	// Errors are the same problems, and a deprecated operation says so on them too.
	missing := "0193a4c2-7b1e-7c3a-9f7e-2d1c5b8a9e99"
	for _, c := range []struct {
		path       string
		code       int
		field      string
		deprecated bool
	}{
		{"/api/v1/discovery/programs/" + missing, 404, "", true},
		{"/api/v2/discovery/programs/" + missing, 404, "", false},
		{"/api/v2/discovery/episodes/" + missing, 404, "", false},
		{"/api/v1/discovery/programs?kind=opera", 400, "query.kind", true},
		{"/api/v2/discovery/programs?kind=opera", 400, "query.kind", false},
		{"/api/v2/discovery/latest?limit=1000", 400, "query.limit", false},
		{"/api/v2/discovery/programs/not-a-uuid", 400, "path.programId", false},
	} {
		r, body := get(t, disc+c.path)
		if r.StatusCode != c.code || r.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, c.field) {
			t.Errorf("GET %s: %d %s %s, want %d naming %q", c.path, r.StatusCode, r.Header.Get("Content-Type"), body, c.code, c.field)
		}
		checkDeprecated(t, c.path, r, c.deprecated)
	}
	// v1 operations v2 does not replace are not deprecated.
	for _, path := range []string{"/api/v1/discovery/categories", "/api/v1/discovery/languages", "/api/v1/discovery/search?q=culture"} {
		r, body := get(t, disc+path)
		if r.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, r.StatusCode, body)
		}
		checkDeprecated(t, path, r, false)
	}

	// Each version's contract, and the docs' picker between them.
	for v, want := range map[string]string{"v1": "/api/v1/discovery/programs", "v2": "/api/v2/discovery/programs"} {
		r, body := get(t, disc+"/openapi/"+v+".json")
		var doc struct {
			Info  struct{ Version string }
			Paths map[string]any
		}
		mustJSON(t, body, &doc)
		if r.StatusCode != 200 || doc.Paths[want] == nil || !strings.HasPrefix(doc.Info.Version, v[1:]+".") {
			t.Errorf("/openapi/%s.json: %d, version %s, has %s: %v", v, r.StatusCode, doc.Info.Version, want, doc.Paths[want] != nil)
		}
		for p := range doc.Paths {
			if !strings.HasPrefix(p, "/api/"+v+"/") {
				t.Errorf("/openapi/%s.json holds %s", v, p)
			}
		}
	}
	if _, body := get(t, disc+"/docs"); !strings.Contains(body, `"url":"/openapi/v1.json"`) || !strings.Contains(body, `"urls.primaryName": "v1"`) {
		t.Errorf("/docs has no version picker: %.500s", body)
	}

	// The usage metric names who calls which version: anonymous callers, a signed-in user and an
	// API key on v1's deprecated reads, an anonymous one on v2.
	code, out := call(t, "POST", cms+"/api/v1/auth/api-keys", a.token, `{"name":"Partner app still on v1","scopes":["ingest:read"]}`)
	if code != 201 {
		t.Fatalf("create a key: %d %s", code, out)
	}
	var key struct{ ID, Key string }
	mustJSON(t, out, &key)
	_, me := call(t, "GET", cms+"/api/v1/auth/me", a.token, "")
	var user struct{ ID string }
	mustJSON(t, me, &user)
	before := metricValues(t, admin)
	for range 3 {
		if c, _, _ := callWith(t, "GET", disc+"/api/v1/discovery/programs/"+ar.ID, "", "", "X-API-Key", key.Key); c != 200 {
			t.Fatalf("v1 with an API key: %d", c)
		}
	}
	for range 2 {
		if c, _, _ := callWith(t, "GET", disc+"/api/v1/discovery/programs/"+ar.ID, a.token, ""); c != 200 {
			t.Fatalf("v1 with a token: %d", c)
		}
	}
	if c, _, _ := callWith(t, "GET", disc+"/api/v2/discovery/programs/"+ar.ID, "", ""); c != 200 {
		t.Fatalf("v2: %d", c)
	}
	after := metricValues(t, admin)
	for series, want := range map[string]float64{
		`client="key:` + key.ID + `",deprecated="true",version="v1"`:   3,
		`client="user:` + user.ID + `",deprecated="true",version="v1"`: 2,
		`client="anonymous",deprecated="false",version="v2"`:           1,
	} {
		if got := after[series] - before[series]; got != want {
			t.Errorf("mediamesh_api_version_requests_total{%s} went up by %v, want %v", series, got, want)
		}
	}
}

// checkDeprecated checks the deprecation headers of an answer: all of them when deprecated, none
// otherwise.
func checkDeprecated(t *testing.T, path string, r *http.Response, deprecated bool) {
	t.Helper()
	dep, sunset, link := r.Header.Get("Deprecation"), r.Header.Get("Sunset"), strings.Join(r.Header.Values("Link"), ", ")
	if !deprecated {
		if dep != "" || sunset != "" || strings.Contains(link, `rel="deprecation"`) {
			t.Errorf("GET %s is not deprecated but answers Deprecation %q, Sunset %q, Link %q", path, dep, sunset, link)
		}
		return
	}
	if dep != v1Deprecation || sunset != v1Sunset || !strings.Contains(link, v1Guide) {
		t.Errorf("GET %s: Deprecation %q, Sunset %q, Link %q; want %q, %q, %q", path, dep, sunset, link, v1Deprecation, v1Sunset, v1Guide)
	}
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, b.String()
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v: %.300s", err, s)
	}
}

var versionSeries = regexp.MustCompile(`(?m)^mediamesh_api_version_requests_total\{(.*)\} (\S+)$`)

// metricValues reads mediamesh_api_version_requests_total from the admin address, by label set.
func metricValues(t *testing.T, admin string) map[string]float64 {
	t.Helper()
	_, body := get(t, admin+"/metrics")
	out := map[string]float64{}
	for _, m := range versionSeries.FindAllStringSubmatch(body, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		out[m[1]] = v
	}
	return out
}

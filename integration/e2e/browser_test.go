package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// TestBrowserCORS loads a page of another origin in a real browser (headless Chromium) that calls
// the public gateway's REST API and GraphQL (a JSON POST: preflighted) with fetch, and the CMS
// gateway, which allows no origin by default: the public calls succeed, the CMS call is blocked.
// Then the gateway's docs page must render under its Content-Security-Policy.
func TestBrowserCORS(t *testing.T) {
	chromium := testenv.Get(t, "MEDIAMESH_TEST_CHROMIUM", "a Chromium binary (apt-get install chromium)")
	cfg := app.Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminPassword = "browser admin password"
	urls, _, _ := start(t, cfg)
	disc, cms := urls["discovery gateway"], urls["cms gateway"]

	page := `<!doctype html><html><body><pre id="out">pending</pre><script>
const out = [];
const step = (name, p) => p.then(r => r.ok ? r.json().then(() => out.push(name + ":ok:" + r.status)) : out.push(name + ":status:" + r.status))
  .catch(e => out.push(name + ":blocked"));
Promise.all([
  step("rest", fetch(` + "`" + disc + `/api/v1/discovery/programs?limit=1` + "`" + `)),
  step("graphql", fetch(` + "`" + disc + `/graphql` + "`" + `, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({query: "{ languages { code } }"})})),
  step("cms", fetch(` + "`" + cms + `/api/v1/auth/login` + "`" + `, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({email: "a@b.c", password: "x"})})),
]).then(() => { out.sort(); document.getElementById("out").textContent = "done " + out.join(" "); });
</script></body></html>`
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	}))
	defer site.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir="+chromiumProfile(t), "--virtual-time-budget=10000", "--dump-dom", site.URL).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	for _, want := range []string{"rest:ok:200", "graphql:ok:200", "cms:blocked"} {
		if !strings.Contains(dom, want) {
			t.Errorf("page result lacks %s: %s", want, dom)
		}
	}

	// The docs page renders under its Content-Security-Policy, which forbids framing it.
	resp, err := http.Get(disc + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self' 'sha256-") {
		t.Errorf("docs CSP %q", csp)
	}
	out, err = exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir="+chromiumProfile(t), "--virtual-time-budget=10000", "--dump-dom", disc+"/docs").Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if !strings.Contains(string(out), "/api/v1/discovery/programs/{programId}/episodes") {
		t.Errorf("Swagger UI did not render the contract under the CSP: %.500s", out)
	}
	// Its top bar picks between the major versions (v1 open first).
	if !strings.Contains(string(out), `<option value="/openapi/v2.json">v2</option>`) {
		t.Errorf("Swagger UI shows no version picker with v2: %.500s", out)
	}
}

// TestBrowserGraphiQL opens the public gateway's /graphql in a real browser (headless Chromium,
// driven over the DevTools protocol): GraphiQL renders under the page's Content-Security-Policy,
// shows the schema it read by introspection in its docs, runs the query of its editor against the
// gateway and shows the data in its response pane, opens its settings dialog (whose inline styles
// the policy must allow), and the page reports no error on the way. With introspection off, the
// page runs queries all the same, without asking for the schema.
func TestBrowserGraphiQL(t *testing.T) {
	chromium := testenv.Get(t, "MEDIAMESH_TEST_CHROMIUM", "a Chromium binary (apt-get install chromium)")
	for _, introspection := range []bool{true, false} {
		t.Run(fmt.Sprintf("introspection=%v", introspection), func(t *testing.T) {
			cfg := app.Default()
			cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
			cfg.Gateway.GraphQLIntrospection = introspection
			cfg.DataDir = t.TempDir()
			cfg.Auth.AdminPassword = "browser admin password"
			urls, _, _ := start(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			b := newBrowser(t, ctx, chromium)
			b.navigate(urls["discovery gateway"] + "/graphql")
			if !b.waitFor(`document.querySelector(".graphiql-container .graphiql-execute-button")`, 20*time.Second) {
				dom, _ := b.eval("document.body.outerHTML")
				t.Fatalf("GraphiQL did not render: %.1000s; problems: %q", dom, b.Problems)
			}

			b.click(`.graphiql-sidebar button[aria-label="Show Documentation Explorer"]`)
			docs, want := `(document.querySelector(".graphiql-doc-explorer") || {}).innerText || ""`, "query: Query"
			if !introspection {
				want = "No GraphQL schema available"
			}
			if !b.waitFor(docs+".includes("+strconv.Quote(want)+")", 10*time.Second) {
				v, _ := b.eval(docs)
				t.Errorf("the docs pane lacks %q: %s", want, v)
			}

			b.click(".graphiql-execute-button")
			response := `(document.querySelector(".graphiql-response .CodeMirror") || {CodeMirror: {getValue: () => ""}}).CodeMirror.getValue()`
			if !b.waitFor(response+`.includes('"data"')`, 20*time.Second) {
				v, _ := b.eval(response)
				t.Fatalf("the response pane shows no data: %s; problems: %q", v, b.Problems)
			}
			var res struct {
				Data struct {
					Programs struct{ Edges []any } `json:"programs"`
				} `json:"data"`
				Errors []any `json:"errors"`
			}
			v, _ := b.eval(response)
			var text string
			if err := json.Unmarshal(v, &text); err != nil || json.Unmarshal([]byte(text), &res) != nil || res.Errors != nil || res.Data.Programs.Edges == nil {
				t.Errorf("the response pane: %s", v)
			}

			b.click(`[aria-label="Open settings dialog"]`)
			if !b.waitFor(`document.querySelector('[role="dialog"]')`, 5*time.Second) {
				t.Error("the settings dialog did not open")
			}
			if _, err := b.eval("1"); err != nil { // collects what the page reported meanwhile
				t.Fatal(err)
			}
			if len(b.Problems) > 0 {
				t.Errorf("the page reported errors: %q", b.Problems)
			}
		})
	}
}

// chromiumProfile returns a new directory for a Chromium profile, removed when the test ends. It
// is not a t.TempDir: Chromium's helper processes may still write to it for a moment after the
// browser exits, which would fail the test's own cleanup; this one retries for a few seconds.
func chromiumProfile(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mediamesh-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return dir
}

package mediamesh

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/testenv"
)

// TestBrowserCORS loads a page of another origin in a real browser (headless Chromium) that calls
// the public gateway's REST API and GraphQL (a JSON POST: preflighted) with fetch, and the CMS
// gateway, which allows no origin by default: the public calls succeed, the CMS call is blocked.
// Then the gateway's docs page must render under its Content-Security-Policy.
func TestBrowserCORS(t *testing.T) {
	chromium := testenv.Get(t, "MEDIAMESH_TEST_CHROMIUM", "a Chromium binary (apt-get install chromium)")
	cfg := Default()
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
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=10000", "--dump-dom", site.URL).Output()
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
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=10000", "--dump-dom", disc+"/docs").Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if !strings.Contains(string(out), "/api/v1/discovery/programs/{programId}/episodes") {
		t.Errorf("Swagger UI did not render the contract under the CSP: %.500s", out)
	}
}

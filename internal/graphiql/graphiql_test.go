package graphiql

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// browserAccept is what Chromium sends when it opens a page.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"

// api answers every request it gets as the GraphQL endpoint would, so a test sees who answered.
var api = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"data":null}`))
})

func get(h http.Handler, target, accept string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestPage: a browser that opens the endpoint gets the page, with its security headers, pointed at
// the endpoint and its versioned assets; API clients (JSON, or any request with an operation) and
// other methods reach the endpoint.
func TestPage(t *testing.T) {
	h := New(Config{Endpoint: "/graphql", Title: "Test <API>", DefaultQuery: `{ a(b: "<c>") }`, Introspection: true}).Page(api)
	rec := get(h, "/graphql", browserAccept)
	body := rec.Body.String()
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("page: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") || strings.Contains(csp, "*") {
		t.Errorf("CSP %q allows more than the page's own scripts", csp)
	}
	if rec.Header().Get("X-Frame-Options") != "DENY" || rec.Header().Get("Vary") != "Accept" {
		t.Errorf("headers: %v", rec.Header())
	}
	for _, want := range []string{
		`<title>Test &lt;API&gt;</title>`, `data-endpoint="/graphql"`, `data-introspection="true"`,
		`data-default-query="{ a(b: &#34;&lt;c&gt;&#34;) }"`, `src="/graphql/assets/` + version + `/playground.js"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s:\n%s", want, body)
		}
	}
	if regexp.MustCompile(`<script>|https?://`).MatchString(body) {
		t.Errorf("page has an inline script or a URL of another origin:\n%s", body)
	}
	if off := get(New(Config{Endpoint: "/graphql"}).Page(api), "/graphql", browserAccept); !strings.Contains(off.Body.String(), `data-introspection="false"`) {
		t.Errorf("without introspection: %s", off.Body)
	}

	for _, c := range []struct{ name, target, accept string }{
		{"no Accept", "/graphql", ""},
		{"anything", "/graphql", "*/*"},
		{"JSON", "/graphql", "application/json"},
		{"GraphQL response", "/graphql", "application/graphql-response+json, application/json;q=0.9"},
		{"JSON before HTML", "/graphql", "application/json, text/html;q=0.5"},
		{"HTML refused", "/graphql", "text/html;q=0, */*"},
		{"a query", "/graphql?query=%7Ba%7D", browserAccept},
		{"a persisted query", `/graphql?extensions={"persistedQuery":{"version":1,"sha256Hash":"00"}}`, browserAccept},
	} {
		if rec := get(h, c.target, c.accept); rec.Body.String() != `{"data":null}` || rec.Header().Get("Vary") != "Accept" {
			t.Errorf("%s: got %q (Vary %q), want the endpoint's answer", c.name, rec.Body.String(), rec.Header().Get("Vary"))
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{a}"}`))
	req.Header.Set("Accept", browserAccept)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Body.String() != `{"data":null}` || rec.Header().Get("Vary") != "" {
		t.Errorf("POST: %q, Vary %q", rec.Body, rec.Header().Get("Vary"))
	}
}

// TestAssets: the page's assets are the embedded files, byte for byte those of the pinned npm
// packages (when node_modules is there), served with their types and kept for a year; any other
// path, or another version's, is not found.
func TestAssets(t *testing.T) {
	p := New(Config{Endpoint: "/graphql"})
	h := p.Assets()
	prefix := "/graphql/assets/" + version + "/"
	page := get(p.Page(api), "/graphql", browserAccept).Body.String()
	for name, typ := range map[string]string{
		"graphiql/graphiql.min.js":              "text/javascript; charset=utf-8",
		"graphiql/graphiql.min.css":             "text/css; charset=utf-8",
		"react/react.production.min.js":         "text/javascript; charset=utf-8",
		"react-dom/react-dom.production.min.js": "text/javascript; charset=utf-8",
		"playground.js":                         "text/javascript; charset=utf-8",
		"graphiql/LICENSE":                      "text/plain; charset=utf-8",
		"react/LICENSE":                         "text/plain; charset=utf-8",
		"react-dom/LICENSE":                     "text/plain; charset=utf-8",
	} {
		rec := get(h, prefix+name, "")
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != typ || rec.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("%s: %d %q %q", name, rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"))
			continue
		}
		if !strings.HasSuffix(name, "LICENSE") && !strings.Contains(page, `"`+prefix+name+`"`) {
			t.Errorf("the page does not load %s", name)
		}
		embedded, err := files.ReadFile(assets[name])
		if err != nil || !bytes.Equal(rec.Body.Bytes(), embedded) || len(embedded) == 0 {
			t.Errorf("%s: served %d bytes, not the embedded %d (%v)", name, rec.Body.Len(), len(embedded), err)
		}
		if npm := npmFile(name); npm != "" {
			if want, err := os.ReadFile(npm); err == nil && !bytes.Equal(embedded, want) {
				t.Errorf("%s differs from %s: run make generate", name, npm)
			}
		}
	}
	for _, path := range []string{
		prefix + "nope.js", prefix, prefix + "graphiql/graphiql.min.js.map", prefix + "../graphiql.go",
		"/graphql/assets/000000000000/playground.js", "/graphql/assets/playground.js",
	} {
		if rec := get(h, path, ""); rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, rec.Code)
		}
	}
}

// npmFile is the file of node_modules an asset is copied from (see the Makefile's generate).
func npmFile(asset string) string {
	dir, file := filepath.Split(asset)
	switch dir {
	case "graphiql/":
		return filepath.Join("..", "..", "node_modules", "graphiql", file)
	case "react/", "react-dom/":
		if file != "LICENSE" {
			file = filepath.Join("umd", file)
		}
		return filepath.Join("..", "..", "node_modules", dir, file)
	}
	return ""
}

// TestWants: which Accept headers are a browser's.
func TestWants(t *testing.T) {
	for accept, want := range map[string]bool{
		browserAccept:                       true,
		"text/html":                         true,
		"TEXT/HTML; charset=utf-8":          true,
		"text/html, application/json":       true,
		"application/json;q=0.9, text/html": true,
		"text/html;q=0.5, application/json": false,
		"text/html;q=0.5, application/*":    false,
		"text/html;q=0.5, */*;q=0.4":        true,
		"text/*":                            false,
		"*/*":                               false,
		"":                                  false,
		"text/html;q=0":                     false,
		"text/html;q=x":                     false,
		"application/graphql-response+json": false,
		"text/html;level=1;q=0.8, application/json;q=0.9": false,
	} {
		req := httptest.NewRequest(http.MethodGet, "/graphql", nil)
		req.Header.Set("Accept", accept)
		if got := Wants(req); got != want {
			t.Errorf("Accept %q: %v, want %v", accept, got, want)
		}
	}
}

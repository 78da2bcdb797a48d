// Package graphiql serves GraphiQL, the in-browser GraphQL IDE, in front of a GraphQL endpoint: a
// browser that opens the endpoint gets the page, API clients get the endpoint. The assets in dist/
// are the UMD builds of the graphiql, react and react-dom npm packages pinned in package.json,
// copied by `make generate` with their licenses; no CDN is involved.
package graphiql

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
)

//go:embed dist playground.js
var files embed.FS

// assets are the files the page loads, by their path under the assets prefix.
var assets = map[string]string{
	"graphiql/graphiql.min.js":              "dist/graphiql/graphiql.min.js",
	"graphiql/graphiql.min.css":             "dist/graphiql/graphiql.min.css",
	"graphiql/LICENSE":                      "dist/graphiql/LICENSE",
	"react/react.production.min.js":         "dist/react/react.production.min.js",
	"react/LICENSE":                         "dist/react/LICENSE",
	"react-dom/react-dom.production.min.js": "dist/react-dom/react-dom.production.min.js",
	"react-dom/LICENSE":                     "dist/react-dom/LICENSE",
	"playground.js":                         "playground.js",
}

// version names the embedded assets: the start of the SHA-256 of them all. It is part of their
// URLs, so browsers may keep them for good and a new build's are new URLs.
var version = func() string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(assets)) {
		b, err := fs.ReadFile(files, assets[name])
		if err != nil {
			panic(err) // the embedded tree is fixed at build time
		}
		h.Write([]byte(name + "\x00" + strconv.Itoa(len(b)) + "\x00"))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// csp lets the page run the scripts of its own origin only, talk to its own origin only, and never
// be framed. Styles may be inline: GraphiQL's dialogs add <style> elements of their own (scroll
// locking, sized at run time, so no hash can name them). Its fonts and icons are data: URLs.
const csp = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

var page = template.Must(template.New("graphiql").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{.Assets}}/graphiql/graphiql.min.css">
<style>body { margin: 0; } #graphiql { height: 100dvh; }</style>
</head>
<body>
<div id="graphiql" data-endpoint="{{.Endpoint}}" data-introspection="{{.Introspection}}" data-default-query="{{.DefaultQuery}}">Loading GraphiQL…</div>
<script src="{{.Assets}}/react/react.production.min.js"></script>
<script src="{{.Assets}}/react-dom/react-dom.production.min.js"></script>
<script src="{{.Assets}}/graphiql/graphiql.min.js"></script>
<script src="{{.Assets}}/playground.js"></script>
</body>
</html>
`))

// Config describes the endpoint a playground serves.
type Config struct {
	// Endpoint is the path of the GraphQL endpoint (e.g. "/graphql"); the page is served there to
	// browsers and its assets under Endpoint+"/assets/".
	Endpoint string
	// Title is the page's title.
	Title string
	// DefaultQuery fills the editor on a first visit.
	DefaultQuery string
	// Introspection tells whether the endpoint answers introspection; without it the page runs
	// queries without asking for the schema (no docs or completion).
	Introspection bool
}

// Playground serves GraphiQL for one endpoint.
type Playground struct {
	page   []byte
	assets string // the assets' URL prefix, version included
}

// New returns the playground of cfg's endpoint.
func New(cfg Config) *Playground {
	p := &Playground{assets: AssetsPath(cfg.Endpoint) + version}
	var b bytes.Buffer
	err := page.Execute(&b, map[string]any{
		"Title": cfg.Title, "Endpoint": cfg.Endpoint, "Assets": p.assets,
		"Introspection": strconv.FormatBool(cfg.Introspection), "DefaultQuery": cfg.DefaultQuery,
	})
	if err != nil {
		panic(err) // the template and its data are fixed
	}
	p.page = b.Bytes()
	return p
}

// AssetsPath is where the assets of endpoint's playground are served (Assets' mount point).
func AssetsPath(endpoint string) string { return strings.TrimSuffix(endpoint, "/") + "/assets/" }

// Page serves the page to a browser that opens the endpoint (see Wants) and everything else with
// api. Its GET answers vary by Accept.
func (p *Playground) Page(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Add("Vary", "Accept")
		}
		if !Wants(r) {
			api.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(p.page)
	})
}

// Assets serves the page's files under AssetsPath(endpoint)+version+"/", to be kept for a year;
// it is mounted at AssetsPath(endpoint).
func (p *Playground) Assets() http.Handler {
	prefix := p.assets + "/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := assets[strings.TrimPrefix(r.URL.Path, prefix)]
		if !ok || !strings.HasPrefix(r.URL.Path, prefix) || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		if path.Base(name) == "LICENSE" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		http.ServeFileFS(w, r, files, name)
	})
}

// Wants reports whether r is a browser opening the endpoint: a GET that asks for no operation (no
// query or persisted-query extensions) and accepts HTML at least as much as JSON. Any other request
// is the endpoint's.
func Wants(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	if q := r.URL.Query(); q.Has("query") || q.Has("extensions") {
		return false
	}
	accept := strings.Join(r.Header.Values("Accept"), ",")
	html := quality(accept, "text/html")
	return html > 0 && html >= max(quality(accept, "application/json"), quality(accept, "application/graphql-response+json"))
}

// quality is the q value accept gives to media type typ (lower case): that of the range naming
// it, else of typ's "type/*", else of "*/*"; 0 when none does. For text/html only the range naming
// it counts, so a client that accepts anything is not taken for a browser.
func quality(accept, typ string) float64 {
	major, _, _ := strings.Cut(typ, "/")
	exact, group, all := -1.0, -1.0, -1.0
	for _, rng := range strings.Split(accept, ",") {
		mt, params, _ := strings.Cut(rng, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
					q = f
				} else {
					q = 0
				}
			}
		}
		switch mt {
		case typ:
			exact = max(exact, q)
		case major + "/*":
			group = max(group, q)
		case "*/*":
			all = max(all, q)
		}
	}
	switch {
	case exact >= 0:
		return exact
	case typ == "text/html":
		return 0
	case group >= 0:
		return group
	case all >= 0:
		return all
	}
	return 0
}

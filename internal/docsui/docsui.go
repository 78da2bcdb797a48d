// Package docsui serves Swagger UI for a gateway's contract. The assets in dist/ are copied by
// `make generate` from the swagger-ui-dist npm package pinned in package.json; no CDN is involved.
package docsui

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed dist
var dist embed.FS

var page = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="icon" type="image/png" href="{{.Prefix}}/favicon-32x32.png">
<link rel="stylesheet" href="{{.Prefix}}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{{.Prefix}}/swagger-ui-bundle.js"></script>
{{if .Standalone}}<script src="{{.Prefix}}/swagger-ui-standalone-preset.js"></script>
{{end}}<script>{{.Script}}</script>
</body>
</html>
`))

// Handler serves the UI under prefix (e.g. "/docs"), reading the contract from specURL.
func Handler(prefix, title, specURL string) http.Handler {
	spec, _ := json.Marshal(specURL)
	return handler(prefix, title, false, "window.ui = SwaggerUIBundle({url: "+string(spec)+`, dom_id: "#swagger-ui", deepLinking: true, persistAuthorization: true});`)
}

// Spec is one document of the version picker: its name (v1, v2) and where it is served.
type Spec struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// VersionsHandler serves the UI under prefix with a picker of specs in its top bar (Swagger UI's
// standalone layout), opening primary (the newest version, say) first.
func VersionsHandler(prefix, title string, specs []Spec, primary string) http.Handler {
	urls, _ := json.Marshal(specs)
	name, _ := json.Marshal(primary)
	return handler(prefix, title, true, "window.ui = SwaggerUIBundle({urls: "+string(urls)+`, "urls.primaryName": `+string(name)+
		`, dom_id: "#swagger-ui", deepLinking: true, persistAuthorization: true, presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"});`)
}

func handler(prefix, title string, standalone bool, script string) http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix(prefix, http.FileServer(http.FS(sub)))
	sum := sha256.Sum256([]byte(script))
	// The page runs its own scripts only (the bundle, and the one inline script by its hash), is
	// never framed (clickjacking), and talks to this origin only.
	csp := "default-src 'self'; script-src 'self' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("X-Frame-Options", "DENY")
		rest := strings.TrimPrefix(r.URL.Path, prefix)
		if rest == "" || rest == "/" || rest == "/index.html" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_ = page.Execute(w, map[string]any{"Prefix": prefix, "Title": title, "Script": template.JS(script), "Standalone": standalone})
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}

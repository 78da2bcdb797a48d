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
<script>{{.Script}}</script>
</body>
</html>
`))

// Handler serves the UI under prefix (e.g. "/docs"), reading the contract from specURL.
func Handler(prefix, title, specURL string) http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix(prefix, http.FileServer(http.FS(sub)))
	spec, _ := json.Marshal(specURL)
	script := "window.ui = SwaggerUIBundle({url: " + string(spec) + `, dom_id: "#swagger-ui", deepLinking: true, persistAuthorization: true});`
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
			_ = page.Execute(w, map[string]any{"Prefix": prefix, "Title": title, "Script": template.JS(script)})
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}

package docsui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler("/docs", "MediaMesh CMS Gateway", "/openapi.json")
	for path, want := range map[string]string{
		"/docs":                      `url: "/openapi.json"`,
		"/docs/":                     "/docs/swagger-ui-bundle.js",
		"/docs/swagger-ui.css":       ".swagger-ui",
		"/docs/swagger-ui-bundle.js": "SwaggerUIBundle",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s: %d, body lacks %q", path, rec.Code, want)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/docs/nope.js", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("missing asset: %d", rec.Code)
	}
}

// TestVersionsHandler: the version picker names every spec, opens the primary one first and loads
// the standalone preset it needs, within the page's CSP.
func TestVersionsHandler(t *testing.T) {
	h := VersionsHandler("/docs", "MediaMesh Discovery Gateway", []Spec{{"v1", "/openapi/v1.json"}, {"v2", "/openapi/v2.json"}}, "v2")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/docs", nil))
	body := rec.Body.String()
	for _, want := range []string{`{"name":"v1","url":"/openapi/v1.json"}`, `{"name":"v2","url":"/openapi/v2.json"}`, `"urls.primaryName": "v2"`, "/docs/swagger-ui-standalone-preset.js", `layout: "StandaloneLayout"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/docs/swagger-ui-standalone-preset.js", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "SwaggerUIStandalonePreset") {
		t.Errorf("preset: %d", rec.Code)
	}
}

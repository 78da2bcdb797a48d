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

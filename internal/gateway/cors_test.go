package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestCORS: an allowed origin gets a preflight answer naming what it may send (only the headers the
// contracts use) and Allow-Origin on its requests, never credentials; other origins and requests
// without one pass unchanged; no origins configured is no CORS at all.
func TestCORS(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	req := func(h http.Handler, method, origin string, headers ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/api/v1/discovery/programs", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	anyOrigin := CORS([]string{"*"}, next)
	pre := req(anyOrigin, http.MethodOptions, "https://app.example.com", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type, authorization, x-evil")
	if pre.Code != http.StatusNoContent || pre.Header().Get("Access-Control-Allow-Origin") != "*" ||
		pre.Header().Get("Access-Control-Allow-Headers") != "Content-Type, Authorization" || pre.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight: %d %v", pre.Code, pre.Header())
	}
	get := req(anyOrigin, http.MethodGet, "https://app.example.com")
	if get.Code != http.StatusTeapot || get.Header().Get("Access-Control-Allow-Origin") != "*" || get.Header().Get("Access-Control-Expose-Headers") == "" {
		t.Errorf("GET: %d %v", get.Code, get.Header())
	}
	if w := req(anyOrigin, http.MethodGet, ""); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a request without Origin got CORS headers: %v", w.Header())
	}
	one := CORS([]string{"https://cms.example.com"}, next)
	if w := req(one, http.MethodGet, "https://cms.example.com"); w.Header().Get("Access-Control-Allow-Origin") != "https://cms.example.com" || w.Header().Get("Vary") != "Origin" {
		t.Errorf("the allowed origin: %v", w.Header())
	}
	if w := req(one, http.MethodOptions, "https://evil.example", "Access-Control-Request-Method", "DELETE"); w.Code != http.StatusTeapot || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another origin's preflight: %d %v", w.Code, w.Header())
	}
	if w := req(CORS(nil, next), http.MethodGet, "https://app.example.com"); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("no origins configured: %v", w.Header())
	}
}

package gateway

import (
	"net/http"
	"slices"
	"strings"
)

// corsAllowedHeaders are the request headers a browser may send across origins: those the
// contracts use.
var corsAllowedHeaders = []string{"Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key", "X-Request-ID"}

// corsExposedHeaders are the response headers a page of another origin may read.
const corsExposedHeaders = "ETag, Location, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-Request-ID, X-Cache"

// CORS lets pages of the given origins call next from a browser ("*": any origin). Credentials are
// never allowed: the APIs take bearer tokens, which a page sends itself, not cookies. A preflight
// (OPTIONS with Access-Control-Request-Method) from an allowed origin is answered 204 with what it
// may send; any other request from one gets the Access-Control-Allow-Origin and Expose-Headers of
// the answer. Requests from other origins, and without one, pass unchanged. No origins: next.
func CORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	any := slices.Contains(origins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !any && !slices.Contains(origins, origin) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		if any {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE")
			var allowed []string
			for _, name := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
				name = http.CanonicalHeaderKey(strings.TrimSpace(name))
				if slices.Contains(corsAllowedHeaders, name) {
					allowed = append(allowed, name)
				}
			}
			if len(allowed) > 0 {
				h.Set("Access-Control-Allow-Headers", strings.Join(allowed, ", "))
			}
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExposedHeaders)
		next.ServeHTTP(w, r)
	})
}

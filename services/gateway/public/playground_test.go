package public

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/mediamesh/mediamesh/internal/gateway"
)

// browserAccept is what Chromium sends when it opens a page.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"

// getGraphQL GETs target from h with the Accept header accept.
func getGraphQL(h http.Handler, target, accept string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("Accept", accept)
	req.RemoteAddr = "192.0.2.7:5555"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestGraphQLPlayground: a browser that opens /graphql gets GraphiQL, with the docs page's
// security headers, and its assets from the gateway; API clients get what they got before it
// (a JSON GET without a query its error, GETs with a query or a persisted-query hash and POSTs
// their data), whatever they accept. WithoutPlayground leaves no page and no assets.
func TestGraphQLPlayground(t *testing.T) {
	c := newCatalogue(t)
	c.program("Harbour lights", 1, nil)
	ups := map[string]http.Handler{serviceDiscovery: c.h, serviceSearch: problem(http.StatusServiceUnavailable, "1"), "auth": problem(http.StatusNotImplemented, "")}
	newMux := func(opts ...Option) http.Handler {
		mux, err := New(gateway.Config{Upstreams: ups, Log: slog.New(slog.DiscardHandler)}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return mux
	}
	on, off := newMux(), newMux(WithoutPlayground())

	page := getGraphQL(on, "/graphql", browserAccept)
	if page.Code != http.StatusOK || page.Header().Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(page.Body.String(), `id="graphiql"`) {
		t.Fatalf("the page: %d %q %.300s", page.Code, page.Header().Get("Content-Type"), page.Body)
	}
	if csp := page.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "frame-ancestors 'none'") || page.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("the page's headers: %v", page.Header())
	}
	if !strings.Contains(page.Body.String(), `data-endpoint="/graphql"`) || !strings.Contains(page.Body.String(), `data-introspection="true"`) {
		t.Errorf("the page is not pointed at /graphql with its schema: %s", page.Body)
	}
	assets := regexp.MustCompile(`(?:src|href)="(/graphql/assets/[^"]+)"`).FindAllStringSubmatch(page.Body.String(), -1)
	if len(assets) != 5 {
		t.Fatalf("the page loads %d assets, want GraphiQL's style sheet and four scripts: %s", len(assets), page.Body)
	}
	for _, a := range assets {
		rec := getGraphQL(on, a[1], "*/*")
		if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") || rec.Body.Len() == 0 {
			t.Errorf("%s: %d %q", a[1], rec.Code, rec.Header().Get("Cache-Control"))
		}
		if rec := getGraphQL(off, a[1], "*/*"); rec.Code != http.StatusNotFound {
			t.Errorf("without the playground, %s: %d", a[1], rec.Code)
		}
	}
	if rec := getGraphQL(newMux(WithoutIntrospection()), "/graphql", browserAccept); !strings.Contains(rec.Body.String(), `data-introspection="false"`) {
		t.Errorf("without introspection the page still asks for the schema: %s", rec.Body)
	}

	// API clients: as before, with the playground on or off.
	q := "{ languages { code } }"
	sum := sha256.Sum256([]byte(q))
	ext := url.QueryEscape(`{"persistedQuery":{"version":1,"sha256Hash":"` + hex.EncodeToString(sum[:]) + `"}}`)
	for name, h := range map[string]http.Handler{"on": on, "off": off} {
		noQuery := getGraphQL(h, "/graphql", "application/json")
		if noQuery.Code != http.StatusUnprocessableEntity || noQuery.Header().Get("Content-Type") != "application/json" || errorCode(t, noQuery) != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("%s: a JSON GET without a query: %d %s", name, noQuery.Code, noQuery.Body)
		}
		if name == "off" {
			if rec := getGraphQL(h, "/graphql", browserAccept); rec.Code != noQuery.Code || rec.Body.String() != noQuery.Body.String() || rec.Header().Get("Content-Security-Policy") != "" {
				t.Errorf("off: a browser got %d %s, not what a JSON client gets", rec.Code, rec.Body)
			}
		}
		for _, accept := range []string{"application/json", browserAccept} {
			if rec := getGraphQL(h, "/graphql?query="+url.QueryEscape(q), accept); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"languages":[{"code":"ar"}]`) {
				t.Errorf("%s: a GET with a query, Accept %.20s: %d %s", name, accept, rec.Code, rec.Body)
			}
		}
		if rec := postGraphQL(h, `{"query": "`+q+`", "extensions": {"persistedQuery":{"version":1,"sha256Hash":"`+hex.EncodeToString(sum[:])+`"}}}`); rec.Code != http.StatusOK {
			t.Errorf("%s: registering a persisted query: %d %s", name, rec.Code, rec.Body)
		}
		for _, accept := range []string{"application/json", browserAccept} {
			if rec := getGraphQL(h, "/graphql?extensions="+ext, accept); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"languages":[{"code":"ar"}]`) {
				t.Errorf("%s: a persisted query by hash, Accept %.20s: %d %s", name, accept, rec.Code, rec.Body)
			}
		}
	}
}

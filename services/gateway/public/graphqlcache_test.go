package public

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mediamesh/mediamesh/internal/cache"
	"github.com/mediamesh/mediamesh/internal/gateway"
)

// TestGraphQLResponseCache: an anonymous query is answered once by the services and then from the
// cache, whatever its spacing, variable order or method; a change of either read model, a
// signed-in caller, other variables and an answer with errors reach the services.
func TestGraphQLResponseCache(t *testing.T) {
	c := newCatalogue(t)
	c.program("Harbour lights", 1, nil)
	d, s := &recorder{next: c.h}, &recorder{next: problem(http.StatusServiceUnavailable, "1")}
	store := cache.NewMemory()
	log := slog.New(slog.DiscardHandler)
	ups := map[string]http.Handler{serviceDiscovery: d, serviceSearch: s, "auth": problem(http.StatusNotImplemented, "")}
	mux, err := New(gateway.Config{Upstreams: ups, Log: log, Cache: store})
	if err != nil {
		t.Fatal(err)
	}
	post := func(body string, headers ...string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
		}
		return rec
	}
	upstreamCalls := func() int { return len(d.take()) + len(s.take()) }
	const q = `query P($n: Int, $l: ProgramSort) { programs(first: $n, sort: $l) { edges { node { title } } } }`
	first := post(`{"query": "` + q + `", "variables": {"n": 5, "l": "LATEST"}}`)
	if upstreamCalls() == 0 || first.Header().Get("X-Cache") != "MISS" || !strings.Contains(first.Body.String(), "Harbour lights") {
		t.Fatalf("first answer: %s %s", first.Header().Get("X-Cache"), first.Body)
	}
	same := post(`{"variables": {"l": "LATEST", "n": 5},   "query": "query P($n: Int, $l: ProgramSort) {  programs(first: $n, sort: $l) {edges { node { title } } } }"}`)
	if n := upstreamCalls(); n != 0 || same.Header().Get("X-Cache") != "HIT" || same.Body.String() != first.Body.String() {
		t.Fatalf("the same query, spaced and ordered otherwise: %d upstream calls, X-Cache %s, %s", n, same.Header().Get("X-Cache"), same.Body)
	}
	get := httptest.NewRequest(http.MethodGet, "/graphql?query="+strings.ReplaceAll(q, " ", "+")+`&variables=`+`{"n":5,"l":"LATEST"}`, nil)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, get)
	if n := upstreamCalls(); n != 0 || rec.Header().Get("X-Cache") != "HIT" {
		t.Fatalf("the same query by GET: %d upstream calls, X-Cache %s, %s", n, rec.Header().Get("X-Cache"), rec.Body)
	}

	post(`{"query": "` + q + `", "variables": {"n": 6, "l": "LATEST"}}`)
	if upstreamCalls() == 0 {
		t.Fatal("other variables were answered from the cache")
	}
	post(`{"query": "`+q+`", "variables": {"n": 5, "l": "LATEST"}}`, "Authorization", "Bearer x")
	if upstreamCalls() == 0 {
		t.Fatal("a signed-in caller was answered from the cache")
	}
	for _, ns := range []string{serviceDiscovery, serviceSearch, cache.Scope(serviceDiscovery, "lists", "")} {
		if err := store.Invalidate(context.Background(), ns); err != nil {
			t.Fatal(err)
		}
		if post(`{"query": "` + q + `", "variables": {"n": 5, "l": "LATEST"}}`); upstreamCalls() == 0 {
			t.Fatalf("a change of the %s read model left the cached answer", ns)
		}
	}

	const search = `{"query": "{ search(query: \"harbour\") { edges { node { title } } } }"}`
	for i := 0; i < 2; i++ {
		if res := post(search); !strings.Contains(res.Body.String(), `"errors"`) {
			t.Fatalf("search with its service down: %s", res.Body)
		}
		if upstreamCalls() == 0 {
			t.Fatal("an answer with errors was cached")
		}
	}
}

// TestGraphQLPersistedQueryByGET: a persisted query, once registered, is answered on GET by its
// hash alone, from the cache, with the tags a CDN purges it by; a change of the read model makes it
// a miss again.
func TestGraphQLPersistedQueryByGET(t *testing.T) {
	c := newCatalogue(t)
	c.program("Harbour lights", 1, nil)
	d := &recorder{next: c.h}
	store := cache.NewMemory()
	ups := map[string]http.Handler{serviceDiscovery: d, serviceSearch: problem(http.StatusServiceUnavailable, "1"), "auth": problem(http.StatusNotImplemented, "")}
	mux, err := New(gateway.Config{Upstreams: ups, Log: slog.New(slog.DiscardHandler), Cache: store})
	if err != nil {
		t.Fatal(err)
	}
	const q = `{ programs(first: 3) { edges { node { title } } } }`
	sum := sha256.Sum256([]byte(q))
	ext := `{"persistedQuery":{"version":1,"sha256Hash":"` + hex.EncodeToString(sum[:]) + `"}}`
	register := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"`+q+`","extensions":`+ext+`}`))
	register.Header.Set("Content-Type", "application/json")
	mux.ServeHTTP(httptest.NewRecorder(), register)
	d.take()
	byHash := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/graphql?extensions="+url.QueryEscape(ext), nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Harbour lights") {
			t.Fatalf("GET by hash: %d %s", rec.Code, rec.Body)
		}
		return rec
	}
	byHash()
	d.take()
	rec := byHash()
	if n := len(d.take()); n != 0 || rec.Header().Get("X-Cache") != "HIT" {
		t.Fatalf("the persisted query by GET again: %d upstream calls, X-Cache %s", n, rec.Header().Get("X-Cache"))
	}
	lists := cache.Scope(serviceDiscovery, "lists", "")
	if tags := rec.Header().Get("Surrogate-Key"); tags != lists+" "+serviceDiscovery+" "+serviceSearch {
		t.Fatalf("Surrogate-Key %q", tags)
	}
	if err := store.Invalidate(context.Background(), lists); err != nil {
		t.Fatal(err)
	}
	if rec := byHash(); rec.Header().Get("X-Cache") == "HIT" {
		t.Fatal("a change of discovery's lists left the persisted query's cached answer")
	}
}

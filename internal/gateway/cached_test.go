package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/cache"
)

const cacheSpec = `{
  "openapi": "3.0.3",
  "info": {"title": "t", "version": "1.0.0"},
  "paths": {
    "/api/v1/items": {
      "get": {"operationId": "listItems", "x-service": "items", "security": [], "x-cache": {"ttl": "60s"},
        "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": {"description": "ok"}}}
    },
    "/api/v1/items/{itemId}": {
      "get": {"operationId": "getItem", "x-service": "items", "security": [], "x-cache": {"ttl": "60s", "scope": {"name": "item", "param": "itemId"}},
        "parameters": [{"name": "itemId", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "ok"}}}
    },
    "/api/v1/private": {
      "get": {"operationId": "privateItems", "x-service": "items", "security": [{"bearerAuth": []}], "x-roles": ["EDITOR"], "x-scopes": ["content:write"], "x-cache": {"ttl": "60s"},
        "responses": {"200": {"description": "ok"}}}
    }
  },
  "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}}
}`

// countingUpstream answers 200 with a body naming how many requests it has served, after delay;
// it answers 404 for q=missing.
type countingUpstream struct {
	calls atomic.Int32
	delay time.Duration
}

func (u *countingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := u.calls.Add(1)
	time.Sleep(u.delay)
	if r.URL.Query().Get("q") == "missing" {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"n":`+string(rune('0'+n%10))+`}`)
}

// failingStore is a cache whose backend is down.
type failingStore struct{}

func (failingStore) Get(context.Context, string, string) (cache.Entry, bool, int64, error) {
	return cache.Entry{}, false, 0, errors.New("down")
}
func (failingStore) Set(context.Context, string, string, cache.Entry, time.Duration) error {
	return errors.New("down")
}
func (failingStore) Generation(context.Context, string) (int64, error) { return 0, errors.New("down") }
func (failingStore) Invalidate(context.Context, string) error          { return errors.New("down") }

func newCachedGateway(t *testing.T, store cache.Store, up http.Handler) *Gateway {
	t.Helper()
	gw, err := New(Config{
		Name: "test", Spec: []byte(cacheSpec), Upstreams: map[string]http.Handler{"items": up},
		Verifier: tokens{"ed": {Subject: "e1", Roles: []string{"EDITOR"}}},
		Cache:    store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return gw
}

func get(gw http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	gw.ServeHTTP(w, r)
	return w
}

func TestCacheAside(t *testing.T) {
	store := cache.NewMemory()
	up := &countingUpstream{}
	gw := newCachedGateway(t, store, up)

	first := get(gw, "/api/v1/items?q=a")
	if first.Code != 200 || first.Header().Get("X-Cache") != "MISS" || first.Header().Get("Cache-Control") != "public, no-cache" {
		t.Fatalf("first: %d %v", first.Code, first.Header())
	}
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on a cacheable response")
	}
	second := get(gw, "/api/v1/items?q=a")
	if second.Header().Get("X-Cache") != "HIT" || second.Body.String() != first.Body.String() || up.calls.Load() != 1 {
		t.Fatalf("second: %s %q, upstream calls %d", second.Header().Get("X-Cache"), second.Body, up.calls.Load())
	}
	// Query order does not make a new key; another query does.
	get(gw, "/api/v1/items?q=b")
	if up.calls.Load() != 2 {
		t.Fatal("a different query was served from another key's entry")
	}
	// Parameters the contract does not declare are no part of the key: random ones make no new
	// entries (they would fill the store) and are answered from the entry of the declared ones.
	for i := range 50 {
		w := get(gw, "/api/v1/items?q=a&junk"+strings.Repeat("x", i)+"=1&utm="+strings.Repeat("y", i))
		if w.Header().Get("X-Cache") != "HIT" || w.Body.String() != first.Body.String() {
			t.Fatalf("undeclared parameters %d: %s %q", i, w.Header().Get("X-Cache"), w.Body)
		}
	}
	if up.calls.Load() != 2 {
		t.Fatalf("undeclared parameters reached the service: upstream calls %d, want 2", up.calls.Load())
	}

	// Revalidation: 304 without a body.
	nm := get(gw, "/api/v1/items?q=a", "If-None-Match", etag)
	if nm.Code != http.StatusNotModified || nm.Body.Len() != 0 {
		t.Fatalf("If-None-Match: %d %q", nm.Code, nm.Body)
	}
	if get(gw, "/api/v1/items?q=a", "If-None-Match", `"other"`).Code != 200 {
		t.Fatal("a stale If-None-Match got 304")
	}

	// An event invalidates the service's namespace: the next read goes to the service again.
	if err := store.Invalidate(context.Background(), "items"); err != nil {
		t.Fatal(err)
	}
	third := get(gw, "/api/v1/items?q=a")
	if third.Header().Get("X-Cache") != "MISS" || up.calls.Load() != 3 {
		t.Fatalf("after invalidation: %s, upstream calls %d", third.Header().Get("X-Cache"), up.calls.Load())
	}

	// Errors are passed on but not stored.
	get(gw, "/api/v1/items?q=missing")
	if w := get(gw, "/api/v1/items?q=missing"); w.Code != 404 || up.calls.Load() != 5 {
		t.Fatalf("404: %d, upstream calls %d (want errors not cached)", w.Code, up.calls.Load())
	}

	// Secured operations are never cached, x-cache or not.
	get(gw, "/api/v1/private", "Authorization", "Bearer ed")
	get(gw, "/api/v1/private", "Authorization", "Bearer ed")
	if up.calls.Load() != 7 {
		t.Fatalf("secured operation: upstream calls %d, want 7", up.calls.Load())
	}
}

// TestCacheSingleFlight: concurrent misses on one key reach the service once.
func TestCacheSingleFlight(t *testing.T) {
	up := &countingUpstream{delay: 100 * time.Millisecond}
	gw := newCachedGateway(t, cache.NewMemory(), up)
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = get(gw, "/api/v1/items?q=cold").Code
		}()
	}
	wg.Wait()
	for _, c := range codes {
		if c != 200 {
			t.Fatalf("codes %v", codes)
		}
	}
	if n := up.calls.Load(); n != 1 {
		t.Fatalf("20 concurrent cold reads reached the service %d times, want 1", n)
	}
}

// TestCacheStoreDown: reads fall back to the service when the cache backend fails.
func TestCacheStoreDown(t *testing.T) {
	up := &countingUpstream{}
	gw := newCachedGateway(t, failingStore{}, up)
	for i := 0; i < 3; i++ {
		if w := get(gw, "/api/v1/items"); w.Code != 200 || !strings.Contains(w.Body.String(), "n") {
			t.Fatalf("%d %q", w.Code, w.Body)
		}
	}
	if up.calls.Load() != 3 {
		t.Fatalf("upstream calls %d", up.calls.Load())
	}
}

// TestCacheScopes: a response of an operation with an x-cache scope is invalidated by a change of
// its item (whatever the case of the id in the path) or of the whole service, and stays cached
// when another item changes.
func TestCacheScopes(t *testing.T) {
	store := cache.NewMemory()
	up := &countingUpstream{}
	gw := newCachedGateway(t, store, up)
	ctx := context.Background()
	a, b := "0b6a9d5e-0c35-4a43-9f0f-1c2d3e4f5a6b", "7f1e2d3c-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
	miss := func(path string) bool {
		t.Helper()
		rec := get(gw, path)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", path, rec.Code)
		}
		return rec.Header().Get("X-Cache") != "HIT"
	}
	for _, p := range []string{a, b, strings.ToUpper(b)} {
		if !miss("/api/v1/items/" + p) {
			t.Fatalf("first read of %s was a hit", p)
		}
		if miss("/api/v1/items/" + p) {
			t.Fatalf("second read of %s missed", p)
		}
	}
	if err := store.Invalidate(ctx, cache.Scope("items", "item", b)); err != nil {
		t.Fatal(err)
	}
	if miss("/api/v1/items/" + a) {
		t.Error("a change of another item invalidated the response")
	}
	if !miss("/api/v1/items/" + strings.ToUpper(b)) {
		t.Error("a change of the item left its response cached (id in capitals)")
	}
	if !miss("/api/v1/items/" + b) {
		t.Error("a change of the item left its response cached")
	}
	if err := store.Invalidate(ctx, "items"); err != nil {
		t.Fatal(err)
	}
	if !miss("/api/v1/items/"+a) || !miss("/api/v1/items/"+b) {
		t.Error("a change of the whole service left scoped responses cached")
	}
}

// TestCacheUnavailableKeepsRetryAfter: a 503 of the service on a cached route reaches the client
// with the service's Retry-After (the README promises it; issue 19 found it dropped), also for the
// requests that shared the miss, and is not stored.
func TestCacheUnavailableKeepsRetryAfter(t *testing.T) {
	var calls atomic.Int32
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		time.Sleep(20 * time.Millisecond)
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"status":503}`)
	})
	gw := newCachedGateway(t, cache.NewMemory(), up)
	results := make(chan *httptest.ResponseRecorder, 4)
	for range 4 {
		go func() { results <- get(gw, "/api/v1/items?q=down") }()
	}
	for range 4 {
		w := <-results
		if w.Code != 503 || w.Header().Get("Retry-After") != "7" || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%d Retry-After %q Content-Type %q", w.Code, w.Header().Get("Retry-After"), w.Header().Get("Content-Type"))
		}
	}
	if w := get(gw, "/api/v1/items?q=down"); w.Code != 503 || w.Header().Get("X-Cache") == "HIT" {
		t.Fatalf("a 503 was cached: %d %s", w.Code, w.Header().Get("X-Cache"))
	}
}

// switchingUpstream answers 200 with its body while up, else 503 with Retry-After.
type switchingUpstream struct {
	down atomic.Bool
	body string
}

func (u *switchingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if u.down.Load() {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, u.body)
}

// TestCacheStaleIfError: while the service fails, a read whose entry was invalidated (or expired)
// gets the last good answer, marked STALE, for a scoped read as for a plain one; a read never
// answered well gets the service's 503 with its Retry-After; once the service is back, fresh
// answers again.
func TestCacheStaleIfError(t *testing.T) {
	store := cache.NewMemory()
	up := &switchingUpstream{body: `{"v":1}`}
	gw := newCachedGateway(t, store, up)
	for _, path := range []string{"/api/v1/items?q=a", "/api/v1/items/i1"} {
		if w := get(gw, path); w.Code != 200 || w.Header().Get("X-Cache") != "MISS" {
			t.Fatalf("%s: %d %s", path, w.Code, w.Header().Get("X-Cache"))
		}
	}
	up.down.Store(true)
	for _, ns := range []string{"items", cache.Scope("items", "item", "i1")} {
		if err := store.Invalidate(context.Background(), ns); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{"/api/v1/items?q=a", "/api/v1/items/i1"} {
		w := get(gw, path)
		if w.Code != 200 || w.Header().Get("X-Cache") != "STALE" || w.Body.String() != `{"v":1}` {
			t.Fatalf("%s with the service down: %d %s %q, want its last good answer", path, w.Code, w.Header().Get("X-Cache"), w.Body)
		}
	}
	if w := get(gw, "/api/v1/items?q=never"); w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("a read never answered, with the service down: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	up.down.Store(false)
	up.body = `{"v":2}`
	if w := get(gw, "/api/v1/items?q=a"); w.Code != 200 || w.Header().Get("X-Cache") != "MISS" || w.Body.String() != `{"v":2}` {
		t.Fatalf("the service back: %d %s %q", w.Code, w.Header().Get("X-Cache"), w.Body)
	}

	// A takedown voids every last good answer: with the service down again, what it answered
	// before the takedown is not served, even stale.
	if err := store.Invalidate(context.Background(), cache.Takedowns); err != nil {
		t.Fatal(err)
	}
	up.down.Store(true)
	if err := store.Invalidate(context.Background(), "items"); err != nil {
		t.Fatal(err)
	}
	if w := get(gw, "/api/v1/items?q=a"); w.Code != 503 || w.Header().Get("X-Cache") == "STALE" {
		t.Fatalf("after a takedown, with the service down: %d %s %q, want a 503", w.Code, w.Header().Get("X-Cache"), w.Body)
	}
}

// slowUpstream answers body after its delay, counting the requests it got.
type slowUpstream struct {
	delay atomic.Int64 // nanoseconds
	body  atomic.Value // string
	calls atomic.Int32
}

func (u *slowUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.calls.Add(1)
	time.Sleep(time.Duration(u.delay.Load()))
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, u.body.Load().(string))
}

// TestCacheStaleWhileRevalidate: with StaleAfter, a miss whose service is slower than that gets the
// read's last good answer at once (STALE), one background request stores the service's answer for
// the next reader, and concurrent misses meanwhile do not send more; a read without a last good
// answer waits for the service; after a takedown the miss waits too.
func TestCacheStaleWhileRevalidate(t *testing.T) {
	store := cache.NewMemory()
	up := &slowUpstream{}
	up.body.Store(`{"v":1}`)
	gw, err := New(Config{
		Name: "test", Spec: []byte(cacheSpec), Upstreams: map[string]http.Handler{"items": up},
		Cache: store, StaleAfter: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if w := get(gw, "/api/v1/items?q=a"); w.Code != 200 || w.Header().Get("X-Cache") != "MISS" {
		t.Fatalf("first: %d %s", w.Code, w.Header().Get("X-Cache"))
	}
	up.delay.Store(int64(time.Second))
	up.body.Store(`{"v":2}`)
	if err := store.Invalidate(context.Background(), "items"); err != nil {
		t.Fatal(err)
	}
	calls := up.calls.Load()
	for range 5 {
		start := time.Now()
		w := get(gw, "/api/v1/items?q=a")
		if w.Code != 200 || w.Header().Get("X-Cache") != "STALE" || w.Body.String() != `{"v":1}` {
			t.Fatalf("a miss with a slow service: %d %s %q, want the last good answer", w.Code, w.Header().Get("X-Cache"), w.Body)
		}
		if took := time.Since(start); took >= 900*time.Millisecond {
			t.Errorf("a stale answer took %v: it waited for the service (1 s)", took)
		}
	}
	if n := up.calls.Load() - calls; n != 1 {
		t.Errorf("%d background requests for one read, want 1", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		w := get(gw, "/api/v1/items?q=a")
		if w.Header().Get("X-Cache") == "HIT" && w.Body.String() == `{"v":2}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background answer was not stored: %s %q", w.Header().Get("X-Cache"), w.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Never answered: the miss waits for the service.
	if w := get(gw, "/api/v1/items?q=new"); w.Header().Get("X-Cache") != "MISS" || w.Body.String() != `{"v":2}` {
		t.Fatalf("a read without a last good answer: %s %q, want the service's", w.Header().Get("X-Cache"), w.Body)
	}
	// After a takedown the last good answers are void: the miss waits for the service.
	up.body.Store(`{"v":3}`)
	for _, ns := range []string{cache.Takedowns, "items"} {
		if err := store.Invalidate(context.Background(), ns); err != nil {
			t.Fatal(err)
		}
	}
	if w := get(gw, "/api/v1/items?q=a"); w.Header().Get("X-Cache") != "MISS" || w.Body.String() != `{"v":3}` {
		t.Fatalf("after a takedown: %s %q, want the service's answer", w.Header().Get("X-Cache"), w.Body)
	}
}

// TestCacheStaleRevalidationPanic: a service that panics while its answer is computed in the
// background (stale-while-revalidate) does not end the process: the reader gets the last good answer.
func TestCacheStaleRevalidationPanic(t *testing.T) {
	store := cache.NewMemory()
	var panics atomic.Bool
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if panics.Load() {
			panic("boom")
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"v":1}`)
	})
	gw, err := New(Config{
		Name: "test", Spec: []byte(cacheSpec), Upstreams: map[string]http.Handler{"items": up},
		Cache: store, StaleAfter: time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if w := get(gw, "/api/v1/items?q=a"); w.Code != 200 {
		t.Fatalf("first: %d", w.Code)
	}
	panics.Store(true)
	if err := store.Invalidate(context.Background(), "items"); err != nil {
		t.Fatal(err)
	}
	if w := get(gw, "/api/v1/items?q=a"); w.Code != 200 || w.Header().Get("X-Cache") != "STALE" || w.Body.String() != `{"v":1}` {
		t.Fatalf("a service panicking in the background: %d %s %q, want the last good answer", w.Code, w.Header().Get("X-Cache"), w.Body)
	}
}

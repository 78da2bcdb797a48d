package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/cache"
)

// TestCDNHeaders: a cached answer names the namespaces it depends on as Surrogate-Key and
// Cache-Tag; with CDNMaxAge a CDN may keep it that long (s-maxage), else it revalidates.
func TestCDNHeaders(t *testing.T) {
	for _, tc := range []struct {
		maxAge time.Duration
		want   string
	}{{0, "public, no-cache"}, {30 * time.Second, "public, max-age=0, s-maxage=30, stale-while-revalidate=30"}} {
		gw, err := New(Config{
			Name: "test", Spec: []byte(cacheSpec), Upstreams: map[string]http.Handler{"items": &countingUpstream{}},
			Cache: cache.NewMemory(), CDNMaxAge: tc.maxAge, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, hit := range []bool{false, true} {
			rec := get(gw, "/api/v1/items/a")
			if got := rec.Header().Get("Cache-Control"); got != tc.want {
				t.Fatalf("Cache-Control %q (hit %v), want %q", got, hit, tc.want)
			}
			scope := cache.Scope("items", "item", "a")
			if rec.Header().Get("Surrogate-Key") != "items "+scope || rec.Header().Get("Cache-Tag") != "items,"+scope {
				t.Fatalf("Surrogate-Key %q, Cache-Tag %q", rec.Header().Get("Surrogate-Key"), rec.Header().Get("Cache-Tag"))
			}
		}
		if rec := get(gw, "/api/v1/items?q=x"); rec.Header().Get("Surrogate-Key") != "items" {
			t.Fatalf("a read of the whole service: Surrogate-Key %q", rec.Header().Get("Surrogate-Key"))
		}
	}
}

// TestPurger: the namespaces invalidated together reach the purge hook in one call, a failing
// hook is tried again, and the last good answers' namespace is not a CDN's business.
func TestPurger(t *testing.T) {
	var mu sync.Mutex
	var calls [][]string
	var failFirst atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failFirst.Add(-1) >= 0 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		var body struct {
			Keys []string `json:"surrogate_keys"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Method != http.MethodPost {
			t.Errorf("purge call: %s %v", r.Method, err)
		}
		mu.Lock()
		calls = append(calls, body.Keys)
		mu.Unlock()
	}))
	defer hook.Close()
	store := cache.NewMemory()
	p := NewPurger(hook.URL, slog.New(slog.NewTextHandler(io.Discard, nil)))
	store.OnInvalidate(p.Invalidated)
	ctx := context.Background()
	wait := func(n int) [][]string {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			got := slices.Clone(calls)
			mu.Unlock()
			if len(got) >= n || time.Now().After(deadline) {
				return got
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	_ = store.Invalidate(ctx, "discovery/program/7")
	_ = store.Invalidate(ctx, "discovery/lists")
	_ = store.Invalidate(ctx, cache.Takedowns)
	got := wait(1)
	if len(got) != 1 || !slices.Equal(got[0], []string{"discovery/lists", "discovery/program/7"}) {
		t.Fatalf("purge calls %v, want one with discovery/lists and discovery/program/7", got)
	}

	failFirst.Store(2) // the hook fails twice, then takes the call
	_ = store.Invalidate(ctx, "discovery")
	got = wait(2)
	if len(got) != 2 || !slices.Equal(got[1], []string{"discovery"}) {
		t.Fatalf("purge calls %v after a failing hook, want the second with discovery", got)
	}
}

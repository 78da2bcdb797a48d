package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/cache"
)

// TestCacheWarming: after an invalidation, the hot reads of the namespace are recomputed in the
// background, so the next reader finds them cached (X-Cache: HIT) with the new answer, while a
// read nobody asked for is not computed; a read of another item's scope stays as it was.
func TestCacheWarming(t *testing.T) {
	store := cache.NewMemory()
	up := &countingUpstream{}
	gw, err := New(Config{
		Name: "test", Spec: []byte(cacheSpec), Upstreams: map[string]http.Handler{"items": up},
		Cache: store, Warm: 8, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if rec := get(gw, "/api/v1/items/a"); rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		get(gw, "/api/v1/items?q=home")
	}
	get(gw, "/api/v1/items/b")
	before := up.calls.Load() // a, home, b: one computation each

	ctx := context.Background()
	if err := store.Invalidate(ctx, cache.Scope("items", "item", "a")); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, up, before+1) // a recomputed in the background
	rec := get(gw, "/api/v1/items/a")
	if rec.Header().Get("X-Cache") != "HIT" || up.calls.Load() != before+1 {
		t.Fatalf("first read after the change: X-Cache %s, %d upstream calls (want HIT, %d)", rec.Header().Get("X-Cache"), up.calls.Load(), before+1)
	}
	if rec := get(gw, "/api/v1/items/b"); rec.Header().Get("X-Cache") != "HIT" {
		t.Fatalf("another item's read: X-Cache %s", rec.Header().Get("X-Cache"))
	}

	// A bump of the whole service makes every read of it stale: the tracked ones are recomputed.
	if err := store.Invalidate(ctx, "items"); err != nil {
		t.Fatal(err)
	}
	waitCalls(t, up, before+4) // a, b and the home list
	for _, path := range []string{"/api/v1/items/a", "/api/v1/items/b", "/api/v1/items?q=home"} {
		if rec := get(gw, path); rec.Header().Get("X-Cache") != "HIT" {
			t.Fatalf("%s after a service-wide change: X-Cache %s", path, rec.Header().Get("X-Cache"))
		}
	}
	if rec := get(gw, "/api/v1/items?q=never-asked"); rec.Header().Get("X-Cache") != "MISS" {
		t.Fatalf("a read nobody asked for: X-Cache %s", rec.Header().Get("X-Cache"))
	}
}

func waitCalls(t *testing.T, up *countingUpstream, n int32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for up.calls.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("upstream calls %d, want %d: the hot reads were not recomputed", up.calls.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the entries are stored after the upstream answers
}

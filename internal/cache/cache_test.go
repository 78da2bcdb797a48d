package cache

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/mediamesh/mediamesh/internal/testenv"
)

// each runs fn against every Store: Memory, and Redis on MEDIAMESH_TEST_REDIS_URL (skipped
// without it locally, failing under CI=true). Each run gets namespaces of its own.
func each(t *testing.T, fn func(t *testing.T, s Store, ns func(string) string)) {
	t.Run("memory", func(t *testing.T) {
		fn(t, NewMemory(), func(n string) string { return n })
	})
	t.Run("redis", func(t *testing.T) {
		client, run := testRedis(t)
		fn(t, NewRedis(client), func(n string) string { return run + "-" + n })
	})
	t.Run("layered", func(t *testing.T) {
		client, run := testRedis(t)
		l := NewLayered(NewRedis(client), 1<<20, nil)
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go l.Run(ctx)
		fn(t, l, func(n string) string { return run + "-" + n })
	})
}

// testRedis returns a client of the test Redis and a prefix of namespaces of the test's own, whose
// keys are deleted when it ends.
func testRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	url := testenv.Get(t, "MEDIAMESH_TEST_REDIS_URL", "a Redis server, e.g. redis://127.0.0.1:6379/0")
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	run := "test-" + uuid.NewString()
	t.Cleanup(func() {
		ctx := context.Background()
		for _, pattern := range []string{"mediamesh:cache:" + run + "*", "mediamesh:cache-gen:" + run + "*"} {
			keys, _ := client.Keys(ctx, pattern).Result()
			if len(keys) > 0 {
				client.Del(ctx, keys...)
			}
		}
		client.Close()
	})
	return client, run
}

func entry(body string, gen int64) Entry {
	return Entry{Status: 200, Header: http.Header{"Content-Type": {"application/json"}, "Etag": {`"x"`}}, Body: []byte(body), Generation: gen}
}

func TestStore(t *testing.T) {
	each(t, func(t *testing.T, s Store, ns func(string) string) {
		ctx := context.Background()
		a, b := ns("discovery"), ns("search")

		if _, ok, gen, err := s.Get(ctx, a, "/x"); err != nil || ok || gen != 0 {
			t.Fatalf("empty store: ok=%v gen=%d err=%v", ok, gen, err)
		}
		if err := s.Set(ctx, a, "/x", entry("one", 0), time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, b, "/x", entry("other", 0), time.Minute); err != nil {
			t.Fatal(err)
		}
		e, ok, _, err := s.Get(ctx, a, "/x")
		if err != nil || !ok || string(e.Body) != "one" || e.Status != 200 || e.Header.Get("ETag") != `"x"` {
			t.Fatalf("hit: %+v ok=%v err=%v", e, ok, err)
		}

		// Invalidating a namespace makes its entries misses, and only its entries.
		if err := s.Invalidate(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, ok, gen, _ := s.Get(ctx, a, "/x"); ok || gen != 1 {
			t.Fatalf("after Invalidate: ok=%v gen=%d, want a miss at generation 1", ok, gen)
		}
		if e, ok, _, _ := s.Get(ctx, b, "/x"); !ok || string(e.Body) != "other" {
			t.Fatal("invalidating one namespace dropped another's entry")
		}
		if g, err := s.Generation(ctx, a); err != nil || g != 1 {
			t.Fatalf("Generation = %d, %v", g, err)
		}

		// A response computed before an invalidation (generation 0) never becomes a hit.
		_ = s.Set(ctx, a, "/x", entry("stale", 0), time.Minute)
		if _, ok, _, _ := s.Get(ctx, a, "/x"); ok {
			t.Fatal("an entry computed under an old generation was served")
		}
		_ = s.Set(ctx, a, "/x", entry("fresh", 1), time.Minute)
		if e, ok, _, _ := s.Get(ctx, a, "/x"); !ok || string(e.Body) != "fresh" {
			t.Fatalf("fresh entry: %q ok=%v", e.Body, ok)
		}

		// TTL is a backstop.
		_ = s.Set(ctx, a, "/short", entry("short", 1), 50*time.Millisecond)
		time.Sleep(120 * time.Millisecond)
		if _, ok, _, _ := s.Get(ctx, a, "/short"); ok {
			t.Fatal("an expired entry was served")
		}
	})
}

func TestStoreConcurrentInvalidate(t *testing.T) {
	each(t, func(t *testing.T, s Store, ns func(string) string) {
		ctx := context.Background()
		n := ns("c")
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Invalidate(ctx, n); err != nil {
					t.Error(err)
				}
				_ = s.Set(ctx, n, fmt.Sprint("/", i), entry("v", 0), time.Minute)
			}()
		}
		wg.Wait()
		if g, _ := s.Generation(ctx, n); g != 50 {
			t.Fatalf("generation = %d after 50 concurrent invalidations", g)
		}
	})
}

func TestMemoryBound(t *testing.T) {
	m := NewMemory()
	m.MaxEntries = 3
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		_ = m.Set(ctx, "ns", fmt.Sprint(i), entry("v", 0), time.Duration(i+1)*time.Minute)
	}
	if len(m.entries) != 3 {
		t.Fatalf("entries = %d, want the bound 3", len(m.entries))
	}
	if _, ok, _, _ := m.Get(ctx, "ns", "9"); !ok {
		t.Fatal("the newest entry was evicted")
	}
}

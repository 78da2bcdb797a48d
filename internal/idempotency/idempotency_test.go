package idempotency

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/mediamesh/mediamesh/internal/testenv"
)

func stores(t *testing.T) map[string]Store {
	t.Helper()
	mr := miniredis.RunT(t)
	out := map[string]Store{
		"memory":    NewMemory(),
		"miniredis": NewRedis(redis.NewClient(&redis.Options{Addr: mr.Addr()})),
	}
	if url := os.Getenv("MEDIAMESH_TEST_REDIS_URL"); url != "" || os.Getenv("CI") == "true" {
		opts, err := redis.ParseURL(testenv.Get(t, "MEDIAMESH_TEST_REDIS_URL", "a Redis server (e.g. redis://127.0.0.1:6379/0)"))
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opts)
		t.Cleanup(func() { c.Close() })
		out["redis"] = NewRedis(c)
	}
	return out
}

func TestStores(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			key := "test:" + uuid.NewString()
			if rec, ok, err := s.Begin(ctx, key, "h1", time.Minute); err != nil || !ok || rec != nil {
				t.Fatalf("first begin: %v %v %v", rec, ok, err)
			}
			rec, ok, err := s.Begin(ctx, key, "h1", time.Minute)
			if err != nil || ok || rec == nil || rec.Done || rec.Hash != "h1" {
				t.Fatalf("in flight: %+v %v %v", rec, ok, err)
			}
			want := Record{Hash: "h1", Status: 201, Header: http.Header{"Location": {"/x/1"}}, Body: []byte(`{"id":1}`)}
			if err := s.Complete(ctx, key, want, time.Minute); err != nil {
				t.Fatal(err)
			}
			rec, ok, err = s.Begin(ctx, key, "h2", time.Minute)
			if err != nil || ok || !rec.Done || rec.Status != 201 || string(rec.Body) != `{"id":1}` || rec.Header.Get("Location") != "/x/1" || rec.Hash != "h1" {
				t.Fatalf("stored: %+v %v %v", rec, ok, err)
			}
			if err := s.Abandon(ctx, key); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := s.Begin(ctx, key, "h3", time.Minute); !ok {
				t.Fatal("an abandoned key can be used again")
			}
			_ = s.Abandon(ctx, key)
		})
	}
}

func TestMemoryExpiry(t *testing.T) {
	m := NewMemory()
	now := time.Now()
	m.now = func() time.Time { return now }
	ctx := context.Background()
	_, _, _ = m.Begin(ctx, "k", "h", time.Hour)
	now = now.Add(2 * time.Hour)
	if _, ok, _ := m.Begin(ctx, "k", "h2", time.Hour); !ok {
		t.Fatal("an expired key is free again")
	}
	now = now.Add(2 * time.Hour)
	_, _, _ = m.Begin(ctx, "other", "h", time.Hour) // sweeps
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.records["k"]; ok {
		t.Fatal("expired records are swept")
	}
}

package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisKeyNamespaceMiniredis(t *testing.T) {
	mr, client, advance := newMiniredis(t)
	lim := NewRedis(client)
	l := Limit{Rate: 1, Per: 10 * time.Second, Burst: 1}
	r, err := lim.Allow(context.Background(), "op:x:ip:192.0.2.1", l)
	if err != nil || !r.Allowed {
		t.Fatalf("Allow: %+v, %v", r, err)
	}
	if keys := mr.Keys(); len(keys) != 1 || keys[0] != "mm:rl:op:x:ip:192.0.2.1" {
		t.Fatalf("keys in Redis = %q, want exactly [mm:rl:op:x:ip:192.0.2.1]", keys)
	}
	if ttl := mr.TTL("mm:rl:op:x:ip:192.0.2.1"); ttl <= 0 || ttl > 10*time.Second {
		t.Fatalf("TTL = %v, want in (0, 10s]: the key must expire once back to full capacity", ttl)
	}
	advance(r.ResetAfter + time.Second)
	if keys := mr.Keys(); len(keys) != 0 {
		t.Fatalf("keys after ResetAfter = %q, want none", keys)
	}
}

func TestRedisKeyNamespace(t *testing.T) {
	client := realRedis(t)
	ctx := context.Background()
	key := testKey(t, "k")
	r, err := NewRedis(client).Allow(ctx, key, Limit{Rate: 1, Per: 10 * time.Second, Burst: 1})
	if err != nil || !r.Allowed {
		t.Fatalf("Allow: %+v, %v", r, err)
	}
	ttl, err := client.PTTL(ctx, KeyPrefix+key).Result()
	if err != nil || ttl <= 0 || ttl > 10*time.Second {
		t.Fatalf("PTTL %s = %v, %v; want in (0, 10s]", KeyPrefix+key, ttl, err)
	}
	if n, err := client.Exists(ctx, "rate:"+KeyPrefix+key).Result(); err != nil || n != 0 {
		t.Fatalf("redis_rate's own prefix leaked: EXISTS = %d, %v", n, err)
	}
	if err := client.Del(ctx, KeyPrefix+key).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestRedisErrorsWhenDown checks that the Redis limiter reports an unreachable server as an
// error, which WithFallback then handles (see fallback_test.go).
func TestRedisErrorsWhenDown(t *testing.T) {
	lim := NewRedis(downClient(t))
	if _, err := lim.Allow(context.Background(), "k", Limit{Rate: 1, Per: time.Second}); err == nil {
		t.Fatal("Allow against a closed port: no error")
	}
}

// downClient is a Redis client for an address nothing listens on, failing fast.
func downClient(t *testing.T) redis.UniversalClient {
	t.Helper()
	client := redis.NewClient(&redis.Options{
		Addr:          closedAddr(t),
		DialTimeout:   500 * time.Millisecond,
		MaxRetries:    -1,
		DialerRetries: 1, // the default, 5 with 100ms pauses, makes every call take 400ms+
	})
	t.Cleanup(func() { _ = client.Close() })
	return client
}

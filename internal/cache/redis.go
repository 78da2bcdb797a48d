package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store shared by every process that uses the same Redis: an entry is a JSON value
// under mediamesh:cache:<ns>:<key> with the TTL as its expiry, a generation is a counter under
// mediamesh:cache-gen:<ns>. Get reads both in one round trip (MGET).
type Redis struct {
	client redis.UniversalClient
}

// NewRedis returns a store on client.
func NewRedis(client redis.UniversalClient) *Redis { return &Redis{client: client} }

func entryKey(ns, key string) string { return "mediamesh:cache:" + ns + ":" + key }
func genKey(ns string) string        { return "mediamesh:cache-gen:" + ns }

// Get implements Store.
func (r *Redis) Get(ctx context.Context, ns, key string) (Entry, bool, int64, error) {
	vals, err := r.client.MGet(ctx, entryKey(ns, key), genKey(ns)).Result()
	if err != nil {
		return Entry{}, false, 0, fmt.Errorf("cache: get: %w", err)
	}
	gen, err := parseGen(vals[1])
	if err != nil {
		return Entry{}, false, 0, err
	}
	raw, ok := vals[0].(string)
	if !ok {
		return Entry{}, false, gen, nil
	}
	var e Entry
	if err := json.Unmarshal([]byte(raw), &e); err != nil || e.Generation != gen {
		return Entry{}, false, gen, nil // unreadable or stale: a miss, overwritten by the next Set
	}
	return e, true, gen, nil
}

func parseGen(v any) (int64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, nil // never invalidated
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cache: generation %q is not a number", s)
	}
	return n, nil
}

// Set implements Store.
func (r *Redis) Set(ctx context.Context, ns, key string, e Entry, ttl time.Duration) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("cache: set: %w", err)
	}
	if err := r.client.Set(ctx, entryKey(ns, key), b, ttl).Err(); err != nil {
		return fmt.Errorf("cache: set: %w", err)
	}
	return nil
}

// Generation implements Store.
func (r *Redis) Generation(ctx context.Context, ns string) (int64, error) {
	v, err := r.client.Get(ctx, genKey(ns)).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cache: generation: %w", err)
	}
	return parseGen(v)
}

// Invalidate implements Store. The new generation is announced to the Layered stores of every
// process (see Layered.Run) in the same round trip.
func (r *Redis) Invalidate(ctx context.Context, ns string) error {
	_, err := r.invalidate(ctx, ns)
	return err
}

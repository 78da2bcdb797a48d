package ratelimit

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// KeyPrefix starts every key the Redis limiter writes.
const KeyPrefix = "mm:rl:"

// redisRatePrefix is the prefix redis_rate puts before every key; see prefixed.
const redisRatePrefix = "rate:"

// Redis is the distributed GCRA limiter: github.com/go-redis/redis_rate, which runs the
// whole decision in one Lua script on the Redis server and reads the clock with Redis TIME,
// so every process sharing the Redis shares each key's bucket and no process clock matters.
//
// A key is stored as one string, KeyPrefix + key, holding the key's theoretical arrival
// time, with an expiry at the moment it is back to full capacity, so Redis keeps no key
// longer than it matters. Each call is one EVALSHA round trip on a single key, which makes
// it safe on Redis Cluster.
type Redis struct {
	rl *redis_rate.Limiter
}

// NewRedis returns a limiter that keeps its state in the Redis behind client.
//
// Every call is a network round trip that waits as long as the client lets it. With
// go-redis's default options a call against a Redis that refuses connections takes about
// 1.7s (command retries times dial retries with pauses), and one against a hung Redis waits
// for a pooled connection a second more: give it a client with tight timeouts and a breaker
// (internal/redisclient), and wrap the limiter with WithFallback so that a Redis that fails
// never fails a request nor drops its limit.
func NewRedis(client redis.UniversalClient) *Redis {
	return &Redis{rl: redis_rate.NewLimiter(prefixed{client})}
}

var _ Limiter = (*Redis)(nil)

// Allow is AllowN with n = 1.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	return r.AllowN(ctx, key, l, 1)
}

// AllowN reports whether n events may happen now for key under l, and records them if so.
func (r *Redis) AllowN(ctx context.Context, key string, l Limit, n int) (Result, error) {
	if err := checkCost(l, n); err != nil {
		return Result{}, err
	}
	lim := redis_rate.Limit{Rate: l.Rate, Period: l.Per, Burst: l.Capacity()}
	rr, err := r.rl.AllowN(ctx, KeyPrefix+key, lim, n)
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	res := Result{
		Allowed:    rr.Allowed > 0,
		Limit:      l.Capacity(),
		Remaining:  rr.Remaining,
		ResetAfter: max(rr.ResetAfter, 0),
	}
	if !res.Allowed {
		res.RetryAfter = max(rr.RetryAfter, 0)
	}
	return res, nil
}

// prefixed hands a Redis client to redis_rate with the "rate:" prefix that redis_rate puts
// before every key taken off again, so that the keys in Redis are exactly KeyPrefix + key:
// one namespace for MediaMesh's rate limits (ACLs, SCAN, memory reports).
type prefixed struct {
	c redis.UniversalClient
}

func unprefix(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strings.TrimPrefix(k, redisRatePrefix)
	}
	return out
}

func (p prefixed) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return p.c.Eval(ctx, script, unprefix(keys), args...)
}

func (p prefixed) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return p.c.EvalSha(ctx, sha1, unprefix(keys), args...)
}

func (p prefixed) EvalRO(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return p.c.EvalRO(ctx, script, unprefix(keys), args...)
}

func (p prefixed) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return p.c.EvalShaRO(ctx, sha1, unprefix(keys), args...)
}

func (p prefixed) ScriptExists(ctx context.Context, hashes ...string) *redis.BoolSliceCmd {
	return p.c.ScriptExists(ctx, hashes...)
}

func (p prefixed) ScriptLoad(ctx context.Context, script string) *redis.StringCmd {
	return p.c.ScriptLoad(ctx, script)
}

func (p prefixed) Del(ctx context.Context, keys ...string) *redis.IntCmd {
	return p.c.Del(ctx, unprefix(keys)...)
}

// Package idempotency makes creates safe to retry: the first request with an Idempotency-Key is
// processed and its response stored; the same key with the same request replays that response,
// the same key with a different request is refused. Records live in memory (embedded) or in Redis
// (split mode, shared by every gateway), and expire after a day by default.
package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Record is the state of one key: in flight until Done, then the stored response.
type Record struct {
	Hash   string      `json:"hash"` // of the request the key was first used with
	Done   bool        `json:"done"`
	Status int         `json:"status,omitempty"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body,omitempty"`
}

// Store keeps records.
type Store interface {
	// Begin reserves key for a request with hash for ttl. When the key is already taken it returns
	// the existing record and false.
	Begin(ctx context.Context, key, hash string, ttl time.Duration) (*Record, bool, error)
	// Complete stores the finished response of the request that reserved key.
	Complete(ctx context.Context, key string, rec Record, ttl time.Duration) error
	// Abandon frees key, so that the request can be retried (after a server error).
	Abandon(ctx context.Context, key string) error
}

// Memory is the in-process store.
type Memory struct {
	mu      sync.Mutex
	records map[string]memoryRecord
	now     func() time.Time
	swept   time.Time
}

type memoryRecord struct {
	rec     Record
	expires time.Time
}

// NewMemory returns an empty in-process store.
func NewMemory() *Memory {
	return &Memory{records: map[string]memoryRecord{}, now: time.Now}
}

// Begin implements Store.
func (m *Memory) Begin(_ context.Context, key, hash string, ttl time.Duration) (*Record, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweepLocked(now)
	if r, ok := m.records[key]; ok && now.Before(r.expires) {
		rec := r.rec
		return &rec, false, nil
	}
	m.records[key] = memoryRecord{rec: Record{Hash: hash}, expires: now.Add(ttl)}
	return nil, true, nil
}

// Complete implements Store.
func (m *Memory) Complete(_ context.Context, key string, rec Record, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec.Done = true
	m.records[key] = memoryRecord{rec: rec, expires: m.now().Add(ttl)}
	return nil
}

// Abandon implements Store.
func (m *Memory) Abandon(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.records, key)
	return nil
}

// sweepLocked drops expired records, at most once a minute, so memory stays bounded.
func (m *Memory) sweepLocked(now time.Time) {
	if now.Sub(m.swept) < time.Minute {
		return
	}
	m.swept = now
	for k, r := range m.records {
		if !now.Before(r.expires) {
			delete(m.records, k)
		}
	}
}

// Redis is the store shared by every gateway of a split deployment.
type Redis struct{ client redis.UniversalClient }

// NewRedis returns a store on client; keys are prefixed "mm:idem:".
func NewRedis(client redis.UniversalClient) *Redis { return &Redis{client: client} }

const redisPrefix = "mm:idem:"

// Begin implements Store.
func (r *Redis) Begin(ctx context.Context, key, hash string, ttl time.Duration) (*Record, bool, error) {
	data, err := json.Marshal(Record{Hash: hash})
	if err != nil {
		return nil, false, err
	}
	ok, err := r.client.SetNX(ctx, redisPrefix+key, data, ttl).Result()
	if err != nil {
		return nil, false, fmt.Errorf("idempotency: %w", err)
	}
	if ok {
		return nil, true, nil
	}
	raw, err := r.client.Get(ctx, redisPrefix+key).Bytes()
	if errors.Is(err, redis.Nil) { // expired in between: take it
		return r.Begin(ctx, key, hash, ttl)
	}
	if err != nil {
		return nil, false, fmt.Errorf("idempotency: %w", err)
	}
	var rec Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, false, fmt.Errorf("idempotency: record %s: %w", key, err)
	}
	return &rec, false, nil
}

// Complete implements Store.
func (r *Redis) Complete(ctx context.Context, key string, rec Record, ttl time.Duration) error {
	rec.Done = true
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return r.client.Set(ctx, redisPrefix+key, data, ttl).Err()
}

// Abandon implements Store.
func (r *Redis) Abandon(ctx context.Context, key string) error {
	return r.client.Del(ctx, redisPrefix+key).Err()
}

package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// shardCount is the number of independently locked maps of a Memory limiter; a power of two.
const shardCount = 64

// DefaultSweepInterval is how often a Memory limiter drops the keys that are back to full
// capacity, unless WithSweepInterval says otherwise.
const DefaultSweepInterval = time.Minute

// Memory is the in-process GCRA limiter: the embedded implementation, for a single process.
//
// Its state is one theoretical arrival time (TAT) per key in a map split into 64 shards,
// each behind its own mutex, so unrelated keys rarely contend. A key whose TAT has passed is
// back to full capacity, which is exactly the state of a key never seen, so it can be
// dropped without changing any answer. Each shard drops all such keys on the first access
// after its sweep interval has elapsed (no background goroutine, nothing to close): memory
// stays bounded by the keys that are not yet back to full capacity plus those that got
// there within the last sweep interval.
type Memory struct {
	now   func() time.Time
	base  time.Time // the origin of the nanosecond timestamps kept in the shards
	sweep int64     // sweep interval, ns
	seed  maphash.Seed

	shards [shardCount]memoryShard
}

type memoryShard struct {
	mu        sync.Mutex
	tat       map[string]int64 // theoretical arrival time, ns since Memory.base
	nextSweep int64            // ns since Memory.base
	_         [40]byte         // keeps neighbouring shards off one cache line
}

// MemoryOption configures NewMemory.
type MemoryOption func(*Memory)

// WithClock makes the limiter read time from now instead of time.Now; for tests.
func WithClock(now func() time.Time) MemoryOption {
	return func(m *Memory) { m.now = now }
}

// WithSweepInterval sets how often each shard drops the keys that are back to full
// capacity (default DefaultSweepInterval). Non-positive values are ignored.
func WithSweepInterval(d time.Duration) MemoryOption {
	return func(m *Memory) {
		if d > 0 {
			m.sweep = int64(d)
		}
	}
}

// NewMemory returns an empty in-process limiter.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{now: time.Now, sweep: int64(DefaultSweepInterval), seed: maphash.MakeSeed()}
	for _, o := range opts {
		o(m)
	}
	m.base = m.now()
	for i := range m.shards {
		m.shards[i].tat = make(map[string]int64)
	}
	return m
}

var _ Limiter = (*Memory)(nil)

// Allow is AllowN with n = 1.
func (m *Memory) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	return m.AllowN(ctx, key, l, 1)
}

// AllowN reports whether n events may happen now for key under l, and records them if so.
func (m *Memory) AllowN(_ context.Context, key string, l Limit, n int) (Result, error) {
	if err := checkCost(l, n); err != nil {
		return Result{}, err
	}
	interval := int64(l.Interval())
	tolerance := interval * int64(l.Capacity())
	increment := interval * int64(n)
	res := Result{Limit: l.Capacity()}

	s := &m.shards[maphash.String(m.seed, key)&(shardCount-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	// Read the clock under the lock so that each shard sees time move forward.
	now := int64(m.now().Sub(m.base))
	if now >= s.nextSweep {
		s.evict(now)
		s.nextSweep = now + m.sweep
	}
	tat, ok := s.tat[key]
	if !ok || tat < now {
		tat = now
	}
	newTAT := tat + increment
	allowAt := newTAT - tolerance
	if now < allowAt {
		res.RetryAfter = time.Duration(allowAt - now)
		res.ResetAfter = time.Duration(tat - now)
		return res, nil
	}
	s.tat[key] = newTAT
	res.Allowed = true
	res.Remaining = int((now - allowAt) / interval)
	res.ResetAfter = time.Duration(newTAT - now)
	return res, nil
}

// Len returns the number of keys the limiter currently holds, including those that are back
// to full capacity but not yet swept.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}

// evict drops the keys whose theoretical arrival time is not after now. Call with s.mu held.
func (s *memoryShard) evict(now int64) {
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
		}
	}
}

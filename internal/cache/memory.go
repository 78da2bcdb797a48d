package cache

import (
	"context"
	"sync"
	"time"
)

// Memory is a Store for one process. It holds at most MaxEntries entries (default 10,000); when
// full, it first drops expired and stale entries, then the entries closest to expiry.
type Memory struct {
	MaxEntries int

	mu      sync.Mutex
	entries map[string]memoryEntry
	gens    map[string]int64
	now     func() time.Time
	watch   []func(ns string)
}

type memoryEntry struct {
	ns      string
	e       Entry
	expires time.Time
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{entries: map[string]memoryEntry{}, gens: map[string]int64{}, now: time.Now}
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, ns, key string) (Entry, bool, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	gen := m.gens[ns]
	me, ok := m.entries[ns+"\x00"+key]
	if !ok || me.e.Generation != gen || !m.now().Before(me.expires) {
		return Entry{}, false, gen, nil
	}
	return me.e, true, gen, nil
}

// Set implements Store.
func (m *Memory) Set(_ context.Context, ns, key string, e Entry, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.Generation != m.gens[ns] {
		return nil // computed before an invalidation: stale already
	}
	limit := m.MaxEntries
	if limit <= 0 {
		limit = 10000
	}
	k := ns + "\x00" + key
	if _, exists := m.entries[k]; !exists && len(m.entries) >= limit {
		m.evict(limit)
	}
	m.entries[k] = memoryEntry{ns: ns, e: e, expires: m.now().Add(ttl)}
	return nil
}

// evict makes room for one entry: it drops every expired or stale entry, and if that is not
// enough, the one closest to expiry.
func (m *Memory) evict(limit int) {
	now := m.now()
	var soonest string
	var soonestAt time.Time
	for k, me := range m.entries {
		if !now.Before(me.expires) || me.e.Generation != m.gens[me.ns] {
			delete(m.entries, k)
			continue
		}
		if soonest == "" || me.expires.Before(soonestAt) {
			soonest, soonestAt = k, me.expires
		}
	}
	if len(m.entries) >= limit && soonest != "" {
		delete(m.entries, soonest)
	}
}

// Generation implements Store.
func (m *Memory) Generation(_ context.Context, ns string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gens[ns], nil
}

// Invalidate implements Store.
func (m *Memory) Invalidate(_ context.Context, ns string) error {
	m.mu.Lock()
	m.gens[ns]++
	watch := m.watch
	m.mu.Unlock()
	for _, fn := range watch {
		go fn(ns)
	}
	return nil
}

// OnInvalidate registers fn to be called (in its own goroutine) with every namespace invalidated.
func (m *Memory) OnInvalidate(fn func(ns string)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.watch = append(m.watch, fn)
}

package cache

import (
	"container/list"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// MaxStale is how long a Layered store trusts the generation it knows of a namespace without
// asking Redis: the bound on how late an invalidation reaches a gateway's L1 when the message that
// announces it is lost (Redis restarted, the subscription broke). The message itself arrives within
// milliseconds.
const MaxStale = time.Second

// l1TTL is how long an entry read from Redis stays in L1 at most: Redis does not say how long the
// entry has left, and TTLs are only a backstop (generations invalidate).
const l1TTL = 30 * time.Second

// Layered is the Store of a gateway that shares a Redis with other gateways: a small in-process L1,
// bounded by bytes, in front of Redis (L2). Both layers are invalidated by the same generations: a
// Get answers from L1 without a round trip when the entry is there under the namespace's current
// generation as this process knows it, and an invalidation (Redis INCR) is announced on a Redis
// channel, so every gateway's L1 drops it within milliseconds; a generation this process has not
// heard of for MaxStale is asked of Redis again, so a lost announcement costs at most that.
type Layered struct {
	l2       *Redis
	maxBytes int64
	now      func() time.Time
	log      *slog.Logger

	mu      sync.Mutex
	gens    map[string]knownGen
	entries map[string]*list.Element // of *l1Entry, by ns + "\x00" + key
	lru     list.List                // front: most recently used
	bytes   int64
	watch   []func(ns string)
}

type knownGen struct {
	gen  int64
	seen time.Time // when this process last learnt it from Redis or an announcement
}

type l1Entry struct {
	k       string
	ns      string
	e       Entry
	size    int64
	expires time.Time
}

// NewLayered returns a two-layer store over l2 with an L1 of at most maxBytes (0: no L1, every Get
// goes to Redis, but generations are still announced). Run must run for announcements to arrive.
func NewLayered(l2 *Redis, maxBytes int64, log *slog.Logger) *Layered {
	if log == nil {
		log = slog.Default()
	}
	return &Layered{l2: l2, maxBytes: maxBytes, now: time.Now, log: log, gens: map[string]knownGen{}, entries: map[string]*list.Element{}}
}

// Get implements Store.
func (l *Layered) Get(ctx context.Context, ns, key string) (Entry, bool, int64, error) {
	k := ns + "\x00" + key
	l.mu.Lock()
	if g, ok := l.gens[ns]; ok && l.now().Sub(g.seen) < MaxStale {
		if el, ok := l.entries[k]; ok {
			le := el.Value.(*l1Entry)
			if le.e.Generation == g.gen && l.now().Before(le.expires) {
				l.lru.MoveToFront(el)
				l.mu.Unlock()
				return le.e, true, g.gen, nil
			}
		}
	}
	l.mu.Unlock()
	e, ok, gen, err := l.l2.Get(ctx, ns, key)
	if err != nil {
		return e, ok, gen, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.learn(ns, gen)
	if ok {
		l.put(k, ns, e, l1TTL)
	}
	return e, ok, gen, nil
}

// Set implements Store.
func (l *Layered) Set(ctx context.Context, ns, key string, e Entry, ttl time.Duration) error {
	if err := l.l2.Set(ctx, ns, key, e, ttl); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if g, ok := l.gens[ns]; !ok || g.gen == e.Generation {
		l.put(ns+"\x00"+key, ns, e, min(ttl, l1TTL))
	}
	return nil
}

// Generation implements Store.
func (l *Layered) Generation(ctx context.Context, ns string) (int64, error) {
	l.mu.Lock()
	if g, ok := l.gens[ns]; ok && l.now().Sub(g.seen) < MaxStale {
		l.mu.Unlock()
		return g.gen, nil
	}
	l.mu.Unlock()
	gen, err := l.l2.Generation(ctx, ns)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	l.learn(ns, gen)
	l.mu.Unlock()
	return gen, nil
}

// Invalidate implements Store: the new generation is this process's at once and announced to the
// others.
func (l *Layered) Invalidate(ctx context.Context, ns string) error {
	gen, err := l.l2.invalidate(ctx, ns)
	if err != nil {
		return err
	}
	l.heard(ns, gen)
	return nil
}

// OnInvalidate registers fn to be called (in its own goroutine) with every namespace invalidated
// here or announced by another process.
func (l *Layered) OnInvalidate(fn func(ns string)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.watch = append(l.watch, fn)
}

// Run receives the announcements of invalidations until ctx ends (it then returns nil),
// subscribing again after a failure. While it is not subscribed, generations are asked of Redis
// every MaxStale.
func (l *Layered) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := l.receive(ctx)
		if ctx.Err() != nil {
			break
		}
		l.log.Debug("cache invalidations: subscription ended; subscribing again", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	return nil
}

// receive subscribes to the announcements and applies them until the subscription fails.
func (l *Layered) receive(ctx context.Context) error {
	ps := l.l2.client.Subscribe(ctx, invalidationChannel)
	defer ps.Close()
	// A receive waits on the connection, which the end of ctx does not interrupt: closing does.
	defer context.AfterFunc(ctx, func() { _ = ps.Close() })()
	if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
		return err
	}
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			return err
		}
		m, ok := msg.(*redis.Message)
		if !ok {
			continue // pong or subscription change
		}
		ns, genText, ok := strings.Cut(m.Payload, "\x00")
		gen, err := strconv.ParseInt(genText, 10, 64)
		if !ok || err != nil {
			l.log.Warn("cache invalidations: an announcement that is not ns\\0generation", "payload", m.Payload)
			continue
		}
		l.heard(ns, gen)
	}
}

// heard records an announced (or own) invalidation of ns to gen and tells the watchers.
func (l *Layered) heard(ns string, gen int64) {
	l.mu.Lock()
	l.learn(ns, gen)
	watch := l.watch
	l.mu.Unlock()
	for _, fn := range watch {
		go fn(ns)
	}
}

// learn records gen as the current generation of ns (a generation never goes back: an older one
// is an announcement that arrived late). l.mu must be held.
func (l *Layered) learn(ns string, gen int64) {
	if g, ok := l.gens[ns]; ok && g.gen > gen {
		gen = g.gen
	}
	l.gens[ns] = knownGen{gen: gen, seen: l.now()}
}

// put stores e in L1 under k, evicting the least recently used entries beyond maxBytes. l.mu must
// be held.
func (l *Layered) put(k, ns string, e Entry, ttl time.Duration) {
	size := int64(len(k) + len(e.Body) + 64)
	for name, vs := range e.Header {
		size += int64(len(name))
		for _, v := range vs {
			size += int64(len(v))
		}
	}
	if size > l.maxBytes {
		return
	}
	if el, ok := l.entries[k]; ok {
		l.remove(el)
	}
	for l.bytes+size > l.maxBytes {
		l.remove(l.lru.Back())
	}
	l.entries[k] = l.lru.PushFront(&l1Entry{k: k, ns: ns, e: e, size: size, expires: l.now().Add(ttl)})
	l.bytes += size
}

func (l *Layered) remove(el *list.Element) {
	le := l.lru.Remove(el).(*l1Entry)
	delete(l.entries, le.k)
	l.bytes -= le.size
}

// l1Bytes returns how many bytes L1 holds (for tests).
func (l *Layered) l1Bytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes
}

// invalidationChannel is the Redis channel of the announcements: "ns\x00generation".
const invalidationChannel = "mediamesh:cache-invalidations"

// invalidateScript bumps a generation and announces it in one round trip.
var invalidateScript = redis.NewScript(`
local g = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2] .. '\0' .. g)
return g`)

// invalidate bumps the generation of ns, announces it on invalidationChannel and returns it.
func (r *Redis) invalidate(ctx context.Context, ns string) (int64, error) {
	gen, err := invalidateScript.Run(ctx, r.client, []string{genKey(ns)}, invalidationChannel, ns).Int64()
	if err != nil {
		return 0, fmt.Errorf("cache: invalidate %s: %w", ns, err)
	}
	return gen, nil
}

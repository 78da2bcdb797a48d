package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mediamesh/mediamesh/internal/cache"
	"github.com/mediamesh/mediamesh/internal/contract"
	"github.com/mediamesh/mediamesh/internal/policy"
)

// maxCachedBody is the largest response body the gateway caches.
const maxCachedBody = 1 << 20

// staleTTL is how long the last good answer of a cached read is kept to stand in for the service
// while it fails (stale-if-error): a service down for up to this long still has its cached reads
// answered, marked X-Cache: STALE, instead of a 503. The fault suite found reads failing while a
// killed search or discovery was down or just back (entries expired or invalidated, the breaker
// still open). The last good answers live in cache.Takedowns, which a takedown invalidates: what
// was taken out of public view is never served again, not even stale.
const staleTTL = 10 * time.Minute

// cachedHeaders are the response headers a cache hit repeats, and that the requests that shared a
// miss get: Retry-After, so a 503 of the service reaches each of them with it.
var cachedHeaders = []string{"Content-Type", "Content-Language", "ETag", "Retry-After"}

// cacheable reports whether the gateway answers op from its cache: a public GET with x-cache.
func (g *Gateway) cacheable(r *http.Request, op *policy.Operation) bool {
	return g.cfg.Cache != nil && op.CacheTTL > 0 && !op.Secured && r.Method == http.MethodGet
}

// cached answers a cacheable read cache-aside: a current entry is served at once; on a miss one
// request per key and generation (single-flight) computes the response from the service and stores
// it for the operation's x-cache TTL, while concurrent requests for the same key wait for it
// instead of reaching the service. Entries are invalidated by generation (see internal/cache): the
// service that owns the read model bumps it when an event changed something. Every answer carries
// an ETag, the cache namespaces it depends on as Surrogate-Key and Cache-Tag, and
// `Cache-Control: public, no-cache`, so CDNs and browsers may keep it but revalidate
// (If-None-Match -> 304) before each reuse; with Config.CDNMaxAge, a CDN may serve it that long
// without asking (s-maxage) and purges it by its tags (see Purger). When the cache store fails the request goes to the
// service uncached. When the service fails (a 5xx: down, its breaker open, timing out), the last
// good answer of the read, kept staleTTL, is served instead (stale-if-error), marked X-Cache: STALE.
//
// An operation with an x-cache scope is stored in the scope's namespace (cache.Scope: the item of
// its path parameter, or a named part such as the lists) with the service's generation in its key,
// so the service invalidates it by changing that item or anything at all, and a change of another
// item leaves it cached.
func (g *Gateway) cached(w http.ResponseWriter, r *http.Request, m *contract.Match, upstream http.Handler) {
	op := m.Op
	key := cacheKey(r, m)
	read := CachedRead{Label: op.ID, Namespace: op.Service, Key: key, TTL: op.CacheTTL}
	read.StaleKey = read.Namespace + "\x00" + read.Key
	if sc := op.CacheScope; sc != nil && g.cfg.Cache != nil {
		gen, err := g.cfg.Cache.Generation(r.Context(), op.Service)
		if err != nil {
			g.cfg.Log.DebugContext(r.Context(), "cache unavailable; serving uncached", "error", err)
			g.countCache(op.ID, "error")
			upstream.ServeHTTP(w, r)
			return
		}
		read.Namespace = cache.Scope(op.Service, sc.Name, m.Params[sc.Param])
		read.Key = "g" + strconv.FormatInt(gen, 10) + ":" + read.Key
		read.Tags = []string{op.Service, read.Namespace}
	}
	if g.warm != nil {
		g.warm.track(r, m, upstream, op.Service, read.Namespace, key)
	}
	g.ServeCached(w, r, read, upstream)
}

// cacheKey is what identifies a cached read: the path and the query parameters the operation
// declares, in canonical order. A parameter the contract does not declare changes nothing the
// service answers (the services ignore it), so it is not part of the key either: random
// parameters cannot make new entries and fill the store.
func cacheKey(r *http.Request, m *contract.Match) string {
	q := r.URL.Query()
	declared := url.Values{}
	if m.Route != nil {
		for _, ps := range []openapi3.Parameters{m.Route.PathItem.Parameters, m.Route.Operation.Parameters} {
			for _, p := range ps {
				if p == nil || p.Value == nil || p.Value.In != openapi3.ParameterInQuery {
					continue
				}
				if vs, ok := q[p.Value.Name]; ok {
					declared[p.Value.Name] = vs
				}
			}
		}
	}
	return r.URL.Path + "?" + declared.Encode()
}

// CachedRead is a read that ServeCached answers from the cache.
type CachedRead struct {
	Label     string        // the operation, for metrics and logs
	Namespace string        // the service whose read model the response comes from (see cache)
	Key       string        // what identifies the response within the namespace
	TTL       time.Duration // the backstop expiry of the entry
	// Keep reports whether a 200 response body may be stored; nil keeps every one.
	Keep func(body []byte) bool
	// StaleKey identifies the last good answer across generations (see staleTTL); empty: the
	// namespace and key.
	StaleKey string
	// Tags are the cache namespaces the answer depends on (the one it is stored in and those whose
	// generation is in its key), sent as its Surrogate-Key and Cache-Tag, so that a CDN in front
	// can purge it when one of them is invalidated (see Purger); empty: the namespace.
	Tags []string
}

// ServeCached answers the read cache-aside from the gateway's cache (see cached) with upstream
// computing a missing entry. Without a cache it is upstream.
func (g *Gateway) ServeCached(w http.ResponseWriter, r *http.Request, read CachedRead, upstream http.Handler) {
	if g.cfg.Cache == nil {
		upstream.ServeHTTP(w, r)
		return
	}
	ctx := r.Context()
	e, ok, gen, err := g.cfg.Cache.Get(ctx, read.Namespace, read.Key)
	if err != nil {
		g.cfg.Log.DebugContext(ctx, "cache unavailable; serving uncached", "error", err)
		g.countCache(read.Label, "error")
		upstream.ServeHTTP(w, r)
		return
	}
	result := "hit"
	if !ok {
		result = "miss"
		v, _, shared := g.flight.Do(read.Namespace+"\x00"+read.Key+"\x00"+strconv.FormatInt(gen, 10), func() (any, error) {
			return g.fill(r, read, upstream, gen), nil
		})
		f := v.(filled)
		switch {
		case f.stale:
			result = "stale"
		case shared:
			result = "shared"
		case warming(r):
			result = "warm"
		}
		e = f.Entry
	}
	g.countCache(read.Label, result)
	h := w.Header()
	for _, name := range cachedHeaders {
		if vs := e.Header.Values(name); len(vs) > 0 {
			h[http.CanonicalHeaderKey(name)] = append([]string(nil), vs...)
		}
	}
	h.Set("X-Cache", strings.ToUpper(result))
	if e.Status != http.StatusOK {
		w.WriteHeader(e.Status)
		_, _ = w.Write(e.Body)
		return
	}
	h.Set("Cache-Control", g.cacheControl)
	tags := read.Tags
	if len(tags) == 0 {
		tags = []string{read.Namespace}
	}
	h.Set("Surrogate-Key", strings.Join(tags, " "))
	h.Set("Cache-Tag", strings.Join(tags, ","))
	if etagMatches(r.Header.Get("If-None-Match"), e.Header.Get("ETag")) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(e.Body)
}

// filled is the answer to a cache miss: from the service, or its last good answer (stale).
type filled struct {
	cache.Entry
	stale bool
}

// fill answers a cache miss. When the read has a last good answer and the gateway has StaleAfter,
// the service gets that long: a service slower than that (overloaded, or waiting on a database
// that is down) has the last good answer served meanwhile, marked X-Cache: STALE, while its answer
// is computed in the background and stored for the next request (stale-while-revalidate; one
// background computation per read at a time). Otherwise the miss waits for the service (compute).
func (g *Gateway) fill(r *http.Request, read CachedRead, upstream http.Handler, gen int64) filled {
	// The waiters share this response: a client that goes away must not cancel it for them.
	ctx := context.WithoutCancel(r.Context())
	in := r.Clone(ctx)
	in.Header.Del("If-None-Match") // the cache needs the body
	if read.StaleKey == "" {
		read.StaleKey = read.Namespace + "\x00" + read.Key
	}
	// Read before the service answers, as gen was: a takedown while it computes the answer then
	// keeps that answer out of the last good answers.
	takedowns, err := g.cfg.Cache.Generation(ctx, cache.Takedowns)
	if err != nil {
		return g.compute(ctx, in, read, upstream, gen, nil, 0)
	}
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	last, ok, _, err := g.cfg.Cache.Get(sctx, cache.Takedowns, read.StaleKey)
	cancel()
	if err != nil || !ok {
		return g.compute(ctx, in, read, upstream, gen, nil, takedowns)
	}
	if g.cfg.StaleAfter <= 0 {
		return g.compute(ctx, in, read, upstream, gen, &last, takedowns)
	}
	if _, busy := g.revalidating.LoadOrStore(read.StaleKey, true); busy {
		return filled{Entry: last, stale: true}
	}
	done := make(chan filled, 1)
	go func() {
		defer g.revalidating.Delete(read.StaleKey)
		defer func() {
			// Off the request's goroutine, the server's recovery does not reach a panic of the
			// service: it would end the process. The reader gets the last good answer instead.
			if v := recover(); v != nil {
				g.cfg.Log.ErrorContext(ctx, "cached read: the service panicked", "operation", read.Label, "panic", v)
				done <- filled{Entry: last, stale: true}
			}
		}()
		done <- g.compute(ctx, in, read, upstream, gen, &last, takedowns)
	}()
	timer := time.NewTimer(g.cfg.StaleAfter)
	defer timer.Stop()
	select {
	case f := <-done:
		return f
	case <-timer.C:
		return filled{Entry: last, stale: true}
	}
}

// compute asks the service for the read and stores a 200 answer, also as the read's last good
// answer (under takedowns, the generation of cache.Takedowns read before the service was asked).
// When the service fails (a 5xx: down, its breaker open, timing out) it answers last, the read's
// last good answer, if there is one (stale-if-error).
func (g *Gateway) compute(ctx context.Context, in *http.Request, read CachedRead, upstream http.Handler, gen int64, last *cache.Entry, takedowns int64) filled {
	rec := httptest.NewRecorder()
	upstream.ServeHTTP(rec, in)
	e := cache.Entry{Status: rec.Code, Header: http.Header{}, Body: rec.Body.Bytes(), Generation: gen}
	for _, name := range cachedHeaders {
		if vs := rec.Header().Values(name); len(vs) > 0 {
			e.Header[http.CanonicalHeaderKey(name)] = vs
		}
	}
	if e.Status >= http.StatusInternalServerError {
		if last != nil {
			return filled{Entry: *last, stale: true}
		}
		return filled{Entry: e}
	}
	if e.Status != http.StatusOK || len(e.Body) > maxCachedBody || read.Keep != nil && !read.Keep(e.Body) {
		return filled{Entry: e}
	}
	if e.Header.Get("ETag") == "" {
		sum := sha256.Sum256(e.Body)
		e.Header.Set("ETag", `"`+hex.EncodeToString(sum[:12])+`"`)
	}
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := g.cfg.Cache.Set(sctx, read.Namespace, read.Key, e, read.TTL); err != nil {
		g.cfg.Log.DebugContext(ctx, "could not store a cache entry", "operation", read.Label, "error", err)
		return filled{Entry: e}
	}
	good := e
	good.Generation = takedowns
	if err := g.cfg.Cache.Set(sctx, cache.Takedowns, read.StaleKey, good, staleTTL); err != nil {
		g.cfg.Log.DebugContext(ctx, "could not store the last good answer", "operation", read.Label, "error", err)
	}
	return filled{Entry: e}
}

// etagMatches reports whether an If-None-Match header names etag (or is *), weak or strong.
func etagMatches(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" || etag == "" {
		return false
	}
	if strings.TrimSpace(ifNoneMatch) == "*" {
		return true
	}
	bare := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(ifNoneMatch, ",") {
		if strings.TrimPrefix(strings.TrimSpace(t), "W/") == bare {
			return true
		}
	}
	return false
}

// cacheRequests counts cacheable requests by result: hit, miss, shared (waited for another
// request's miss), stale (the service failed; its last good answer served), error (the store
// failed; served uncached) or warm (the warmer recomputed a hot read after an invalidation). The
// hit ratio is hit / (hit + miss + shared).
var cacheRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "mediamesh_cache_requests_total",
	Help: "Cacheable gateway requests by operation and result (hit, miss, shared, stale, error, warm).",
}, []string{"operation", "result"})

// RegisterCacheMetrics registers the gateway cache metrics with reg (once per registry).
func RegisterCacheMetrics(reg prometheus.Registerer) error {
	if err := reg.Register(cacheRequests); err != nil {
		var already prometheus.AlreadyRegisteredError
		if !errors.As(err, &already) {
			return err
		}
	}
	return nil
}

func (g *Gateway) countCache(label, result string) {
	cacheRequests.WithLabelValues(label, result).Inc()
}

package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/mediamesh/mediamesh/internal/cache"
	"github.com/mediamesh/mediamesh/internal/contract"
)

// warmer keeps the gateway's hot cached reads (the most requested of the last minutes: the home
// lists, the pages of popular programs and their episodes, the category pages) and recomputes those
// of a namespace in the background as soon as the namespace is invalidated, so that the first
// reader after a publish, an unpublish or a category change finds the new answer cached instead of
// paying the miss. A recomputation goes through the same single-flight path as a reader's miss.
type warmer struct {
	g   *Gateway
	max int // reads tracked at most

	mu        sync.Mutex
	reads     map[string]*hotRead // by namespace and key
	lastDecay time.Time
}

// hotRead is a cached read the warmer tracks.
type hotRead struct {
	id       string
	service  string // its service's namespace: a bump of it makes every read of the service stale
	ns       string // the namespace its entry lives in (the service's, or a scope's)
	m        *contract.Match
	upstream http.Handler
	path     string // path and query of the read
	hits     float64
	running  bool // a recomputation is under way
	again    bool // invalidated again while running: recompute once more after
}

// warmEvery is how often the warmer halves the hit counts, so that reads that were hot long ago
// make room for the hot ones now.
const warmEvery = time.Minute

// warmPerInvalidation bounds the reads one invalidation recomputes (the hottest first).
const warmPerInvalidation = 32

type warmingKey struct{}

// warming reports whether r is a warmer's recomputation.
func warming(r *http.Request) bool { return r.Context().Value(warmingKey{}) != nil }

func newWarmer(g *Gateway, max int) *warmer {
	return &warmer{g: g, max: max, reads: map[string]*hotRead{}, lastDecay: time.Now()}
}

// track counts a request of a cached read.
func (w *warmer) track(r *http.Request, m *contract.Match, upstream http.Handler, service, ns, key string) {
	if warming(r) {
		return
	}
	id := ns + "\x00" + key
	w.mu.Lock()
	defer w.mu.Unlock()
	if now := time.Now(); now.Sub(w.lastDecay) >= warmEvery {
		for k, h := range w.reads {
			if h.hits /= 2; h.hits < 0.5 && !h.running {
				delete(w.reads, k)
			}
		}
		w.lastDecay = now
	}
	if h, ok := w.reads[id]; ok {
		h.hits++
		return
	}
	if len(w.reads) >= w.max {
		var coldest *hotRead
		for _, h := range w.reads {
			if !h.running && (coldest == nil || h.hits < coldest.hits) {
				coldest = h
			}
		}
		if coldest == nil || coldest.hits > 1 {
			return // every tracked read is hotter than a first request
		}
		delete(w.reads, coldest.id)
	}
	w.reads[id] = &hotRead{id: id, service: service, ns: ns, m: m, upstream: upstream, path: r.URL.RequestURI(), hits: 1}
}

// invalidated recomputes the hottest reads that the invalidation of ns made stale.
func (w *warmer) invalidated(ns string) {
	if ns == cache.Takedowns {
		return // last good answers, not entries
	}
	w.mu.Lock()
	var stale []*hotRead
	for _, h := range w.reads {
		if h.ns == ns || h.service == ns {
			stale = append(stale, h)
		}
	}
	slices.SortFunc(stale, func(a, b *hotRead) int {
		switch {
		case a.hits > b.hits:
			return -1
		case a.hits < b.hits:
			return 1
		}
		return 0
	})
	var run []*hotRead
	for _, h := range stale[:min(len(stale), warmPerInvalidation)] {
		if h.running {
			h.again = true
			continue
		}
		h.running = true
		run = append(run, h)
	}
	w.mu.Unlock()
	for _, h := range run {
		w.recompute(h)
	}
}

// recompute answers h as a reader's miss would, storing the answer, and again while it was
// invalidated meanwhile.
func (w *warmer) recompute(h *hotRead) {
	for {
		ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), warmingKey{}, true), 10*time.Second)
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, h.path, nil)
		w.g.cached(httptest.NewRecorder(), req, h.m, h.upstream)
		cancel()
		w.mu.Lock()
		again := h.again
		h.again, h.running = false, again
		w.mu.Unlock()
		if !again {
			return
		}
	}
}

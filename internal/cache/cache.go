// Package cache keeps cached HTTP responses of public reads for the gateways (cache-aside per the
// contract's x-cache) and invalidates them by generation: every namespace (the service whose read
// model a response comes from) has a counter, each entry records the counter it was computed under,
// and an entry whose generation is not the current one is a miss. A service bumps its namespace's
// generation after its read model changed (Invalidate), so invalidation is one O(1) write however
// many entries exist, and it cannot race with a request that read the old state: that request
// stores its entry under the old generation. TTLs are only a backstop.
//
// A service may also scope what a response shows (see Scope): a response stored in a scope's
// namespace, with the service's own generation in its key, is invalidated by a change of that
// scope or of the whole service.
//
// Two implementations share the Store interface and one test suite: Memory, for one process, and
// Redis, shared by every gateway process.
package cache

import (
	"context"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Entry is a cached response.
type Entry struct {
	Status     int         `json:"status"`
	Header     http.Header `json:"header"`
	Body       []byte      `json:"body"`
	Generation int64       `json:"generation"` // of the namespace when the response was computed
}

// Store holds cached entries and the generations that invalidate them. Implementations are safe for
// concurrent use.
type Store interface {
	// Get returns the entry stored under key in namespace ns, if there is one and it was stored
	// under the namespace's current generation, and the current generation either way.
	Get(ctx context.Context, ns, key string) (e Entry, ok bool, generation int64, err error)
	// Set stores e under key in ns for ttl. e.Generation must be the generation read before the
	// response was computed (from Get or Generation).
	Set(ctx context.Context, ns, key string, e Entry, ttl time.Duration) error
	// Generation returns the current generation of ns (0 until the first Invalidate).
	Generation(ctx context.Context, ns string) (int64, error)
	// Invalidate makes every entry of ns stored so far stale.
	Invalidate(ctx context.Context, ns string) error
}

// Watcher is a Store that tells who asks of every invalidation: the gateway warms the hot reads of
// an invalidated namespace (see gateway.Warmer). Memory and Layered are Watchers.
type Watcher interface {
	OnInvalidate(fn func(ns string))
}

// Takedowns is the namespace of the gateways' last good answers, which stand in for a service
// while it fails (stale-if-error). A read model invalidates it whenever a change takes something
// out of public view (unpublished, deleted, an asset or category removed): a takedown voids every
// last good answer, so nothing taken down is served again, not even while its service is down.
const Takedowns = "takedowns"

// scopeBuckets is how many namespaces the items of one scope share (see Scope): a bound on the
// generations a store keeps, whatever the number of items.
const scopeBuckets = 1024

// Scope returns the namespace of the cached responses of service that show only the item id of
// scope (a program, an episode), or, when id is empty, only what scope names (the lists): the
// gateway stores such a response there, and the service invalidates it when that item changes,
// leaving the rest of its responses cached. The items of a scope share scopeBuckets namespaces,
// so a change may also invalidate a few other items' responses, never too few.
func Scope(service, scope, id string) string {
	if id == "" {
		return service + "/" + scope
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(strings.ToLower(id))) // ids are UUIDs, which a path may spell in capitals
	return service + "/" + scope + "/" + strconv.FormatUint(uint64(h.Sum32()%scopeBuckets), 10)
}

// Package cache keeps cached HTTP responses of public reads for the gateways (cache-aside per the
// contract's x-cache) and invalidates them by generation: every namespace (the service whose read
// model a response comes from) has a counter, each entry records the counter it was computed under,
// and an entry whose generation is not the current one is a miss. A service bumps its namespace's
// generation after its read model changed (Invalidate), so invalidation is one O(1) write however
// many entries exist, and it cannot race with a request that read the old state: that request
// stores its entry under the old generation. TTLs are only a backstop.
//
// Two implementations share the Store interface and one test suite: Memory, for one process, and
// Redis, shared by every gateway process.
package cache

import (
	"context"
	"net/http"
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

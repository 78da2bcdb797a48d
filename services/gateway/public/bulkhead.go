package public

import (
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// Engagement posts (recordEngagement) go through a bulkhead: at most EventConcurrency of them are
// worked on at once (checked, validated, written to the outbox), the others wait their turn, so a
// burst of events takes a bounded share of the cores and the reads beside it keep theirs (issue
// 15: 5,000 events/s raised the browse p99 by more than 200% when every post ran at once). A post
// that would wait longer than EventQueueWait, or find EventQueue posts already waiting, is answered
// 503 with Retry-After: the player keeps its batch and sends it again.
const (
	// EventQueue is how many engagement posts may wait for a turn.
	EventQueue = 256
	// EventQueueWait is the longest an engagement post waits for a turn.
	EventQueueWait = time.Second
)

// EventConcurrency is how many engagement posts a gateway works on at once: half the cores the
// process may use, at least one.
func EventConcurrency() int { return max(runtime.GOMAXPROCS(0)/2, 1) }

// eventsPath is recordEngagement's route on the public gateway.
const eventsPath = "POST /api/v1/discovery/events"

// bulkhead lets at most cap(slots) requests through to next at once; up to queue more wait at most
// wait for a slot; the rest are answered 503.
type bulkhead struct {
	next    http.Handler
	slots   chan struct{}
	waiting atomic.Int64
	queue   int64
	wait    time.Duration
}

func newBulkhead(next http.Handler, concurrency, queue int, wait time.Duration) *bulkhead {
	return &bulkhead{next: next, slots: make(chan struct{}, max(concurrency, 1)), queue: int64(queue), wait: wait}
}

func (b *bulkhead) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case b.slots <- struct{}{}:
	default:
		if !b.await(w, r) {
			return
		}
	}
	defer func() { <-b.slots }()
	b.next.ServeHTTP(w, r)
}

// await waits for a slot; false when the request was answered (503) or its client went away.
func (b *bulkhead) await(w http.ResponseWriter, r *http.Request) bool {
	defer b.waiting.Add(-1)
	if b.waiting.Add(1) > b.queue {
		apierror.Write(w, r, apierror.Unavailable("too many engagement posts are waiting; send the batch again later", time.Second))
		return false
	}
	t := time.NewTimer(b.wait)
	defer t.Stop()
	select {
	case b.slots <- struct{}{}:
		return true
	case <-t.C:
		apierror.Write(w, r, apierror.Unavailable("the engagement posts ahead of this one took too long; send the batch again later", time.Second))
		return false
	case <-r.Context().Done():
		w.WriteHeader(httpserver.StatusClientClosedRequest) // recorded, never read
		return false
	}
}

package public

import (
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/mediamesh/mediamesh/internal/admission"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// Engagement posts (recordEngagement) go through a bulkhead: at most EventConcurrency of them are
// worked on at once (checked, validated, written to the outbox), the others wait their turn, so a
// burst of events (a crowd of players posting at once) has a bounded number of posts decoding and
// allocating, and the reads beside it keep a share of the cores (issue 15). A post that would wait longer than EventQueueWait, or find EventQueue posts already
// waiting, is answered 503 with Retry-After: the player keeps its batch and sends it again.
//
// The slot bounds CPU work, not waiting: a service in the same process gives it back
// (admission.Release) once it has done the work of the post and waits for the database's writer,
// so the posts that wait still share group commits. One post per core: with a slot held through the
// commit, one slot on two cores lost the group commits and, on a busy machine, took fewer events
// than without a bulkhead; one slot per core, even with the slot given back, took 30-40% fewer in
// 16-connection runs on a busy machine (a holder descheduled by the OS holds its slot idle), four
// per core as many as without a bulkhead (tools/loadgen/engagement.sh, docs/performance.md).
const (
	// EventQueue is how many engagement posts may wait for a turn.
	EventQueue = 256
	// EventQueueWait is the longest an engagement post waits for a turn.
	EventQueueWait = 5 * time.Second
)

// EventConcurrency is how many engagement posts a gateway works on at once: four per core the
// process may use.
func EventConcurrency() int { return 4 * runtime.GOMAXPROCS(0) }

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
	release := func() { <-b.slots }
	ctx := admission.WithRelease(r.Context(), release)
	defer admission.Release(ctx)
	b.next.ServeHTTP(w, r.WithContext(ctx))
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

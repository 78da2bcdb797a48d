package public

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// loader batches and memoizes the loads of one GraphQL request. Loads of new keys join the open
// batch, which is fetched in one call as soon as every load the callers announced has been asked
// for (see siblings), or it holds max keys, or wait has passed since its first key, whichever
// comes first. A key is fetched at most once per request; later loads of it share the result.
type loader[K comparable, V any] struct {
	ctx   context.Context // the request's: fetches run on it
	log   *slog.Logger
	wait  time.Duration
	max   int
	fetch func(ctx context.Context, keys []K) []outcome[V] // one outcome per key, in order

	mu       sync.Mutex
	memo     map[K]*future[V]
	open     *batch[K, V]
	asked    int // loads since the expectation was last met
	expected int // the most loads a caller announced
}

// outcome is the result of fetching one key.
type outcome[V any] struct {
	val V
	err error
}

// future is a key's outcome, ready once its batch is fetched.
type future[V any] struct {
	ready chan struct{}
	outcome[V]
}

// batch is a set of keys fetched together.
type batch[K comparable, V any] struct {
	keys    []K
	futures []*future[V]
	timer   *time.Timer
}

// newLoader returns a loader of one request, whose context is ctx.
func newLoader[K comparable, V any](ctx context.Context, log *slog.Logger, wait time.Duration, max int, fetch func(context.Context, []K) []outcome[V]) *loader[K, V] {
	return &loader[K, V]{ctx: ctx, log: log, wait: wait, max: max, fetch: fetch, memo: map[K]*future[V]{}}
}

// load returns the value of key. want is how many loads the caller expects side by side with
// this one (its siblings, itself included); the open batch goes once that many were asked for.
func (l *loader[K, V]) load(ctx context.Context, key K, want int) (V, error) {
	l.mu.Lock()
	f, known := l.memo[key]
	if !known {
		if l.open == nil {
			b := &batch[K, V]{}
			b.timer = time.AfterFunc(l.wait, func() { l.dispatch(b) })
			l.open = b
		}
		f = &future[V]{ready: make(chan struct{})}
		l.memo[key] = f
		l.open.keys, l.open.futures = append(l.open.keys, key), append(l.open.futures, f)
	}
	l.asked++
	l.expected = max(l.expected, want)
	met := l.asked >= l.expected
	if met {
		l.asked, l.expected = 0, 0
	}
	ready := l.open
	if ready != nil && (met || len(ready.keys) >= l.max) {
		l.open = nil
		ready.timer.Stop()
	} else {
		ready = nil
	}
	l.mu.Unlock()
	if ready != nil {
		go l.run(ready)
	}
	select {
	case <-f.ready:
		return f.val, f.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// dispatch fetches b when its wait is over, unless it is already on its way. The announced loads
// that never came are forgotten.
func (l *loader[K, V]) dispatch(b *batch[K, V]) {
	l.mu.Lock()
	mine := l.open == b
	if mine {
		l.open = nil
		l.asked, l.expected = 0, 0
	}
	l.mu.Unlock()
	if mine {
		l.run(b)
	}
}

// run fetches b and releases its loads.
func (l *loader[K, V]) run(b *batch[K, V]) {
	outcomes := l.fetchSafely(b.keys)
	for i, f := range b.futures {
		f.outcome = outcomes[i]
		close(f.ready)
	}
}

// fetchSafely calls fetch, outside gqlgen's panic handlers: a panic, or a fetch that does not
// answer every key, fails the batch with INTERNAL rather than the process.
func (l *loader[K, V]) fetchSafely(keys []K) (outcomes []outcome[V]) {
	defer func() {
		if v := recover(); v != nil || len(outcomes) != len(keys) {
			l.log.ErrorContext(l.ctx, "loader failed", "panic", v, "keys", len(keys), "outcomes", len(outcomes))
			outcomes = make([]outcome[V], len(keys))
			for i := range outcomes {
				outcomes[i].err = &apiError{code: codeInternal, message: "internal server error"}
			}
		}
	}()
	return l.fetch(l.ctx, keys)
}

// siblings is how many elements the nearest list above the resolving field has (1 outside lists):
// how many times gqlgen runs the field's resolver side by side, so a loader need not wait longer.
func siblings(ctx context.Context) int {
	for fc := graphql.GetFieldContext(ctx); fc != nil && fc.Parent != nil; fc = fc.Parent {
		if fc.Index == nil {
			continue
		}
		if v := reflect.ValueOf(fc.Parent.Result); v.Kind() == reflect.Slice {
			return v.Len()
		}
		return 1
	}
	return 1
}

package public

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// countingFetch doubles each key and records the batches it was asked for.
type countingFetch struct {
	mu      sync.Mutex
	batches [][]int
}

func (c *countingFetch) fetch(_ context.Context, keys []int) []outcome[int] {
	c.mu.Lock()
	c.batches = append(c.batches, slices.Clone(keys))
	c.mu.Unlock()
	out := make([]outcome[int], len(keys))
	for i, k := range keys {
		out[i].val = 2 * k
	}
	return out
}

// loadAll loads keys side by side, each expecting want loads, and checks the values.
func loadAll(t *testing.T, l *loader[int, int], keys []int, want int) {
	t.Helper()
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Go(func() {
			if v, err := l.load(t.Context(), k, want); err != nil || v != 2*k {
				t.Errorf("load %d: %d %v", k, v, err)
			}
		})
	}
	wg.Wait()
}

func TestLoaderBatchesSiblings(t *testing.T) {
	var c countingFetch
	l := newLoader(t.Context(), slog.New(slog.DiscardHandler), time.Minute, 100, c.fetch)
	keys := make([]int, 150)
	for i := range keys {
		keys[i] = i
	}
	loadAll(t, l, keys, len(keys)) // a minute's wait would time out the test: max and want dispatch
	if len(c.batches) != 2 || len(c.batches[0])+len(c.batches[1]) != 150 {
		t.Fatalf("batches of %d and %d keys, want 100 and 50", len(c.batches[0]), len(c.batches[1]))
	}
	loadAll(t, l, []int{3, 3, 149}, 3) // memoized: no new batch
	if len(c.batches) != 2 {
		t.Fatalf("%d batches after loading known keys", len(c.batches))
	}
}

func TestLoaderDispatchesAfterItsWait(t *testing.T) {
	var c countingFetch
	l := newLoader(t.Context(), slog.New(slog.DiscardHandler), 5*time.Millisecond, 100, c.fetch)
	loadAll(t, l, []int{1, 2, 2}, 10) // fewer loads than expected: the wait ends the batch
	if len(c.batches) != 1 || !slices.Equal(slices.Sorted(slices.Values(c.batches[0])), []int{1, 2}) {
		t.Fatalf("batches %v", c.batches)
	}
}

func TestLoaderFailsAPanickingBatch(t *testing.T) {
	l := newLoader(t.Context(), slog.New(slog.DiscardHandler), time.Minute, 100, func(context.Context, []int) []outcome[int] { panic("boom") })
	_, err := l.load(t.Context(), 1, 1)
	if e, ok := err.(*apiError); !ok || e.code != codeInternal {
		t.Fatalf("error %v", err)
	}
}

func TestLoaderHonoursTheCallersContext(t *testing.T) {
	var c countingFetch
	l := newLoader(t.Context(), slog.New(slog.DiscardHandler), 10*time.Millisecond, 100, c.fetch)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.load(ctx, 1, 2); err != context.Canceled {
		t.Fatalf("error %v", err)
	}
}

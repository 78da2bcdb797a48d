package search

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// flakyIndex is an index whose writes fail with index.ErrUnavailable while down is set.
type flakyIndex struct {
	index.Index
	mu       sync.Mutex
	down     bool
	failures int
}

func (f *flakyIndex) fail() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		f.failures++
		return fmt.Errorf("%w: connection refused", index.ErrUnavailable)
	}
	return nil
}

func (f *flakyIndex) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *flakyIndex) UpsertBatch(ctx context.Context, docs []index.Doc) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Index.UpsertBatch(ctx, docs)
}

func (f *flakyIndex) Upsert(ctx context.Context, doc index.Doc) error {
	return f.UpsertBatch(ctx, []index.Doc{doc})
}

func (f *flakyIndex) Search(ctx context.Context, q index.Query) (index.Result, error) {
	if err := f.fail(); err != nil {
		return index.Result{}, err
	}
	return f.Index.Search(ctx, q)
}

func (f *flakyIndex) Delete(ctx context.Context, id string) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Index.Delete(ctx, id)
}

// TestEventsWaitForAnUnavailableIndex proves that events wait while the index engine is down,
// instead of failing (and being dead-lettered), and are applied once it is back; searches answer
// 503 meanwhile.
func TestEventsWaitForAnUnavailableIndex(t *testing.T) {
	unavailableBackoffMin, unavailableBackoffMax = time.Millisecond, 20*time.Millisecond
	f := newFixture(t, databasetest.SQLite(t))
	flaky := &flakyIndex{Index: f.index, down: true}
	f.svc.index = flaky
	p := programSnap(1, "Deep Sea Explorers", "en")
	done := make(chan error, 1)
	go func() { done <- f.svc.HandleEvent(t.Context(), publishedMsg(t, p)) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		flaky.mu.Lock()
		n := flaky.failures
		flaky.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the handler tried the index %d times in 5s", n)
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("the handler returned %v while the index was down, want it to wait", err)
	default:
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, searchPath("q", "deep"), nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("search while the index is down: %d %s (Retry-After %q), want 503 with Retry-After", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
	flaky.setDown(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("HandleEvent: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not finish after the index came back")
	}
	f.wantFound([]string{"q", "deep"}, p.ID)

	// The caller's context still ends the wait.
	flaky.setDown(true)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := f.svc.HandleEvent(ctx, publishedMsg(t, programSnap(1, "Other", "en"))); err == nil {
		t.Error("HandleEvent succeeded with the index down")
	}
}

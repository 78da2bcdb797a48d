package public

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/admission"
	"github.com/mediamesh/mediamesh/internal/gateway"
)

// engagementPost is a valid recordEngagement request.
func engagementPost(ctx context.Context) *http.Request {
	body := `{"client_id":"bulkhead-test","events":[{"event_id":"` + newID() + `","type":"play","content_type":"episode","content_id":"` + newID() + `","position_seconds":5}]}`
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/v1/discovery/events", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "MediaMeshPlayer/1.0")
	return r
}

// TestEngagementBulkhead: the gateway works on at most its event concurrency of engagement posts at
// once; the next ones wait their turn and get through when a slot frees; a post that finds the
// queue full, or waits longer than the bound, is answered 503 with Retry-After, and a post whose
// client goes away while it waits is recorded as 499. Reads are never held by it.
func TestEngagementBulkhead(t *testing.T) {
	entered, release := make(chan struct{}, 8), make(chan struct{})
	disco := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			entered <- struct{}{}
			<-release
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"accepted":1}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"items":[],"page":{}}`))
	})
	ups := map[string]http.Handler{serviceDiscovery: disco, serviceSearch: disco, "auth": problem(http.StatusNotImplemented, "")}
	mux, err := New(gateway.Config{Upstreams: ups, Log: slog.New(slog.DiscardHandler)}, WithEventConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	post := func(ctx context.Context) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, engagementPost(ctx))
		return rec
	}

	// The first post takes the one slot; a second waits for it and gets through once it is free.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i] = post(t.Context()).Code }()
		if i == 0 {
			<-entered
		}
	}
	time.Sleep(50 * time.Millisecond) // the second is waiting, not in the upstream
	select {
	case <-entered:
		t.Fatal("a second post reached the service while the first held the only slot")
	default:
	}
	// A read goes through meanwhile.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/discovery/latest", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("a read beside the held posts: %d %s", rec.Code, rec.Body)
	}
	release <- struct{}{} // the first ends; the second enters
	<-entered
	release <- struct{}{}
	wg.Wait()
	if codes[0] != http.StatusAccepted || codes[1] != http.StatusAccepted {
		t.Fatalf("codes %v, want both 202", codes)
	}

	// A post whose client goes away while it waits: 499, and it never reaches the service.
	wg.Add(1)
	go func() { defer wg.Done(); codes[0] = post(t.Context()).Code }()
	<-entered
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int)
	go func() { done <- post(ctx).Code }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if code := <-done; code != 499 {
		t.Fatalf("a waiting post whose client went away: %d, want 499", code)
	}
	release <- struct{}{}
	wg.Wait()
}

// TestBulkheadBounds: beyond its queue, or after its wait, a post is answered 503 with
// Retry-After and a Problem.
func TestBulkheadBounds(t *testing.T) {
	entered, release := make(chan struct{}, 8), make(chan struct{})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusAccepted)
	})
	b := newBulkhead(next, 1, 1, 200*time.Millisecond)
	serve := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		b.ServeHTTP(rec, engagementPost(t.Context()))
		return rec
	}
	first := make(chan int)
	go func() { first <- serve().Code }()
	<-entered
	waiting := make(chan *httptest.ResponseRecorder)
	go func() { waiting <- serve() }()
	time.Sleep(50 * time.Millisecond)
	full := serve() // the queue of one is taken
	late := <-waiting
	release <- struct{}{}
	if code := <-first; code != http.StatusAccepted {
		t.Fatalf("the first post: %d", code)
	}
	for name, rec := range map[string]*httptest.ResponseRecorder{"queue full": full, "waited too long": late} {
		var p struct {
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" ||
			json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Status != http.StatusServiceUnavailable || p.Detail == "" {
			t.Errorf("%s: %d Retry-After %q %s", name, rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
	}
	// Once free, a post goes through again.
	go func() { <-entered; release <- struct{}{} }()
	if rec := serve(); rec.Code != http.StatusAccepted {
		t.Fatalf("after the bounds: %d", rec.Code)
	}
}

// TestBulkheadRelease: a service that gives its slot back (admission.Release: it has done its
// work and waits for the database) lets the next post in while it still waits; the slot is
// given back once however the request ends.
func TestBulkheadRelease(t *testing.T) {
	entered, release := make(chan struct{}, 8), make(chan struct{})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		admission.Release(r.Context())
		admission.Release(r.Context()) // twice: still one slot
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusAccepted)
	})
	b := newBulkhead(next, 1, 8, time.Second)
	codes := make(chan int, 3)
	for range 3 {
		go func() {
			rec := httptest.NewRecorder()
			b.ServeHTTP(rec, engagementPost(t.Context()))
			codes <- rec.Code
		}()
	}
	for range 3 { // all three are in, one slot notwithstanding
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatal("a post waited for a slot its holder had given back")
		}
	}
	close(release)
	for range 3 {
		if code := <-codes; code != http.StatusAccepted {
			t.Fatalf("code %d", code)
		}
	}
	if n := len(b.slots); n != 0 {
		t.Fatalf("%d slots still taken after every post ended", n)
	}
}

package search

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/testenv"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// hangingTransport reaches the real node, or, while hung is set, holds every request until its
// context ends: a cluster that stopped answering (the worst case for callers, worse than a refused
// connection).
type hangingTransport struct {
	hung    atomic.Bool
	reached atomic.Int64
}

func (h *hangingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if h.hung.Load() {
		h.reached.Add(1)
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestSearchAnswers503FastWhenOpenSearchHangs puts the search service on a real OpenSearch node
// behind a transport that can hang: while the node hangs, searches answer 503 with Retry-After, the
// first few after the request timeout, and from the breaker's opening on at once, without reaching
// the network; the engine's error counter says so. When the node answers again, searches answer 200
// after the breaker delay.
func TestSearchAnswers503FastWhenOpenSearchHangs(t *testing.T) {
	urls := strings.Split(testenv.Get(t, "MEDIAMESH_TEST_OPENSEARCH_URL", "an OpenSearch node (bash tools/opensearch/start.sh; e.g. http://127.0.0.1:9200)"), ",")
	f := newFixture(t, databasetest.SQLite(t))
	tr := &hangingTransport{}
	reg := prometheus.NewRegistry()
	var b [6]byte
	_, _ = rand.Read(b[:])
	const timeout, breakerDelay = 400 * time.Millisecond, 600 * time.Millisecond
	alias := "mmtest-breaker-" + hex.EncodeToString(b[:])
	owner, err := index.NewOpenSearch(t.Context(), index.OpenSearchConfig{URLs: urls, Alias: alias}) // creates the index
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = owner.Drop(context.WithoutCancel(t.Context())) })
	ix, err := index.NewOpenSearch(t.Context(), index.OpenSearchConfig{URLs: urls, Alias: alias,
		Transport: tr, Timeout: timeout, BreakerDelay: breakerDelay, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.index = ix
	get := func() (int, string, time.Duration) {
		rec := httptest.NewRecorder()
		start := time.Now()
		f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, searchPath("q", "harbour"), nil))
		return rec.Code, rec.Header().Get("Retry-After"), time.Since(start)
	}
	// 200 once the node answers (a busy machine may take a trial or two: a trial that times out
	// opens the breaker again for breakerDelay).
	await200 := func(when string) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, _, _ := get()
			if code == http.StatusOK {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("search %s: %d, want 200 within 10 s", when, code)
			}
			time.Sleep(breakerDelay / 4)
		}
	}
	await200("with the node up")
	before := counterOf(t, reg, "mediamesh_search_engine_errors_total", "search", "unavailable")

	tr.hung.Store(true)
	var slow int
	for i := range 12 {
		code, retry, took := get()
		if code != http.StatusServiceUnavailable || retry == "" {
			t.Fatalf("search %d with the node hung: %d (Retry-After %q), want 503 with Retry-After", i, code, retry)
		}
		if took > 50*time.Millisecond {
			slow++
		}
		if i >= 6 && took > 50*time.Millisecond {
			t.Errorf("search %d with the breaker open took %v, want an answer at once", i, took)
		}
	}
	if slow > 5 {
		t.Errorf("%d searches waited for the hung node, want the breaker to open after 5 failures", slow)
	}
	if n := tr.reached.Load(); n > 6 {
		t.Errorf("%d requests reached the hung node, want at most 6 (the breaker opens after 5 failures)", n)
	}
	if n := counterOf(t, reg, "mediamesh_search_engine_errors_total", "search", "unavailable") - before; n != 12 {
		t.Errorf("mediamesh_search_engine_errors_total{operation=search,kind=unavailable} rose by %v, want 12", n)
	}

	tr.hung.Store(false)
	time.Sleep(breakerDelay)
	await200("after the node answers again")
}

// counterOf returns the value of counter name with the labels engine=opensearch, operation and kind.
func counterOf(t *testing.T, reg *prometheus.Registry, name, operation, kind string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["engine"] == "opensearch" && labels["operation"] == operation && labels["kind"] == kind {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no %s{engine=opensearch,operation=%s,kind=%s}", name, operation, kind)
	return 0
}

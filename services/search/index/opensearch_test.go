package index_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/testenv"
	"github.com/mediamesh/mediamesh/services/search/index"
	"github.com/mediamesh/mediamesh/services/search/index/indextest"
)

// EnvOpenSearchURL names the OpenSearch node of the tests (bash tools/opensearch/start.sh).
const EnvOpenSearchURL = "MEDIAMESH_TEST_OPENSEARCH_URL"

// openOpenSearch returns an OpenSearch index behind a new alias of its own, dropped when the test
// ends; it skips without MEDIAMESH_TEST_OPENSEARCH_URL (and fails under CI=true).
func openOpenSearch(t *testing.T) *index.OpenSearch {
	t.Helper()
	return openOpenSearchConfig(t, index.OpenSearchConfig{})
}

func openOpenSearchConfig(t *testing.T, cfg index.OpenSearchConfig) *index.OpenSearch {
	t.Helper()
	raw := testenv.Get(t, EnvOpenSearchURL, "an OpenSearch node (bash tools/opensearch/start.sh; e.g. http://127.0.0.1:9200)")
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg.URLs = strings.Split(raw, ",")
	if cfg.Alias == "" {
		cfg.Alias = "mmtest-" + hex.EncodeToString(b[:])
	}
	ix, err := index.NewOpenSearch(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewOpenSearch: %v", err)
	}
	t.Cleanup(func() {
		if err := ix.Drop(context.WithoutCancel(t.Context())); err != nil {
			t.Errorf("Drop: %v", err)
		}
	})
	return ix
}

func TestOpenSearch(t *testing.T) {
	t.Parallel()
	indextest.Run(t, func(t *testing.T) index.Index { return openOpenSearch(t) })
}

// TestOpenSearchReopen proves the index persists: a second NewOpenSearch on the same alias finds
// the documents, and does not create another index.
func TestOpenSearchReopen(t *testing.T) {
	ix := openOpenSearch(t)
	doc := index.Doc{ID: "p1", Type: index.TypeProgram, Title: "Morning Show", Language: "en", PublishedAt: time.Now(), Version: 3}
	if err := ix.Upsert(t.Context(), doc); err != nil {
		t.Fatal(err)
	}
	again, err := index.NewOpenSearch(t.Context(), index.OpenSearchConfig{URLs: strings.Split(testenv.Get(t, EnvOpenSearchURL, ""), ","), Alias: ix.Alias()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := again.Search(t.Context(), index.Query{Text: "morning"})
	if err != nil || len(r.Hits) != 1 || r.Hits[0].Version != 3 {
		t.Fatalf("search after reopening: %+v, %v", r.Hits, err)
	}
	// The versions persist too: an older version is still ignored.
	doc.Version, doc.Title = 2, "Evening Show"
	if err := again.Upsert(t.Context(), doc); err != nil {
		t.Fatal(err)
	}
	if r, _ := again.Search(t.Context(), index.Query{Text: "evening"}); len(r.Hits) != 0 {
		t.Errorf("an older version replaced the stored one: %+v", r.Hits)
	}
}

// switchTransport sends requests to the network, or fails them as a refused connection while
// down is set, counting those it failed.
type switchTransport struct {
	down   atomic.Bool
	failed atomic.Int64
}

func (s *switchTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if s.down.Load() {
		s.failed.Add(1)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestOpenSearchUnavailable proves a cluster that cannot be reached gives ErrUnavailable, that
// after 5 failures in a row the breaker answers at once without trying the network, and that it
// lets requests through again once the delay has passed.
func TestOpenSearchUnavailable(t *testing.T) {
	tr := &switchTransport{}
	ix := openOpenSearchConfig(t, index.OpenSearchConfig{Transport: tr, BreakerDelay: 300 * time.Millisecond})
	tr.down.Store(true)
	for i := range 8 {
		start := time.Now()
		_, err := ix.Search(t.Context(), index.Query{Text: "news"})
		if !errors.Is(err, index.ErrUnavailable) {
			t.Fatalf("search %d with the cluster down: %v, want ErrUnavailable", i, err)
		}
		if i >= 5 && time.Since(start) > 50*time.Millisecond {
			t.Errorf("search %d took %v with the breaker open", i, time.Since(start))
		}
	}
	if n := tr.failed.Load(); n > 6 { // 5 to open it, plus at most one retry of a GET
		t.Errorf("%d requests reached the network, want the breaker to stop them after 5 failures", n)
	}
	tr.down.Store(false)
	time.Sleep(400 * time.Millisecond)
	if _, err := ix.Search(t.Context(), index.Query{Text: "news"}); err != nil {
		t.Errorf("search after the cluster came back: %v", err)
	}
	if err := ix.Upsert(t.Context(), index.Doc{ID: "u1", Type: index.TypeProgram, Title: "News", Language: "en", PublishedAt: time.Now(), Version: 1}); err != nil {
		t.Errorf("upsert after the cluster came back: %v", err)
	}
	// A cluster that is not there at all fails NewOpenSearch the same way.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	if _, err := index.NewOpenSearch(t.Context(), index.OpenSearchConfig{URLs: []string{"http://" + addr}, Alias: "x"}); !errors.Is(err, index.ErrUnavailable) {
		t.Errorf("NewOpenSearch on a closed port: %v, want ErrUnavailable", err)
	}
}

func TestNewOpenSearchRefusesBadConfig(t *testing.T) {
	for _, cfg := range []index.OpenSearchConfig{
		{},
		{URLs: []string{"127.0.0.1:9200"}},
		{URLs: []string{"http://127.0.0.1:9200"}, Refresh: "sometimes"},
	} {
		if _, err := index.NewOpenSearch(t.Context(), cfg); err == nil {
			t.Errorf("NewOpenSearch(%+v) accepted it", cfg)
		}
	}
}

// aliasTargets returns the indices alias points to, read straight from the node.
func aliasTargets(t *testing.T, alias string) []string {
	t.Helper()
	base := strings.Split(testenv.Get(t, EnvOpenSearchURL, ""), ",")[0]
	resp, err := http.Get(base + "/_alias/" + alias)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	return names
}

// TestOpenSearchResetSwapsTheAlias proves Reset fills a new versioned index and moves the alias to
// it in one step, deleting the old index: searches never see a missing index.
func TestOpenSearchResetSwapsTheAlias(t *testing.T) {
	ix := openOpenSearch(t)
	before := aliasTargets(t, ix.Alias())
	if len(before) != 1 || !strings.HasPrefix(before[0], ix.Alias()+"_v2_") {
		t.Fatalf("alias %s points to %v, want one versioned index", ix.Alias(), before)
	}
	if err := ix.Reset(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := aliasTargets(t, ix.Alias())
	if len(after) != 1 || after[0] == before[0] || !strings.HasPrefix(after[0], ix.Alias()+"_v2_") {
		t.Fatalf("after Reset the alias points to %v, want one new versioned index (was %v)", after, before)
	}
	resp, err := http.Head(strings.Split(testenv.Get(t, EnvOpenSearchURL, ""), ",")[0] + "/" + before[0])
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD of the old index %s: %d, want 404 (deleted)", before[0], resp.StatusCode)
	}
}

// TestOpenSearchRebuildSwapsTheAlias proves a rebuild never serves an empty or half-built index:
// while a new versioned index fills, searches through the alias (and through a second process's
// client) keep answering from the old one; Commit moves the alias in one step, after which the new
// content answers and the old index is gone. A searcher running throughout never sees an error or
// an empty page.
func TestOpenSearchRebuildSwapsTheAlias(t *testing.T) {
	ix := openOpenSearch(t)
	ctx := t.Context()
	published := time.Now().Add(-time.Hour)
	doc := func(id, title string) index.Doc {
		return index.Doc{ID: id, Type: index.TypeEpisode, Title: title, Language: "en", PublishedAt: published, Version: 1}
	}
	var old []index.Doc
	for i := range 50 {
		old = append(old, doc(fmt.Sprintf("old-%02d", i), "Harbour lights episode "+strconv.Itoa(i)))
	}
	if err := ix.UpsertBatch(ctx, old); err != nil {
		t.Fatal(err)
	}
	before := aliasTargets(t, ix.Alias())

	// Another process serving searches through the same alias.
	other, err := index.NewOpenSearch(ctx, index.OpenSearchConfig{URLs: strings.Split(testenv.Get(t, EnvOpenSearchURL, ""), ","), Alias: ix.Alias()})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var searches, bad atomic.Int64
	var firstBad atomic.Value
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, err := other.Search(context.WithoutCancel(ctx), index.Query{Text: "episode", Limit: 5})
			searches.Add(1)
			if err != nil || len(res.Hits) == 0 {
				bad.Add(1)
				firstBad.CompareAndSwap(nil, fmt.Sprintf("err %v, %d hits", err, len(res.Hits)))
			}
		}
	}()

	rb, err := ix.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	newIndex := rb.(*index.OpenSearchRebuild).Index()
	if !strings.HasPrefix(newIndex, ix.Alias()+"_v2_") || slices.Contains(before, newIndex) {
		t.Fatalf("rebuild index %s: want a new versioned name beside %v", newIndex, before)
	}
	for i := 0; i < 40; i += 10 {
		var batch []index.Doc
		for j := i; j < i+10; j++ {
			batch = append(batch, doc(fmt.Sprintf("new-%02d", j), "Lantern episode "+strconv.Itoa(j)))
		}
		if err := rb.UpsertBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		// Mid-rebuild: the alias answers from the old index, untouched.
		res, err := ix.Search(ctx, index.Query{Text: "harbour", Limit: 100})
		if err != nil || len(res.Hits) != 50 {
			t.Fatalf("during the rebuild, searching the alias for harbour: %d hits, %v; want the 50 old ones", len(res.Hits), err)
		}
		if res, err := ix.Search(ctx, index.Query{Text: "lantern"}); err != nil || len(res.Hits) != 0 {
			t.Fatalf("during the rebuild the alias answers %d new documents (%v), want none", len(res.Hits), err)
		}
		if got := aliasTargets(t, ix.Alias()); !slices.Equal(got, before) {
			t.Fatalf("during the rebuild the alias points to %v, want %v", got, before)
		}
	}
	if res, err := rb.Search(ctx, index.Query{Text: "lantern", Limit: 100}); err != nil || len(res.Hits) != 40 {
		t.Fatalf("the new index answers %d lantern documents (%v), want 40", len(res.Hits), err)
	}
	if err := rb.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the searcher run on the new index too
	close(stop)
	<-done

	if got := aliasTargets(t, ix.Alias()); len(got) != 1 || got[0] != newIndex {
		t.Fatalf("after Commit the alias points to %v, want [%s]", got, newIndex)
	}
	for _, c := range []index.Index{ix, other} {
		if res, err := c.Search(ctx, index.Query{Text: "lantern", Limit: 100}); err != nil || len(res.Hits) != 40 {
			t.Fatalf("after the swap: %d lantern documents (%v), want 40", len(res.Hits), err)
		}
		if res, err := c.Search(ctx, index.Query{Text: "harbour"}); err != nil || len(res.Hits) != 0 {
			t.Fatalf("after the swap: %d old documents (%v), want none", len(res.Hits), err)
		}
	}
	// Writes through the alias go to the new index.
	if err := ix.Upsert(ctx, doc("late", "Lantern late episode")); err != nil {
		t.Fatal(err)
	}
	if res, err := rb.Search(ctx, index.Query{Text: "late"}); err != nil || len(res.Hits) != 1 {
		t.Fatalf("a write through the alias after the swap: the new index has %d hits (%v), want 1", len(res.Hits), err)
	}
	resp, err := http.Head(strings.Split(testenv.Get(t, EnvOpenSearchURL, ""), ",")[0] + "/" + before[0])
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD of the old index %s: %d, want 404 (deleted after the swap)", before[0], resp.StatusCode)
	}
	if n := bad.Load(); n > 0 {
		t.Errorf("%d of %d searches during the rebuild failed or found nothing; first: %v", n, searches.Load(), firstBad.Load())
	}
	t.Logf("%d searches during the rebuild and swap, all answered", searches.Load())
}

// TestOpenSearchRebuildAbort proves an aborted rebuild deletes its index and leaves the alias
// serving the old one.
func TestOpenSearchRebuildAbort(t *testing.T) {
	ix := openOpenSearch(t)
	before := aliasTargets(t, ix.Alias())
	rb, err := ix.BeginRebuild(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	name := rb.(*index.OpenSearchRebuild).Index()
	if err := rb.Abort(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := aliasTargets(t, ix.Alias()); !slices.Equal(got, before) {
		t.Fatalf("after Abort the alias points to %v, want %v", got, before)
	}
	resp, err := http.Head(strings.Split(testenv.Get(t, EnvOpenSearchURL, ""), ",")[0] + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD of the aborted index %s: %d, want 404", name, resp.StatusCode)
	}
}

package index_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"strings"
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

// TestOpenSearchUnavailable proves a cluster that cannot be reached gives ErrUnavailable, and
// that after a few failures the breaker answers at once.
func TestOpenSearchUnavailable(t *testing.T) {
	ix := openOpenSearch(t) // a real node first, so the alias exists
	// A listener that accepts nothing: connections are refused once it is closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	_ = ix
	_, err = index.NewOpenSearch(t.Context(), index.OpenSearchConfig{URLs: []string{"http://" + addr}, Alias: "x"})
	if !errors.Is(err, index.ErrUnavailable) {
		t.Fatalf("NewOpenSearch on a closed port: %v, want ErrUnavailable", err)
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

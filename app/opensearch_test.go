package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/testenv"
	"github.com/mediamesh/mediamesh/services/search/index"
)

func TestSearchEngineConfig(t *testing.T) {
	cases := []struct {
		args    []string
		engine  string
		wantErr string
	}{
		{nil, SearchEngineMemory, ""},
		{[]string{"--services.search.database-url", "postgres://u:p@127.0.0.1/db"}, SearchEnginePostgres, ""},
		{[]string{"--services.search.database-url", "postgres://u:p@127.0.0.1/db", "--search.engine", "memory"}, SearchEngineMemory, ""},
		{[]string{"--search.engine", "opensearch", "--search.opensearch.urls", "http://127.0.0.1:9200,http://127.0.0.2:9200"}, SearchEngineOpenSearch, ""},
		{[]string{"--search.engine", "opensearch"}, "", "search.opensearch.urls"},
		{[]string{"--search.engine", "opensearch", "--search.opensearch.urls", "127.0.0.1:9200"}, "", "not an http(s) URL"},
		{[]string{"--search.engine", "postgres"}, "", "services.search.database_url"},
		{[]string{"--search.engine", "bleve"}, "", "search.engine"},
		{[]string{"--search.opensearch.index", "Bad Name"}, "", "search.opensearch.index"},
		{[]string{"--search.opensearch.timeout", "0s"}, "", "search.opensearch.timeout"},
	}
	for _, c := range cases {
		cfg, err := Load(c.args, nil)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("Load(%q): error %v, want one naming %s", c.args, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Load(%q): %v", c.args, err)
			continue
		}
		if got := cfg.SearchEngine(); got != c.engine {
			t.Errorf("Load(%q): engine %q, want %q", c.args, got, c.engine)
		}
	}
	cfg, err := Load(nil, []string{"MEDIAMESH_SEARCH_ENGINE=opensearch", "MEDIAMESH_SEARCH_OPENSEARCH_URLS=http://os:9200"})
	if err != nil || cfg.SearchEngine() != SearchEngineOpenSearch || len(cfg.Search.OpenSearch.URLs) != 1 {
		t.Errorf("from the environment: %+v, %v", cfg.Search, err)
	}
}

// TestContentLifecycleOpenSearch runs the lifecycle against `--target=all` with the search index in
// OpenSearch (publish -> searchable, unpublish -> gone within 1 s at p99, republish, delete).
func TestContentLifecycleOpenSearch(t *testing.T) {
	nodes := strings.Split(testenv.Get(t, "MEDIAMESH_TEST_OPENSEARCH_URL", "an OpenSearch node (bash tools/opensearch/start.sh; e.g. http://127.0.0.1:9200)"), ",")
	cfg := Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminPassword = "lifecycle admin password"
	cfg.Gateway.RateLimits = false // the test polls the public side every 5ms
	cfg.Search.Engine = SearchEngineOpenSearch
	cfg.Search.OpenSearch.URLs = nodes
	cfg.Search.OpenSearch.Index = fmt.Sprintf("mmtest-lifecycle-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		if ix, err := index.NewOpenSearch(ctx, index.OpenSearchConfig{URLs: nodes, Alias: cfg.Search.OpenSearch.Index}); err == nil {
			_ = ix.Drop(ctx)
		}
	})
	urls, _, _ := start(t, cfg)
	a := &api{t: t, cms: urls["cms gateway"], disc: urls["discovery gateway"], unique: fmt.Sprint(time.Now().UnixNano())}
	a.token = login(t, a.cms, "admin@mediamesh.local", "lifecycle admin password")
	lifecycle(t, a)
	checkRemovalLag(t, a.removalLag)
}

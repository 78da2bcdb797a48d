package app

import (
	"strings"
	"testing"
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

package search

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"
)

// Index engines (Settings.Engine).
const (
	EngineMemory     = "memory"
	EnginePostgres   = "postgres"
	EngineOpenSearch = "opensearch"
)

// Settings are the service's settings: the `search` section of the configuration (flags
// --search.*, variables MEDIAMESH_SEARCH_*), which pick its index engine.
type Settings struct {
	Engine     string             `yaml:"engine" help:"index engine of the search service: memory (an inverted index in memory, loaded from the service's tables at start), postgres (PostgreSQL full text, in the service's PostgreSQL database) or opensearch (search.opensearch.urls); empty: postgres when services.search.database_url is PostgreSQL, else memory"`
	OpenSearch OpenSearchSettings `yaml:"opensearch"`
}

// OpenSearchSettings locate the OpenSearch cluster of search.engine=opensearch.
type OpenSearchSettings struct {
	URLs    []string      `yaml:"urls" help:"http(s) URLs of OpenSearch nodes, e.g. http://127.0.0.1:9200"`
	Index   string        `yaml:"index" help:"alias of the search index; the index behind it has a versioned name and is created at first start"`
	Timeout time.Duration `yaml:"timeout" help:"time limit of one OpenSearch request; after 5 failures in a row the engine is skipped (searches answer 503) for a few seconds"`
}

// DefaultSettings are the settings of a configuration that sets none.
func DefaultSettings() Settings {
	return Settings{OpenSearch: OpenSearchSettings{Index: "mediamesh-search", Timeout: 5 * time.Second}}
}

var indexName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,99}$`)

// Validate refuses settings the service cannot work with, naming each by its key. That the
// postgres engine has a PostgreSQL database is the composition root's to check.
func (s Settings) Validate() error {
	var errs []error
	switch s.Engine {
	case "", EngineMemory, EnginePostgres, EngineOpenSearch:
	default:
		errs = append(errs, fmt.Errorf("search.engine: %q is not memory, postgres or opensearch", s.Engine))
	}
	if s.Engine == EngineOpenSearch && len(s.OpenSearch.URLs) == 0 {
		errs = append(errs, errors.New("search.opensearch.urls: name at least one node when search.engine is opensearch"))
	}
	for _, v := range s.OpenSearch.URLs {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("search.opensearch.urls: %q is not an http(s) URL", v))
		}
	}
	if !indexName.MatchString(s.OpenSearch.Index) {
		errs = append(errs, fmt.Errorf("search.opensearch.index: %q must be 1 to 100 lowercase letters, digits, - and _", s.OpenSearch.Index))
	}
	if s.OpenSearch.Timeout < 10*time.Millisecond || s.OpenSearch.Timeout > time.Minute {
		errs = append(errs, fmt.Errorf("search.opensearch.timeout (%s) must be between 10ms and 1m", s.OpenSearch.Timeout))
	}
	return errors.Join(errs...)
}

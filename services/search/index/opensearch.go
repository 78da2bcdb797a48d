package index

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mediamesh/mediamesh/internal/httpclient"
)

// The OpenSearch index keeps every document in an OpenSearch index reached through an alias
// (OpenSearchConfig.Alias); the index behind it has a versioned name (alias_v1_...), so that Reset
// (and a rebuild) fills a new index and swaps the alias in one atomic step.
//
// Text analysis is split as for PostgreSQL (see analysis.go): the word normalisation runs in Go
// and the normalised words go to OpenSearch, whose analyzers do the language part, chosen by the
// document's language: mm_ar (the normalised Arabic stop words, then the light suffix stemmer as a
// chain of pattern_replace filters, then the broken plurals of the lexicon), mm_en (possessive, the
// English stop words, the irregular forms of the lexicon, Snowball English) and mm_std (nothing
// more). Each language group has its own title, summary and tags fields, so a
// document is analysed only by its language's analyzer and a query word is analysed by the
// analyzer of each group it searches. The unstemmed words of every field go to a field with
// indexed prefixes, for the last word of a query (as-you-type), and the title's to another for
// Suggest.
//
// Ranking: BM25 of each word in the title, summary and tags with weights 1, 0.4 and 0.2 (and 0.1
// for a prefix match of the last word), multiplied by the freshness and popularity factors of the
// other engines (freshnessFactor, popularityFactor), which are applied here to a window of the
// best BM25 matches (see opensearch_rank.go). Facets are terms aggregations; pages follow the
// shared cursors: by relevance, cut from the window after (score, id); by latest, search_after
// on (publication time, id).
//
// Versions use OpenSearch's external versioning: a write of a version not above the stored one
// is refused by the engine (a version conflict, which Upsert ignores), so concurrent and
// out-of-order deliveries need no read before the write. External versions cannot be negative:
// a negative Version is stored as 0. A delete forgets the version, as in the other
// implementations, so a document deleted and published again at the same version comes back:
// tombstones are pruned at once (index.gc_deletes is 0), and a write refused by one that is still
// there is tried again (see bulk).
//
// Writes refresh the index before they return (OpenSearchConfig.Refresh), so a search sees
// every write that returned.

// osSchemaVersion is the version of the mappings and analysis below; an alias whose index has
// another version is refused (rebuild it with mediamesh replay after removing it).
const osSchemaVersion = 2

// OpenSearchSchemaVersion is osSchemaVersion, for tools that keep an index across runs
// (tools/searchbench -keep): the version is in the index mapping's _meta.mediamesh_schema.
const OpenSearchSchemaVersion = osSchemaVersion

// osBulkChunk is how many documents one bulk request of UpsertBatch carries.
const osBulkChunk = 1000

// Field weights of a word match.
const (
	osTitleBoost   = 1.0
	osSummaryBoost = 0.4
	osTagsBoost    = 0.2
	osPrefixBoost  = 0.1
)

// OpenSearchConfig configures the OpenSearch index.
type OpenSearchConfig struct {
	// URLs are the nodes' HTTP addresses, e.g. http://127.0.0.1:9200; at least one.
	URLs []string
	// Alias is the name the index is reached by; default "mediamesh-search".
	Alias string
	// Timeout bounds one request until its response headers; default 5s.
	Timeout time.Duration
	// BreakerDelay is how long the circuit breaker stays open after 5 consecutive failures
	// (connection errors, timeouts, 5xx) before trial requests; meanwhile every call fails at once
	// with an error wrapping ErrUnavailable. Default 5s.
	BreakerDelay time.Duration
	// Refresh is the refresh parameter of writes: "true" (refresh before returning; the default),
	// "wait_for" (wait for the next periodic refresh, up to index.refresh_interval) or "false"
	// (searches see writes within the refresh interval).
	Refresh string
	// Shards is the number of primary shards of a new index; default 1. Replicas follow the
	// number of nodes, 0 to 1 (index.auto_expand_replicas).
	Shards int
	// Transport makes the HTTP requests; default httpclient.NewNetTransport().
	Transport http.RoundTripper
	// Registerer receives the breaker metrics (downstream "opensearch") and the engine's (see
	// engineMetrics); nil exports none.
	Registerer prometheus.Registerer
	// Log receives the breaker transitions; default slog.Default().
	Log *slog.Logger
	// AcceptOtherSchema accepts an alias whose index has another schema version than this build's,
	// instead of refusing it: for a rebuild (mediamesh replay), which fills a new index with this
	// build's mappings and moves the alias to it.
	AcceptOtherSchema bool
}

// OpenSearch is an Index kept in OpenSearch. It is safe for concurrent use.
type OpenSearch struct {
	client    *opensearch.Client
	transport *httpclient.Transport
	alias     string
	refresh   string
	shards    int
	// target is, for a rebuild, the name of the new index it reads and writes; "" for the alias.
	target string
	// requireAlias makes bulk writes fail instead of creating an index when target is not an
	// alias: the mirror of a live write to a rebuild (see mirror).
	requireAlias bool
	// rebuilds caches whether a rebuild of the alias is under way (see mirror); shared by copies.
	rebuilds *rebuildWatch
	// metrics are the engine's metrics (OpenSearchConfig.Registerer), or nil.
	metrics *engineMetrics
}

// A rebuild (BeginRebuild, which `mediamesh replay` uses) marks its new index with a second alias,
// the rebuild marker (alias + osRebuildSuffix), until Commit or Abort. Every live index of the alias
// (in this process or another: the consumer of the running platform) looks the marker up at most
// every osRebuildCheck and, while it exists, writes each change to the new index too, through the
// marker (a bulk with require_alias, so that a write after the marker is gone fails instead of
// creating an index). BeginRebuild returns only after 2 x osRebuildCheck, when every live index
// has seen the marker: a change the replay does not read from the log (published after it read the
// log's end) is applied by the live consumer to both indices, and nothing the live consumer applies
// during the rebuild is missing from the new index. The versions make the double writes harmless.
const (
	osRebuildSuffix = "-rebuilding"
	osRebuildCheck  = time.Second
)

// rebuildWatch is the cached answer to "is a rebuild under way".
type rebuildWatch struct {
	mu      sync.Mutex
	checked time.Time
	on      bool
}

// name returns what requests address: the alias, or the new index of a rebuild.
func (o *OpenSearch) name() string {
	if o.target != "" {
		return o.target
	}
	return o.alias
}

var _ Rebuilder = (*OpenSearch)(nil)

// NewOpenSearch connects to the cluster at cfg.URLs and makes sure cfg.Alias exists: when it does
// not, it creates a new index with the mappings and points the alias to it. An alias whose index
// has other mappings is refused.
func NewOpenSearch(ctx context.Context, cfg OpenSearchConfig) (*OpenSearch, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("index: the OpenSearch index needs at least one URL")
	}
	for _, u := range cfg.URLs {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("index: OpenSearch URL %q is not an http(s) URL", u)
		}
	}
	if cfg.Alias == "" {
		cfg.Alias = "mediamesh-search"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.BreakerDelay <= 0 {
		cfg.BreakerDelay = 5 * time.Second
	}
	switch cfg.Refresh {
	case "":
		cfg.Refresh = "true"
	case "true", "wait_for", "false":
	default:
		return nil, fmt.Errorf("index: OpenSearch refresh must be true, wait_for or false, not %q", cfg.Refresh)
	}
	if cfg.Shards <= 0 {
		cfg.Shards = 1
	}
	t, err := httpclient.New("opensearch", httpclient.Config{
		Timeout: cfg.Timeout, MaxAttempts: 2, FailureThreshold: 5, BreakerDelay: cfg.BreakerDelay,
		SuccessThreshold: 1, Transport: cfg.Transport, Registerer: cfg.Registerer, Log: cfg.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	client, err := opensearch.NewClient(opensearch.Config{
		Addresses: cfg.URLs, Transport: t, DisableRetry: true, DiscoverNodesOnStart: new(bool),
	})
	if err != nil {
		return nil, fmt.Errorf("index: OpenSearch client: %w", err)
	}
	ix := &OpenSearch{client: client, transport: t, alias: cfg.Alias, refresh: cfg.Refresh, shards: cfg.Shards, rebuilds: &rebuildWatch{}}
	if cfg.Registerer != nil {
		if ix.metrics, err = registerEngineMetrics(cfg.Registerer, "opensearch"); err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
	}
	if err := ix.ensureAlias(ctx, cfg.AcceptOtherSchema); err != nil {
		return nil, err
	}
	return ix, nil
}

// Alias returns the name of the alias the index is reached by.
func (o *OpenSearch) Alias() string { return o.alias }

// osRequest is one request to OpenSearch.
type osRequest struct {
	path   string
	params url.Values
	body   []byte
	ndjson bool
}

// GetRequest implements opensearch.Request.
func (r osRequest) GetRequest(method string) (*http.Request, error) {
	target := r.path
	if len(r.params) > 0 {
		target += "?" + r.params.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		return nil, err
	}
	if r.body != nil {
		b := r.body
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		if r.ndjson {
			req.Header.Set("Content-Type", "application/x-ndjson")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	return req, nil
}

// osError is an answer of OpenSearch with an error status.
type osError struct {
	Status int
	Type   string
	Reason string
}

func (e *osError) Error() string {
	return fmt.Sprintf("OpenSearch answered %d: %s: %s", e.Status, e.Type, e.Reason)
}

// do sends a request and decodes a successful answer into out (when not nil). A transport
// failure, an open breaker or a 5xx answer gives an error wrapping ErrUnavailable; another error
// status an *osError.
func (o *OpenSearch) do(ctx context.Context, method string, r osRequest, out any) error {
	resp, err := opensearch.Do(ctx, o.client, method, r, (*json.RawMessage)(nil))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: OpenSearch %s %s: %w", ErrUnavailable, method, r.path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%w: OpenSearch %s %s: read the answer: %w", ErrUnavailable, method, r.path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error json.RawMessage `json:"error"`
		}
		oe := &osError{Status: resp.StatusCode}
		if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
			var detail struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			}
			if json.Unmarshal(e.Error, &detail) == nil && detail.Type != "" {
				oe.Type, oe.Reason = detail.Type, detail.Reason
			} else {
				oe.Reason = string(e.Error)
			}
		} else {
			oe.Reason = string(body)
		}
		if resp.StatusCode >= 500 {
			return fmt.Errorf("%w: OpenSearch %s %s: %w", ErrUnavailable, method, r.path, oe)
		}
		return fmt.Errorf("OpenSearch %s %s: %w", method, r.path, oe)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("index: decode OpenSearch's answer to %s %s: %w", method, r.path, err)
		}
	}
	return nil
}

// statusOf returns the HTTP status of an *osError in err's chain, or 0.
func statusOf(err error) int {
	var oe *osError
	if errors.As(err, &oe) {
		return oe.Status
	}
	return 0
}

// osIndexBody returns the settings and mappings of a new index, with the alias when alias is
// not empty.
func (o *OpenSearch) osIndexBody(alias string, bulkLoad bool) []byte {
	arStop := make([]string, 0, 200)
	for w := range arabicStopWords() {
		arStop = append(arStop, w)
	}
	slices.Sort(arStop)
	enStop := make([]string, 0, 200)
	for w := range englishStopWords() {
		enStop = append(enStop, w)
	}
	slices.Sort(enStop)
	filters := map[string]any{
		"mm_en_possessive": map[string]any{"type": "stemmer", "language": "possessive_english"},
		"mm_en_stop":       map[string]any{"type": "stop", "stopwords": enStop},
		"mm_en_stem":       map[string]any{"type": "stemmer", "language": "porter2"},
		"mm_ar_stop":       map[string]any{"type": "stop", "stopwords": arStop},
	}
	arFilters := []string{"mm_ar_stop"}
	for i, s := range arabicSuffixes { // stemArabic: each suffix in order, once, 2 runes left
		name := "mm_ar_suffix_" + strconv.Itoa(i)
		filters[name] = map[string]any{"type": "pattern_replace", "pattern": "^(.{2,})" + string(s) + "$", "replacement": "$1"}
		arFilters = append(arFilters, name)
	}
	// The plurals of the lexicon (lexicon.go): Arabic stems to their singular's stem after the
	// suffixes, English forms to their base form's stem before the stemmer, which skips them.
	for _, g := range []string{groupArabic, groupEnglish} {
		rules := lexiconRules(g)
		slices.Sort(rules)
		filters["mm_"+g+"_plurals"] = map[string]any{"type": "stemmer_override", "rules": rules}
	}
	arFilters = append(arFilters, "mm_ar_plurals")
	analyzers := map[string]any{
		"mm_ar":  map[string]any{"type": "custom", "tokenizer": "whitespace", "filter": arFilters},
		"mm_en":  map[string]any{"type": "custom", "tokenizer": "whitespace", "filter": []string{"mm_en_possessive", "mm_en_stop", "mm_en_plurals", "mm_en_stem"}},
		"mm_std": map[string]any{"type": "custom", "tokenizer": "whitespace"},
	}
	keyword := map[string]any{"type": "keyword"}
	props := map[string]any{
		"id":          keyword,
		"type":        keyword,
		"program_id":  keyword,
		"kind":        keyword,
		"language":    keyword,
		"group":       keyword,
		"category":    keyword,
		"duration":    map[string]any{"type": "integer"},
		"published":   map[string]any{"type": "long"},
		"popularity":  map[string]any{"type": "double"},
		"words":       map[string]any{"type": "text", "analyzer": "mm_std", "norms": false, "index_options": "docs", "index_prefixes": map[string]any{"min_chars": 1, "max_chars": 10}},
		"title_words": map[string]any{"type": "text", "analyzer": "mm_std", "norms": false, "index_options": "docs", "index_prefixes": map[string]any{"min_chars": 1, "max_chars": 10}},
		"title_norm":  map[string]any{"type": "keyword", "ignore_above": 2048},
		"doc":         map[string]any{"type": "object", "enabled": false},
	}
	for _, g := range groups {
		for _, f := range []string{"title", "summary", "tags"} {
			props[f+"_"+g] = map[string]any{"type": "text", "analyzer": "mm_" + g}
		}
	}
	body := map[string]any{
		"settings": map[string]any{
			"index":    osIndexSettings(o.shards, bulkLoad),
			"analysis": map[string]any{"filter": filters, "analyzer": analyzers},
		},
		"mappings": map[string]any{
			"dynamic":    "strict",
			"_meta":      map[string]any{"mediamesh_schema": osSchemaVersion},
			"properties": props,
		},
	}
	if alias != "" {
		body["aliases"] = map[string]any{alias: map[string]any{"is_write_index": true}}
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic("index: encode OpenSearch mappings: " + err.Error())
	}
	return b
}

// osIndexSettings returns the index settings of a new index. A bulk load (a rebuild) is written
// without periodic refreshes and with an asynchronous translog (fsync every 5 s instead of after
// every bulk request: a rebuild lost to a crash is started again), until Commit gives the index the
// settings of a serving one.
func osIndexSettings(shards int, bulkLoad bool) map[string]any {
	s := map[string]any{
		"number_of_shards":     shards,
		"auto_expand_replicas": "0-1",
		"gc_deletes":           "0s",
		"max_result_window":    10000,
	}
	if bulkLoad {
		s["refresh_interval"] = "-1"
		s["translog"] = map[string]any{"durability": "async"}
	}
	return s
}

// newIndexName returns a new versioned name for the index behind the alias.
func (o *OpenSearch) newIndexName() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s_v%d_%d_%s", o.alias, osSchemaVersion, time.Now().UnixMilli(), hex.EncodeToString(b[:]))
}

// aliasIndices returns the indices the alias points to, with their schema version.
func (o *OpenSearch) aliasIndices(ctx context.Context) (map[string]int, error) {
	var out map[string]struct {
		Mappings struct {
			Meta struct {
				Schema int `json:"mediamesh_schema"`
			} `json:"_meta"`
		} `json:"mappings"`
	}
	err := o.do(ctx, http.MethodGet, osRequest{path: "/" + url.PathEscape(o.alias) + "/_mapping"}, &out)
	if statusOf(err) == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("index: look up alias %s: %w", o.alias, err)
	}
	indices := make(map[string]int, len(out))
	for name, m := range out {
		indices[name] = m.Mappings.Meta.Schema
	}
	return indices, nil
}

// ensureAlias creates an index behind the alias when the alias does not exist yet, and checks
// the schema of the index behind an existing one.
func (o *OpenSearch) ensureAlias(ctx context.Context, acceptOtherSchema bool) error {
	indices, err := o.aliasIndices(ctx)
	if err != nil {
		return err
	}
	if len(indices) == 0 {
		name := o.newIndexName()
		err := o.do(ctx, http.MethodPut, osRequest{path: "/" + url.PathEscape(name), body: o.osIndexBody(o.alias, false)}, nil)
		if err != nil {
			return fmt.Errorf("index: create index %s: %w", name, err)
		}
		if indices, err = o.aliasIndices(ctx); err != nil {
			return err
		}
		if len(indices) > 1 { // another process created one at the same time: keep one
			names := make([]string, 0, len(indices))
			for n := range indices {
				names = append(names, n)
			}
			slices.Sort(names)
			if err := o.swapAlias(ctx, names[0], names[1:]); err != nil {
				return err
			}
		}
		return nil
	}
	for name, v := range indices {
		if v != osSchemaVersion && !acceptOtherSchema {
			return fmt.Errorf("index: the OpenSearch index %s behind alias %s has schema version %d, this build needs %d: delete it and rebuild the index (mediamesh replay --target=search)",
				name, o.alias, v, osSchemaVersion)
		}
	}
	return nil
}

// swapAlias points the alias to index only, in one atomic step, then deletes the old indices.
func (o *OpenSearch) swapAlias(ctx context.Context, index string, old []string) error {
	actions := []any{map[string]any{"add": map[string]any{"index": index, "alias": o.alias, "is_write_index": true}}}
	for _, n := range old {
		actions = append(actions, map[string]any{"remove_index": map[string]any{"index": n}})
	}
	body, _ := json.Marshal(map[string]any{"actions": actions})
	if err := o.do(ctx, http.MethodPost, osRequest{path: "/_aliases", body: body}, nil); err != nil {
		return fmt.Errorf("index: point alias %s to %s: %w", o.alias, index, err)
	}
	return nil
}

// BeginRebuild implements Rebuilder: it creates a new, empty index with a versioned name
// (alias_v<schema>_<unix ms>_<random>) beside the one the alias points to, which goes on serving
// searches and taking writes, and marks it as the alias's rebuild (see osRebuildSuffix): from when
// BeginRebuild returns, every live index of the alias writes its changes to the new index too.
// The returned Rebuild reads and writes the new index by its name; its Commit moves the alias to
// it in one _aliases request and then deletes the old index, its Abort deletes the new index.
func (o *OpenSearch) BeginRebuild(ctx context.Context) (Rebuild, error) {
	if o.target != "" {
		return nil, errors.New("index: a rebuild cannot begin another rebuild")
	}
	// A rebuild that never ended (its process died) leaves its index and marker: drop them, so the
	// marker names one index only.
	var stale map[string]any
	err := o.do(ctx, http.MethodGet, osRequest{path: "/_alias/" + url.PathEscape(o.alias+osRebuildSuffix)}, &stale)
	if err != nil && statusOf(err) != http.StatusNotFound {
		return nil, fmt.Errorf("index: rebuild: look up an unfinished rebuild: %w", err)
	}
	for n := range stale {
		if err := o.do(ctx, http.MethodDelete, osRequest{path: "/" + url.PathEscape(n)}, nil); err != nil && statusOf(err) != http.StatusNotFound {
			return nil, fmt.Errorf("index: rebuild: delete the index %s of an unfinished rebuild: %w", n, err)
		}
	}
	name := o.newIndexName()
	if err := o.do(ctx, http.MethodPut, osRequest{path: "/" + url.PathEscape(name), body: o.osIndexBody(o.alias+osRebuildSuffix, true)}, nil); err != nil {
		return nil, fmt.Errorf("index: rebuild: create index %s: %w", name, err)
	}
	r := *o
	r.target = name
	rb := &OpenSearchRebuild{OpenSearch: &r}
	select { // until every live index has seen the marker
	case <-ctx.Done():
		_ = rb.Abort(context.WithoutCancel(ctx))
		return nil, ctx.Err()
	case <-time.After(2 * osRebuildCheck):
	}
	return rb, nil
}

// rebuilding reports whether a rebuild of the alias is under way (its marker exists), looking it
// up at most every osRebuildCheck.
func (o *OpenSearch) rebuilding(ctx context.Context) (bool, error) {
	w := o.rebuilds
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.checked.IsZero() && time.Since(w.checked) < osRebuildCheck {
		return w.on, nil
	}
	err := o.do(ctx, http.MethodHead, osRequest{path: "/_alias/" + url.PathEscape(o.alias+osRebuildSuffix)}, nil)
	switch statusOf(err) {
	case 0:
		if err != nil {
			return false, fmt.Errorf("index: look up a rebuild of %s: %w", o.alias, err)
		}
		w.on = true
	case http.StatusNotFound:
		w.on = false
	default:
		return false, fmt.Errorf("index: look up a rebuild of %s: %w", o.alias, err)
	}
	w.checked = time.Now()
	return w.on, nil
}

// mirror applies write, which has just changed the alias's index, to the index of a rebuild under
// way too (see osRebuildSuffix); the live index only (a rebuild's own writes are not mirrored). A
// rebuild that ended meanwhile (its marker is gone) is no error: write is applied through the
// alias once more, because a Commit between the first write and the mirror's has moved the alias
// to the new index, which would otherwise miss the change (after an Abort the repeat reaches the
// old index again, which its version makes harmless).
func (o *OpenSearch) mirror(ctx context.Context, write func(r *OpenSearch) error) error {
	if o.target != "" {
		return nil
	}
	on, err := o.rebuilding(ctx)
	if err != nil || !on {
		return err
	}
	r := *o
	r.target, r.requireAlias = o.alias+osRebuildSuffix, true
	if err := write(&r); err != nil {
		if statusOf(err) == http.StatusNotFound { // committed or aborted: look again next time
			o.rebuilds.mu.Lock()
			o.rebuilds.checked = time.Time{}
			o.rebuilds.mu.Unlock()
			return write(o)
		}
		return fmt.Errorf("index: write to the rebuild of %s too: %w", o.alias, err)
	}
	return nil
}

// OpenSearchRebuild is a new OpenSearch index being filled beside the one its alias serves (see
// BeginRebuild).
type OpenSearchRebuild struct {
	*OpenSearch
}

var _ Rebuild = (*OpenSearchRebuild)(nil)

// Index returns the name of the new index.
func (r *OpenSearchRebuild) Index() string { return r.target }

// Reset implements Index: it empties the new index.
func (r *OpenSearchRebuild) Reset(ctx context.Context) error {
	body := []byte(`{"query":{"match_all":{}}}`)
	params := url.Values{"conflicts": {"proceed"}, "refresh": {"true"}}
	if err := r.do(ctx, http.MethodPost, osRequest{path: "/" + url.PathEscape(r.target) + "/_delete_by_query", params: params, body: body}, nil); err != nil {
		return fmt.Errorf("index: reset %s: %w", r.target, err)
	}
	return nil
}

// Commit implements Rebuild: the new index gets the settings of a serving index back (see
// osIndexSettings) and is refreshed, then one _aliases request points the alias to it and takes it
// from every index it pointed to (searches see the old index, then the new one, never neither),
// then the old indices are deleted.
func (r *OpenSearchRebuild) Commit(ctx context.Context) error {
	settings, _ := json.Marshal(m{"index": m{"refresh_interval": nil, "translog.durability": "request"}})
	if err := r.do(ctx, http.MethodPut, osRequest{path: "/" + url.PathEscape(r.target) + "/_settings", body: settings}, nil); err != nil {
		return fmt.Errorf("index: rebuild: settings of %s: %w", r.target, err)
	}
	if err := r.do(ctx, http.MethodPost, osRequest{path: "/" + url.PathEscape(r.target) + "/_refresh"}, nil); err != nil {
		return fmt.Errorf("index: rebuild: refresh %s: %w", r.target, err)
	}
	old, err := r.alias0().aliasIndices(ctx)
	if err != nil {
		return err
	}
	actions := []any{
		m{"add": m{"index": r.target, "alias": r.alias, "is_write_index": true}},
		m{"remove": m{"index": r.target, "alias": r.alias + osRebuildSuffix, "must_exist": false}},
	}
	names := make([]string, 0, len(old))
	for n := range old {
		if n != r.target {
			names = append(names, n)
			actions = append(actions, m{"remove": m{"index": n, "alias": r.alias}})
		}
	}
	slices.Sort(names)
	body, _ := json.Marshal(m{"actions": actions})
	if err := r.do(ctx, http.MethodPost, osRequest{path: "/_aliases", body: body}, nil); err != nil {
		return fmt.Errorf("index: rebuild: point alias %s to %s: %w", r.alias, r.target, err)
	}
	for _, n := range names {
		if err := r.do(ctx, http.MethodDelete, osRequest{path: "/" + url.PathEscape(n)}, nil); err != nil && statusOf(err) != http.StatusNotFound {
			return fmt.Errorf("index: rebuild: alias %s points to %s, but the old index %s is left: %w", r.alias, r.target, n, err)
		}
	}
	return nil
}

// Abort implements Rebuild: it deletes the new index; the alias still points to the old one.
func (r *OpenSearchRebuild) Abort(ctx context.Context) error {
	if err := r.do(ctx, http.MethodDelete, osRequest{path: "/" + url.PathEscape(r.target)}, nil); err != nil && statusOf(err) != http.StatusNotFound {
		return fmt.Errorf("index: rebuild: delete %s: %w", r.target, err)
	}
	return nil
}

// alias0 returns the index of the alias itself.
func (r *OpenSearchRebuild) alias0() *OpenSearch {
	o := *r.OpenSearch
	o.target = ""
	return &o
}

// Drop deletes the alias and the indices behind it, and those of a rebuild under way (tests, and
// removing the engine's data).
func (o *OpenSearch) Drop(ctx context.Context) error {
	indices, err := o.aliasIndices(ctx)
	if err != nil {
		return err
	}
	var rebuilding map[string]any
	err = o.do(ctx, http.MethodGet, osRequest{path: "/_alias/" + url.PathEscape(o.alias+osRebuildSuffix)}, &rebuilding)
	if err != nil && statusOf(err) != http.StatusNotFound {
		return fmt.Errorf("index: look up a rebuild of %s: %w", o.alias, err)
	}
	if indices == nil {
		indices = map[string]int{}
	}
	for name := range rebuilding {
		indices[name] = 0
	}
	for name := range indices {
		err := o.do(ctx, http.MethodDelete, osRequest{path: "/" + url.PathEscape(name)}, nil)
		if err != nil && statusOf(err) != http.StatusNotFound {
			return fmt.Errorf("index: delete index %s: %w", name, err)
		}
	}
	return nil
}

// osSource is a document as the OpenSearch index stores it.
type osSource struct {
	ID         string   `json:"id"`
	Type       string   `json:"type"`
	ProgramID  string   `json:"program_id,omitempty"`
	Kind       string   `json:"kind,omitempty"`
	Language   string   `json:"language"`
	Group      string   `json:"group"`
	Category   string   `json:"category,omitempty"`
	Duration   int      `json:"duration,omitempty"`
	Published  int64    `json:"published"`
	Popularity float64  `json:"popularity"`
	Words      string   `json:"words"`
	TitleWords string   `json:"title_words"`
	TitleNorm  string   `json:"title_norm"`
	Title      string   `json:"-"`
	Summary    string   `json:"-"`
	Tags       []string `json:"-"`
	Doc        Doc      `json:"doc"`
}

// MarshalJSON adds the title, summary and tags fields of the document's language group.
func (s osSource) MarshalJSON() ([]byte, error) {
	type plain osSource
	b, err := json.Marshal(plain(s))
	if err != nil {
		return nil, err
	}
	text, err := json.Marshal(map[string]any{"title_" + s.Group: s.Title, "summary_" + s.Group: s.Summary, "tags_" + s.Group: s.Tags})
	if err != nil {
		return nil, err
	}
	return append(append(b[:len(b)-1], ','), text[1:]...), nil
}

// newOSSource returns the stored form of d.
func newOSSource(d Doc) osSource {
	d = storedDoc(d)
	s := osSource{
		ID: d.ID, Type: d.Type, ProgramID: d.ProgramID, Kind: d.Kind, Language: d.Language,
		Group: languageGroup(d.Language), Category: d.CategorySlug, Published: d.PublishedAt.UnixMicro(),
		Popularity: d.Popularity, Doc: d,
	}
	if d.Type == TypeEpisode && d.DurationSeconds > 0 {
		s.Duration = min(d.DurationSeconds, 1<<31-1)
	}
	s.Title, s.Summary = normalizedText(d.Title), normalizedText(d.Summary)
	words := []string{s.Title, s.Summary}
	s.Tags = []string{}
	for _, t := range d.Tags {
		n := normalizedText(t)
		s.Tags = append(s.Tags, n)
		words = append(words, n)
	}
	s.Words = strings.Join(words, " ")
	s.TitleWords, s.TitleNorm = s.Title, s.Title
	return s
}

// Upsert implements Index.
func (o *OpenSearch) Upsert(ctx context.Context, doc Doc) error {
	return o.UpsertBatch(ctx, []Doc{doc})
}

// UpsertBatch implements Index, in bulk requests of up to osBulkChunk documents. A document
// whose version is not newer than the stored one is refused by OpenSearch with a version
// conflict, which is not an error.
func (o *OpenSearch) UpsertBatch(ctx context.Context, docs []Doc) (err error) {
	defer func(start time.Time) { o.metrics.observe("opensearch", "write", start, err) }(time.Now())
	docs, err = newestVersions(docs)
	if err != nil {
		return err
	}
	for start := 0; start < len(docs); start += osBulkChunk {
		chunk := docs[start:min(start+osBulkChunk, len(docs))]
		if err := o.bulk(ctx, chunk); err != nil {
			return err
		}
		if err := o.mirror(ctx, func(r *OpenSearch) error { return r.bulk(ctx, chunk) }); err != nil {
			return err
		}
	}
	return nil
}

// bulk indexes docs, retrying those refused only because they were deleted a moment ago.
//
// A delete leaves a tombstone with a version above the deleted document's, and a document
// published again at its old version conflicts with it until OpenSearch prunes the tombstone
// (index.gc_deletes is 0: at the first refresh after its clock, cached for 200 ms, has moved).
// So when a document conflicts and does not exist, bulk refreshes and tries it again, for up to
// about 2 s. A document that exists with a version not below the written one is the usual
// stale or duplicate delivery, ignored.
func (o *OpenSearch) bulk(ctx context.Context, docs []Doc) error {
	for attempt := 0; ; attempt++ {
		conflicts, err := o.bulkOnce(ctx, docs)
		if err != nil || len(conflicts) == 0 {
			return err
		}
		deleted, err := o.missing(ctx, conflicts)
		if err != nil || len(deleted) == 0 {
			return err
		}
		if attempt == 10 {
			return fmt.Errorf("%w: index: upsert %q: still refused by the tombstone of its deletion", ErrUnavailable, deleted[0])
		}
		retry := make([]Doc, 0, len(deleted))
		for _, d := range docs {
			if slices.Contains(deleted, d.ID) {
				retry = append(retry, d)
			}
		}
		docs = retry
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(50*(attempt+1)) * time.Millisecond):
		}
		if err := o.do(ctx, http.MethodPost, osRequest{path: "/" + url.PathEscape(o.name()) + "/_refresh"}, nil); err != nil {
			return fmt.Errorf("index: refresh: %w", err)
		}
	}
}

// missing returns those of ids that no document has (a real-time lookup).
func (o *OpenSearch) missing(ctx context.Context, ids []string) ([]string, error) {
	body, _ := json.Marshal(m{"ids": ids})
	var out struct {
		Docs []struct {
			ID    string `json:"_id"`
			Found bool   `json:"found"`
		} `json:"docs"`
	}
	r := osRequest{path: "/" + url.PathEscape(o.name()) + "/_mget", params: url.Values{"_source": {"false"}, "realtime": {"true"}}, body: body}
	if err := o.do(ctx, http.MethodPost, r, &out); err != nil {
		return nil, fmt.Errorf("index: look up documents: %w", err)
	}
	var missing []string
	for _, d := range out.Docs {
		if !d.Found {
			missing = append(missing, d.ID)
		}
	}
	return missing, nil
}

// bulkOnce indexes docs in one bulk request and returns the ids of those refused by a version
// conflict.
func (o *OpenSearch) bulkOnce(ctx context.Context, docs []Doc) ([]string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, d := range docs {
		action := map[string]any{"index": map[string]any{"_id": d.ID, "version": max(d.Version, 0), "version_type": "external"}}
		if err := enc.Encode(action); err != nil {
			return nil, fmt.Errorf("index: encode bulk action: %w", err)
		}
		if err := enc.Encode(newOSSource(d)); err != nil {
			return nil, fmt.Errorf("index: encode document %q: %w", d.ID, err)
		}
	}
	var out struct {
		Errors bool `json:"errors"`
		Items  []map[string]struct {
			ID     string `json:"_id"`
			Status int    `json:"status"`
			Error  *struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"error"`
		} `json:"items"`
	}
	params := url.Values{"refresh": {o.refresh}}
	if o.requireAlias {
		params.Set("require_alias", "true")
	}
	r := osRequest{path: "/" + url.PathEscape(o.name()) + "/_bulk", params: params, body: buf.Bytes(), ndjson: true}
	if err := o.do(ctx, http.MethodPost, r, &out); err != nil {
		return nil, fmt.Errorf("index: bulk upsert: %w", err)
	}
	if !out.Errors {
		return nil, nil
	}
	var conflicts []string
	for _, item := range out.Items {
		for _, res := range item {
			switch {
			case res.Error == nil:
			case res.Status == http.StatusConflict: // not newer than the stored version
				conflicts = append(conflicts, res.ID)
			case res.Status >= 500 || res.Status == http.StatusTooManyRequests:
				return nil, fmt.Errorf("%w: index: upsert %q: %w", ErrUnavailable, res.ID, &osError{Status: res.Status, Type: res.Error.Type, Reason: res.Error.Reason})
			default:
				return nil, fmt.Errorf("index: upsert %q: %w", res.ID, &osError{Status: res.Status, Type: res.Error.Type, Reason: res.Error.Reason})
			}
		}
	}
	return conflicts, nil
}

// Delete implements Index.
func (o *OpenSearch) Delete(ctx context.Context, id string) (err error) {
	defer func(start time.Time) { o.metrics.observe("opensearch", "delete", start, err) }(time.Now())
	if err := o.deleteOne(ctx, id); err != nil {
		return err
	}
	// A missing document is no error, nor a missing index: the mirror's 404 says nothing.
	return o.mirror(ctx, func(r *OpenSearch) error { return r.deleteOne(ctx, id) })
}

func (o *OpenSearch) deleteOne(ctx context.Context, id string) error {
	r := osRequest{path: "/" + url.PathEscape(o.name()) + "/_doc/" + url.PathEscape(id), params: url.Values{"refresh": {o.refresh}}}
	if err := o.do(ctx, http.MethodDelete, r, nil); err != nil && statusOf(err) != http.StatusNotFound {
		return fmt.Errorf("index: delete %q: %w", id, err)
	}
	return nil
}

// DeleteProgram implements Index.
func (o *OpenSearch) DeleteProgram(ctx context.Context, programID string) (err error) {
	defer func(start time.Time) { o.metrics.observe("opensearch", "delete_program", start, err) }(time.Now())
	if err := o.deleteProgram(ctx, programID); err != nil {
		return err
	}
	return o.mirror(ctx, func(r *OpenSearch) error { return r.deleteProgram(ctx, programID) })
}

func (o *OpenSearch) deleteProgram(ctx context.Context, programID string) error {
	body, _ := json.Marshal(map[string]any{"query": map[string]any{"bool": map[string]any{"should": []any{
		map[string]any{"term": map[string]any{"id": programID}},
		map[string]any{"term": map[string]any{"program_id": programID}},
	}}}})
	params := url.Values{"conflicts": {"proceed"}, "refresh": {"true"}}
	r := osRequest{path: "/" + url.PathEscape(o.name()) + "/_delete_by_query", params: params, body: body}
	if err := o.do(ctx, http.MethodPost, r, nil); err != nil {
		return fmt.Errorf("index: delete program %q: %w", programID, err)
	}
	return nil
}

// Reset implements Index: it creates an empty index, points the alias to it and deletes the old
// one, so the versions go with the documents.
func (o *OpenSearch) Reset(ctx context.Context) error {
	old, err := o.aliasIndices(ctx)
	if err != nil {
		return err
	}
	name := o.newIndexName()
	if err := o.do(ctx, http.MethodPut, osRequest{path: "/" + url.PathEscape(name), body: o.osIndexBody("", false)}, nil); err != nil {
		return fmt.Errorf("index: reset: create index %s: %w", name, err)
	}
	names := make([]string, 0, len(old))
	for n := range old {
		names = append(names, n)
	}
	if err := o.swapAlias(ctx, name, names); err != nil {
		return fmt.Errorf("index: reset: %w", err)
	}
	return nil
}

// m is a JSON object of the query DSL.
type m = map[string]any

// osFuzziness is the fuzziness of a word in the second try of a search that found nothing (see
// typo.go): one edit for a term of minTypoRunes letters or more, none for a shorter one.
var osFuzziness = fmt.Sprintf("AUTO:%d,%d", minTypoRunes, maxWordRunes+1)

// wordClause returns the query of one normalised word in the fields of group g, or nil when
// the group's analysis drops the word (a stop word). A fuzzy clause also matches the terms of
// minTypoRunes letters or more one edit away from the word's.
func wordClause(g, w string, fuzzy bool) m {
	if len(languageTerms(g, w)) == 0 {
		return nil
	}
	match := func(field string, boost float64) m {
		q := m{"query": w, "boost": boost}
		if fuzzy {
			q["fuzziness"] = osFuzziness
		}
		return m{"match": m{field + "_" + g: q}}
	}
	return m{"bool": m{"should": []any{
		match("title", osTitleBoost), match("summary", osSummaryBoost), match("tags", osTagsBoost),
	}}}
}

// textClause returns the query of t: for each language group searched (that of language only,
// when set), the documents of the group in which every word matches (the words of fuzzy also one
// edit away), the last one also as a prefix of a word; nil when no document can match.
func textClause(t textQuery, language string, fuzzy map[string]bool) m {
	gs := groups
	if language != "" {
		gs = []string{languageGroup(language)}
	}
	var branches []any
	for _, g := range gs {
		var must []any
		for _, w := range t.head() {
			if c := wordClause(g, w, fuzzy[w]); c != nil {
				must = append(must, c)
			}
		}
		if t.prefix != "" {
			last := []any{m{"prefix": m{"words": m{"value": t.prefix, "boost": osPrefixBoost}}}}
			if c := wordClause(g, t.last(), fuzzy[t.last()]); c != nil {
				last = append(last, c)
			}
			must = append(must, m{"bool": m{"should": last}})
		}
		if len(must) == 0 {
			continue // every word is a stop word of the group
		}
		branches = append(branches, m{"bool": m{"filter": []any{m{"term": m{"group": g}}}, "must": must}})
	}
	if len(branches) == 0 {
		return nil
	}
	return m{"bool": m{"should": branches, "minimum_should_match": 1}}
}

// filterClauses returns the filters of p.
func filterClauses(p *plan) []any {
	var fs []any
	term := func(field, v string) {
		if v != "" {
			fs = append(fs, m{"term": m{field: v}})
		}
	}
	term("type", p.Type)
	term("category", p.Category)
	term("language", p.Language)
	term("kind", p.Kind)
	if p.DurationMin != nil || p.DurationMax != nil {
		r := m{"gte": 1}
		if p.DurationMin != nil {
			r["gte"] = max(*p.DurationMin, 1)
		}
		if p.DurationMax != nil {
			r["lte"] = *p.DurationMax
		}
		fs = append(fs, m{"range": m{"duration": r}})
	}
	if p.PublishedFrom != nil || p.PublishedTo != nil {
		r := m{}
		if p.PublishedFrom != nil {
			r["gte"] = p.PublishedFrom.UnixMicro()
		}
		if p.PublishedTo != nil {
			r["lt"] = p.PublishedTo.UnixMicro()
		}
		fs = append(fs, m{"range": m{"published": r}})
	}
	return fs
}

// osFacetFields maps each facet to its field.
var osFacetFields = map[string]string{
	FacetCategory: "category",
	FacetLanguage: "language",
	FacetKind:     "kind",
	FacetType:     "type",
}

// osHit is a hit of a search answer.
type osHit struct {
	Source struct {
		Doc Doc `json:"doc"`
	} `json:"_source"`
}

// Search implements Index.
func (o *OpenSearch) Search(ctx context.Context, q Query) (res Result, err error) {
	defer func(start time.Time) { o.metrics.observe("opensearch", "search", start, err) }(time.Now())
	p, err := newPlan(q, time.Now())
	if err != nil {
		return Result{}, err
	}
	if p.matchesNothing() {
		return p.result(nil, nil), nil
	}
	res, err = o.search(ctx, p, nil)
	if err != nil || len(res.Hits) > 0 || p.text.empty() {
		return res, err
	}
	// Nothing found: when some words are unknown, try once more with them corrected (see typo.go)
	// or, those without a correction, matching one edit away in the analysed fields (which finds
	// gutenberg's for gutenburg, two edits from the word but one from its stem).
	t, fuzzy, err := o.correct(ctx, p.text)
	if err != nil || t.words == nil {
		return res, err
	}
	p.text = t
	return o.search(ctx, p, fuzzy)
}

// correct looks up, in one request, which words of t no document has (a filter aggregation on the
// words field each) and the word one edit away that the most documents have for each (a term
// suggester on the words field). It returns t with those words corrected and the words left
// unknown, which fuzzy matching may still find; or a textQuery without words when every word is
// known (a search of known words that finds nothing is not corrected).
func (o *OpenSearch) correct(ctx context.Context, t textQuery) (textQuery, map[string]bool, error) {
	positions := typoWords(t, func(string) bool { return false }) // the aggregations tell the known
	if len(positions) == 0 {
		return textQuery{}, nil, nil
	}
	suggest, aggs := m{}, m{}
	for k, i := range positions {
		key := "w" + strconv.Itoa(k)
		suggest[key] = m{"text": t.words[i], "term": m{
			"field": "words", "suggest_mode": "missing", "max_edits": 1, "prefix_length": 0,
			"min_word_length": minTypoRunes, "sort": "frequency", "size": 1,
		}}
		aggs[key] = m{"filter": m{"term": m{"words": t.words[i]}}}
	}
	raw, err := json.Marshal(m{"size": 0, "track_total_hits": false, "suggest": suggest, "aggs": aggs})
	if err != nil {
		return textQuery{}, nil, fmt.Errorf("index: encode suggestion: %w", err)
	}
	var out struct {
		Suggest map[string][]struct {
			Options []struct {
				Text string `json:"text"`
			} `json:"options"`
		} `json:"suggest"`
		Aggregations map[string]struct {
			Count int64 `json:"doc_count"`
		} `json:"aggregations"`
	}
	if err := o.do(ctx, http.MethodPost, osRequest{path: "/" + url.PathEscape(o.name()) + "/_search", body: raw}, &out); err != nil {
		return textQuery{}, nil, fmt.Errorf("index: correct typos: %w", err)
	}
	fix := map[int]string{}
	var fuzzy map[string]bool
	for k, i := range positions {
		key := "w" + strconv.Itoa(k)
		if out.Aggregations[key].Count > 0 {
			continue // known
		}
		if entries := out.Suggest[key]; len(entries) == 1 && len(entries[0].Options) > 0 {
			fix[i] = entries[0].Options[0].Text
			continue
		}
		if fuzzy == nil {
			fuzzy = map[string]bool{}
		}
		fuzzy[t.words[i]] = true
	}
	if len(fix) == 0 && len(fuzzy) == 0 {
		return textQuery{}, nil, nil
	}
	return t.withCorrections(fix), fuzzy, nil
}

// search runs the plan p, the words of fuzzy also matching one edit away.
func (o *OpenSearch) search(ctx context.Context, p *plan, fuzzy map[string]bool) (Result, error) {
	boolQ := m{"filter": filterClauses(p)}
	if !p.text.empty() {
		text := textClause(p.text, p.Language, fuzzy)
		if text == nil {
			return p.result(nil, nil), nil
		}
		boolQ["must"] = []any{text}
	}
	query := m{"bool": boolQ}
	var aggs m
	if len(p.facets) > 0 {
		aggs = m{}
		for _, f := range p.facets {
			aggs[f] = m{"terms": m{"field": osFacetFields[f], "size": MaxFacetValues, "order": []any{m{"_count": "desc"}, m{"_key": "asc"}}}}
		}
	}
	if p.sort == SortRelevance {
		return o.searchRelevance(ctx, p, query, aggs) // see opensearch_rank.go
	}
	body := m{"size": p.limit + 1, "_source": []string{"doc"}, "track_total_hits": false, "query": query}
	body["sort"] = []any{m{"published": "desc"}, m{"id": "asc"}}
	if p.after != nil {
		body["search_after"] = []any{p.after.Published, p.after.ID}
	}
	if aggs != nil {
		body["aggs"] = aggs
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return Result{}, fmt.Errorf("index: encode search: %w", err)
	}
	var out struct {
		Hits struct {
			Hits []osHit `json:"hits"`
		} `json:"hits"`
		Aggregations osAggregations `json:"aggregations"`
	}
	if err := o.do(ctx, http.MethodPost, osRequest{path: "/" + url.PathEscape(o.name()) + "/_search", body: raw}, &out); err != nil {
		return Result{}, fmt.Errorf("index: search: %w", err)
	}
	hits := make([]Hit, 0, len(out.Hits.Hits))
	for _, h := range out.Hits.Hits {
		hits = append(hits, Hit{Doc: h.Source.Doc})
	}
	facets := out.Aggregations.facets(p.facets)
	return p.result(hits, facets), nil
}

// Suggest implements Index.
func (o *OpenSearch) Suggest(ctx context.Context, prefix, language string, limit int) (_ []Suggestion, err error) {
	defer func(start time.Time) { o.metrics.observe("opensearch", "suggest", start, err) }(time.Now())
	r, err := newSuggestRequest(prefix, language, limit)
	if err != nil {
		return nil, err
	}
	if len(r.words) == 0 {
		return []Suggestion{}, nil
	}
	n := len(r.words)
	var filter []any
	for _, w := range r.words[:n-1] {
		filter = append(filter, m{"term": m{"title_words": w}})
	}
	filter = append(filter, m{"prefix": m{"title_words": r.words[n-1]}})
	if r.language != "" {
		filter = append(filter, m{"term": m{"language": r.language}})
	}
	body, err := json.Marshal(m{
		"size": r.limit, "_source": []string{"doc"}, "track_total_hits": false,
		"query": m{"bool": m{
			"filter": filter,
			"should": []any{m{"constant_score": m{"filter": m{"prefix": m{"title_norm": r.startsWith}}, "boost": 1}}},
		}},
		"sort": []any{m{"_score": "desc"}, m{"popularity": "desc"}, m{"published": "desc"}, m{"id": "asc"}},
	})
	if err != nil {
		return nil, fmt.Errorf("index: encode suggest: %w", err)
	}
	var out struct {
		Hits struct {
			Hits []osHit `json:"hits"`
		} `json:"hits"`
	}
	if err := o.do(ctx, http.MethodPost, osRequest{path: "/" + url.PathEscape(o.name()) + "/_search", body: body}, &out); err != nil {
		return nil, fmt.Errorf("index: suggest: %w", err)
	}
	sugs := make([]Suggestion, 0, len(out.Hits.Hits))
	for _, h := range out.Hits.Hits {
		d := h.Source.Doc
		sugs = append(sugs, Suggestion{Text: d.Title, Type: d.Type, ID: d.ID, Language: d.Language})
	}
	return sugs, nil
}

// BreakerState returns the state of the circuit breaker in front of the cluster.
func (o *OpenSearch) BreakerState() httpclient.BreakerState { return o.transport.BreakerState() }

// Ping checks that the cluster answers and the alias exists (readiness).
func (o *OpenSearch) Ping(ctx context.Context) error {
	return o.do(ctx, http.MethodHead, osRequest{path: "/" + url.PathEscape(o.alias)}, nil)
}
